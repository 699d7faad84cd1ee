"""``policywatch topics create|list`` against a real (fresh) Tansu broker."""

from __future__ import annotations

from policywatch_shared import topics as T
from policywatch_shared.net import free_port
from policywatch_shared.tansu import TansuBroker
from typer.testing import CliRunner

from policywatch.cli import app


def test_topics_create_then_list_shows_every_topic_on_the_broker():
    runner = CliRunner()
    with TansuBroker(free_port()) as broker:
        before = runner.invoke(app, ["topics", "list", "--bootstrap", broker.bootstrap])
        assert before.exit_code == 0, before.output
        assert before.output.count("missing") == len(T.TOPICS)
        created = runner.invoke(app, ["topics", "create", "--bootstrap", broker.bootstrap])
        assert created.exit_code == 0, created.output
        assert f"{len(T.TOPICS)} topics ensured" in created.output
        again = runner.invoke(app, ["topics", "create", "--bootstrap", broker.bootstrap])
        assert again.exit_code == 0  # idempotent
        listed = runner.invoke(
            app, ["topics", "list", "--bootstrap", broker.bootstrap], env={"COLUMNS": "200"}
        )
        assert listed.exit_code == 0, listed.output
        assert "missing" not in listed.output
        for spec in T.TOPICS:
            assert spec.name in listed.output
        assert "compact" in listed.output and "forever" in listed.output


def test_topics_list_reports_an_unreachable_broker():
    result = CliRunner().invoke(app, ["topics", "list", "--bootstrap", f"127.0.0.1:{free_port()}"])
    assert result.exit_code == 2
    assert "unreachable" in result.output
