"""Fetcher throughput on the fixture website (127.0.0.1): captures per second.

HTTP (httpx) and browser (Playwright + Chromium) captures through the real code path
(politeness off, detection and local storage on), sequential and with 4 / 8 in flight;
each line is a ratio to the sequential single-page run of the same fetcher, measured in
the same run. Peak PSS of this process plus Chromium's processes is reported.

    .venv/bin/python bench/fetcher_throughput.py [--http N] [--browser N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policywatch_fetcher.capture import Capturer
from policywatch_fetcher.settings import FetcherSettings
from policywatch_shared.events import CaptureOutcome, ExtractionHints
from policywatch_shared.storage import LocalStore

from tests.integration.fetcher.site import FixtureSite


class PeakPss:
    """Samples PSS of this process and its children (Chromium) every 50 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.05):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_full_info().pss  # PSS: shared pages counted once
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self) -> PeakPss:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


async def run(capturer: Capturer, url: str, hints: ExtractionHints, n: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)
    bad = 0

    async def one() -> None:
        nonlocal bad
        async with sem:
            r = await capturer.capture_page(url, hints)
            bad += r.page.outcome != CaptureOutcome.OK

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    elapsed = time.perf_counter() - t
    if bad:
        raise SystemExit(f"{bad} captures of {url} were not ok")
    return n / elapsed


async def main(http_n: int, browser_n: int) -> None:
    with FixtureSite() as site, tempfile.TemporaryDirectory() as tmp, PeakPss() as rss:
        settings = FetcherSettings(
            allow_private=True,
            per_host_delay_s=0.0,
            per_host_concurrency=16,
            browser_pages=8,
            browser_settle_ms=0,
            STORAGE_DIR=tmp,
        )
        async with Capturer(settings, LocalStore(Path(tmp))) as c:
            http = ExtractionHints()
            js = ExtractionHints(execute_js=True, wait_for="#app h2")
            url_http, url_js = site.url("/static/privacy"), site.url("/js/terms")
            await run(c, url_http, http, 5, 1)  # warm-up (connection, robots.txt)
            await run(c, url_js, js, 2, 1)  # warm-up (browser start)
            print(f"{'fetcher':8} {'in flight':>9} {'captures/s':>11} {'ratio':>6}")
            for name, url, hints, n in (("http", url_http, http, http_n), ("browser", url_js, js, browser_n)):
                base = 0.0
                for conc in (1, 4, 8):
                    rate = await run(c, url, hints, n, conc)
                    base = base or rate
                    print(f"{name:8} {conc:>9} {rate:>11.1f} {rate / base:>5.2f}x")
    print(f"peak PSS (this process + Chromium): {rss.peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", type=int, default=300)
    ap.add_argument("--browser", type=int, default=24)
    args = ap.parse_args()
    asyncio.run(main(args.http, args.browser))
