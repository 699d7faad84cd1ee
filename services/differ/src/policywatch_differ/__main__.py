"""``python -m policywatch_differ``: run the differ service."""

from __future__ import annotations

from policywatch_shared.runtime import run_service

from policywatch_differ.app import build_app
from policywatch_differ.settings import DifferSettings


def main() -> None:
    run_service(build_app, DifferSettings(), service="differ")


if __name__ == "__main__":
    main()
