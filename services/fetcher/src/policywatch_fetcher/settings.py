"""Fetcher settings: environment variables prefixed ``FETCHER_`` (infrastructure ones un-prefixed)."""

from __future__ import annotations

from pathlib import Path

from policywatch_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

DEFAULT_USER_AGENT = "policywatch/0.1 (+https://github.com/policywatch/policywatch; policy change monitor)"


def _default_catalog_dir() -> Path:
    # The repository's catalog/ when running from a checkout; else ./catalog (Docker image copies it there).
    repo = Path(__file__).resolve().parents[4] / "catalog"
    return repo if repo.is_dir() else Path("catalog")


class FetcherSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FETCHER_", extra="ignore", populate_by_name=True)

    http_port: int = Field(default=8001, description="Port of /metrics, /healthz and /readyz.")
    group_id: str = Field(default="policywatch-fetcher", description="Consumer group of the fetch workers.")

    # --- catalog and scheduling
    catalog_dir: Path = Field(
        default_factory=_default_catalog_dir, description="Directory of catalog YAML files."
    )
    catalog_reload_s: float = Field(
        default=30.0, description="How often catalog files are checked for edits."
    )
    scheduler_enabled: bool = Field(default=True, description="Run the scheduler in this process.")
    workers_enabled: bool = Field(
        default=True, description="Consume fetch requests in this process (off: a scheduler-only process)."
    )
    scheduler_tick_s: float = Field(
        default=5.0, description="How often the scheduler looks for due documents."
    )
    catchup_window_s: float = Field(
        default=300.0, description="After a restart, overdue documents are spread over this window."
    )
    state_prefix: str = Field(
        default="fetcher", description="Object-store prefix of the fetcher's JSON state."
    )
    enforce_catalog: bool = Field(
        default=True,
        description="Refuse fetch requests whose URLs are not those of a catalog document (SSRF).",
    )

    # --- HTTP client
    user_agent: str = Field(default=DEFAULT_USER_AGENT, description="Honest User-Agent of every request.")
    locale: str = Field(
        default="en-US",
        description="Language and region asked of every site (Accept-Language, and the browser's "
        "navigator.language): sites that serve regional editions of a page then serve one, not a "
        "mix (the differ's noise from en-GB/en-US editions).",
    )
    http2: bool = Field(default=True, description="Offer HTTP/2 (used where the server supports it).")
    connect_timeout_s: float = Field(default=10.0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(default=20.0, description="Timeout between two reads of a response.")
    total_timeout_s: float = Field(default=60.0, description="Deadline of one page fetch, retries excluded.")
    revalidate_after_s: float = Field(
        default=7 * 86400.0,
        description="Fetch unconditionally when the last full body is older (a stuck ETag hides no change).",
    )
    max_redirects: int = Field(default=10, description="Redirects followed before giving up.")
    max_bytes: int = Field(default=10 * 1024 * 1024, description="Body size limit (too_large above).")
    retries: int = Field(default=2, description="Retries on network errors, 5xx and 429.")
    retry_base_s: float = Field(default=1.0, description="First retry delay (doubles, with jitter).")
    retry_max_s: float = Field(default=60.0, description="Longest retry delay (also caps Retry-After).")

    # --- protection and politeness
    allow_private: bool = Field(
        default=False, description="Allow private, loopback and link-local addresses (tests, demo)."
    )
    respect_robots: bool = Field(default=True, description="Obey robots.txt (documents may override).")
    robots_ttl_s: float = Field(default=3600.0, description="How long a robots.txt is cached.")
    per_host_concurrency: int = Field(default=2, description="Concurrent requests to one host.")
    per_host_delay_s: float = Field(default=1.0, description="Minimum delay between requests to one host.")

    # --- browser
    browser_enabled: bool = Field(default=True, description="Use Chromium for JavaScript documents.")
    browser_executable: str = Field(default="/usr/bin/chromium", description="Chromium binary.")
    browser_pages: int = Field(default=4, description="Concurrent pages of the browser pool.")
    browser_nav_timeout_s: float = Field(default=30.0, description="Navigation timeout.")
    browser_wait_timeout_s: float = Field(default=10.0, description="Timeout of wait_for selectors.")
    browser_settle_ms: int = Field(default=500, description="Extra wait for client-side rendering.")
    screenshots: bool = Field(default=False, description="Store a full-page screenshot of browser captures.")

    # --- workers and failures
    max_request_age_s: float = Field(
        default=12 * 3600.0,
        description="Fetch requests older than this (due_at) are skipped: a new worker group or a long "
        "outage must not replay days of requests; the scheduler issues fresh ones.",
    )
    concurrency: int = Field(default=4, description="Fetch requests processed concurrently by one worker.")
    alert_after_s: float = Field(
        default=24 * 3600.0, description="Operator alert when a document has not been captured for this long."
    )

    @property
    def service_name(self) -> str:
        return "fetcher"
