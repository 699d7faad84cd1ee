"""``policywatch subscribers add|list|show|update|remove`` and ``policywatch serve-api``.

Reads the database from ``DATABASE_URL`` (migrated on first use). Tier limits exit with status 2 and
say which limit and what the tier allows; an unknown subscriber exits with status 1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

subscribers_app = typer.Typer(
    help="Manage subscribers, their channels and subscriptions.", no_args_is_help=True
)


def _settings() -> Any:
    from policywatch_notifier.settings import NotifierSettings

    return NotifierSettings()


def _run(work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Open the database, run ``work(session, tiers)`` in one transaction, map errors to exit codes."""
    from policywatch_notifier.database import open_db
    from policywatch_notifier.registry import NotFound
    from policywatch_notifier.tier import TierLimitError, Tiers, UnknownTier

    settings = _settings()
    tiers = Tiers.load(settings.tiers_file)

    async def main() -> T:
        engine, sessions = await open_db(settings.database_url)
        try:
            async with sessions() as s, s.begin():
                return await work(s, tiers)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except TierLimitError as exc:
        typer.echo(f"error: {exc} [limit: {exc.limit}]", err=True)
        raise typer.Exit(2) from None
    except NotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (UnknownTier, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _specs(
    platforms: list[str] | None,
    documents: list[str] | None,
    categories: list[str] | None,
    filters: list[str] | None,
    min_severity: str,
    everything: bool,
) -> list[Any]:
    from policywatch_notifier.registry import SubscriptionSpec

    out = [
        SubscriptionSpec(platform=p, min_severity=min_severity, everything=everything)
        for p in platforms or []
    ]
    out += [
        SubscriptionSpec(document_id=d, min_severity=min_severity, everything=everything)
        for d in documents or []
    ]
    out += [
        SubscriptionSpec(category=c, min_severity=min_severity, everything=everything)
        for c in categories or []
    ]
    for f in filters or []:
        fields: dict[str, Any] = {"min_severity": min_severity, "everything": everything}
        for part in f.split(","):
            k, _, v = part.partition("=")
            k = k.strip().replace("-", "_")
            if k == "document":
                k = "document_id"
            fields[k] = v.strip().lower() in ("1", "true", "yes") if k == "everything" else v.strip()
        try:
            out.append(SubscriptionSpec(**fields))
        except Exception as exc:
            raise typer.BadParameter(f"--filter {f!r}: {exc}") from None
    return out


def _day(value: str | None) -> int | None:
    if value is None:
        return None
    v = value.strip().lower()[:3]
    if v not in DAYS:
        raise typer.BadParameter("digest day must be mon … sun")
    return DAYS.index(v)


def _print_view(v: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(v.model_dump(mode="json"), indent=2))
        return
    channels = [
        c for c, on in (("email", v.email), ("webhook", v.webhook_url), ("apprise", v.apprise_urls)) if on
    ]
    state = "active" if v.active else "unsubscribed"
    typer.echo(
        f"{v.id}  {v.tier:<12} {state:<12} channels: {', '.join(channels) or '-'}"
        f"  digest: {DAYS[v.digest_weekday]} {v.digest_time} {v.timezone}"
    )
    if v.name:
        typer.echo(f"  name: {v.name}")
    if v.email:
        typer.echo(f"  email: {v.email}")
    if v.webhook_url:
        flag = "" if v.webhook_enabled else f"  (disabled: {v.webhook_disabled_reason})"
        typer.echo(f"  webhook: {v.webhook_url}{flag}")
    for url in v.apprise_urls:
        typer.echo(f"  apprise: {url}")
    for s in v.subscriptions:
        what = ", ".join(
            f"{k}={val}"
            for k, val in (("platform", s.platform), ("document", s.document_id), ("category", s.category))
            if val
        )
        extra = (f" min_severity={s.min_severity}" if s.min_severity != "none" else "") + (
            " everything" if s.everything else ""
        )
        off = "" if s.enabled else f"  [disabled: {s.disabled_reason}]"
        typer.echo(f"  #{s.id} {what}{extra}{off}")
    if v.signing_secret:
        typer.echo(f"  signing secret: {v.signing_secret}")
        typer.echo(f"  unsubscribe token: {v.unsubscribe_token}")


PlatformOpt = Annotated[list[str] | None, typer.Option("--platform", "-p", help="Subscribe to a platform.")]
DocumentOpt = Annotated[
    list[str] | None, typer.Option("--document", "-d", help="Subscribe to a document id.")
]
CategoryOpt = Annotated[
    list[str] | None, typer.Option("--category", "-c", help="A category on every platform (professional).")
]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option("--filter", "-f", help="Combined filter, e.g. 'platform=openai,category=ai_training'."),
]
SeverityOpt = Annotated[str, typer.Option("--min-severity", help="none|low|medium|high (professional).")]
EverythingOpt = Annotated[bool, typer.Option("--everything", help="Also non-substantive changes.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


@subscribers_app.command("add")
def add(
    tier: Annotated[str, typer.Option(help="free | watcher | monitor | professional.")] = "free",
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    webhook: Annotated[str | None, typer.Option(help="Webhook URL (signed, Standard Webhooks).")] = None,
    apprise: Annotated[list[str] | None, typer.Option(help="Apprise URL (Slack, Teams, Discord …).")] = None,
    name: Annotated[str | None, typer.Option(help="A label.")] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the weekly digest.")] = "UTC",
    digest_day: Annotated[str, typer.Option(help="Weekly digest day (mon … sun).")] = "mon",
    digest_time: Annotated[str, typer.Option(help="Weekly digest time, HH:MM local.")] = "09:00",
    platform: PlatformOpt = None,
    document: DocumentOpt = None,
    category: CategoryOpt = None,
    filter_: FilterOpt = None,
    min_severity: SeverityOpt = "none",
    everything: EverythingOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a subscriber. Prints its API key and webhook signing secret once."""
    from policywatch_notifier.registry import create_subscriber

    specs = _specs(platform, document, category, filter_, min_severity, everything)

    async def work(s: Any, tiers: Any) -> Any:
        return await create_subscriber(
            s,
            tiers,
            tier=tier,
            name=name,
            email=email,
            webhook_url=webhook,
            apprise_urls=apprise or [],
            timezone=timezone,
            digest_weekday=_day(digest_day) or 0,
            digest_time=digest_time,
            subscriptions=specs,
        )

    created = _run(work)
    if as_json:
        typer.echo(json.dumps(created.model_dump(mode="json"), indent=2))
        return
    _print_view(created.subscriber, False)
    typer.echo(f"  api key (shown once): {created.api_key}")
    typer.echo(f"  signing secret: {created.signing_secret}")


@subscribers_app.command("list")
def list_(
    tier: Annotated[str | None, typer.Option(help="Only this tier.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List subscribers."""
    from policywatch_notifier.registry import list_subscribers

    async def work(s: Any, tiers: Any) -> Any:
        return await list_subscribers(s, tier=tier)

    views = _run(work)
    if as_json:
        typer.echo(json.dumps([v.model_dump(mode="json") for v in views], indent=2))
        return
    for v in views:
        _print_view(v, False)
    typer.echo(f"{len(views)} subscriber(s)")


@subscribers_app.command("show")
def show(
    subscriber_id: Annotated[str, typer.Argument(help="Subscriber id.")],
    secrets: Annotated[
        bool, typer.Option("--secrets", help="Also the signing secret and unsubscribe token.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show one subscriber with their subscriptions."""
    from policywatch_notifier import registry

    async def work(s: Any, tiers: Any) -> Any:
        return await registry.show(s, subscriber_id, secrets_too=secrets)

    _print_view(_run(work), as_json)


@subscribers_app.command("update")
def update(
    subscriber_id: Annotated[str, typer.Argument(help="Subscriber id.")],
    tier: Annotated[str | None, typer.Option(help="New tier (a downgrade disables what exceeds it).")] = None,
    email: Annotated[str | None, typer.Option(help='New e-mail ("" removes).')] = None,
    webhook: Annotated[str | None, typer.Option(help='New webhook URL ("" removes; re-enables).')] = None,
    apprise: Annotated[list[str] | None, typer.Option(help="Replace the Apprise URLs.")] = None,
    name: Annotated[str | None, typer.Option(help="New label.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone.")] = None,
    digest_day: Annotated[str | None, typer.Option(help="mon … sun.")] = None,
    digest_time: Annotated[str | None, typer.Option(help="HH:MM.")] = None,
    platform: PlatformOpt = None,
    document: DocumentOpt = None,
    category: CategoryOpt = None,
    filter_: FilterOpt = None,
    min_severity: SeverityOpt = "none",
    everything: EverythingOpt = False,
    remove_subscription: Annotated[
        list[int] | None, typer.Option("--remove-subscription", "-r", help="Subscription id to remove.")
    ] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Resume or pause all alerts.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Update channels, tier, digest schedule; add (-p/-d/-c/-f) or remove (-r) subscriptions."""
    from policywatch_notifier.registry import update_subscriber

    specs = _specs(platform, document, category, filter_, min_severity, everything)

    async def work(s: Any, tiers: Any) -> Any:
        return await update_subscriber(
            s,
            tiers,
            subscriber_id,
            tier=tier,
            name=name,
            email=email,
            webhook_url=webhook,
            apprise_urls=apprise,
            timezone=timezone,
            digest_weekday=_day(digest_day),
            digest_time=digest_time,
            active=active,
            add=specs,
            remove=remove_subscription or [],
        )

    _print_view(_run(work), as_json)


@subscribers_app.command("remove")
def remove(
    subscriber_id: Annotated[str, typer.Argument(help="Subscriber id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a subscriber and all their data (subscriptions, delivery ledger)."""
    from policywatch_notifier.registry import remove_subscriber

    if not yes:
        typer.confirm(f"Delete subscriber {subscriber_id} and all their data?", abort=True)

    async def work(s: Any, tiers: Any) -> None:
        await remove_subscriber(s, subscriber_id)

    _run(work)
    typer.echo(f"removed {subscriber_id}")


def serve_api(
    host: Annotated[str | None, typer.Option(help="Bind address (default NOTIFIER_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default NOTIFIER_API_PORT).")] = None,
) -> None:
    """Serve the subscriber management HTTP API (OpenAPI at /docs)."""
    import uvicorn
    from policywatch_shared.logs import configure_logging

    from policywatch_notifier.api import build_api

    settings = _settings()
    configure_logging("notifier-api", settings.log_level)
    uvicorn.run(
        build_api(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_config=None,
        access_log=False,  # access logs would carry unsubscribe tokens
    )


def register(app: typer.Typer) -> None:
    app.add_typer(subscribers_app, name="subscribers")
    app.command("serve-api")(serve_api)
