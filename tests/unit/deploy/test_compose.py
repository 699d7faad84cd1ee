"""docker-compose.yml against the code it runs (Docker itself cannot run in CI)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import (
    INTERPOLATION,
    NOTIFIER_API_PORT,
    SERVICE_PORTS,
    env_mapping,
    interpolate,
    settings_env,
)

INFRA = ("kafka", "minio", "postgres", "prometheus", "grafana", "kafka-exporter")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|ACCESS_KEY|TOKEN|API_KEY|PRIVATE|CREDENTIAL", re.I)
URL_WITH_PASSWORD = re.compile(r"://[^/:@\s]+:([^@\s]+)@")


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_expected_services(compose: dict[str, Any]) -> None:
    names = set(_services(compose))
    missing = {*INFRA, "init", *SERVICE_PORTS} - names
    assert not missing, f"compose lacks services {sorted(missing)}"


def test_build_contexts_and_dockerfiles_exist(compose: dict[str, Any], repo: Path) -> None:
    built = 0
    for name, svc in _services(compose).items():
        build = svc.get("build")
        if build is None:
            continue
        built += 1
        if isinstance(build, str):
            build = {"context": build}
        context = (repo / build.get("context", ".")).resolve()
        assert context.is_dir(), f"{name}: build context {context} missing"
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
    assert built >= 5


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_service_built_from_repo_root(compose: dict[str, Any], repo: Path, service: str) -> None:
    build = _services(compose)[service]["build"]
    # Context = repository root, so the Dockerfile can COPY shared/ next to the service.
    assert (repo / build["context"]).resolve() == repo
    assert build["dockerfile"] == f"services/{service}/Dockerfile"
    text = (repo / build["dockerfile"]).read_text(encoding="utf-8")
    assert "shared" in text, f"{service} Dockerfile does not install the shared library"
    assert f"policywatch_{service}" in text or f"policywatch-{service}" in text


def test_images_pinned(compose: dict[str, Any]) -> None:
    for name, svc in _services(compose).items():
        if "build" in svc:
            continue
        image = svc.get("image", "")
        repo_part, _, tag = image.rpartition(":")
        assert repo_part and tag and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} not pinned"
    services = _services(compose)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["minio"]["image"].split(":", 1)[1].startswith("RELEASE.")


def test_minio_pin_explained(repo: Path) -> None:
    text = (repo / "docker-compose.yml").read_text(encoding="utf-8")
    block = text[text.index("  minio:") : text.index("  postgres:")]
    assert "2025" in block and "stopped publishing" in block
    assert re.search(r"SeaweedFS|Garage", block), "name an S3-compatible alternative to MinIO"


def test_kafka_is_single_node_kraft(compose: dict[str, Any]) -> None:
    env = env_mapping(_services(compose)["kafka"])
    assert "broker" in env["KAFKA_PROCESS_ROLES"] and "controller" in env["KAFKA_PROCESS_ROLES"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the init job provisions topics
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert not any(k.startswith("KAFKA_ZOOKEEPER") for k in env)


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_service_env_vars_are_settings_fields(
    compose: dict[str, Any], service_settings: dict[str, Any], service: str
) -> None:
    cls = service_settings[service]
    if cls is None:
        pytest.skip(f"policywatch_{service}.settings not written yet")
    accepted = settings_env(cls)
    env = env_mapping(_services(compose)[service])
    unknown = sorted(var for var in env if not accepted.accepts(var))
    assert not unknown, f"{service}: env vars not read by {cls.__name__}: {unknown}"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_service_env_values_parse(
    compose: dict[str, Any],
    env_example: dict[str, str],
    service_settings: dict[str, Any],
    service: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With .env.example values, the settings class accepts the env and every value lands in its field."""
    cls = service_settings[service]
    if cls is None:
        pytest.skip(f"policywatch_{service}.settings not written yet")
    env = {k: interpolate(v, env_example) for k, v in env_mapping(_services(compose)[service]).items()}
    for var in list(os.environ):
        monkeypatch.delenv(var)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    settings = cls()
    names = settings_env(cls).names
    for var, value in env.items():
        field = names.get(var.upper())
        if field is None:
            continue
        got = getattr(settings, field)
        if isinstance(got, bool):
            same = str(got).lower() == value.lower()
        elif isinstance(got, int | float):
            same = float(value) == got
        else:
            same = str(got) == value
        assert same, f"{service}: {var}={value!r} gave {field}={got!r}"


