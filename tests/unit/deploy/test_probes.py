"""Every probe path the deployment files use is one the services' runtime really serves.

The paths are collected from docker-compose.yml health checks, the Dockerfiles' HEALTHCHECK, the
Kubernetes probes and the Prometheus scrape config, then requested from the shared runtime's ASGI
app (``policywatch_shared.runtime.HealthApp``) in-process.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import SERVICE_PORTS

PATH_IN_URL = re.compile(r"127\.0\.0\.1:(?:\d+|'\s*\+[^+]+\+\s*')(/[a-z]+)")


def _compose_paths(compose: dict[str, Any]) -> set[str]:
    paths: set[str] = set()
    for name in SERVICE_PORTS:
        test = compose["services"][name]["healthcheck"]["test"]
        paths |= set(PATH_IN_URL.findall(" ".join(test)))
    return paths


def _dockerfile_paths(repo: Path) -> set[str]:
    paths: set[str] = set()
    for name in SERVICE_PORTS:
        text = (repo / "services" / name / "Dockerfile").read_text(encoding="utf-8")
        for line in re.findall(r"^\s*CMD \[.*healthz.*\]$|HEALTHCHECK.*", text, flags=re.M):
            paths |= set(re.findall(r"/(healthz|readyz|metrics)\b", line))
    return {"/" + p for p in paths}


def _kubernetes_paths(repo: Path) -> set[str]:
    paths: set[str] = set()
    for name in SERVICE_PORTS:
        for doc in yaml.safe_load_all(
            (repo / f"deploy/kubernetes/base/{name}.yaml").read_text(encoding="utf-8")
        ):
            if doc and doc["kind"] == "Deployment":
                template = doc["spec"]["template"]
                for container in template["spec"]["containers"]:
                    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
                        paths.add(container[kind]["httpGet"]["path"])
                paths.add(template["metadata"]["annotations"]["prometheus.io/path"])
    return paths


def _prometheus_paths(repo: Path) -> set[str]:
    prom = yaml.safe_load((repo / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "policywatch")
    return {job.get("metrics_path", "/metrics")}


async def _get(app: Any, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body


def test_probe_paths_are_served(compose: dict[str, Any], repo: Path) -> None:
    from policywatch_shared.runtime import HealthApp

    used = (
        _compose_paths(compose) | _dockerfile_paths(repo) | _kubernetes_paths(repo) | _prometheus_paths(repo)
    )
    assert {"/healthz", "/readyz", "/metrics"} <= used, used

    async def broken() -> None:
        raise ConnectionError("broker down")

    async def scenario() -> None:
        started = asyncio.Event()
        started.set()
        healthy = HealthApp("deploy-test", [("broker", _ok)], started)
        failing = HealthApp("deploy-test", [("broker", broken)], started)
        for path in sorted(used):
            status, _ = await _get(healthy, path)
            assert status == 200, f"{path} answers {status}: the deployment probes a path the runtime lacks"
        # liveness stays up while a dependency is down; readiness does not
        assert (await _get(failing, "/healthz"))[0] == 200
        status, body = await _get(failing, "/readyz")
        assert status == 503 and b"broker down" in body
        status, body = await _get(healthy, "/metrics")
        assert b"# TYPE" in body
        assert (await _get(healthy, "/nope"))[0] == 404

    asyncio.run(scenario())


async def _ok() -> None:
    return None


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("urlopen('http://127.0.0.1:8001/readyz', timeout=3)", {"/readyz"}),
        ("urlopen('http://127.0.0.1:' + os.environ.get('X', '8001') + '/healthz')", {"/healthz"}),
    ],
)
def test_path_extraction(text: str, paths: set[str]) -> None:
    assert set(PATH_IN_URL.findall(text)) == paths
