"""What the consumers' long-poll wait (``KAFKA_FETCH_MAX_WAIT_MS``) costs on the embedded broker.

    .venv/bin/python bench/broker_fetch_wait.py            # waits 20, 50, 250, 500 ms (~1 min)

For each wait: idle CPU of the broker and of four idle consumers (one per service), and the
latency of one produce→consume hop on a quiet topic (the case a short wait was meant to help).
The broker answers a fetch as soon as a record arrives, so a longer wait costs no latency and
saves the CPU of empty fetches; ratios are against the first wait, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from policywatch_shared.net import free_port
from policywatch_shared.tansu import TansuBroker

TOPICS = ("captures", "changes", "classified", "requests")


async def measure(wait_ms: int, idle_s: float, hops: int) -> dict[str, float]:
    with TansuBroker(free_port()) as broker:
        boot = str(broker.bootstrap)
        producer = AIOKafkaProducer(bootstrap_servers=boot, enable_idempotence=False)
        await producer.start()
        consumers: list[AIOKafkaConsumer] = []
        try:
            for topic in TOPICS:
                await producer.send_and_wait(topic, b"warm")  # creates the topic
            for i, topic in enumerate(TOPICS):
                c = AIOKafkaConsumer(
                    topic, bootstrap_servers=boot, group_id=f"g{i}", fetch_max_wait_ms=wait_ms,
                    auto_offset_reset="latest",
                )  # fmt: skip
                await c.start()
                consumers.append(c)
            await asyncio.sleep(2)  # groups joined, fetch loops running
            assert broker.process is not None
            bproc, me = psutil.Process(broker.process.pid), psutil.Process()
            b0, m0 = sum(bproc.cpu_times()[:2]), sum(me.cpu_times()[:2])
            await asyncio.sleep(idle_s)
            b1, m1 = sum(bproc.cpu_times()[:2]), sum(me.cpu_times()[:2])
            lat = []
            for _ in range(hops):
                await asyncio.sleep(0.037)  # land at an arbitrary point of the consumer's wait
                t = time.perf_counter()
                await producer.send_and_wait(TOPICS[0], b"x")
                await asyncio.wait_for(consumers[0].getone(), 10)
                lat.append((time.perf_counter() - t) * 1000)
        finally:
            for c in consumers:
                await c.stop()
            await producer.stop()
    lat.sort()
    return {
        "broker_idle_pct": 100 * (b1 - b0) / idle_s,
        "consumers_idle_pct": 100 * (m1 - m0) / idle_s,
        "hop_p50_ms": statistics.median(lat),
        "hop_p95_ms": lat[int(0.95 * (len(lat) - 1))],
        "hop_p99_ms": lat[int(0.99 * (len(lat) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waits", type=int, nargs="+", default=[20, 50, 250, 500])
    parser.add_argument("--idle-s", type=float, default=8.0)
    parser.add_argument("--hops", type=int, default=150)
    args = parser.parse_args()
    rows = [(w, asyncio.run(measure(w, args.idle_s, args.hops))) for w in args.waits]
    base = rows[0][1]
    print(f"wait (ms)  broker idle CPU  4 consumers idle CPU  hop p50 / p95 / p99 (ms)   "
          f"idle broker CPU vs {rows[0][0]} ms")  # fmt: skip
    for w, r in rows:
        ratio = r["broker_idle_pct"] / base["broker_idle_pct"] if base["broker_idle_pct"] else float("nan")
        print(f"{w:>9}  {r['broker_idle_pct']:>13.1f} %  {r['consumers_idle_pct']:>18.1f} %  "
              f"{r['hop_p50_ms']:>6.1f} / {r['hop_p95_ms']:.1f} / {r['hop_p99_ms']:.1f}"
              f"{'':>14}{ratio:.2f}×")  # fmt: skip


if __name__ == "__main__":
    main()
