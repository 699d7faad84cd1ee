from __future__ import annotations

from datetime import UTC, datetime

from policywatch_notifier.channels.email import EmailChannel
from policywatch_notifier.render import Recipient, Renderer, digest_groups
from policywatch_notifier.samples import sample_classified
from policywatch_notifier.tier import Tiers


def test_alert_email_has_both_parts_diff_and_unsubscribe(tiers: Tiers) -> None:
    r = Recipient(id="s1", tier="watcher", email="a@example.com", unsubscribe_token="tok123")
    m = Renderer(public_base_url="https://pw.example/", versions_base_url="https://files.example").alert(
        r, tiers["watcher"], sample_classified(), delivery_id="d1"
    )
    assert m.subject.startswith("[HIGH] openai:")
    assert "<ins" in m.html and "<del" in m.html and "[+may+]" in m.text and "[-do not-]" in m.text
    assert (
        "https://pw.example/unsubscribe/tok123" in m.html
        and "https://pw.example/unsubscribe/tok123" in m.text
    )
    assert "https://files.example/text/bb/" in m.text  # link to the full version
    assert "GDPR" not in m.text and "regulations" not in m.payload["data"]  # watcher: no regulatory mapping
    msg = EmailChannel(host="x", port=25, mail_from="pw@example.com").build(r, m, delivery_id="d1")
    assert msg.is_multipart() and {p.get_content_type() for p in msg.iter_parts()} == {
        "text/plain",
        "text/html",
    }
    assert (
        msg["Message-ID"] == "<d1@policywatch>"
        and msg["List-Unsubscribe"] == "<https://pw.example/unsubscribe/tok123>"
    )


def test_professional_gets_regulations_and_cross_platform(tiers: Tiers) -> None:
    r = Recipient(id="s1", tier="professional", email="a@example.com", unsubscribe_token="t")
    m = Renderer(public_base_url="http://x").alert(
        r, tiers["professional"], sample_classified(), delivery_id="d"
    )
    assert "GDPR Art. 6" in m.text and "How other platforms handle this" in m.text
    assert m.payload["data"]["regulations"][0]["framework"] == "GDPR" and m.payload["data"]["sections"]


def test_html_is_escaped(tiers: Tiers) -> None:
    ev = sample_classified()
    ev.headline = "<script>alert(1)</script>"
    r = Recipient(id="s1", tier="watcher", email="a@example.com", unsubscribe_token="t")
    m = Renderer(public_base_url="http://x").alert(r, tiers["watcher"], ev, delivery_id="d")
    assert "<script>" not in m.html and "&lt;script&gt;" in m.html


def test_digest_groups_by_platform_most_severe_first(tiers: Tiers) -> None:
    when = datetime(2026, 11, 20, tzinfo=UTC)
    changes = [
        sample_classified(platform="b", severity="low", n=1, detected_at=when),
        sample_classified(platform="a", severity="medium", n=2, detected_at=when),
        sample_classified(platform="b", severity="high", n=3, detected_at=when),
        sample_classified(platform="a", severity="low", n=4, detected_at=when),
    ]
    groups = digest_groups(changes)
    assert [p for p, _ in groups] == ["b", "a"]
    assert [c.severity.value for c in groups[0][1]] == ["high", "low"]
    assert [c.severity.value for c in groups[1][1]] == ["medium", "low"]
    r = Recipient(id="s1", tier="free", email="a@example.com", unsubscribe_token="t")
    m = Renderer(public_base_url="http://x").digest(
        r, tiers["free"], changes, period="2026-11-23", delivery_id="d"
    )
    assert "4 change(s) on 2 platform(s)" in m.subject
    assert m.text.index("== b ==") < m.text.index("== a ==")


def test_wire_email_carries_what_email_message_did(tiers: Tiers) -> None:
    """The e-mail written directly as bytes decodes to the same headers and parts as the
    ``EmailMessage`` it replaced (non-ASCII and over-long subject included)."""
    from email import message_from_bytes, policy

    ev = sample_classified()
    ev.headline = "Ünïcode — " + "a rather long headline " * 6
    r = Recipient(id="s1", tier="professional", email="a@example.com", unsubscribe_token="tok")
    m = Renderer(public_base_url="https://pw.example", versions_base_url="https://f.example").alert(
        r, tiers["professional"], ev, delivery_id="d1"
    )
    ch = EmailChannel(host="x", port=25, mail_from="policywatch <alerts@policywatch.local>")
    raw = ch.build_bytes(r, m, delivery_id="d1")
    assert raw is not None and raw.isascii() and b"\r\n" in raw and max(map(len, raw.split(b"\r\n"))) <= 998
    new = message_from_bytes(raw, policy=policy.default)
    old = message_from_bytes(
        ch.build_message(r, m, delivery_id="d1").as_bytes(policy=policy.SMTP), policy=policy.default
    )
    for h in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert str(new[h]) == str(old[h]), h
    for subtype in ("plain", "html"):
        assert new.get_body((subtype,)).get_content() == old.get_body((subtype,)).get_content()  # type: ignore[union-attr]
    assert "GDPR Art. 6" in new.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_alerts_name_the_document_not_a_bare_type(tiers: Tiers) -> None:
    # A recorded document of no known type ("other") is named by its own name, not "other".
    change = sample_classified(platform="Bing", document_type="other")
    change = change.model_copy(update={"document_id": "Bing/Ranking Parameters Description"})
    r = Recipient(id="s1", tier="watcher", email="a@example.com", unsubscribe_token="tok")
    m = Renderer(public_base_url="https://pw.example/").alert(r, tiers["watcher"], change, delivery_id="d1")
    assert "Bing · Ranking Parameters Description · 2026-11-20" in m.text
    assert "· Ranking Parameters Description ·" in m.html and "· other ·" not in m.text
    assert m.payload["data"]["document"] == "Ranking Parameters Description"
    # catalog ids name the type: "openai/privacy_policy" reads "privacy policy", as before
    m = Renderer(public_base_url="https://pw.example/").alert(
        r, tiers["watcher"], sample_classified(), delivery_id="d2"
    )
    assert "openai · privacy policy · 2026-11-20" in m.text
