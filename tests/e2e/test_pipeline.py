"""End to end, services as separate processes: happy path, kill -9 of each service, poison messages.

One stack for the module (starting the four services costs ~30 s); the tests run in file
order and build on each other's counts, each asserting what changed during it.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiokafka import AIOKafkaProducer

from policywatch.demo.setup import DemoSubscriber
from policywatch.demo.site import SiteDocument
from policywatch.demo.watch import TopicWatcher
from policywatch.stack import SERVICES, service_installed
from tests.e2e.harness import (
    PIPELINE_INPUTS,
    Pipeline,
    TcpProxy,
    drop_database,
    history,
    make_bucket,
    make_database,
    topic_short,
)

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not all(service_installed(s) for s in SERVICES),
        reason="the four services must be installed (python -m policywatch_<service>)",
    ),
]

ANN, BOB, FRAN = "ann@e2e.policywatch.test", "bob@e2e.policywatch.test", "fran@e2e.policywatch.test"
DOCS = ["acme/privacy_policy", "acme/terms_of_service", "globex/privacy_policy"]


@pytest.fixture(scope="module")
async def pipeline(tmp_path_factory: pytest.TempPathFactory, s3_server):
    tmp: Path = tmp_path_factory.mktemp("e2e")
    db = f"pw_e2e_{uuid.uuid4().hex[:8]}"
    pg = await make_database(db)
    # S3 and PostgreSQL through proxies the outage test can cut (the real servers are shared).
    pg_target = urlsplit(pg.replace("+asyncpg", ""))
    pg_proxy = await TcpProxy(pg_target.hostname or "127.0.0.1", pg_target.port or 5432).start()
    s3_proxy = await TcpProxy("127.0.0.1", s3_server.port).start()
    bucket = make_bucket(s3_server, f"e2e-{uuid.uuid4().hex[:8]}")
    bucket.endpoint = f"127.0.0.1:{s3_proxy.port}"
    docs = [
        SiteDocument(DOCS[0], "Acme Privacy Policy", "Acme", history("Acme Privacy Policy", "Acme", 9)),
        SiteDocument(
            DOCS[1], "Acme Terms of Service", "Acme", history("Acme Terms", "Acme", 6), js=True
        ),  # rendered client-side: the fetcher needs Chromium
        SiteDocument(DOCS[2], "Globex Privacy Policy", "Globex", history("Globex Privacy", "Globex", 6)),
    ]
    subs = [
        DemoSubscriber("Ann", "watcher", ANN, True, platforms=["acme"]),
        DemoSubscriber("Bob", "monitor", BOB, False, platforms=["globex"]),
        DemoSubscriber("Fran", "free", FRAN, False, platforms=["acme"]),
    ]
    p = Pipeline(tmp, bucket, pg.replace(f":{pg_target.port}/", f":{pg_proxy.port}/"), docs, subs)
    p.proxies = {"s3": s3_proxy, "postgresql": pg_proxy}
    try:
        await p.start()
        yield p
    finally:
        await p.stop()
        await s3_proxy.stop()
        await pg_proxy.stop()
        await drop_database(db)


async def test_happy_path_alerts_matching_subscribers_in_every_channel(pipeline: Pipeline):
    p = pipeline
    await p.wait_captured(await p.fetch())
    await p.wait_first_versions(set(DOCS), 60)
    assert not p.substantive_changes(), "a first version is a baseline, not a change"

    p.site.advance([DOCS[0]])
    await p.wait_captured(await p.fetch())
    await p.wait_for(lambda: len(p.emails_to(ANN)) >= 1 and len(p.webhooks_to("ann")) >= 1, 90, "Ann's alert")
    await p.watcher.quiet(3, 30)
    changes = p.substantive_changes()
    assert [c.document_id for c in changes] == [DOCS[0]]
    (mail,) = p.emails_to(ANN)
    assert "Acme" in mail.subject or "acme" in mail.text().lower()
    (hook,) = p.webhooks_to("ann")
    assert hook.payload and hook.webhook_id
    assert p.emails_to(BOB) == [] and p.emails_to(FRAN) == []  # other platform; free = weekly digest
    sent = {(d.tier, d.channel) for d in p.watcher.delivered()}
    assert sent == {("watcher", "email"), ("watcher", "webhook")}
    assert not p.receiver.rejected


async def test_kill_9_each_service_in_flight_loses_and_duplicates_nothing(pipeline: Pipeline):
    p = pipeline
    ann_before = len(p.distinct_emails_to(ANN))
    hooks_before = len(p.webhooks_to("ann"))
    bob_before = len(p.distinct_emails_to(BOB))
    changes_before = len(p.substantive_changes())
    # Kill at different depths of the pipeline: the later the service, the later it gets work.
    for name, delay in (("fetcher", 0.1), ("differ", 0.4), ("classifier", 0.6), ("notifier", 1.0)):
        p.site.advance(DOCS)
        ids = await p.fetch()
        await asyncio.sleep(delay)
        assert p.stack.supervisor is not None
        pid = p.stack.supervisor.kill(name)
        assert pid is not None
        await p.wait_captured(ids, 120)
    expected_changes = changes_before + 4 * len(DOCS)
    await p.wait_for(lambda: len(p.substantive_changes()) >= expected_changes, 180, "every change")
    ann_expected = ann_before + 8  # 4 rounds x 2 Acme documents
    bob_expected = bob_before + 4
    await p.wait_for(
        lambda: (
            len(p.distinct_emails_to(ANN)) >= ann_expected
            and len(p.distinct_emails_to(BOB)) >= bob_expected
            and len({h.webhook_id for h in p.webhooks_to("ann")}) >= hooks_before + 8
        ),
        180,
        "every alert after the restarts",
    )
    await p.watcher.quiet(4, 60)
    assert all(p.stack.supervisor.services[n].starts >= 2 for n in SERVICES)
    # Nothing lost: exactly the expected alerts; nothing duplicated: one message per delivery id.
    assert len(p.substantive_changes()) == expected_changes
    assert len(p.distinct_emails_to(ANN)) == ann_expected == len(p.emails_to(ANN))
    assert len(p.distinct_emails_to(BOB)) == bob_expected == len(p.emails_to(BOB))
    hooks = p.webhooks_to("ann")
    assert len({h.webhook_id for h in hooks}) == len(hooks) == hooks_before + 8
    assert p.emails_to(FRAN) == []
    # Each change is described once per version (redeliveries carry the same event_id).
    assert len({c.to_version.version_id for c in p.substantive_changes()}) == expected_changes


async def test_poison_message_on_each_topic_goes_to_its_dlq_and_the_rest_flows(pipeline: Pipeline):
    p = pipeline
    before = p.dead_letters()
    producer = AIOKafkaProducer(bootstrap_servers=p.stack.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for topic in PIPELINE_INPUTS:
            await producer.send_and_wait(topic, b"\xff{not an event", key=b"poison/doc")
    finally:
        await producer.stop()
    await p.wait_for(
        lambda: all(p.dead_letters()[f"{t}.dlq"] > before[f"{t}.dlq"] for t in PIPELINE_INPUTS),
        60,
        "a dead letter on every input topic's DLQ: " + ", ".join(topic_short(t) for t in PIPELINE_INPUTS),
    )
    for letter in p.watcher.dead_letters[-len(PIPELINE_INPUTS) :]:
        assert letter.value == b"\xff{not an event" and letter.key == b"poison/doc"
    ann_before = len(p.distinct_emails_to(ANN))
    p.site.advance([DOCS[0]])
    await p.wait_captured(await p.fetch([DOCS[0]]))
    await p.wait_for(lambda: len(p.distinct_emails_to(ANN)) == ann_before + 1, 90, "the next alert")


#: Hostile page -> the capture outcome the fetcher must report (never a new version).
HOSTILE = {
    "bot_wall": {"blocked"},
    "error_200": {"error_page"},
    "redirect_loop": {"http_error"},
    "huge": {"too_large"},
    "hang": {"timeout"},
    "invalid_utf8": {"ok", "not_modified"},  # stray bytes around an unchanged text: no change
}


async def test_hostile_inputs_give_clear_outcomes_no_false_alert_and_an_operator_alert(pipeline: Pipeline):
    p = pipeline
    doc = DOCS[2]  # Globex: Bob is subscribed
    bob_before = len(p.emails_to(BOB))
    changes_before = len([c for c in p.substantive_changes() if c.document_id == doc])
    outcomes = {}
    for mode, expected in HOSTILE.items():
        p.site.set_mode(doc, mode)
        ids = await p.fetch([doc])
        await p.wait_captured(ids, 90)
        (cap,) = [c for c in p.watcher.captures if c.fetch_request_id in ids]
        outcomes[mode] = cap.outcome.value
        assert cap.outcome.value in expected, (mode, cap.outcome.value, cap.error)
        if cap.outcome.value not in ("ok", "not_modified"):
            assert cap.error, f"{mode}: a failed capture says why"
    # The document failed for longer than FETCHER_ALERT_AFTER_S: one operator alert says so.
    await p.wait_for(
        lambda: any(a.document_id == doc for a in p.watcher.operator_alerts), 30, "an operator alert"
    )
    p.site.set_mode(doc, "normal")
    await p.wait_captured(await p.fetch([doc]), 60)
    await p.watcher.quiet(3, 30)
    assert len([c for c in p.substantive_changes() if c.document_id == doc]) == changes_before, outcomes
    assert len(p.emails_to(BOB)) == bob_before, "no alert for a hostile page"


OUTAGE_S = 30


async def test_s3_and_postgresql_down_30s_the_pipeline_waits_retries_and_catches_up(pipeline: Pipeline):
    p = pipeline
    ann_before = len(p.distinct_emails_to(ANN))
    changes_before = len(p.substantive_changes())
    for proxy in p.proxies.values():
        await proxy.cut()
    try:
        p.site.advance([DOCS[0]])
        ids = await p.fetch([DOCS[0]])
        await asyncio.sleep(OUTAGE_S)
        # Nothing got through while storage and the database were down …
        assert len(p.distinct_emails_to(ANN)) == ann_before
    finally:
        for proxy in p.proxies.values():
            await proxy.restore()
    # … and everything does once they are back: the capture, the change, exactly one alert.
    await p.wait_captured(ids, 120)
    await p.wait_for(
        lambda: len(p.distinct_emails_to(ANN)) == ann_before + 1, 120, "the alert after the outage"
    )
    await p.watcher.quiet(3, 30)
    assert len(p.substantive_changes()) == changes_before + 1
    assert len(p.emails_to(ANN)) == len(p.distinct_emails_to(ANN))
    # An outage is waited out, never dead-lettered: the only dead letters are the poison messages.
    assert all(d.key == b"poison/doc" for d in p.watcher.dead_letters)


async def test_broker_restart_the_services_reconnect_and_the_next_change_flows(pipeline: Pipeline):
    """``policywatch up``'s embedded Tansu keeps topics in memory: when it dies, the stack's
    watchdog restarts it and every service (what was in flight inside that broker is gone).
    What must hold: the stack recovers by itself and the next change is delivered exactly once.
    The no-loss broker restart (S3-backed broker, changes in flight) is test_broker_restart.py."""
    p = pipeline
    ann_before = len(p.distinct_emails_to(ANN))
    assert p.stack.broker is not None and p.stack.supervisor is not None
    starts = {n: s.starts for n, s in p.stack.supervisor.services.items()}
    await asyncio.to_thread(p.stack.broker.kill)  # a crash, not a stop
    await p.wait_for(lambda: p.stack.broker_restarts == 1, 30, "the broker restarted by the stack")
    await p.wait_for(
        lambda: all(s.starts > starts[n] and s.ready for n, s in p.stack.supervisor.services.items()),
        180,
        "every service restarted and ready",
    )
    # The test's own watcher had positions in the old topics: start it over too.
    await p.watcher.stop()
    p.watcher = TopicWatcher(p.stack.bootstrap)
    await p.watcher.start()
    p.site.advance([DOCS[0]])
    ids = await p.fetch([DOCS[0]])
    await p.wait_captured(ids, 120)
    await p.wait_for(
        lambda: len(p.distinct_emails_to(ANN)) == ann_before + 1, 120, "the alert after the restart"
    )
    await p.watcher.quiet(3, 30)
    assert len(p.emails_to(ANN)) == len(p.distinct_emails_to(ANN))
