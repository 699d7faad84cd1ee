"""Fixtures of the deployment checks: the compose file, .env.example, settings env names, metrics.

Docker and a Kubernetes cluster are not available in CI, so these tests read the files and
check them against the code they deploy (settings classes, HTTP ports, metric names).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]

#: Service -> HTTP port of /metrics, /healthz, /readyz (env <SVC>_HTTP_PORT).
SERVICE_PORTS = {"fetcher": 8001, "differ": 8002, "classifier": 8003, "notifier": 8004}
NOTIFIER_API_PORT = 8014

#: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}; "$$" escapes.
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


@dataclass(frozen=True)
class ServiceEnv:
    """Env names a settings class reads, mapped to field names."""

    cls: type[Any]
    names: dict[str, str]
    nested_delimiter: str | None

    def accepts(self, var: str) -> bool:
        key = var.upper()
        if key in self.names:
            return True
        if self.nested_delimiter:
            head = key.split(self.nested_delimiter.upper(), 1)[0]
            return head in self.names and key != head
        return False


def settings_env(cls: type[Any]) -> ServiceEnv:
    """Every environment variable name a pydantic-settings class reads (case-insensitive)."""
    from pydantic import AliasChoices, AliasPath

    config = cls.model_config
    prefix = str(config.get("env_prefix", "") or "")
    names: dict[str, str] = {}
    for field_name, field in cls.model_fields.items():
        alias: Any = field.validation_alias if field.validation_alias is not None else field.alias
        choices: list[Any]
        if alias is None:
            # No alias: pydantic-settings reads <prefix><field name>.
            names[(prefix + field_name).upper()] = field_name
            continue
        choices = list(alias.choices) if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, AliasPath):
                choice = choice.path[0]
            if isinstance(choice, str):
                # An alias replaces the prefixed name (the prefix does not apply to aliases).
                names[choice.upper()] = field_name
    return ServiceEnv(cls, names, config.get("env_nested_delimiter") or None)


def load_settings_class(service: str) -> type[Any] | None:
    """``policywatch_<svc>.settings.<Svc>Settings``, or None while that package is not written yet."""
    try:
        module = importlib.import_module(f"policywatch_{service}.settings")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == f"policywatch_{service}" or exc.name.endswith(".settings")):
            return None
        raise
    return getattr(module, f"{service.capitalize()}Settings", None)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose-style interpolation of ``value`` with ``env`` (unset and no default: empty)."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            unset = current is None or (op == ":-" and current == "")
            return (arg or "") if unset else str(current)
        if op in (":+", "+"):
            return (arg or "") if current else ""
        return current or ""

    return INTERPOLATION.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not KEY=VALUE: {raw!r}"
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def env_mapping(service: dict[str, Any]) -> dict[str, str]:
    """A compose service's ``environment`` as a dict (list or mapping form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str] = {}
        for item in env:
            key, _, value = str(item).partition("=")
            out[key] = value
        return out
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


# --------------------------------------------------------------------------- metrics

#: Metrics that do not come from our code: Prometheus itself and kafka-exporter (pinned in compose).
EXTERNAL_METRICS = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "kafka_brokers",
    "kafka_consumergroup_lag",
    "kafka_consumergroup_lag_sum",
    "kafka_consumergroup_current_offset",
    "kafka_consumergroup_members",
    "kafka_topic_partition_current_offset",
    "kafka_topic_partition_oldest_offset",
    "kafka_topic_partitions",
}

_METRIC_CTOR = re.compile(
    r"\b(Counter|Gauge|Histogram|Summary|Info|Enum)\(\s*(?:name\s*=\s*)?[\"']([a-zA-Z_:][a-zA-Z0-9_:]*)[\"']"
)
_SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_count", "_sum", "_created"),
    "Summary": ("", "_count", "_sum", "_created"),
    "Info": ("_info",),
    "Enum": ("",),
}


def _exposed(kind: str, name: str) -> set[str]:
    base = name.removesuffix("_total") if kind == "Counter" else name
    return {base + suffix for suffix in _SUFFIXES[kind]} | {name}


