"""Settings shared by every service.

Each service has ONE settings object (``FetcherSettings``, ``DifferSettings`` …) that
subclasses :class:`ServiceSettings` and sets its own env prefix (``FETCHER_`` …).
Infrastructure fields that every service shares are read from un-prefixed variables
(``KAFKA_BOOTSTRAP_SERVERS``, ``S3_ENDPOINT``, ``DATABASE_URL`` …) so operators set them
once for the whole stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYWATCH_", extra="ignore", populate_by_name=True)

    # --- broker (shared, un-prefixed)
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias="KAFKA_BOOTSTRAP_SERVERS",
        description="Kafka bootstrap servers, comma-separated.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        # The broker answers a fetch as soon as a record arrives, so a longer wait costs no
        # latency; a short one burns CPU on empty fetches (bench/broker_fetch_wait.py: idle
        # broker CPU 250 ms ≈ 1/3 of 20 ms, hop p95 unchanged).
        default=250,
        validation_alias="KAFKA_FETCH_MAX_WAIT_MS",
        description="Consumer long-poll wait (the broker answers as soon as a record arrives).",
    )

    # --- object storage (shared, un-prefixed)
    storage_backend: Literal["local", "s3"] = Field(
        default="local", validation_alias="STORAGE_BACKEND", description="'local' directory or 's3'."
    )
    storage_dir: Path = Field(
        default=Path("var/storage"), validation_alias="STORAGE_DIR", description="Root of the local store."
    )
    s3_endpoint: str = Field(
        default="127.0.0.1:9000", validation_alias="S3_ENDPOINT", description="host:port"
    )
    s3_access_key: str = Field(default="", validation_alias="S3_ACCESS_KEY", description="S3 access key.")
    s3_secret_key: str = Field(default="", validation_alias="S3_SECRET_KEY", description="S3 secret key.")
    s3_bucket: str = Field(default="policywatch", validation_alias="S3_BUCKET", description="Bucket name.")
    s3_secure: bool = Field(default=False, validation_alias="S3_SECURE", description="Use HTTPS.")
    s3_region: str = Field(default="us-east-1", validation_alias="S3_REGION", description="S3 region.")
    storage_retry_budget_s: float = Field(
        default=20.0,
        validation_alias="STORAGE_RETRY_BUDGET_S",
        description="How long one storage call retries an outage before the message is retried later.",
    )

    # --- database (shared, un-prefixed; only services that need one use it)
    database_url: str = Field(
        default="sqlite+aiosqlite:///var/policywatch.db",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy async URL (SQLite file by default, PostgreSQL in production).",
    )

    # --- runtime (shared)
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL", description="Log level.")
    max_retries: int = Field(
        default=3,
        validation_alias="MESSAGE_MAX_RETRIES",
        description="Attempts per message before it goes to the dead-letter topic.",
    )
    retry_backoff_s: float = Field(
        default=0.5, validation_alias="MESSAGE_RETRY_BACKOFF_S", description="First retry delay (doubles)."
    )

    # --- per service (prefixed by the subclass)
    http_port: int = Field(default=8000, description="Port of /metrics, /healthz and /readyz.")
    http_host: str = Field(default="0.0.0.0", description="Bind address of the HTTP endpoints.")
    group_id: str = Field(default="policywatch", description="Kafka consumer group id.")

    @property
    def service_name(self) -> str:
        return "policywatch"
