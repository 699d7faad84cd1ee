"""The demo's local servers: site, SMTP mailbox, webhook receiver (loopback, no broker)."""

from __future__ import annotations

import json
import smtplib
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from policywatch.demo.corpus import BUNDLED, BUNDLED_PICKS, DEMO_PICKS, corpus_path, load_documents
from policywatch.demo.mailbox import Mailbox
from policywatch.demo.site import HUGE_BYTES, DemoSite, SiteDocument
from policywatch.demo.webhook_receiver import WebhookReceiver

DOC_V1 = "# Privacy Policy\n\nWe collect your e-mail address.\n\n## Sharing\n\nWe never sell your data.\n"
DOC_V2 = DOC_V1.replace("We never sell your data.", "We may share your data with advertising partners.")


@pytest.fixture
def site():
    docs = [
        SiteDocument("acme/privacy_policy", "Acme Privacy Policy", "Acme", [DOC_V1, DOC_V2]),
        SiteDocument("acme/terms", "Acme Terms", "Acme", ["# Terms\n\nBe nice.\n"], js=True),
    ]
    with DemoSite(docs) as s:
        yield s


def test_bundled_excerpts_are_small_real_and_attributed():
    assert BUNDLED.stat().st_size < 200_000
    docs = load_documents(BUNDLED_PICKS, path=BUNDLED)
    assert len(docs) == 4 and all(len(d.versions) >= 3 for d in docs)
    assert "Open Terms Archive" in (BUNDLED.parent / "README.md").read_text()


def test_demo_picks_come_from_the_shared_corpus():
    if not corpus_path().exists():
        pytest.skip(f"shared corpus missing: {corpus_path()}")
    docs = load_documents(DEMO_PICKS)
    assert len(docs) >= 10
    assert len({d.platform for d in docs}) >= 6
    assert any(d.js for d in docs)
    assert len({d.document_id for d in docs}) == len(docs)
    assert all(len(d.versions) >= 3 for d in docs)


def test_site_serves_document_in_chrome_and_advances(site):
    url = site.url("acme/privacy_policy")
    r = httpx.get(url)
    assert r.status_code == 200
    assert "We never sell your data." in r.text
    assert 'class="cookie-banner"' in r.text and "<footer" in r.text and "<nav" in r.text
    etag = r.headers["etag"]
    # Conditional request on the same version: 304 although the chrome rotates.
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    res = httpx.post(site.base_url + "/_site/advance", json={}).json()
    assert res["acme/privacy_policy"] == {"index": 1, "versions": 2, "changed": True}
    assert res["acme/terms"]["changed"] is False
    r2 = httpx.get(url, headers={"If-None-Match": etag})
    assert r2.status_code == 200 and "advertising partners" in r2.text
    assert site.remaining_steps() == 0


def test_js_document_is_a_script_shell(site):
    r = httpx.get(site.url("acme/terms"))
    assert "Be nice" not in r.text and "<script>" in r.text
    api = httpx.get(site.base_url + "/api/documents/acme/terms.json").json()
    assert "Be nice" in api["html"]


def test_hostile_modes(site):
    doc = "acme/privacy_policy"
    url = site.url(doc)
    site.set_mode(doc, "bot_wall")
    r = httpx.get(url)
    assert r.status_code == 200 and "verify you are a human" in r.text
    site.set_mode(doc, "error_200")
    r = httpx.get(url)
    assert r.status_code == 200 and "isn't available" in r.text
    site.set_mode(doc, "redirect_loop")
    with httpx.Client(max_redirects=5) as client, pytest.raises(httpx.TooManyRedirects):
        client.get(url, follow_redirects=True)
    site.set_mode(doc, "invalid_utf8")
    raw = httpx.get(url).content
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"We never sell your data." in raw
    site.set_mode(doc, "huge")
    with httpx.stream("GET", url) as r:
        assert int(r.headers["content-length"]) == HUGE_BYTES
        got = 0
        for chunk in r.iter_bytes():
            got += len(chunk)
            if got > 5_000_000:
                break
    assert got > 5_000_000
    site.set_mode(doc, "hang")
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=httpx.Timeout(5.0, read=1.0))
    assert time.monotonic() - t0 < 4
    site.set_mode(doc, "normal")
    assert httpx.get(url).status_code == 200
    with pytest.raises(ValueError):
        site.set_mode(doc, "nonsense")


def test_mailbox_stores_messages_as_eml(tmp_path: Path):
    with Mailbox(tmp_path / "mail") as box:
        msg = EmailMessage()
        msg["From"] = "alerts@policywatch.test"
        msg["To"] = "ann@example.test"
        msg["Subject"] = "Policy change: Acme privacy policy"
        msg.set_content("plain body")
        msg.add_alternative("<p>html body</p>", subtype="html")
        with smtplib.SMTP(box.host, box.port, timeout=10) as smtp:
            smtp.login("user", "pass")
            smtp.send_message(msg)
        got = box.wait_for(1, timeout=5)
    assert len(got) == 1
    assert got[0].subject == "Policy change: Acme privacy policy"
    assert got[0].rcpt_tos == ["ann@example.test"]
    assert got[0].text().strip() == "plain body" and "html body" in got[0].html()
    assert got[0].path.parent.name == "new"
    assert box.for_recipient("ANN@example.test") and not box.for_recipient("bob@example.test")


def test_mailbox_can_refuse(tmp_path: Path):
    with Mailbox(tmp_path / "mail") as box:
        box.refuse = True
        with smtplib.SMTP(box.host, box.port, timeout=10) as smtp, pytest.raises(smtplib.SMTPDataError):
            smtp.sendmail("a@x.test", ["b@x.test"], b"Subject: x\r\n\r\nbody")
        assert box.count() == 0


def _signed(secret: str, payload: dict, msg_id: str = "msg_1") -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    now = datetime.now(UTC)
    sig = Webhook(secret).sign(msg_id, now, body)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sig,
        "content-type": "application/json",
    }
    return body.encode(), headers


def test_webhook_receiver_verifies_signatures(tmp_path: Path):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    other = "whsec_" + "c2VjcmV0LW90aGVyLXNlY3JldC1rZXktMTIzNA=="
    with WebhookReceiver(tmp_path / "hooks") as rx:
        url = rx.register("ann", secret)
        body, headers = _signed(secret, {"event_id": "e1"})
        assert httpx.post(url, content=body, headers=headers).status_code == 200
        # Tampered body, wrong key, unknown endpoint, missing headers: all refused.
        assert httpx.post(url, content=body.replace(b"e1", b"e2"), headers=headers).status_code == 401
        body2, headers2 = _signed(other, {"event_id": "e3"})
        assert httpx.post(url, content=body2, headers=headers2).status_code == 401
        assert httpx.post(rx.url("nobody"), content=body, headers=headers).status_code == 404
        assert httpx.post(url, content=body).status_code == 401
        rx.fail("ann", [500, 410])
        assert httpx.post(url, content=body, headers=headers).status_code == 500
        assert httpx.post(url, content=body, headers=headers).status_code == 410
        assert httpx.post(url, content=body, headers=headers).status_code == 200
        got = rx.received("ann")
        assert [r.payload for r in got] == [{"event_id": "e1"}, {"event_id": "e1"}]
        assert len(rx.rejected) == 6 and rx.attempts["ann"] == 7
    files = sorted((tmp_path / "hooks" / "ann").glob("*.json"))
    assert len(files) == 2 and json.loads(files[0].read_text())["payload"] == {"event_id": "e1"}
