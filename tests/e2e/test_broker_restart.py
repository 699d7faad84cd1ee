"""End to end: the broker is killed with changes in flight and restarted — nothing lost, nothing twice.

The broker here is Tansu with its log in S3 (a dedicated bucket on the moto server), so, like
Kafka, it keeps its topics and the committed offsets across its own restarts. The pipeline owns
it (the stack's watchdog is for the in-memory broker of ``policywatch up``): the test kills it,
keeps it down a few seconds and starts it again on the same port; the services are NOT
restarted — they must reconnect by themselves.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from policywatch.demo.setup import DemoSubscriber
from policywatch.demo.site import SiteDocument
from policywatch.stack import SERVICES, service_installed
from tests.e2e.harness import Pipeline, drop_database, history, make_bucket, make_database

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not all(service_installed(s) for s in SERVICES),
        reason="the four services must be installed (python -m policywatch_<service>)",
    ),
]

ANN, BOB = "ann@restart.policywatch.test", "bob@restart.policywatch.test"
DOCS = ["acme/privacy_policy", "acme/terms_of_service", "globex/privacy_policy"]
ROUNDS = 2  # broker restarts (kill, then stop), each with a new version of every document in flight
DOWN_S = 3.0


@pytest.fixture(scope="module")
async def pipeline(tmp_path_factory: pytest.TempPathFactory, s3_server):
    tmp: Path = tmp_path_factory.mktemp("e2e-broker")
    db = f"pw_e2eb_{uuid.uuid4().hex[:8]}"
    pg = await make_database(db)
    n = ROUNDS + 1
    docs = [
        SiteDocument(DOCS[0], "Acme Privacy Policy", "Acme", history("Acme Privacy Policy", "Acme", n)),
        SiteDocument(DOCS[1], "Acme Terms of Service", "Acme", history("Acme Terms", "Acme", n)),
        SiteDocument(DOCS[2], "Globex Privacy Policy", "Globex", history("Globex Privacy", "Globex", n)),
    ]
    subs = [
        DemoSubscriber("Ann", "watcher", ANN, True, platforms=["acme"]),
        DemoSubscriber("Bob", "monitor", BOB, False, platforms=["globex"]),
    ]
    p = Pipeline(tmp, make_bucket(s3_server, f"e2e-{uuid.uuid4().hex[:8]}"), pg, docs, subs)
    # A bucket of its own: the broker's log must not mix with the pipeline's objects.
    p.broker_bucket = make_bucket(s3_server, f"e2e-tansu-{uuid.uuid4().hex[:8]}")
    try:
        await p.start()
        yield p
    finally:
        await p.stop()
        await drop_database(db)


async def test_broker_killed_or_stopped_with_changes_in_flight_every_alert_arrives_once(pipeline: Pipeline):
    p = pipeline
    assert p.tansu is not None and p.stack.supervisor is not None
    await p.wait_captured(await p.fetch(), 90)
    await p.wait_first_versions(set(DOCS), 60)
    # Every stage warm before the first outage: the test is about outages with changes in
    # flight, not about a cold start (the first test CI runs) that happens to overlap one.
    await p.wait_for(
        lambda: {c.document_id for c in p.watcher.classified} >= set(DOCS), 90, "first versions classified"
    )
    starts = {n: s.starts for n, s in p.stack.supervisor.services.items()}
    port = p.tansu.port
    # Round 1 kills the broker (a crash), round 2 stops it (SIGTERM); each with a change of
    # every document in flight. Each round's captures are awaited before the site changes
    # again, so every request captures its own new version (one change per request).
    for kill in (True, False)[:ROUNDS]:
        p.site.advance(DOCS)
        ids = await p.fetch()
        # The requests are in the broker's log, captures under way: take the broker down now.
        await asyncio.sleep(0.3)
        await p.restart_broker(DOWN_S, kill=kill)
        assert p.tansu.port == port
        await p.wait_captured(ids, 90)
    expected_changes = ROUNDS * len(DOCS)
    await p.wait_for(lambda: len(p.substantive_changes()) >= expected_changes, 90, "every change")
    ann_expected, bob_expected = ROUNDS * 2, ROUNDS  # Ann: both Acme documents; Bob: Globex
    await p.wait_for(
        lambda: (
            len(p.distinct_emails_to(ANN)) >= ann_expected
            and len(p.distinct_emails_to(BOB)) >= bob_expected
            and len({h.webhook_id for h in p.webhooks_to("ann")}) >= ann_expected
        ),
        90,
        "every alert after the broker restarts",
    )
    await p.watcher.quiet(3, 30)
    # Nothing lost, nothing twice: exactly the expected changes, mails and webhooks.
    assert len(p.substantive_changes()) == expected_changes
    assert len({c.to_version.version_id for c in p.substantive_changes()}) == expected_changes
    assert len(p.emails_to(ANN)) == len(p.distinct_emails_to(ANN)) == ann_expected
    assert len(p.emails_to(BOB)) == len(p.distinct_emails_to(BOB)) == bob_expected
    hooks = p.webhooks_to("ann")
    assert len(hooks) == len({h.webhook_id for h in hooks}) == ann_expected
    assert not p.receiver.rejected
    # The services rode the restarts out in place (reconnected), none was restarted.
    assert {n: s.starts for n, s in p.stack.supervisor.services.items()} == starts, p.report()
    # Readiness is polled; a probe can time out right after a restart, so wait for it (bounded).
    details = {n: s.ready_detail for n, s in p.stack.supervisor.services.items()}
    assert await p.stack.supervisor.wait_ready(30), details
