"""One-shot, idempotent initialisation of a policywatch deployment.

Run by the compose ``init`` service and the Kubernetes ``policywatch-init`` Job (image built from
deploy/docker/tools.Dockerfile): ``python /app/deploy/init/init.py``.

1. Kafka topics with their partitions, retention and compaction from
   ``policywatch_shared.topics.TOPICS`` (existing topics are left alone);
2. the object-storage bucket (``S3_BUCKET``), when ``STORAGE_BACKEND=s3``;
3. the notifier's Alembic migration to ``head`` on ``DATABASE_URL``.

Every step leaves existing state alone, so it is safe to re-run after an upgrade. Settings are
read from the same environment variables as the services (``ServiceSettings``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from policywatch_shared.settings import ServiceSettings
from policywatch_shared.topics import TOPICS

T = TypeVar("T")

#: The service whose database schema the init job migrates.
MIGRATED_PACKAGE = "policywatch_notifier"


def log(message: str) -> None:
    print(f"init: {message}", flush=True)


def _resolve(value: Any) -> Any:
    """The shared helpers may be sync or async: accept both."""
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    return value


async def _await(value: Any) -> Any:
    return await value


def retry(step: str, fn: Callable[[], T], *, attempts: int = 10, delay_s: float = 3.0) -> T:
    """Compose starts us once dependencies are healthy, Kubernetes does not wait: retry a while."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == attempts:
                raise
            log(f"{step}: {type(exc).__name__}: {exc} (attempt {attempt}/{attempts}, retrying)")
            time.sleep(delay_s)
    raise AssertionError("unreachable")


def create_topics(settings: ServiceSettings, *, timeout_s: float = 30.0) -> None:
    from policywatch_shared.broker import ensure_topics

    log(f"{len(TOPICS)} topics on {settings.kafka_bootstrap_servers}")
    _resolve(ensure_topics(settings.kafka_bootstrap_servers, TOPICS, timeout_s=timeout_s))


def ensure_bucket(settings: ServiceSettings) -> str:
    """Create ``settings.s3_bucket`` unless it exists; returns what happened."""
    from minio import Minio

    client = Minio(
        settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=settings.s3_secure,
        region=settings.s3_region or None,
    )
    if client.bucket_exists(settings.s3_bucket):
        return "exists"
    client.make_bucket(settings.s3_bucket)
    return "created"


def migration_dir(package: str = MIGRATED_PACKAGE) -> Path | None:
    """The Alembic script directory shipped inside ``package``.

    ``<package>.migrations.SCRIPT_LOCATION`` when the package declares it, else the folder
    holding an Alembic ``env.py``; None when the package (or its migrations) is not installed.
    """
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError:
        return None
    try:
        declared = getattr(importlib.import_module(f"{package}.migrations"), "SCRIPT_LOCATION", None)
    except ModuleNotFoundError:
        declared = None
    if declared is not None:
        return Path(declared)
    for root in getattr(module, "__path__", []):
        for env in sorted(Path(root).rglob("env.py")):
            if (env.parent / "script.py.mako").exists() or (env.parent / "versions").is_dir():
                return env.parent
    return None


def migrate(settings: ServiceSettings) -> str:
    script_location = migration_dir()
    if script_location is None:
        return f"skipped ({MIGRATED_PACKAGE} has no Alembic migrations)"
    from policywatch_shared.db import upgrade

    _resolve(upgrade(settings.database_url, str(script_location)))
    return f"upgraded to head ({script_location.name})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attempts", type=int, default=10, help="tries per step while a dependency starts")
    parser.add_argument("--delay", type=float, default=3.0, help="seconds between tries")
    parser.add_argument("--topic-timeout", type=float, default=30.0, help="seconds one topic step may take")
    args = parser.parse_args(argv)
    settings = ServiceSettings()

    retry(
        "topics",
        lambda: create_topics(settings, timeout_s=args.topic_timeout),
        attempts=args.attempts,
        delay_s=args.delay,
    )
    log("topics ready")
    if settings.storage_backend == "s3":
        outcome = retry("bucket", lambda: ensure_bucket(settings), attempts=args.attempts, delay_s=args.delay)
        log(f"bucket {settings.s3_bucket} on {settings.s3_endpoint}: {outcome}")
    else:
        log(f"bucket: skipped (STORAGE_BACKEND={settings.storage_backend})")
    outcome = retry("migration", lambda: migrate(settings), attempts=args.attempts, delay_s=args.delay)
    log(f"database: {outcome}")
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
