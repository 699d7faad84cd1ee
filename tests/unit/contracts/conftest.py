"""Fixtures of the contract checks (event schemas, AsyncAPI, settings table, consumer docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