def code_metrics() -> dict[str, set[str]]:
    """Metric names our code can expose, by owner ('shared', 'fetcher', ...).

    Two sources: prometheus_client's registry after importing every module (catches names built
    at import time, FastStream's middleware metrics once a broker is made) and a scan of the
    source for metric constructors (catches metrics created lazily inside functions).
    """
    from prometheus_client import REGISTRY

    owners: dict[str, set[str]] = {}
    packages = {"shared": "policywatch_shared", **{s: f"policywatch_{s}" for s in SERVICE_PORTS}}
    for owner, package in packages.items():
        found: set[str] = set()
        try:
            pkg = importlib.import_module(package)
        except ModuleNotFoundError:
            continue
        for root in getattr(pkg, "__path__", []):
            for path in Path(root).rglob("*.py"):
                for kind, name in _METRIC_CTOR.findall(path.read_text(encoding="utf-8")):
                    found |= _exposed(kind, name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional dependency missing: the source scan still covers it
                continue
        owners[owner] = found
    # FastStream's Prometheus middleware registers its metrics when a broker is made.
    try:
        from policywatch_shared.broker import make_broker
        from policywatch_shared.settings import ServiceSettings

        make_broker(ServiceSettings.model_construct(), service="deploy-test")
    except Exception:
        pass
    registered: set[str] = set()
    for collector_names in [REGISTRY._names_to_collectors]:
        registered |= set(collector_names)
    owners["registry"] = registered
    return owners


_PROMQL_FUNCS = {
    "abs",
    "absent",
    "absent_over_time",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "count_over_time",
    "day_of_week",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_quantile",
    "holt_winters",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log2",
    "log10",
    "max_over_time",
    "min_over_time",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "time",
    "timestamp",
    "vector",
    "double_exponential_smoothing",
}
_PROMQL_AGGS = {
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
}
_PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def promql_metrics(expr: str) -> set[str]:
    """Metric names referenced by a PromQL expression; fails on structural errors.

    promtool is not available in CI, so this is a small structural parser: balanced
    brackets, closed strings, valid label matchers and durations, known functions.
    """
    # Grafana template variables ($__rate_interval, $service) stand for durations/values.
    text = re.sub(r"\$__[a-z_]+|\$\{?[A-Za-z_]+\}?", "5m", expr)
    # strings first: their content must not be read as names
    strings = re.findall(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', text)
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', text)
    assert '"' not in stripped.replace('""', ""), f"unclosed string in {expr!r}"
    for s in strings:
        assert "\n" not in s, f"newline in string {s!r}"

    depth: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in stripped:
        if ch in "([{":
            depth.append(ch)
        elif ch in ")]}":
            assert depth and depth[-1] == pairs[ch], f"unbalanced {ch!r} in {expr!r}"
            depth.pop()
    assert not depth, f"unclosed {depth} in {expr!r}"

    # label matchers: {name op "value", ...}
    for block in re.findall(r"\{([^{}]*)\}", stripped):
        if not block.strip():
            continue
        for matcher in block.split(","):
            if not matcher.strip():
                continue
            assert re.fullmatch(r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=~|!~|!=|=)\s*""\s*', matcher), (
                f"bad label matcher {matcher!r} in {expr!r}"
            )
    for regex in re.findall(r'(?:=~|!~)\s*"((?:[^"\\]|\\.)*)"', text):
        re.compile(regex.encode().decode("unicode_escape"))
    # range selectors / subqueries / offsets: [5m], [30m:1m]
    for rng in re.findall(r"\[([^\]]*)\]", stripped):
        assert re.fullmatch(r"\s*\d+[smhdwy](\d+[smhdwy])*\s*(:\s*(\d+[smhdwy])*\s*)?", rng), (
            f"bad range {rng!r} in {expr!r}"
        )

    no_ranges = re.sub(r"\[[^\]]*\]", "", stripped)
    no_matchers = re.sub(r"\{[^{}]*\}", "", no_ranges)
    # label lists after by/without/on/ignoring/group_left/group_right are labels, not metrics
    no_labels = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", r"\1", no_matchers)
    names: set[str] = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", no_labels):
        word = match.group(0)
        before = no_labels[: match.start()]
        if re.search(r"\d$", before):  # part of a number or duration such as 5m / 1e3
            continue
        if word.lower() in _PROMQL_KEYWORDS:
            continue
        after = no_labels[match.end() :].lstrip()
        if after.startswith("("):
            assert word in _PROMQL_FUNCS | _PROMQL_AGGS, f"unknown function {word!r} in {expr!r}"
            continue
        if word in _PROMQL_AGGS:
            assert re.match(r"(by|without)\b", after), f"aggregation {word!r} without arguments in {expr!r}"
            continue
        names.add(word)
    assert names, f"no metric referenced by {expr!r}"
    return names


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict)
    return doc


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    return read_env_file(REPO / ".env.example")


@pytest.fixture(scope="session")
def service_settings() -> dict[str, type[Any] | None]:
    return {svc: load_settings_class(svc) for svc in SERVICE_PORTS}


def metric_owner(name: str) -> str:
    """Who must define a metric: ``policywatch_<svc>_*`` its service, anything else shared."""
    for service in SERVICE_PORTS:
        if name.startswith(f"policywatch_{service}_"):
            return service
    return "shared"


#: Module whose presence means the owner's code is written (then its metrics must exist).
OWNER_MODULES = {
    "shared": "policywatch_shared.broker",
    **{s: f"policywatch_{s}.app" for s in SERVICE_PORTS},
}


def owner_written(owner: str) -> bool:
    try:
        importlib.import_module(OWNER_MODULES[owner])
    except ModuleNotFoundError:
        return False
    return True


@dataclass(frozen=True)
class MetricCheck:
    known: frozenset[str]

    def unknown(self, names: set[str]) -> tuple[list[str], list[str]]:
        """(missing metrics whose owner is written: errors, missing metrics of unwritten owners)."""
        missing = sorted(n for n in names if n not in self.known)
        errors = [n for n in missing if owner_written(metric_owner(n))]
        pending = [n for n in missing if n not in errors]
        return errors, pending


@pytest.fixture(scope="session")
def known_metrics() -> MetricCheck:
    owners = code_metrics()
    return MetricCheck(frozenset(set().union(*owners.values()) | EXTERNAL_METRICS))
