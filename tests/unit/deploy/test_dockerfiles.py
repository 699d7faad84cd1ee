"""The services' Dockerfiles (and the tools image) against the repository and the settings classes.

Docker cannot run in CI: the files are parsed and checked for what a build and a run would need
(sources that exist, every workspace member's pyproject before ``uv sync``, non-root numeric
user, health check on the service's port, the service's own entry point).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import SERVICE_PORTS, settings_env

TOOLS = Path("deploy/docker/tools.Dockerfile")

#: COPY sources written by other areas that may not exist yet: source -> owner.
PENDING_SOURCES = {"catalog": "the fetcher (issue 3: default catalog)"}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions per stage; continuation lines joined, comments dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    assert not current, "dangling line continuation"
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
            continue
        assert stages, f"{keyword} before FROM"
        stages[-1].instructions.append((keyword, args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def copy_sources(stage: Stage) -> list[str]:
    """Sources of COPY instructions that read the build context (not another stage or image)."""
    sources: list[str] = []
    for args in stage.all("COPY"):
        words = shlex.split(args)
        if any(w.startswith("--from=") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        sources.extend(words[:-1])
    return sources


def env_names(stage: Stage) -> set[str]:
    names: set[str] = set()
    for args in stage.all("ENV"):
        names |= set(re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", args))
    return names


def workspace_members(repo: Path) -> list[str]:
    root = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    return list(root["tool"]["uv"]["workspace"]["members"])


def dockerignore(repo: Path) -> list[str]:
    path = repo / ".dockerignore"
    if not path.exists():
        return []
    return [
        line.strip().rstrip("/")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


def ignored(source: str, patterns: list[str]) -> bool:
    source = source.rstrip("/")
    return any(
        fnmatch.fnmatch(source, p)
        or source.startswith(p + "/")
        or fnmatch.fnmatch(source, p.removeprefix("**/"))
        for p in patterns
        if not p.startswith("!")
    )


@pytest.fixture(scope="module")
def dockerfiles(repo: Path) -> dict[str, list[Stage]]:
    files = {svc: repo / "services" / svc / "Dockerfile" for svc in SERVICE_PORTS}
    files["tools"] = repo / TOOLS
    return {name: parse_dockerfile(path.read_text(encoding="utf-8")) for name, path in files.items()}


ALL_IMAGES = [*sorted(SERVICE_PORTS), "tools"]


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_copy_sources_exist_and_are_not_ignored(
    dockerfiles: dict[str, list[Stage]], repo: Path, image: str
) -> None:
    patterns = dockerignore(repo)
    pending: list[str] = []
    for stage in dockerfiles[image]:
        for source in copy_sources(stage):
            assert not ignored(source, patterns), f"{image}: COPY {source} is excluded by .dockerignore"
            if (repo / source).exists():
                continue
            if source in PENDING_SOURCES:
                pending.append(f"{source} ({PENDING_SOURCES[source]})")
                continue
            raise AssertionError(f"{image}: COPY source {source} does not exist in the repository")
    if pending:
        pytest.skip(f"{image}: COPY sources not written yet: {pending}")


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_uv_sync_sees_the_whole_workspace(
    dockerfiles: dict[str, list[Stage]], repo: Path, image: str
) -> None:
    """uv reads every workspace member's pyproject.toml, even for one package: copy them first."""
    build = dockerfiles[image][0]
    copied: set[str] = set()
    syncs = 0
    for keyword, args in build.instructions:
        if keyword == "COPY" and "--from=" not in args:
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            copied |= {w.rstrip("/") for w in words[:-1]}
        if keyword == "RUN" and "uv sync" in args:
            syncs += 1
            assert "--frozen" in args, f"{image}: uv sync must use the committed lock (--frozen)"
            assert "--no-dev" in args
            for member in workspace_members(repo):
                assert f"{member}/pyproject.toml" in copied or member in copied, (
                    f"{image}: uv sync before {member}/pyproject.toml is copied"
                )
            assert "pyproject.toml" in copied and "uv.lock" in copied
    assert syncs >= 1, f"{image}: no uv sync in the build stage"
    uv = [a for a in build.all("COPY") if "astral-sh/uv" in a]
    assert uv and re.search(r"astral-sh/uv:\d+\.\d+\.\d+ ", uv[0]), f"{image}: pin the uv image to a release"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_service_image_installs_its_package(
    dockerfiles: dict[str, list[Stage]], repo: Path, service: str
) -> None:
    project = tomllib.loads((repo / "services" / service / "pyproject.toml").read_text(encoding="utf-8"))
    name = project["project"]["name"]
    syncs = [
        args
        for stage in dockerfiles[service]
        for kw, args in stage.instructions
        if kw == "RUN" and "uv sync" in args
    ]
    assert syncs and all(f"--package {name}" in s for s in syncs), f"{service}: uv sync --package {name}"
    final = dockerfiles[service][-1]
    assert any(a.startswith("--from=build") and "/app/.venv" in a for a in final.all("COPY"))


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_runs_as_numeric_non_root_user(dockerfiles: dict[str, list[Stage]], image: str) -> None:
    final = dockerfiles[image][-1]
    users = final.all("USER")
    assert users, f"{image}: the runtime stage has no USER (runs as root)"
    uid = users[-1].split(":")[0]
    # Kubernetes runAsNonRoot can only verify a numeric uid.
    assert uid.isdigit() and int(uid) != 0, f"{image}: USER {users[-1]} must be a numeric non-root uid"
    assert final.base == dockerfiles[image][0].base, "venv built on the same Python image it runs on"


