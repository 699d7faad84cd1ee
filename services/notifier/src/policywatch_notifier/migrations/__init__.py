"""Alembic migrations of the notifier's database (run by ``policywatch_shared.db.upgrade``)."""

from pathlib import Path

SCRIPT_LOCATION = Path(__file__).parent
