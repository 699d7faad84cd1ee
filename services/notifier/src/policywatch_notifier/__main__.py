"""``python -m policywatch_notifier``: run the notifier service.

``python -m policywatch_notifier api`` serves the management HTTP API instead (same as
``policywatch serve-api``), so one image runs both.
"""

from __future__ import annotations

import sys

from policywatch_shared.runtime import run_service

from policywatch_notifier.app import build_app, ready_checks
from policywatch_notifier.settings import NotifierSettings


def main() -> None:
    if sys.argv[1:2] == ["api"]:
        from policywatch_notifier.cli import serve_api

        serve_api(host=None, port=None)
        return
    settings = NotifierSettings()
    run_service(build_app, settings, service="notifier", ready_checks=ready_checks)


if __name__ == "__main__":
    main()
