"""Kubernetes kustomize base (deploy/kubernetes/base) against the services it deploys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import NOTIFIER_API_PORT, SERVICE_PORTS, settings_env

BASE = Path("deploy/kubernetes/base")


@pytest.fixture(scope="module")
def kustomization(repo: Path) -> dict[str, Any]:
    return yaml.safe_load((repo / BASE / "kustomization.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifests(repo: Path, kustomization: dict[str, Any]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        path = repo / BASE / resource
        assert path.is_file(), f"kustomization resource {resource} missing"
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return docs


def _find(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for doc in manifests:
        if doc.get("kind") == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind} {name}")


def test_every_yaml_file_parses_and_is_listed(repo: Path, kustomization: dict[str, Any]) -> None:
    files = {p.name for p in (repo / BASE).glob("*.yaml")} - {"kustomization.yaml"}
    assert files == set(kustomization["resources"]), "every manifest is listed in kustomization.yaml"
    for name in files:
        for doc in yaml.safe_load_all((repo / BASE / name).read_text(encoding="utf-8")):
            if doc:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{name}: incomplete object"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds(repo: Path) -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(repo / BASE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(result.stdout) if d]
    assert kinds.count("Deployment") == 5 and kinds.count("Service") == 5  # four services + notifier-api


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _port(container: dict[str, Any], ref: Any) -> int:
    if isinstance(ref, int):
        return ref
    for port in container["ports"]:
        if port["name"] == ref:
            return int(port["containerPort"])
    raise AssertionError(f"named port {ref!r} not declared")


@pytest.mark.parametrize(("service", "port"), sorted(SERVICE_PORTS.items()))
def test_deployment_ports_and_probes(manifests: list[dict[str, Any]], service: str, port: int) -> None:
    deployment = _find(manifests, "Deployment", service)
    container = _container(deployment)
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env[f"{service.upper()}_HTTP_PORT"] == str(port)
    assert _port(container, "http") == port

    probes = {
        kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["startupProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for kind, probe in probes.items():
        assert _port(container, probe["port"]) == port, f"{service} {kind} port"

    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"

    svc = _find(manifests, "Service", service)
    assert svc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    http = next(p for p in svc["spec"]["ports"] if p["name"] == "http")
    assert http["port"] == port and _port(container, http["targetPort"]) == port
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in deployment["spec"]["selector"]["matchLabels"].items())


def test_notifier_api(manifests: list[dict[str, Any]], service_settings: dict[str, Any]) -> None:
    """The management API: the notifier image running serve-api, probed on its own port."""
    deployment = _find(manifests, "Deployment", "notifier-api")
    container = _container(deployment)
    notifier = _container(_find(manifests, "Deployment", "notifier"))
    assert container["image"] == notifier["image"]
    assert "serve_api()" in container["command"][-1]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["NOTIFIER_API_HOST"] == "0.0.0.0"
    assert env["NOTIFIER_API_PORT"] == str(NOTIFIER_API_PORT)
    assert _port(container, "api") == NOTIFIER_API_PORT
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container[kind]["httpGet"]
        assert probe["path"] == "/healthz" and _port(container, probe["port"]) == NOTIFIER_API_PORT
    svc = _find(manifests, "Service", "notifier-api")
    assert svc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert any(p["port"] == NOTIFIER_API_PORT for p in svc["spec"]["ports"])
    assert not any(p["name"] == "api" for p in notifier["ports"]), "the consumer serves no API"
    cls = service_settings["notifier"]
    if cls is None:
        pytest.skip("policywatch_notifier.settings not written yet")
    names = set(env)
    for source in container.get("envFrom", []):
        names |= set(_find(manifests, "ConfigMap", source["configMapRef"]["name"])["data"])
    accepted = settings_env(cls)
    unknown = sorted(n for n in names if not accepted.accepts(n))
    assert not unknown, f"notifier-api: env vars not read by {cls.__name__}: {unknown}"
    assert cls.model_fields["api_port"].default == NOTIFIER_API_PORT


@pytest.mark.parametrize("service", [*sorted(SERVICE_PORTS), "notifier-api"])
def test_resources_and_security(manifests: list[dict[str, Any]], service: str) -> None:
    deployment = _find(manifests, "Deployment", service)
    container = _container(deployment)
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{service} {bound}"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"] for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
    assert mounts <= volumes


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_env_vars_are_settings_fields(
    manifests: list[dict[str, Any]], service_settings: dict[str, Any], service: str
) -> None:
    cls = service_settings[service]
    if cls is None:
        pytest.skip(f"policywatch_{service}.settings not written yet")
    container = _container(_find(manifests, "Deployment", service))
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            names |= set(_find(manifests, "ConfigMap", ref["name"])["data"])
    accepted = settings_env(cls)
    unknown = sorted(n for n in names if not accepted.accepts(n))
    assert not unknown, f"{service}: env vars not read by {cls.__name__}: {unknown}"


SECRET_WORDS = ("SECRET", "PASSWORD", "ACCESS_KEY", "API_KEY", "TOKEN", "DATABASE_URL")


def test_secrets_only_by_reference(manifests: list[dict[str, Any]]) -> None:
    assert not [d for d in manifests if d["kind"] == "Secret"], (
        "the base references secrets, never ships them"
    )
    for config in (d for d in manifests if d["kind"] == "ConfigMap"):
        assert not [k for k in config["data"] if any(w in k for w in SECRET_WORDS)], config["metadata"][
            "name"
        ]
    for doc in manifests:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for env in container.get("env", []):
                if any(w in env["name"] for w in SECRET_WORDS):
                    assert "valueFrom" in env and "value" not in env, (
                        f"{doc['metadata']['name']}: {env['name']}"
                    )


def test_images_match_kustomization(manifests: list[dict[str, Any]], kustomization: dict[str, Any]) -> None:
    names = {i["name"] for i in kustomization["images"]}
    for doc in manifests:
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert container["image"] in names, container["image"]


def test_init_job_runs_the_init_script(manifests: list[dict[str, Any]], repo: Path) -> None:
    job = _find(manifests, "Job", "policywatch-init")
    command = " ".join(_container(job)["command"])
    assert command == "python /app/deploy/init/init.py"
    assert (repo / "deploy/init/init.py").is_file()


def test_init_job_env_vars_are_settings_fields(manifests: list[dict[str, Any]]) -> None:
    """deploy/init/init.py reads ServiceSettings: the Job must set nothing else."""
    from policywatch_shared.settings import ServiceSettings

    container = _container(_find(manifests, "Job", "policywatch-init"))
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(_find(manifests, "ConfigMap", source["configMapRef"]["name"])["data"])
    accepted = settings_env(ServiceSettings)
    unknown = sorted(n for n in names if not accepted.accepts(n))
    assert not unknown, f"policywatch-init: env vars ServiceSettings does not read: {unknown}"
    assert {"KAFKA_BOOTSTRAP_SERVERS", "S3_ACCESS_KEY", "S3_SECRET_KEY", "DATABASE_URL"} <= names
