"""``python -m policywatch_fetcher``: run the fetch workers (and the scheduler, unless disabled)."""

from __future__ import annotations

from policywatch_shared.runtime import run_service

from policywatch_fetcher.app import build_app
from policywatch_fetcher.settings import FetcherSettings


def main() -> None:
    settings = FetcherSettings()
    run_service(build_app, settings, service="fetcher")


if __name__ == "__main__":
    main()
