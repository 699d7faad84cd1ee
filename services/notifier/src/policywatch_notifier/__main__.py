"""``python -m policywatch_notifier``: run the notifier service."""

from __future__ import annotations

from policywatch_shared.runtime import run_service

from policywatch_notifier.app import build_app, ready_checks
from policywatch_notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings()
    run_service(build_app, settings, service="notifier", ready_checks=ready_checks)


if __name__ == "__main__":
    main()
