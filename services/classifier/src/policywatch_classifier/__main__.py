"""``python -m policywatch_classifier``: run the classifier service."""

from __future__ import annotations

from policywatch_shared.runtime import run_service

from policywatch_classifier.app import build_app
from policywatch_classifier.settings import ClassifierSettings


def main() -> None:
    settings = ClassifierSettings()
    run_service(build_app, settings, service="classifier")


if __name__ == "__main__":
    main()
