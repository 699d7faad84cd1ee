"""HTTP management API (FastAPI; OpenAPI at /openapi.json, docs at /docs).

Authentication with API keys in the ``X-API-Key`` header (or ``Authorization: Bearer``):

* the operator key (``NOTIFIER_ADMIN_API_KEY``) manages every subscriber and sets tiers;
* each subscriber's own key (returned once at creation) manages that subscriber only.

Tier limits answer 422 with the limit's name, the tier and what it allows. The unsubscribe link of
every alert (``/unsubscribe/{token}``) needs no key; POST supports RFC 8058 one-click unsubscribe.
"""

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from policywatch_notifier import registry
from policywatch_notifier.database import open_db
from policywatch_notifier.registry import (
    Created,
    NotFound,
    SubscriberView,
    SubscriptionSpec,
)
from policywatch_notifier.settings import NotifierSettings
from policywatch_notifier.tier import Tier, TierLimitError, Tiers, UnknownTier


class SubscriberCreate(BaseModel):
    tier: str = Field(default="free", description="free | watcher | monitor | professional (see tiers.yaml).")
    name: str | None = None
    email: str | None = None
    webhook_url: str | None = Field(default=None, description="Receives Standard Webhooks-signed POSTs.")
    apprise_urls: list[str] = Field(default_factory=list, description="Apprise URLs (Slack, Teams, …).")
    timezone: str = Field(default="UTC", description="IANA time zone of the weekly digest.")
    digest_weekday: int = Field(default=0, ge=0, le=6, description="0 = Monday.")
    digest_time: str = Field(default="09:00", description="HH:MM local time.")
    subscriptions: list[SubscriptionSpec] = Field(default_factory=list)


class SubscriberUpdate(BaseModel):
    tier: str | None = Field(default=None, description="Operator key only.")
    name: str | None = None
    email: str | None = Field(default=None, description='"" removes the e-mail channel.')
    webhook_url: str | None = Field(
        default=None, description='"" removes the webhook; a new URL re-enables it.'
    )
    apprise_urls: list[str] | None = None
    timezone: str | None = None
    digest_weekday: int | None = Field(default=None, ge=0, le=6)
    digest_time: str | None = None
    active: bool | None = None


class Principal(BaseModel):
    admin: bool
    subscriber_id: str | None = None


api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Operator or subscriber API key."
)
bearer = HTTPBearer(auto_error=False)


