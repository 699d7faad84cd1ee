"""A consumer process for the kill -9 test: records each processed event id in a file, slowly."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from faststream import FastStream
from policywatch_shared.broker import durable_subscriber, make_broker
from policywatch_shared.events import OperatorAlert
from policywatch_shared.settings import ServiceSettings


async def main(bootstrap: str, topic: str, group: str, out: Path) -> None:
    settings = ServiceSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_FETCH_MAX_WAIT_MS=20)
    broker = make_broker(settings, service="killtest")

    @durable_subscriber(broker, topic, group_id=group, max_poll_records=5)
    async def handle(body: dict) -> None:  # type: ignore[type-arg]
        if body.get("alert") is None:
            return  # another test's event on the shared broker
        event = OperatorAlert.model_validate(body)
        await asyncio.sleep(0.02)  # slow enough that a kill lands mid-stream
        with out.open("a") as fh:
            fh.write(event.event_id + "\n")
            fh.flush()

    app = FastStream(broker)
    await app.start()
    Path(str(out) + ".ready").touch()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))
