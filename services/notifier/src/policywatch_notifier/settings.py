"""Settings of the notifier service (env prefix ``NOTIFIER_``; shared infrastructure un-prefixed)."""

from __future__ import annotations

from pathlib import Path

from policywatch_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class NotifierSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", populate_by_name=True)

    group_id: str = Field(default="policywatch-notifier", description="Kafka consumer group id.")
    http_port: int = Field(default=8004, description="Port of /metrics, /healthz and /readyz.")

    # --- tiers
    tiers_file: Path | None = Field(
        default=None, description="YAML file of tiers; default: tiers.yaml shipped inside the package."
    )

    # --- SMTP
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(default=25, description="SMTP server port.")
    smtp_username: str | None = Field(default=None, description="SMTP login (optional).")
    smtp_password: str | None = Field(default=None, description="SMTP password (optional).")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_use_tls: bool = Field(default=False, description="Implicit TLS (port 465).")
    smtp_timeout_s: float = Field(default=20.0, description="SMTP connect/command timeout.")
    smtp_pool_size: int = Field(
        default=4,
        description="Persistent SMTP connections kept open for reuse (at most dispatch_concurrency; 0: "
        "one connection per message).",
    )
    smtp_idle_s: float = Field(
        default=30.0, description="An unused pooled SMTP connection is closed after this."
    )
    mail_from: str = Field(default="policywatch <alerts@policywatch.local>", description="From: header.")

    # --- links
    public_base_url: str = Field(
        default="http://127.0.0.1:8014",
        description="Public URL of the notifier HTTP API (unsubscribe links point here).",
    )
    versions_base_url: str = Field(
        default="", description="Base URL of stored versions for 'full version' links (empty: no links)."
    )

    # --- webhooks
    webhook_timeout_s: float = Field(default=10.0, description="Webhook request timeout.")

    # --- outbox dispatcher
    dispatch_interval_s: float = Field(default=1.0, description="Outbox poll interval when idle.")
    dispatch_batch: int = Field(default=20, description="Outbox rows claimed per round.")
    dispatch_concurrency: int = Field(default=8, description="Deliveries sent concurrently.")
    dispatch_lease_s: float = Field(
        default=60.0, description="A claimed row is retried by anyone after this (crashed dispatcher)."
    )
    retry_base_s: float = Field(default=30.0, description="First retry delay; doubles each attempt.")
    retry_max_s: float = Field(default=4 * 3600.0, description="Longest delay between two attempts.")
    max_attempts: int = Field(
        default=10, description="Attempts before a delivery is dead-lettered (default spans ~8 hours)."
    )

    # --- digest
    digest_check_interval_s: float = Field(default=60.0, description="How often due digests are looked for.")

    # --- HTTP management API
    api_host: str = Field(default="127.0.0.1", description="Bind address of the management API.")
    api_port: int = Field(default=8014, description="Port of the management API (serve-api).")
    admin_api_key: str | None = Field(
        default=None, description="Operator API key (manages every subscriber). Unset: admin API disabled."
    )

    @property
    def service_name(self) -> str:
        return "notifier"
