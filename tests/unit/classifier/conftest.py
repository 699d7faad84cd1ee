from __future__ import annotations

from datetime import UTC, datetime

import pytest
from policywatch_shared.events import ChangeEvent, ChangeKind, SectionChange, VersionRef


def _version(n: int) -> VersionRef:
    return VersionRef(
        version_id=f"v{n}",
        number=n,
        sha256="0" * 64,
        storage_key=f"versions/00/{n:064d}",
        first_seen=datetime(2026, 1, n, tzinfo=UTC),
    )


@pytest.fixture
def make_change():
    def make(
        sections: list[SectionChange],
        *,
        kind: ChangeKind = ChangeKind.MODIFIED,
        platform: str = "midjourney",
        event_id: str = "chg-1",
        substantive: bool = True,
    ) -> ChangeEvent:
        return ChangeEvent(
            event_id=event_id,
            platform=platform,
            document_type="privacy_policy",
            document_id=f"{platform}/privacy_policy",
            capture_id="cap-1",
            kind=kind,
            substantive=substantive,
            significance=0.2,
            summary="sections changed",
            detected_at=datetime(2026, 1, 2, tzinfo=UTC),
            from_version=_version(1),
            to_version=_version(2),
            sections=sections,
        )

    return make
