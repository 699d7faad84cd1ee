"""Failure detection: false positives, identity with the html.parser check, and CPU cost.

1. ``check_page`` on every recorded version of the shared corpus (real documents, so every
   flag but an empty page is a false positive); time per page against a plain word count
   and against the old regex normalisation, in the same run.
2. Identity and CPU of the page check as the fetcher runs it (``check_html``, then the
   ``select``/``remove`` part and ``check_page`` on it): versions rendered by the demo site
   (chrome, cookie banner; every ``--every``-th version, ``--every 1`` = all 2,320) plus the
   fixture and demo hostile pages, judged by the lexbor check and by the html.parser one it
   replaced (``tests/unit/fetcher/legacy_pagecheck.py``). Prints how many verdicts differ
   (outcome, reason, text_length, script_shell, title) and the CPU ratio.
3. CPU per HTTP capture (httpx, judge, local storage) of ~60 KB demo pages served by a
   separate process, new judge against the old one swapped in (and ``sniffio`` hidden, as
   before the fetcher depended on it), alternating blocks.

    .venv/bin/python bench/fetcher_pagecheck.py [--every N] [--captures N]

CPU is ``time.process_time()`` of this process (the site runs in another process).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.abc
import importlib.util
import json
import lzma
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policywatch_fetcher import capture as capture_mod  # noqa: E402
from policywatch_fetcher.capture import Capturer, selected_text  # noqa: E402
from policywatch_fetcher.settings import FetcherSettings  # noqa: E402
from policywatch_shared.events import CaptureOutcome, ExtractionHints  # noqa: E402
from policywatch_shared.pagecheck import check_html, check_page  # noqa: E402
from policywatch_shared.storage import LocalStore  # noqa: E402

from policywatch.demo.corpus import corpus_path  # noqa: E402
from tests.unit.fetcher import legacy_pagecheck as legacy  # noqa: E402

CORPUS = corpus_path()  # ../shared beside the repository, or POLICYWATCH_SHARED_DIR
#: The demo catalog's hints (src/policywatch/demo/setup.py): the usual capture path.
HINTS = ExtractionHints(
    select=["article.policy"], remove=["nav", "footer", ".cookie-banner", "script", "noscript"]
)


def records() -> Iterator[dict[str, Any]]:
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


class _NoNav:  # the demo chrome lists the site's documents in its navigation: none here
    def documents_list(self) -> list[object]:
        return []


def render(rec: dict[str, Any]) -> str:
    from policywatch.demo import site as demo

    doc = demo.SiteDocument("x/y", rec["document"], rec["service"], [rec["text"]])
    return demo._chrome(_NoNav(), doc, demo._article(doc), title=f"{doc.title} | {doc.platform_name}")  # type: ignore[arg-type]


def judge(html: str, ch: Callable[..., Any], cp: Callable[..., Any]) -> tuple[object, ...]:
    """What Capturer._judge computes from an HTML body with the demo hints."""
    verdict, page = ch(html, status=200)
    out: tuple[object, ...] = (
        verdict.outcome,
        verdict.reason,
        verdict.text_length,
        verdict.script_shell,
        page.title,
    )
    if verdict.ok:
        part, matched = selected_text(html, HINTS)
        if matched and part is not None:
            v2 = cp(part, status=200, title=page.title)
            out += (v2.outcome, v2.reason, v2.text_length)
        else:
            out += (matched,)
    return out


def false_positives(texts: list[tuple[str, str]]) -> None:
    t = time.process_time()
    for _, text in texts:
        len(text.split())
    base = time.process_time() - t
    t = time.process_time()
    for _, text in texts:
        legacy.check_page(text)
    old = time.process_time() - t
    t = time.process_time()
    verdicts = [(name, check_page(text)) for name, text in texts]
    cost = time.process_time() - t
    counts = Counter(v.outcome for _, v in verdicts)
    print(f"{len(texts)} real versions: {dict(counts)}")
    for name, v in verdicts:
        if not v.ok:
            print(f"  flagged: {name}: {v.reason}")
    n = len(texts)
    print(
        f"check_page: {cost / n * 1000:.2f} ms/page (old {old / n * 1000:.2f}, old/new {old / cost:.1f}x); "
        f"word-count baseline {base / n * 1000:.2f} ms/page, new/baseline {cost / base:.1f}x"
    )


def hostile_pages() -> dict[str, str]:
    from policywatch.demo import site as demo
    from tests.integration.fetcher import site as fx

    return {
        "fixture bot wall": fx.BOT_WALL,
        "fixture error 200": fx.ERROR_200,
        "fixture script shell": fx.JS_SHELL,
        "fixture policy": fx.CHROME.format(title="Privacy Policy", body=fx.policy(2)),
        "demo bot wall": demo.BOT_WALL.format(ray="8c1f2a"),
        "demo error 200": demo._chrome(_NoNav(), None, demo.ERROR_200, title="Page not found"),  # type: ignore[arg-type]
        "demo hanging page": "<!doctype html><html><head><title>Loading</title></head><body><p>Loading",
    }


def identity(recs: list[dict[str, Any]], every: int) -> None:
    pages = [(f"{r['service']} / {r['document']} @ {r['recorded_at']}", render(r)) for r in recs[::every]]
    pages += [(name, html) for name, html in hostile_pages().items()]
    old_s = new_s = 0.0
    differ = 0
    for name, html in pages:
        t = time.process_time()
        a = judge(html, legacy.check_html, legacy.check_page)
        t2 = time.process_time()
        b = judge(html, check_html, check_page)
        t3 = time.process_time()
        old_s, new_s = old_s + t2 - t, new_s + t3 - t2
        if a != b:
            differ += 1
            print(f"  DIFFERS {name}: old {a} new {b}")
    for name in hostile_pages():
        print(f"  {name}: {next(judge(h, check_html, check_page) for n, h in pages if n == name)[:2]}")
    n = len(pages)
    kb = sum(len(h) for _, h in pages) / n / 1024
    print(
        f"page check (check_html + select part + check_page), {n} pages (mean {kb:.0f} KB): "
        f"{differ} verdicts differ; old {old_s / n * 1000:.2f} ms/page, new {new_s / n * 1000:.2f} ms/page, "
        f"old/new {old_s / new_s:.2f}x"
    )


def serve(indices: list[int]) -> None:
    """``--serve``: the demo site with the given corpus versions, in its own process."""
    from policywatch.demo.site import DemoSite, SiteDocument

    wanted = set(indices)
    site = DemoSite()
    for i, r in enumerate(records()):
        if i in wanted:
            site.add_document(SiteDocument(f"doc/{i}", r["document"], r["service"], [r["text"]]))
    site.start()
    print(site.base_url, flush=True)
    sys.stdin.read()  # until the bench closes our stdin


class _NoSniffio(importlib.abc.MetaPathFinder):
    """The baseline's missing ``sniffio`` (before the fetcher depended on it): httpcore's
    per-request ``import sniffio`` fails after the same finder walk as a real miss."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "sniffio":
            importlib.util.find_spec("_sniffio_not_installed")  # the walk a miss pays
            raise ModuleNotFoundError("No module named 'sniffio'", name=name)
        return None


