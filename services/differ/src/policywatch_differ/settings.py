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

    # Why: a block whose Markdown is not remembered is converted again (an HTML parse and a
    # markdownify walk: the differ's largest cost); at 1,000 documents, 20,000 blocks halved the
    # differ's throughput against 60,000 (bench/system_load.py, docs/operations.md).
    markdown_cache_blocks: int = Field(
        default=60_000,
        ge=0,
        description="Page blocks (paragraphs, headings, lists …) whose Markdown is remembered "
        "across captures, least recently used dropped first; ~680 bytes each, a real policy page "
        "has ~190. Size it to the watched documents (the hit ratio is a metric); 0 turns it off.",
    )

    @property
    def service_name(self) -> str:
        return "differ"
