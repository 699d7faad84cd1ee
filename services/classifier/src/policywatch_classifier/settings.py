"""Settings of the classifier service (env prefix ``CLASSIFIER_``; shared infrastructure un-prefixed)."""

from __future__ import annotations

from policywatch_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from policywatch_classifier.provision import INDEX_KEY


class ClassifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", extra="ignore", populate_by_name=True)

    group_id: str = Field(default="policywatch-classifier", description="Kafka consumer group id.")
    http_port: int = Field(default=8003, description="Port of /metrics, /healthz and /readyz.")
    provision_index_key: str = Field(
        default=INDEX_KEY,
        description=(
            "Object-store key of the provision index: one entry per document under "
            "'{key without .json}/documents/' (a whole index at the key itself is read too)."
        ),
    )
    index_documents: bool = Field(
        default=True, description="Re-index each changed document's current version in the provision index."
    )
    index_refresh_s: float = Field(
        default=30.0,
        ge=0,
        description=(
            "Seconds between re-reads of the provision index entries other replicas saved "
            "(one listing; only rewritten entries are read). 0 turns it off (one replica)."
        ),
    )
    reindex_on_upgrade: bool = Field(
        default=True,
        description=(
            "After start, re-index (in the background, one document at a time) the provision index "
            "entries an earlier model or lexicon wrote, from the version text each names."
        ),
    )
    summariser: str = Field(
        default="template",
        description="'template' (default, no LLM) or 'module:factory' of an optional Summariser plug-in.",
    )
    dedupe_window: int = Field(
        default=10000, description="Processed change event ids remembered (redelivery)."
    )

    @property
    def service_name(self) -> str:
        return "classifier"
