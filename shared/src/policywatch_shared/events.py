"""Event contracts v1: the public API between services and for downstream consumers.

Every message on a policywatch topic is one of these pydantic models, serialised as
JSON. Compatibility rules (checked by ``tests/unit/test_event_schema_compat.py``
against the committed JSON Schemas in ``docs/events/``):

* adding an optional field is allowed within v1 (bump ``SCHEMA_VERSION`` minor);
* removing, renaming or retyping a field is breaking: it needs new ``.v2`` topics.

Consumers must ignore fields they do not know, and de-duplicate by ``event_id``:
delivery is at-least-once and the same input always yields the same id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_event_id(kind: str, *parts: object) -> str:
    """Deterministic id: the same input always gives the same id (consumers dedupe on it)."""
    # JSON keeps the parts apart: ("a", "b") and ("a\x1fb",) must not collide.
    raw = json.dumps([kind, *(str(p) for p in parts)], ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def new_trace_id() -> str:
    return uuid.uuid4().hex


class Contract(BaseModel):
    """Base of every contract model: extra fields from newer producers are ignored, not errors."""

    model_config = ConfigDict(extra="ignore", frozen=False, use_enum_values=False)


class DocumentType(StrEnum):
    """Fixed vocabulary of governance document types (documented in README, Catalog section)."""

    PRIVACY_POLICY = "privacy_policy"
    TERMS_OF_SERVICE = "terms_of_service"
    COOKIE_POLICY = "cookie_policy"
    ACCEPTABLE_USE_POLICY = "acceptable_use_policy"
    AI_TERMS = "ai_terms"
    DATA_PROCESSING_AGREEMENT = "data_processing_agreement"
    COMMUNITY_GUIDELINES = "community_guidelines"
    COPYRIGHT_POLICY = "copyright_policy"
    CHILDREN_PRIVACY_POLICY = "children_privacy_policy"
    DEVELOPER_TERMS = "developer_terms"
    COMMERCIAL_TERMS = "commercial_terms"
    TRUST_AND_SAFETY = "trust_and_safety"
    OTHER = "other"


def document_name(document_id: str) -> str:
    """The document's own name from its id, as alerts and headlines show it:
    "Bing/Ranking Parameters Description" → "Ranking Parameters Description", "openai/privacy_policy"
    → "privacy policy"; '' when the id names none. ``document_type`` can be just ``other``."""
    return document_id.partition("/")[2].replace("_", " ").strip()


class EventBase(Contract):
    """Fields every event carries."""

    event_type: ClassVar[str] = "event"

    event_id: str = Field(description="Deterministic id (same input, same id); de-duplicate on it.")
    schema_version: str = Field(default=SCHEMA_VERSION, description="Contract version, MAJOR.MINOR.")
    produced_at: AwareDatetime = Field(
        default_factory=utcnow, description="When this event was produced (UTC)."
    )
    trace_id: str = Field(
        default_factory=new_trace_id, description="Correlation id, kept along the pipeline."
    )
    platform: str = Field(description="Platform id from the catalog, e.g. 'openai'.")
    document_type: str = Field(description="One of DocumentType (string, so new types are not breaking).")
    document_id: str = Field(description="Catalog document id, e.g. 'openai/privacy_policy'. Message key.")

    @property
    def key(self) -> bytes:
        """Kafka message key: the document id keeps each document's history in one partition."""
        return self.document_id.encode("utf-8")


# --------------------------------------------------------------------------- fetch


class ExtractionHints(Contract):
    """How to capture and extract a document (from the catalog)."""

    select: list[str] = Field(default_factory=list, description="CSS selectors of the document body to keep.")
    remove: list[str] = Field(default_factory=list, description="CSS selectors to drop before extraction.")
    execute_js: bool = Field(default=False, description="Render with a browser (client-side JavaScript).")
    wait_for: str | None = Field(default=None, description="CSS selector to wait for before capture.")

    def fingerprint(self) -> str:
        """Stable hash: a change of hints triggers re-extraction (recorded as 'technical')."""
        return make_event_id("hints", self.model_dump_json())


