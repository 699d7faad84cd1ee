from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from policywatch_notifier.api import build_api
from policywatch_notifier.settings import NotifierSettings

ADMIN = {"X-API-Key": "admin-key"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = NotifierSettings(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/api.db", admin_api_key="admin-key"
    )
    with TestClient(build_api(settings)) as c:
        yield c


def test_keys_scope_and_limits(client: TestClient) -> None:
    assert client.get("/v1/subscribers").status_code == 401
    assert client.get("/v1/subscribers", headers={"X-API-Key": "nope"}).status_code == 401
    r = client.post(
        "/v1/subscribers",
        headers=ADMIN,
        json={"tier": "watcher", "email": "a@example.com", "subscriptions": [{"platform": "openai"}]},
    )
    assert r.status_code == 201, r.text
    a = r.json()
    b = client.post("/v1/subscribers", headers=ADMIN, json={"tier": "free", "email": "b@example.com"}).json()
    me = {"Authorization": f"Bearer {a['api_key']}"}
    assert client.get("/v1/me", headers=me).json()["signing_secret"] == a["signing_secret"]
    assert client.get(f"/v1/subscribers/{b['subscriber']['id']}", headers=me).status_code == 404  # not theirs
    assert client.get("/v1/subscribers", headers=me).status_code == 403  # operator only
    assert client.post("/v1/subscribers", headers=me, json={"email": "x@example.com"}).status_code == 403

    sid = a["subscriber"]["id"]
    r = client.post(f"/v1/subscribers/{sid}/subscriptions", headers=me, json={"category": "ai_training"})
    assert (
        r.status_code == 422
        and r.json()["limit"] == "category_subscriptions"
        and r.json()["tier"] == "watcher"
    )
    r = client.post(f"/v1/subscribers/{sid}/subscriptions", headers=me, json={"platform": "google"})
    assert r.status_code == 201 and len(r.json()["subscriptions"]) == 2
    assert (
        client.patch(f"/v1/subscribers/{sid}", headers=me, json={"tier": "professional"}).status_code == 403
    )
    r = client.patch(f"/v1/subscribers/{sid}", headers=ADMIN, json={"tier": "free"})
    assert [s["enabled"] for s in r.json()["subscriptions"]] == [True, False]
    sub_id = r.json()["subscriptions"][1]["id"]
    assert client.delete(f"/v1/subscribers/{sid}/subscriptions/{sub_id}", headers=me).status_code == 204
    assert client.delete(f"/v1/subscribers/{sid}", headers=me).status_code == 204
    assert client.get(f"/v1/subscribers/{sid}", headers=ADMIN).status_code == 404


def test_unsubscribe_link_and_openapi(client: TestClient) -> None:
    a = client.post("/v1/subscribers", headers=ADMIN, json={"tier": "free", "email": "a@example.com"}).json()
    token = client.get(f"/v1/subscribers/{a['subscriber']['id']}", headers=ADMIN).json()["unsubscribe_token"]
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert client.get(f"/v1/subscribers/{a['subscriber']['id']}", headers=ADMIN).json()["active"] is True
    assert client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.get(f"/v1/subscribers/{a['subscriber']['id']}", headers=ADMIN).json()["active"] is False
    assert client.get("/unsubscribe/not-a-token").status_code == 404
    assert client.post("/unsubscribe/not-a-token").status_code == 404
    spec = client.get("/openapi.json").json()
    assert "/v1/subscribers" in spec["paths"] and "APIKeyHeader" in spec["components"]["securitySchemes"]
    assert [t["name"] for t in client.get("/v1/tiers").json()] == [
        "free",
        "watcher",
        "monitor",
        "professional",
    ]
