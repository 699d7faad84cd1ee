"""Failure detection on real policy versions: false positives and cost.

Runs ``check_page`` on every recorded version of the shared corpus (real documents, so
every flag but an empty page is a false positive) and on the fixture site's bot wall
and error pages (true positives), and prints the time per page against a baseline in
the same run: a plain ``len(text.split())`` word count over the same texts.

    .venv/bin/python bench/fetcher_pagecheck.py
"""

from __future__ import annotations

import json
import lzma
import sys
import time
from collections import Counter
from pathlib import Path

from policywatch_shared.pagecheck import check_html, check_page

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "vlopses-us-versions.jsonl.xz"


def main() -> None:
    if not CORPUS.exists():
        raise SystemExit(f"shared corpus missing: {CORPUS}")
    texts: list[tuple[str, str]] = []
    with lzma.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            texts.append((f"{rec['service']} / {rec['document']}", rec["text"]))
    t = time.perf_counter()
    for _, text in texts:
        len(text.split())
    base = time.perf_counter() - t
    t = time.perf_counter()
    verdicts = [(name, check_page(text)) for name, text in texts]
    cost = time.perf_counter() - t
    counts = Counter(v.outcome for _, v in verdicts)
    print(f"{len(texts)} real versions: {dict(counts)}")
    for name, v in verdicts:
        if not v.ok:
            print(f"  flagged: {name}: {v.reason}")
    print(
        f"check_page: {cost / len(texts) * 1000:.2f} ms/page; word-count baseline "
        f"{base / len(texts) * 1000:.2f} ms/page; ratio {cost / base:.1f}x"
    )

    from tests.integration.fetcher.site import BOT_WALL, ERROR_200, JS_SHELL

    for name, html in (("bot wall", BOT_WALL), ("error 200", ERROR_200), ("script shell", JS_SHELL)):
        verdict, _ = check_html(html)
        print(f"fixture {name}: {verdict.outcome} ({verdict.reason})")


if __name__ == "__main__":
    main()