def test_init_env_vars_are_settings_fields(compose: dict[str, Any], service_settings: dict[str, Any]) -> None:
    from policywatch_shared.settings import ServiceSettings

    accepted = [settings_env(ServiceSettings)] + [settings_env(c) for c in service_settings.values() if c]
    env = env_mapping(_services(compose)["init"])
    unknown = sorted(v for v in env if not any(a.accepts(v) for a in accepted))
    assert not unknown, f"init: env vars no settings class reads: {unknown}"


def test_init_job(compose: dict[str, Any], repo: Path) -> None:
    init = _services(compose)["init"]
    assert init.get("restart") == "no"
    command = init["command"]
    assert command == ["python", "/app/deploy/init/init.py"], command
    text = (repo / "deploy/init/init.py").read_text(encoding="utf-8")
    assert "ensure_topics" in text and "TOPICS" in text  # topics from policywatch_shared.topics
    assert "make_bucket" in text
    assert "upgrade" in text  # notifier database migration
    dockerfile = (repo / init["build"]["dockerfile"]).read_text(encoding="utf-8")
    assert "COPY deploy/init" in dockerfile
    for dep in ("kafka", "minio", "postgres"):
        assert init["depends_on"][dep]["condition"] == "service_healthy"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_services_wait_for_init(compose: dict[str, Any], service: str) -> None:
    assert _services(compose)[service]["depends_on"]["init"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize(("service", "port"), sorted(SERVICE_PORTS.items()))
def test_ports_and_healthchecks(
    compose: dict[str, Any], service_settings: dict[str, Any], repo: Path, service: str, port: int
) -> None:
    svc = _services(compose)[service]
    env = env_mapping(svc)
    assert env[f"{service.upper()}_HTTP_PORT"] == str(port)
    assert str(port) in [str(p) for p in svc.get("expose", [])]
    test = svc["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert re.search(rf"127\.0\.0\.1:{port}/(readyz|healthz)\b", command), command
    cls = service_settings[service]
    if cls is not None:
        assert cls.model_fields["http_port"].default == port, f"{cls.__name__}.http_port default"
    dockerfile = (repo / svc["build"]["dockerfile"]).read_text(encoding="utf-8")
    exposed = re.findall(r"^EXPOSE\s+(.+)$", dockerfile, flags=re.M)
    if exposed:
        assert str(port) in " ".join(exposed).split(), f"{service} Dockerfile EXPOSE {exposed}"


def test_notifier_api(compose: dict[str, Any], service_settings: dict[str, Any]) -> None:
    """The management API runs as its own process (``serve-api``) from the notifier image."""
    services = _services(compose)
    api, notifier = services["notifier-api"], services["notifier"]
    assert api["build"] == notifier["build"] and api["image"] == notifier["image"]
    assert not notifier.get("ports"), "the notifier consumer serves no public port"
    env = env_mapping(api)
    assert env["NOTIFIER_API_HOST"] == "0.0.0.0", "bind all interfaces inside the container"
    assert env["NOTIFIER_API_PORT"] == str(NOTIFIER_API_PORT)
    ports = [str(p) for p in api.get("ports", [])]
    assert any(p.endswith(f":{NOTIFIER_API_PORT}") for p in ports), ports
    test = " ".join(api["healthcheck"]["test"])
    assert f"127.0.0.1:{NOTIFIER_API_PORT}/healthz" in test
    command = api["command"]
    assert command[:2] == ["python", "-c"] and "serve_api()" in command[2]
    compile(command[2], "notifier-api command", "exec")
    cls = service_settings["notifier"]
    if cls is None:
        pytest.skip("policywatch_notifier.settings not written yet")
    assert cls.model_fields["api_port"].default == NOTIFIER_API_PORT
    accepted = settings_env(cls)
    unknown = sorted(var for var in env if not accepted.accepts(var))
    assert not unknown, f"notifier-api: env vars not read by {cls.__name__}: {unknown}"
    import inspect

    from policywatch_notifier.cli import serve_api

    required = [p for p in inspect.signature(serve_api).parameters.values() if p.default is p.empty]
    assert not required, f"serve_api() is called without arguments; it requires {required}"


def test_prometheus_targets_match_ports(repo: Path) -> None:
    prom = yaml.safe_load((repo / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        target
        for job in prom["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    for service, port in SERVICE_PORTS.items():
        assert f"{service}:{port}" in targets


def test_long_running_services_have_healthchecks(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, svc in services.items():
        if name in ("init", "kafka-exporter"):
            continue
        assert "healthcheck" in svc, f"{name} has no healthcheck"
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, dict):
            for dep, cond in deps.items():
                assert dep in services, f"{name} depends on unknown {dep}"
                if cond.get("condition") == "service_healthy":
                    assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"


def test_named_volumes_declared(compose: dict[str, Any]) -> None:
    declared = set((compose.get("volumes") or {}).keys())
    used: set[str] = set()
    for name, svc in _services(compose).items():
        for volume in svc.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else str(volume).split(":", 1)[0]
            if source.startswith((".", "/", "~", "$")):
                continue  # bind mount
            assert source in declared, f"{name}: volume {source!r} not declared at top level"
            used.add(source)
    assert declared == used, f"declared but unused volumes: {sorted(declared - used)}"
    for stateful in ("kafka", "minio", "postgres", "prometheus", "grafana"):
        assert any(not str(v).startswith(".") for v in _services(compose)[stateful].get("volumes", [])), (
            f"{stateful} keeps its data in a named volume"
        )


def test_bind_mounts_exist(compose: dict[str, Any], repo: Path) -> None:
    for name, svc in _services(compose).items():
        for volume in svc.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (repo / source).exists(), f"{name}: {source} missing"


def _all_env(compose: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (name, key, value)
        for name, svc in _services(compose).items()
        for key, value in env_mapping(svc).items()
    ]


def test_no_secret_hard_coded(compose: dict[str, Any]) -> None:
    for name, key, value in _all_env(compose):
        if SECRET_KEY.search(key):
            literal = INTERPOLATION.sub("", value)
            assert value and not literal.strip(), f"{name}: {key} must come from .env, got {value!r}"
        password = URL_WITH_PASSWORD.search(value)
        if password:
            assert INTERPOLATION.fullmatch(password.group(1)), f"{name}: {key} embeds a literal password"


def test_interpolated_vars_documented(repo: Path, env_example: dict[str, str]) -> None:
    text = (repo / "docker-compose.yml").read_text(encoding="utf-8").replace("$$", "")
    used = {m.group(1) for m in INTERPOLATION.finditer(text)}
    missing = sorted(used - set(env_example))
    assert not missing, f".env.example lacks {missing}"
    # required secrets fail loudly instead of starting with an empty password
    for match in INTERPOLATION.finditer(text):
        if SECRET_KEY.search(match.group(1)) and "USER" not in match.group(1):
            assert match.group(2) in (":?", "?"), f"${{{match.group(1)}}} should be ${{VAR:?message}}"


def test_env_example_has_only_placeholders(env_example: dict[str, str]) -> None:
    for key, value in env_example.items():
        if SECRET_KEY.search(key) and "ACCESS_KEY" not in key:
            assert "change-me" in value, f".env.example {key} must be a placeholder, not a real secret"


def test_env_file_ignored_by_git(repo: Path) -> None:
    assert ".env" in (repo / ".gitignore").read_text(encoding="utf-8").split()