def build_api(settings: NotifierSettings, *, tiers: Tiers | None = None) -> FastAPI:
    tiers = tiers or Tiers.load(settings.tiers_file)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        engine, sessions = await open_db(settings.database_url)
        state["sessions"] = sessions
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="policywatch notifier API",
        version="1",
        description="Manage subscribers, subscriptions and tiers of policywatch alerts.",
        lifespan=lifespan,
    )

    async def session() -> AsyncIterator[AsyncSession]:
        factory: async_sessionmaker[AsyncSession] = state["sessions"]
        async with factory() as s, s.begin():
            yield s

    Session = Annotated[AsyncSession, Depends(session)]

    async def principal(
        s: Session,
        key: Annotated[str | None, Security(api_key_header)] = None,
        creds: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> Principal:
        token = key or (creds.credentials if creds else None)
        if not token:
            raise HTTPException(401, "API key required (X-API-Key header)")
        if settings.admin_api_key and hmac.compare_digest(token, settings.admin_api_key):
            return Principal(admin=True)
        sub = await registry.by_api_key(s, token)
        if sub is None:
            raise HTTPException(401, "invalid API key")
        return Principal(admin=False, subscriber_id=sub.id)

    Who = Annotated[Principal, Depends(principal)]

    def admin_only(who: Principal) -> None:
        if not who.admin:
            raise HTTPException(403, "operator API key required")

    def self_or_admin(who: Principal, subscriber_id: str) -> None:
        if not who.admin and who.subscriber_id != subscriber_id:
            raise HTTPException(404, f"no subscriber {subscriber_id!r}")  # do not reveal others exist

    @app.exception_handler(TierLimitError)
    async def _tier_limit(_: Request, exc: TierLimitError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": str(exc), "error": "tier_limit", "limit": exc.limit, "tier": exc.tier},
        )

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(UnknownTier)
    async def _unknown_tier(_: Request, exc: UnknownTier) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc), "error": "unknown_tier"})

    @app.exception_handler(ValueError)
    async def _invalid(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc), "error": "invalid"})

    @app.get("/v1/tiers", response_model=list[Tier], tags=["tiers"])
    async def list_tiers() -> list[Tier]:
        """The tiers and what each allows (no key needed)."""
        return [tiers[n] for n in tiers.names()]

    @app.post("/v1/subscribers", response_model=Created, status_code=201, tags=["subscribers"])
    async def create(body: SubscriberCreate, s: Session, who: Who) -> Created:
        """Create a subscriber (operator key). The API key and signing secret are shown once."""
        admin_only(who)
        fields = body.model_dump(exclude={"subscriptions"})
        return await registry.create_subscriber(s, tiers, subscriptions=body.subscriptions, **fields)

    @app.get("/v1/subscribers", response_model=list[SubscriberView], tags=["subscribers"])
    async def list_all(
        s: Session, who: Who, tier: str | None = None, limit: int = 100, offset: int = 0
    ) -> Any:
        """Every subscriber (operator key)."""
        admin_only(who)
        return await registry.list_subscribers(s, tier=tier, limit=min(limit, 1000), offset=offset)

    @app.get("/v1/me", response_model=SubscriberView, tags=["subscribers"])
    async def me(s: Session, who: Who) -> Any:
        """The subscriber the key belongs to, with its signing secret."""
        if who.subscriber_id is None:
            raise HTTPException(400, "the operator key belongs to no subscriber")
        return await registry.show(s, who.subscriber_id, secrets_too=True)

    @app.get("/v1/subscribers/{subscriber_id}", response_model=SubscriberView, tags=["subscribers"])
    async def get_one(subscriber_id: str, s: Session, who: Who) -> Any:
        self_or_admin(who, subscriber_id)
        return await registry.show(s, subscriber_id, secrets_too=True)

    @app.patch("/v1/subscribers/{subscriber_id}", response_model=SubscriberView, tags=["subscribers"])
    async def patch(subscriber_id: str, body: SubscriberUpdate, s: Session, who: Who) -> Any:
        """Update a subscriber. Changing the tier (operator key) disables what exceeds the new tier."""
        self_or_admin(who, subscriber_id)
        if body.tier is not None and not who.admin:
            raise HTTPException(403, "only the operator can change a tier")
        return await registry.update_subscriber(s, tiers, subscriber_id, **body.model_dump(exclude_none=True))

    @app.delete("/v1/subscribers/{subscriber_id}", status_code=204, tags=["subscribers"])
    async def delete(subscriber_id: str, s: Session, who: Who) -> Response:
        """Delete the subscriber and all their data."""
        self_or_admin(who, subscriber_id)
        await registry.remove_subscriber(s, subscriber_id)
        return Response(status_code=204)

    @app.post(
        "/v1/subscribers/{subscriber_id}/subscriptions",
        response_model=SubscriberView,
        status_code=201,
        tags=["subscriptions"],
    )
    async def add_subscription(subscriber_id: str, body: SubscriptionSpec, s: Session, who: Who) -> Any:
        """Add a subscription; 422 with the limit's name if the tier does not allow it."""
        self_or_admin(who, subscriber_id)
        return await registry.update_subscriber(s, tiers, subscriber_id, add=[body])

    @app.delete(
        "/v1/subscribers/{subscriber_id}/subscriptions/{subscription_id}",
        status_code=204,
        tags=["subscriptions"],
    )
    async def remove_subscription(subscriber_id: str, subscription_id: int, s: Session, who: Who) -> Response:
        self_or_admin(who, subscriber_id)
        await registry.update_subscriber(s, tiers, subscriber_id, remove=[subscription_id])
        return Response(status_code=204)

    def page(text: str, status: int = 200, *, form: str = "") -> HTMLResponse:
        body = f"<!doctype html><meta charset=utf-8><title>policywatch</title><p>{text}</p>{form}"
        return HTMLResponse(body, status_code=status)

    @app.get("/unsubscribe/{token}", response_class=HTMLResponse, tags=["unsubscribe"])
    async def unsubscribe_page(token: str, s: Session) -> HTMLResponse:
        """The link in every e-mail: a confirmation page (GET changes nothing: mail scanners follow links)."""
        if not await registry.token_exists(s, token):
            return page("This unsubscribe link is not valid.", 404)
        button = (
            '<form method="post"><button type="submit">Unsubscribe from all policywatch alerts</button>'
            "</form>"
        )
        return page("Stop all policywatch alerts and digests to you?", form=button)

    @app.post("/unsubscribe/{token}", response_class=HTMLResponse, tags=["unsubscribe"])
    async def unsubscribe_now(token: str, s: Session) -> HTMLResponse:
        """Unsubscribe: the confirmation form and RFC 8058 one-click (List-Unsubscribe-Post) POST here."""
        if await registry.unsubscribe(s, token):
            return page("You are unsubscribed from policywatch alerts.")
        return page("This unsubscribe link is not valid.", 404)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, bool]:
        return {"alive": True}

    return app
