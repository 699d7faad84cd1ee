"""The code stays ruff- and mypy-clean (docs/dev/conventions.md). `.ci/run` runs the test suite
only, so the linters run here: a long line or a type error fails CI, not just a hand check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
#: What mypy checks: every service's package, the shared library, the CLI, benchmarks and the
#: services' measurement tools.
MYPY_TARGETS = [
    *sorted(str(p.relative_to(REPO)) for p in REPO.glob("services/*/src")),
    "shared/src",
    "src",
    "bench",
    *sorted(str(p.relative_to(REPO)) for p in REPO.glob("services/*/tools")),
]


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / tool  # the workspace's own pinned linter
    if not exe.exists():
        pytest.fail(f"{tool} is not installed beside {sys.executable}: run scripts/bootstrap")
    return subprocess.run([str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["check", "format"])
def test_ruff(args: tuple[str, ...]) -> None:
    result = run("ruff", *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy(tmp_path: Path) -> None:
    result = run("mypy", "--cache-dir", str(tmp_path), *MYPY_TARGETS)
    assert result.returncode == 0, result.stdout + result.stderr