NO_SNIFFIO = _NoSniffio()


def _sniffio_installed(installed: bool) -> None:
    if NO_SNIFFIO in sys.meta_path:
        sys.meta_path.remove(NO_SNIFFIO)
    if installed:
        import sniffio  # noqa: F401  (back in sys.modules)
    else:
        sys.modules.pop("sniffio", None)
        sys.meta_path.insert(0, NO_SNIFFIO)


async def captures(urls: list[str], n: int) -> None:
    new = (capture_mod.check_html, capture_mod.check_page, True)
    variants = {
        "old (html.parser judge, sniffio missing)": (legacy.check_html, legacy.check_page, False),
        "new judge only (sniffio missing)": (capture_mod.check_html, capture_mod.check_page, False),
        "new": new,
    }
    cpu = dict.fromkeys(variants, 0.0)
    sizes: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = FetcherSettings(
            allow_private=True,
            per_host_delay_s=0.0,
            per_host_concurrency=4,
            browser_enabled=False,
            STORAGE_DIR=tmp,
        )
        async with Capturer(settings, LocalStore(Path(tmp))) as c:

            async def block(variant: tuple[Any, Any, bool], k: int) -> float:
                capture_mod.check_html, capture_mod.check_page, installed = variant  # type: ignore[assignment]
                _sniffio_installed(installed)
                t = time.process_time()
                for i in range(k):
                    r = await c.capture_page(urls[i % len(urls)], HINTS)
                    if r.page.outcome != CaptureOutcome.OK:
                        raise SystemExit(f"capture of {r.page.url} was {r.page.outcome}: {r.page.error}")
                    sizes.append(r.page.size or 0)
                return time.process_time() - t

            for v in variants.values():  # warm-up: connection, robots.txt, imports
                await block(v, len(urls))
            k = max(1, n // 10)
            for _ in range(n // k):  # alternating blocks: load changes hit every variant alike
                for name, v in variants.items():
                    cpu[name] += await block(v, k)
            await block(new, 0)  # leave the module as it was
    total = (n // k) * k
    base = cpu["old (html.parser judge, sniffio missing)"]
    print(
        f"HTTP capture CPU per capture, {total} captures each "
        f"(mean body {sum(sizes) / len(sizes) / 1024:.0f} KB):"
    )
    for name, spent in cpu.items():
        print(f"  {name:45} {spent / total * 1000:6.2f} ms  old/this {base / spent:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=10, help="render every N-th corpus version (1 = all)")
    ap.add_argument("--captures", type=int, default=200, help="HTTP captures per judge (0 = skip)")
    ap.add_argument("--serve", type=int, nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve is not None:
        return serve(args.serve)
    if not CORPUS.exists():
        raise SystemExit(f"shared corpus missing: {CORPUS}")
    recs = list(records())
    false_positives([(f"{r['service']} / {r['document']}", r["text"]) for r in recs])
    identity(recs, args.every)
    if args.captures:
        # Typical policy pages: versions rendering to 50-70 KB of HTML.
        picks = [i for i, r in enumerate(recs) if 42_000 < len(r["text"]) < 60_000][::40][:8]
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", *map(str, picks)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            base = proc.stdout.readline().strip()
            asyncio.run(captures([f"{base}/doc/{i}" for i in picks], args.captures))
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
