"""Per-document capture state (validators, last body, failure streak), as JSON in the object store.

Fetch requests are keyed by document id, so one document's requests land in one
partition and one worker: the state of a document has a single writer at a time.
"""

from __future__ import annotations

from datetime import datetime

from policywatch_shared.storage import ObjectStore
from pydantic import BaseModel, Field


class PageState(BaseModel):
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None
    storage_key: str | None = None
    content_type: str | None = None
    size: int | None = None
    fetcher: str | None = None
    fetched_at: datetime | None = Field(default=None, description="When the last full (200) body arrived.")


class DocumentState(BaseModel):
    document_id: str
    pages: dict[str, PageState] = Field(default_factory=dict)
    consecutive_failures: int = 0
    failing_since: datetime | None = None
    last_ok_at: datetime | None = None
    last_outcome: str | None = None
    last_attempt_at: datetime | None = None
    alerted_for: datetime | None = Field(
        default=None, description="failing_since of the streak already alerted"
    )


class StateStore:
    def __init__(self, store: ObjectStore, prefix: str = "fetcher") -> None:
        self.store = store
        self.prefix = prefix.strip("/")

    def key(self, document_id: str) -> str:
        return f"{self.prefix}/documents/{document_id}.json"

    async def get(self, document_id: str) -> DocumentState:
        raw = await self.store.get_json(self.key(document_id))
        # Read every time (no cache): after a rebalance another worker may have written it.
        return DocumentState.model_validate(raw) if raw else DocumentState(document_id=document_id)

    async def put(self, state: DocumentState) -> None:
        await self.store.put_named(
            self.key(state.document_id), state.model_dump_json().encode(), content_type="application/json"
        )