@pytest.mark.parametrize(("service", "port"), sorted(SERVICE_PORTS.items()))
def test_service_entrypoint_port_and_healthcheck(
    dockerfiles: dict[str, list[Stage]], service_settings: dict[str, Any], service: str, port: int
) -> None:
    final = dockerfiles[service][-1]
    assert exec_form(final.all("CMD")[-1]) == ["python", "-m", f"policywatch_{service}"]
    exposed = " ".join(final.all("EXPOSE")).split()
    assert str(port) in exposed, f"{service}: EXPOSE {exposed}"
    health = final.all("HEALTHCHECK")
    assert len(health) == 1, f"{service}: one HEALTHCHECK"
    command = health[0]
    assert "/healthz" in command and f"{service.upper()}_HTTP_PORT" in command and f"'{port}'" in command
    check = exec_form(command[command.index("CMD") + 3 :].strip())
    compile(check[-1], f"{service} healthcheck", "exec")  # the inline Python is valid
    cls = service_settings[service]
    if cls is None:
        pytest.skip(f"policywatch_{service}.settings not written yet")
    assert cls.model_fields["http_port"].default == port


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_service_main_module_exists(service: str) -> None:
    if importlib.util.find_spec(f"policywatch_{service}") is None:
        pytest.skip(f"policywatch_{service} not installed")
    if importlib.util.find_spec(f"policywatch_{service}.__main__") is None:
        pytest.skip(
            f"policywatch_{service}.__main__ not written yet (the image runs python -m policywatch_{service})"
        )


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_dockerfile_env_vars_are_settings_fields(
    dockerfiles: dict[str, list[Stage]], service_settings: dict[str, Any], service: str
) -> None:
    names = {n for stage in dockerfiles[service][1:] for n in env_names(stage)}
    ours = {n for n in names if n.startswith(f"{service.upper()}_")}
    cls = service_settings[service]
    if cls is None:
        pytest.skip(f"policywatch_{service}.settings not written yet")
    accepted = settings_env(cls)
    unknown = sorted(n for n in ours if not accepted.accepts(n))
    assert not unknown, f"{service}: Dockerfile sets {unknown}, not read by {cls.__name__}"


def test_fetcher_image_has_chromium(dockerfiles: dict[str, list[Stage]]) -> None:
    final = dockerfiles["fetcher"][-1]
    assert any("apt-get install" in r and " chromium" in r for r in final.all("RUN"))


def test_tools_image_runs_the_init_job(dockerfiles: dict[str, list[Stage]], repo: Path) -> None:
    final = dockerfiles["tools"][-1]
    assert "deploy/init" in copy_sources(final)
    assert exec_form(final.all("CMD")[-1]) == ["python", "/app/deploy/init/init.py"]
    assert (repo / "deploy/init/init.py").is_file()


def test_parser_handles_continuations_and_stages() -> None:
    stages = parse_dockerfile(
        "# c\nFROM a:1 AS build\nRUN x \\\n  # inner comment\n  && y\nFROM a:1\nCOPY --from=build /v /v\n"
        'COPY src dst/\nENV A=1 B="2 3" \\\n  C=4\nUSER 10001\n'
    )
    assert [s.name for s in stages] == ["build", None]
    assert stages[0].all("RUN") == ["x  && y"]
    assert copy_sources(stages[1]) == ["src"]
    assert env_names(stages[1]) == {"A", "B", "C"}
    with pytest.raises(AssertionError):
        parse_dockerfile("RUN x\n")


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_service_runs_with_two_malloc_arenas(dockerfiles: dict[str, list[Stage]], service: str) -> None:
    """Worker threads would each get a glibc arena; resident memory creeps past the 300 MB goal."""
    final = dockerfiles[service][-1]
    assert "MALLOC_ARENA_MAX=2" in " ".join(final.all("ENV")), f"{service}: MALLOC_ARENA_MAX=2 not set"


def test_local_stack_runs_services_with_two_malloc_arenas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policywatch.stack import Stack

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    stack = Stack(data_dir=tmp_path, env_broker=False)
    stack.bootstrap = "127.0.0.1:1"
    assert {s.env["MALLOC_ARENA_MAX"] for s in stack.specs()} == {"2"}
