"""Settings of the differ service (env prefix ``DIFFER_``; shared infrastructure un-prefixed)."""

from __future__ import annotations

from policywatch_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class DifferSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DIFFER_", extra="ignore", populate_by_name=True)

    group_id: str = Field(default="policywatch-differ", description="Kafka consumer group id.")
    http_port: int = Field(default=8002, description="Port of /metrics, /healthz and /readyz.")
    dedupe_window: int = Field(
        default=10000, description="Processed capture event ids remembered (redelivery)."
    )

    @property
    def service_name(self) -> str:
        return "differ"
