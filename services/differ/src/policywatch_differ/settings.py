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
    # Why: one capture at a time spent two thirds of its wall time waiting (broker acks, commits,
    # the extraction thread's turn on a busy CPU) and capped the differ near 11 captures/s on
    # 2 cores while it used a third of one. Each worker is its own consumer of the group, so a
    # document (one partition) is still handled by one worker, in order.
    concurrency: int = Field(
        default=3, ge=1, description="Captures handled concurrently (one consumer per worker)."
    )

    @property
    def service_name(self) -> str:
        return "differ"
