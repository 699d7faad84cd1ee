"""Hand-made classified changes (tests, benchmarks, and trying a channel without the pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime

from policywatch_shared.events import (
    CategoryTag,
    ChangeEvent,
    ChangeKind,
    ClassifiedChange,
    CrossPlatform,
    DiffOp,
    ParagraphChange,
    PassageTag,
    ProvisionExample,
    RegulationRef,
    SectionChange,
    Severity,
    VersionRef,
    make_event_id,
)


def sample_classified(
    *,
    platform: str = "openai",
    document_type: str = "privacy_policy",
    n: int = 1,
    severity: str = "high",
    categories: tuple[str, ...] = ("ai_training",),
    substantive: bool = True,
    detected_at: datetime | None = None,
    model_version: str = "test-1",
) -> ClassifiedChange:
    """A realistic classified change; ``n`` makes distinct changes of the same document."""
    document_id = f"{platform}/{document_type}"
    when = detected_at or datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    change_id = make_event_id("change", document_id, n, when.isoformat())
    v1 = VersionRef(
        version_id=f"v{n}a", number=n, sha256="a" * 64, storage_key=f"text/aa/{'a' * 64}", first_seen=when
    )
    v2 = VersionRef(
        version_id=f"v{n}b", number=n + 1, sha256="b" * 64, storage_key=f"text/bb/{'b' * 64}", first_seen=when
    )
    before = "We do not use your content to train our models."
    after = "We may use your content to train and improve our models unless you opt out."
    change = ChangeEvent(
        event_id=change_id,
        platform=platform,
        document_type=document_type,
        document_id=document_id,
        capture_id=f"cap-{n}",
        kind=ChangeKind.MODIFIED,
        substantive=substantive,
        significance=0.2,
        summary="Section 'How we use your data' reworded",
        detected_at=when,
        from_version=v1,
        to_version=v2,
        sections=[
            SectionChange(
                kind="modified",
                heading_path=["Privacy Policy", "How we use your data"],
                anchor="how-we-use",
                before=before,
                after=after,
                words_added=9,
                words_removed=4,
                paragraphs=[
                    ParagraphChange(
                        kind="reworded",
                        before=before,
                        after=after,
                        word_diff=[
                            DiffOp(op="equal", text="We"),
                            DiffOp(op="delete", text="do not"),
                            DiffOp(op="insert", text="may"),
                            DiffOp(op="equal", text="use your content to train"),
                            DiffOp(op="insert", text="and improve"),
                            DiffOp(op="equal", text="our models"),
                            DiffOp(op="insert", text="unless you opt out"),
                        ],
                    )
                ],
            )
        ],
    )
    sev = Severity(severity)
    return ClassifiedChange(
        event_id=make_event_id("classified", change_id, model_version),
        platform=platform,
        document_type=document_type,
        document_id=document_id,
        change=change,
        categories=list(categories),
        passages=[
            PassageTag(
                heading_path=["How we use your data"],
                change="reworded",
                text=after,
                categories=[CategoryTag(id=c, confidence=0.9) for c in categories],
            )
        ],
        severity=sev,
        severity_reasons=["content now used for model training"],
        regulations=[RegulationRef(framework="GDPR", provision="Art. 6", title="Lawfulness of processing")],
        jurisdictions=["EU"],
        headline=f"{platform} may now train models on your content",
        summary="The policy now allows training on user content unless the user opts out.",
        cross_platform=[
            CrossPlatform(
                category=categories[0] if categories else "ai_training",
                platform_count=3,
                examples=[
                    ProvisionExample(
                        platform="anthropic",
                        document_id="anthropic/privacy_policy",
                        excerpt="We do not train on your conversations by default.",
                    )
                ],
            )
        ],
        model_version=model_version,
    )
