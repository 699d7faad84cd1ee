"""`policywatch --help` must not import the heavy libraries the verbs use (issue 2: slow CLI start).

The measurable property is which modules get imported, not a wall time (timings vary with load).
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

HEAVY = {"sklearn", "markdownify", "bs4", "sqlalchemy", "aiokafka", "playwright", "lxml", "numpy"}

_LIST_HEAVY = f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY)!r}))"


def _heavy_after(code: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    result = ast.literal_eval(last)
    assert isinstance(result, list)
    return result


def test_import_cli_is_light() -> None:
    heavy = _heavy_after(f"import policywatch.cli, sys; {_LIST_HEAVY}")
    assert heavy == []


@pytest.mark.parametrize("argv", [["--help"], ["diff", "--help"], ["status", "--help"], ["train", "--help"]])
def test_help_is_light(argv: list[str]) -> None:
    # Run the real command (help printed, then SystemExit) and list what got imported.
    code = (
        "import sys, policywatch.cli\n"
        f"sys.argv = ['policywatch', *{argv!r}]\n"
        "try:\n    policywatch.cli.main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"{_LIST_HEAVY}"
    )
    assert _heavy_after(code) == []


def test_detects_heavy_imports() -> None:
    # The probe itself must see a heavy import when one happens (guards against a vacuous pass).
    assert "markdownify" in _heavy_after(f"import sys, markdownify; {_LIST_HEAVY}")
