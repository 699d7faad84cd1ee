"""Prometheus scrape config, alert rules and the Grafana dashboard against the code's metrics.

promtool is not installed in CI: rules are parsed as YAML and their PromQL checked by a small
structural parser (conftest.promql_metrics); every metric they use must exist in our code or
come from Prometheus / kafka-exporter. When promtool is installed, it checks the rules too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import SERVICE_PORTS, MetricCheck, promql_metrics

PROM = Path("deploy/prometheus")
GRAFANA = Path("deploy/grafana")
SEVERITIES = {"critical", "warning", "info"}

#: What the rules must cover (issue 2 and issue 7): alert name -> words its expression must use.
REQUIRED_ALERTS = {
    "PolicywatchServiceDown": ["up"],
    "PolicywatchConsumerLagHigh": ["kafka_consumergroup_lag"],
    "PolicywatchDeadLetters": [".dlq"],
    "PolicywatchDocumentFailing": [],
    "PolicywatchDocumentUnavailable": [],
    "PolicywatchDeliveryFailures": [],
}


@pytest.fixture(scope="module")
def rules(repo: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load((repo / PROM / "alerts.yml").read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def dashboard(repo: Path) -> dict[str, Any]:
    files = sorted((repo / GRAFANA / "dashboards").glob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text(encoding="utf-8"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows
    return out


def _durations_ok(value: str) -> bool:
    return re.fullmatch(r"(\d+[smhdwy])+", value) is not None


def test_scrape_config(repo: Path) -> None:
    prom = yaml.safe_load((repo / PROM / "prometheus.yml").read_text(encoding="utf-8"))
    assert _durations_ok(prom["global"]["scrape_interval"])
    rule_files = [Path(p).name for p in prom["rule_files"]]
    assert rule_files == ["alerts.yml"] and (repo / PROM / "alerts.yml").is_file()
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    assert len(jobs) == len(prom["scrape_configs"]), "job names are unique"
    services = {
        static["labels"]["service"]: static["targets"] for static in jobs["policywatch"]["static_configs"]
    }
    assert services == {svc: [f"{svc}:{port}"] for svc, port in SERVICE_PORTS.items()}
    assert jobs["policywatch"].get("metrics_path", "/metrics") == "/metrics"
    assert "kafka-exporter" in jobs


def test_rules_parse_and_are_complete(rules: list[dict[str, Any]]) -> None:
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names are unique"
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]
        if "for" in rule:
            assert _durations_ok(rule["for"]), rule["for"]
        promql_metrics(rule["expr"])


def test_required_alerts_present(rules: list[dict[str, Any]]) -> None:
    by_name = {r["alert"]: r for r in rules}
    for name, words in REQUIRED_ALERTS.items():
        assert name in by_name, f"missing alert {name}"
        for word in words:
            assert word in by_name[name]["expr"], f"{name} should use {word}"


def _check_metrics(exprs: dict[str, list[str]], known_metrics: MetricCheck, what: str) -> None:
    errors: dict[str, list[str]] = {}
    pending: set[str] = set()
    for name, queries in exprs.items():
        used = set().union(*(promql_metrics(q) for q in queries))
        bad, later = known_metrics.unknown(used)
        if bad:
            errors[name] = bad
        pending.update(later)
    assert not errors, f"{what} use metrics no code defines: {errors}"
    if pending:
        pytest.skip(f"metrics of packages not written yet: {sorted(pending)}")


def test_rule_metrics_exist(rules: list[dict[str, Any]], known_metrics: MetricCheck) -> None:
    _check_metrics({r["alert"]: [r["expr"]] for r in rules}, known_metrics, "rules")


def test_runbook_links_resolve(rules: list[dict[str, Any]], repo: Path) -> None:
    path = repo / "docs/operations.md"
    if not path.exists():
        pytest.skip("docs/operations.md (the runbook, issue 7) not written yet")
    runbook = path.read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in re.findall(r"^#+\s+(.+)$", runbook, flags=re.M)}
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path.endswith("docs/operations.md"), url
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/operations.md"


def _anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_check_rules(repo: Path) -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(repo / PROM / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_rule_unit_tests(repo: Path) -> None:
    """deploy/prometheus/alerts.test.yml: the alerts fire on synthetic series, and only then."""
    result = subprocess.run(
        ["promtool", "test", "rules", "alerts.test.yml"],
        cwd=repo / PROM,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_check_config(repo: Path, tmp_path: Path) -> None:
    text = (repo / PROM / "prometheus.yml").read_text(encoding="utf-8")
    # the rule file is mounted at /etc/prometheus in the container: point at the repository copy
    config = tmp_path / "prometheus.yml"
    config.write_text(
        text.replace("/etc/prometheus/alerts.yml", str(repo / PROM / "alerts.yml")), encoding="utf-8"
    )
    result = subprocess.run(
        ["promtool", "check", "config", str(config)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_rule_unit_test_or_is_listed(repo: Path, rules: list[dict[str, Any]]) -> None:
    tests = yaml.safe_load((repo / PROM / "alerts.test.yml").read_text(encoding="utf-8"))
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])}
    assert tested <= {r["alert"] for r in rules}, "alerts.test.yml tests an alert that does not exist"
    assert set(REQUIRED_ALERTS) - {"PolicywatchDocumentUnavailable"} <= tested, (
        "every required alert (issue 2: service down, lag, dead letters) has a promtool unit test"
    )


# --------------------------------------------------------------------------- PromQL checker


@pytest.mark.parametrize(
    ("expr", "metrics"),
    [
        ('up{job="policywatch"} == 0', {"up"}),
        (
            'sum by (consumergroup, topic) (kafka_consumergroup_lag{consumergroup=~"policywatch-.+"}) > 1000',
            {"kafka_consumergroup_lag"},
        ),
        ("histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket[5m])))", {"x_seconds_bucket"}),
        ("increase(a_total[15m]) > 0 and on (topic) b == 1", {"a_total", "b"}),
        ("max_over_time(c[30m:1m]) offset 5m", {"c"}),
        ("sum(rate(d_total[$__rate_interval]))", {"d_total"}),
    ],
)
def test_promql_checker_finds_metrics(expr: str, metrics: set[str]) -> None:
    assert promql_metrics(expr) == metrics


@pytest.mark.parametrize(
    "expr",
    [
        "sum(rate(a_total[5m])",  # unbalanced
        'up{job="x} == 0',  # unclosed string
        "rate(a_total[5 minutes])",  # bad range
        "summ(a_total)",  # unknown function
        'up{job=="x"}',  # bad matcher
        'up{job=~"(x"}',  # bad regex
        "1 > 0",  # no metric at all
    ],
)
def test_promql_checker_rejects(expr: str) -> None:
    with pytest.raises((AssertionError, re.error)):
        promql_metrics(expr)


# --------------------------------------------------------------------------- Grafana


def test_grafana_provisioning(repo: Path, compose: dict[str, Any]) -> None:
    datasources = yaml.safe_load(
        (repo / GRAFANA / "provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    prometheus = next(d for d in datasources if d["type"] == "prometheus")
    assert prometheus["url"] == "http://prometheus:9090"
    providers = yaml.safe_load(
        (repo / GRAFANA / "provisioning/dashboards/policywatch.yml").read_text(encoding="utf-8")
    )["providers"]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    for provider in providers:
        source = mounts.get(provider["options"]["path"])
        assert source is not None, f"dashboards path {provider['options']['path']} not mounted"
        assert (repo / source).is_dir() and list((repo / source).glob("*.json"))


def test_dashboard_queries(dashboard: dict[str, Any], repo: Path, known_metrics: MetricCheck) -> None:
    datasources = yaml.safe_load(
        (repo / GRAFANA / "provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    exprs: dict[str, list[str]] = {}
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] in uids, panel["title"]
        assert panel.get("targets"), f"panel {panel['title']} has no query"
        exprs[panel["title"]] = [t["expr"] for t in panel["targets"]]
    assert sum(len(q) for q in exprs.values()) >= 10
    _check_metrics(exprs, known_metrics, "dashboard queries")


def test_dashboard_covers_operator_figures(dashboard: dict[str, Any]) -> None:
    """Issue 7: what `policywatch status` shows is on the dashboard too."""
    titles = " | ".join(p["title"].lower() for p in _panels(dashboard))
    for topic in ("up", "lag", "dead letter", "failing", "unavailable", "deliver", "capture"):
        assert topic in titles, f"no panel about {topic!r}: {titles}"


def test_dashboard_templating_uses_known_datasource(dashboard: dict[str, Any]) -> None:
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            assert var["datasource"]["uid"] == "prometheus"
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            # Grafana's label_values(selector, label) wraps a PromQL selector
            inner = re.fullmatch(r"label_values\((.+),\s*[a-zA-Z_]\w*\)", query)
            promql_metrics(inner.group(1) if inner else query)
