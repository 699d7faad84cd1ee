"""Fixtures of the fetcher's integration tests: the fixture website on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.fetcher.site import FixtureSite


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureSite]:
    with FixtureSite() as s:
        yield s
