"""The build stage of every service Dockerfile, replayed without Docker.

Docker cannot run here, so this test executes the build stage's own instructions: each
``COPY <repo path> <dest>`` copies from the repository into a scratch directory and each
``RUN uv sync ...`` runs with the machine's uv (offline: the cache filled by the workspace install),
then the resulting self-contained environment must import the service and the shared library.
This catches a lock that uv cannot read, a workspace member missing before ``uv sync``, or a
package that does not build as a wheel (``--no-editable``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.deploy.test_dockerfiles import parse_dockerfile

REPO = Path(__file__).resolve().parents[3]
SERVICES = ["fetcher", "differ", "classifier", "notifier"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "var")


def _uv() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    candidate = Path(sys.executable).with_name("uv")  # uv installed next to the interpreter
    return str(candidate) if candidate.exists() else None


@pytest.mark.parametrize("service", SERVICES)
def test_build_stage_produces_a_working_environment(service: str, tmp_path: Path) -> None:
    uv = _uv()
    if uv is None:
        pytest.skip("uv not installed")
    build = parse_dockerfile((REPO / "services" / service / "Dockerfile").read_text(encoding="utf-8"))[0]
    root = tmp_path / "app"
    root.mkdir()
    # the interpreter the workspace venv was made from (what the image's python:3.11 stands for)
    base = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys._base_executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(root / ".venv"),
        "UV_PYTHON": base,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_OFFLINE": "1",  # tests reach only 127.0.0.1: packages come from uv's cache
        "UV_LINK_MODE": "hardlink",  # the image copies; here, hard links keep the test fast
        "VIRTUAL_ENV": "",
    }
    synced = 0
    for keyword, args in build.instructions:
        if keyword == "COPY" and "--from=" not in args:
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            *sources, dest = words
            # WORKDIR is /app: relative destinations land in the scratch root
            target = root / dest.removeprefix("/app/").removeprefix("./") if dest not in (".", "./") else root
            for source in sources:
                src = REPO / source
                if src.is_dir():  # Docker copies a directory's contents into the destination
                    shutil.copytree(src, target, ignore=IGNORE, dirs_exist_ok=True)
                elif dest.endswith("/") or dest in (".", "./"):
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target / src.name)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target)
        elif keyword == "RUN" and "uv sync" in args:
            command = args[args.index("uv sync") :]
            result = subprocess.run(
                [uv, *shlex.split(command)[1:]],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, f"{service}: `{command}` failed:\n{result.stderr[-3000:]}"
            synced += 1
    assert synced == 2, f"{service}: expected a dependency layer and a project layer, ran {synced} uv sync"
    python = root / ".venv" / "bin" / "python"
    # Importing the whole app in a fresh, uncompiled environment takes half a minute on a busy
    # machine: import the settings (pydantic + shared) and locate the rest.
    check = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, json, policywatch_shared, "
            f"policywatch_{service}.settings as s; "
            f"print(json.dumps([importlib.util.find_spec(m).origin for m in "
            f"('policywatch_{service}', 'policywatch_{service}.app', 'policywatch_{service}.__main__')]))",
        ],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, f"{service}: the built environment cannot load the service:\n{check.stderr}"
    origins = json.loads(check.stdout.strip().splitlines()[-1])
    assert all("/site-packages/" in o for o in origins), origins  # installed, not the checkout
    # every file of the package (templates, migrations, models, YAML) made it into the wheel
    package_src = REPO / "services" / service / "src" / f"policywatch_{service}"
    installed = Path(origins[0]).parent
    wanted = {
        p.relative_to(package_src)
        for p in package_src.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    have = {p.relative_to(installed) for p in installed.rglob("*") if p.is_file()}
    missing = sorted(str(p) for p in wanted - have)
    assert not missing, f"{service}: files left out of the wheel (gitignored?): {missing[:20]}"
