"""``policywatch catalog | fetch | capture | schedule`` (added to the root command by ``register``)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

catalog_app = typer.Typer(help="The catalog of monitored documents.", no_args_is_help=True)

CatalogDir = typer.Option(None, "--dir", "-d", help="Catalog directory (default: FETCHER_CATALOG_DIR).")


def _settings(**overrides: Any) -> Any:
    from policywatch_fetcher.settings import FetcherSettings

    return FetcherSettings(**{k: v for k, v in overrides.items() if v is not None})


@catalog_app.command("validate")
def catalog_validate(path: Path | None = CatalogDir) -> None:
    """Check every catalog file; errors name the file, the document and the field."""
    from policywatch_fetcher.catalog import validate_catalog

    root = path or _settings().catalog_dir
    catalog, errors = validate_catalog(root)
    for err in errors:
        typer.echo(f"error: {err}", err=True)
    if errors:
        typer.echo(f"{len(errors)} error(s) in {root}", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {len(catalog.platforms)} platforms, {len(catalog)} documents in {root}")


@catalog_app.command("list")
def catalog_list(
    path: Path | None = CatalogDir,
    platform: str | None = typer.Option(None, "--platform", "-p"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the catalog's documents."""
    from policywatch_fetcher.catalog import load_catalog

    catalog = load_catalog(path or _settings().catalog_dir)
    docs = catalog.for_platform(platform) if platform else list(catalog)
    for d in docs:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": d.id,
                        "platform": d.platform,
                        "type": d.type.value,
                        "title": d.title,
                        "urls": list(d.urls),
                        "execute_js": d.hints.execute_js,
                        "period_s": d.schedule.period,
                    }
                )
            )
        else:
            js = " [js]" if d.hints.execute_js else ""
            typer.echo(f"{d.id:45} {d.type.value:24} {d.urls[0]}{js}")


@catalog_app.command("import-ota")
def catalog_import_ota(
    source: Path = typer.Argument(..., help="An OTA declaration (.json) or a directory of them."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Where to write YAML (default: the catalog dir)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing platform files."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report only; write nothing."),
) -> None:
    """Import Open Terms Archive declarations; unsupported features are reported."""
    from policywatch_fetcher.catalog import validate_catalog
    from policywatch_fetcher.ota import import_ota, write_catalog

    if not source.exists():
        typer.echo(f"error: {source}: no such file or directory", err=True)
        raise typer.Exit(2)
    result = import_ota(source)
    target = out or _settings().catalog_dir
    written = [] if dry_run else write_catalog(result, target, overwrite=overwrite)
    for issue in result.issues:
        typer.echo(f"warning: {issue}", err=True)
    typer.echo(
        f"imported {result.documents} document(s) of {len(result.files)} platform(s); "
        f"wrote {len(written)} file(s) to {target}"
    )
    errors = []
    for f in written:
        errors.extend(validate_catalog(f)[1])
    for err in errors:
        typer.echo(f"error: {err}", err=True)
    if errors:
        raise typer.Exit(1)


def _fetch(document_ids: list[str], platform: str | None, all_docs: bool) -> None:
    from policywatch_shared.broker import make_broker, publish
    from policywatch_shared.events import FetchReason
    from policywatch_shared.topics import FETCH_REQUESTS

    from policywatch_fetcher.catalog import load_catalog
    from policywatch_fetcher.schedule import build_request

    settings = _settings()
    catalog = load_catalog(settings.catalog_dir)
    if all_docs:
        docs = list(catalog)
    elif platform:
        docs = catalog.for_platform(platform)
        if not docs:
            typer.echo(f"error: no documents for platform {platform!r}", err=True)
            raise typer.Exit(2)
    else:
        unknown = [d for d in document_ids if catalog.get(d) is None]
        if unknown:
            typer.echo(f"error: not in the catalog: {', '.join(unknown)}", err=True)
            raise typer.Exit(2)
        docs = [d for d in (catalog.get(i) for i in document_ids) if d is not None]
    if not docs:
        typer.echo("error: give DOCUMENT_ID…, --platform X or --all", err=True)
        raise typer.Exit(2)

    async def run() -> None:
        broker = make_broker(settings, service="fetcher-cli")
        await broker.connect()
        try:
            now = datetime.now(UTC)
            for d in docs:
                req = build_request(d, now, FetchReason.MANUAL)
                await publish(broker, FETCH_REQUESTS, req)
                typer.echo(f"requested {d.id} ({req.event_id})")
        finally:
            await broker.stop()

    asyncio.run(run())


def fetch(
    document_ids: list[str] = typer.Argument(None, help="Catalog document ids."),
    platform: str | None = typer.Option(None, "--platform", "-p", help="Every document of a platform."),
    all_docs: bool = typer.Option(False, "--all", help="Every catalog document."),
) -> None:
    """Ask the fetch workers to capture documents now (publishes fetch requests)."""
    _fetch(list(document_ids or []), platform, all_docs)


def capture_cmd(
    url: str = typer.Argument(..., help="The URL to capture."),
    js: bool = typer.Option(False, "--js", help="Render with Chromium."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    allow_private: bool = typer.Option(False, "--allow-private", help="Allow private/loopback addresses."),
    screenshot: bool = typer.Option(False, "--screenshot", help="Store a full-page screenshot (browser)."),
    select: list[str] = typer.Option(None, "--select", help="CSS selector of the document body."),
) -> None:
    """Capture one URL through the fetcher's code path and print the result."""
    from policywatch_shared.events import CaptureOutcome, ExtractionHints

    from policywatch_fetcher.capture import capture

    settings = _settings()
    hints = ExtractionHints(execute_js=js, select=list(select or []))
    result = asyncio.run(
        capture(
            url,
            settings=settings,
            js=js,
            allow_private=allow_private or None,
            hints=hints,
            screenshot=screenshot or None,
        )
    )
    data = result.to_json()
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for k, v in data.items():
            if v is not None:
                typer.echo(f"{k:14} {v}")
    if result.page.outcome not in (CaptureOutcome.OK, CaptureOutcome.NOT_MODIFIED):
        raise typer.Exit(1)


def schedule_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """Show when each document is next due (the scheduler's persisted state)."""
    from policywatch_shared.storage import make_store

    from policywatch_fetcher.schedule import ScheduleState

    settings = _settings()

    async def read() -> Any:
        store = make_store(settings)
        try:
            return await store.get_json(f"{settings.state_prefix.strip('/')}/schedule.json")
        finally:
            await store.close()

    raw = asyncio.run(read())
    if not raw:
        typer.echo("no schedule state yet (the scheduler has not run)")
        return
    state = ScheduleState.model_validate(raw)
    rows = sorted(state.documents.items(), key=lambda kv: kv[1].next_due)
    for doc_id, e in rows:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "document_id": doc_id,
                        "next_due": e.next_due.isoformat(),
                        "last_slot": e.last_slot.isoformat() if e.last_slot else None,
                    }
                )
            )
        else:
            typer.echo(f"{doc_id:45} next {e.next_due.isoformat(timespec='seconds')}")


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.command("fetch")(fetch)
    app.command("capture")(capture_cmd)
    app.command("schedule")(schedule_cmd)