class FetchReason(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    RETRY = "retry"
    DEMO = "demo"


class FetchRequest(EventBase):
    """Ask fetch workers to capture a document now. Topic: policywatch.fetch-requests.v1."""

    event_type: ClassVar[str] = "fetch_request"

    urls: list[str] = Field(min_length=1, description="Pages of the document, combined in this order.")
    hints: ExtractionHints = Field(default_factory=ExtractionHints)
    reason: FetchReason = FetchReason.SCHEDULED
    due_at: AwareDatetime = Field(description="The schedule slot this request is for (part of event_id).")
    robots_override_reason: str | None = Field(
        default=None, description="Set when the catalog overrides robots.txt for this document, and why."
    )


# --------------------------------------------------------------------------- capture


class CaptureOutcome(StrEnum):
    """Result of one capture attempt. Only OK captures are candidates for a new version."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"
    HTTP_ERROR = "http_error"
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"
    BLOCKED = "blocked"
    ERROR_PAGE = "error_page"
    TOO_LARGE = "too_large"


class Fetcher(StrEnum):
    HTTP = "http"
    BROWSER = "browser"


class CapturedPage(Contract):
    """One URL of a capture and where its raw body is stored."""

    url: str = Field(description="Requested URL.")
    final_url: str | None = Field(default=None, description="URL after redirects.")
    status: int | None = Field(default=None, description="HTTP status, when a response arrived.")
    outcome: CaptureOutcome
    fetcher: Fetcher
    content_type: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, description="Selected response headers.")
    sha256: str | None = Field(default=None, description="sha256 of the raw body.")
    size: int | None = Field(default=None, description="Raw body size in bytes.")
    storage_key: str | None = Field(default=None, description="Object-storage key of the raw body.")
    screenshot_key: str | None = None
    elapsed_ms: float | None = None
    error: str | None = Field(default=None, description="Human-readable reason when outcome is not ok.")


class CaptureEvent(EventBase):
    """One capture attempt of a document (every attempt, failed or not). Topic: policywatch.captures.v1."""

    event_type: ClassVar[str] = "capture"

    fetch_request_id: str
    outcome: CaptureOutcome = Field(description="Worst page outcome; 'ok' only if every page is ok.")
    attempted_at: AwareDatetime
    pages: list[CapturedPage]
    hints: ExtractionHints = Field(default_factory=ExtractionHints)
    text_length: int | None = Field(default=None, description="Visible text length the fetcher saw.")
    consecutive_failures: int = Field(default=0, description="Failed captures in a row, this one included.")
    error: str | None = None


# --------------------------------------------------------------------------- change


class ChangeKind(StrEnum):
    FIRST_VERSION = "first_version"
    MODIFIED = "modified"
    UNAVAILABLE = "unavailable"
    RESTORED = "restored"
    REVERTED = "reverted"
    TECHNICAL = "technical"
    DATE_ONLY = "date_only"


class DiffOp(Contract):
    """One run of a word-level diff."""

    op: Literal["equal", "insert", "delete"]
    text: str


class ParagraphChange(Contract):
    kind: Literal["added", "removed", "reworded"]
    before: str | None = None
    after: str | None = None
    word_diff: list[DiffOp] = Field(default_factory=list)


class SectionChange(Contract):
    """A change described in the document's own structure."""

    kind: Literal["added", "removed", "moved", "renamed", "modified", "structure"]
    heading_path: list[str] = Field(description="Headings from the top of the document to this section.")
    anchor: str = Field(description="Stable anchor of the section (slug of its heading path).")
    old_heading: str | None = None
    new_heading: str | None = None
    before: str | None = Field(default=None, description="Section text before (added sections: None).")
    after: str | None = Field(default=None, description="Section text after (removed sections: None).")
    paragraphs: list[ParagraphChange] = Field(default_factory=list)
    words_added: int = 0
    words_removed: int = 0


class ChangeStats(Contract):
    words_added: int = 0
    words_removed: int = 0
    sections_added: int = 0
    sections_removed: int = 0
    sections_modified: int = 0
    sections_moved: int = 0
    sections_renamed: int = 0
    sections_touched: int = 0


class VersionRef(Contract):
    version_id: str = Field(description="Content hash of the normalised text (stable version identity).")
    number: int = Field(description="1-based position in the document's history.")
    sha256: str = Field(description="sha256 of the stored clean text.")
    storage_key: str
    first_seen: AwareDatetime
    capture_id: str | None = None


class ChangeEvent(EventBase):
    """What a capture meant for the document. Topic: policywatch.changes.v1."""

    event_type: ClassVar[str] = "change"

    capture_id: str
    kind: ChangeKind
    substantive: bool = Field(description="True when subscribers should be alerted by default.")
    significance: float = Field(ge=0.0, le=1.0, description="0 = nothing, 1 = the whole document rewritten.")
    summary: str = Field(description="One line in plain English.")
    detected_at: AwareDatetime
    from_version: VersionRef | None = None
    to_version: VersionRef | None = None
    reverted_to: VersionRef | None = Field(default=None, description="For 'reverted': the earlier version.")
    sections: list[SectionChange] = Field(default_factory=list)
    stats: ChangeStats = Field(default_factory=ChangeStats)
    reason: str | None = Field(default=None, description="Why (e.g. unavailability reason, technical cause).")


# --------------------------------------------------------------------------- classification


class Direction(StrEnum):
    EXPANDS = "expands"
    RESTRICTS = "restricts"
    NEUTRAL = "neutral"


class Severity(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return ["none", "low", "medium", "high"].index(self.value)


class CategoryTag(Contract):
    id: str = Field(description="Taxonomy category id (snake_case, stable).")
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list, description="Sentences supporting the tag.")
    direction: Direction = Direction.NEUTRAL


class PassageTag(Contract):
    """One added, removed or reworded passage of a change, with its tags."""

    heading_path: list[str] = Field(default_factory=list)
    change: Literal["added", "removed", "reworded"]
    text: str
    categories: list[CategoryTag] = Field(default_factory=list)


class RegulationRef(Contract):
    framework: str = Field(description="e.g. 'GDPR', 'CCPA/CPRA', 'EU AI Act'.")
    provision: str = Field(description="e.g. 'Art. 6', '§1798.120'.")
    title: str = ""
    categories: list[str] = Field(default_factory=list)
    jurisdictions: list[str] = Field(default_factory=list)


class ComplianceAnalysis(Contract):
    """The professional tier's full analysis, in the five parts compliance teams expect."""

    regulatory_landscape: list[str] = Field(default_factory=list)
    governance_exposure: str = ""
    jurisdiction_flags: list[str] = Field(default_factory=list)
    contract_implications: list[str] = Field(default_factory=list)
    compliance_considerations: list[str] = Field(default_factory=list)
    interpretive_notes: list[str] = Field(default_factory=list)


class ProvisionExample(Contract):
    platform: str
    document_id: str
    excerpt: str


class CrossPlatform(Contract):
    """How other platforms handle a category (from the provision index)."""

    category: str
    platform_count: int
    examples: list[ProvisionExample] = Field(default_factory=list)


class ClassifiedChange(EventBase):
    """A change with governance tags, severity and regulations. Topic: policywatch.classified.v1."""

    event_type: ClassVar[str] = "classified_change"

    change: ChangeEvent = Field(description="The change event as the differ published it.")
    categories: list[str] = Field(default_factory=list, description="Union of passage categories.")
    passages: list[PassageTag] = Field(default_factory=list)
    severity: Severity = Severity.NONE
    severity_reasons: list[str] = Field(default_factory=list)
    regulations: list[RegulationRef] = Field(default_factory=list)
    jurisdictions: list[str] = Field(default_factory=list)
    headline: str = ""
    summary: str = ""
    analysis: ComplianceAnalysis | None = None
    cross_platform: list[CrossPlatform] = Field(default_factory=list)
    model_version: str = Field(description="Taxonomy + rules + model version, for audit and reproduction.")


# --------------------------------------------------------------------------- delivery


class DeliveryStatus(StrEnum):
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    DISABLED = "disabled"


class DeliveryOutcome(EventBase):
    """Outcome of one alert or digest delivery. Topic: policywatch.deliveries.v1. No personal data."""

    event_type: ClassVar[str] = "delivery_outcome"

    subscriber_id: str = Field(description="Opaque subscriber id (never an address).")
    tier: str
    channel: Literal["email", "webhook", "apprise"]
    kind: Literal["alert", "digest"] = "alert"
    classified_event_id: str | None = None
    change_event_id: str | None = None
    status: DeliveryStatus
    attempts: int = 1
    error: str | None = None


class OperatorAlert(EventBase):
    """Something an operator must look at. Topic: policywatch.operator-alerts.v1."""

    event_type: ClassVar[str] = "operator_alert"

    alert: Literal["document_failing", "document_unavailable", "dead_letter"] = "document_failing"
    since: AwareDatetime | None = None
    consecutive_failures: int = 0
    last_outcome: str | None = None
    message: str


#: Every event model, for schema export and the AsyncAPI document.
EVENT_MODELS: dict[str, type[EventBase]] = {
    m.event_type: m
    for m in (FetchRequest, CaptureEvent, ChangeEvent, ClassifiedChange, DeliveryOutcome, OperatorAlert)
}

AnyEvent = Annotated[
    FetchRequest | CaptureEvent | ChangeEvent | ClassifiedChange | DeliveryOutcome | OperatorAlert,
    Field(description="Any policywatch event"),
]


def dump_event(event: EventBase) -> bytes:
    return event.model_dump_json().encode("utf-8")


def event_headers(event: EventBase) -> dict[str, Any]:
    """Kafka headers every event carries (lets tools route without parsing the body)."""
    return {
        "event_type": event.event_type,
        "event_id": event.event_id,
        "schema_version": event.schema_version,
        "trace_id": event.trace_id,
        "document_id": event.document_id,
    }
