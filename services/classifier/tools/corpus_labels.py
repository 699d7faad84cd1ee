"""Labelled in-domain training passages: dev platforms' policy paragraphs labelled by hand.

    .venv/bin/python services/classifier/tools/corpus_labels.py sample OUT_DIR [--round 2] [--batch 200]

Why: the evaluation set's 671 dev passages are the only labelled text of the platforms' own
policies, and every public row is a ToS;DR quote, a CLAUDETTE sentence or a synthetic passage.
The fifteenth session labels thousands of paragraphs of the **dev platforms'** latest documents
(the test platforms' text is never sampled) as training rows, keyed by ``passage_key`` so that
only ids and labels are stored in the repository (the corpus text stays in ``../shared``).

``sample`` draws paragraphs of 80–700 characters (the evaluation passages' range) from the dev
platform families' latest documents, minus every passage of the evaluation set, a fixed number
per family (``QUOTA``, seed ``SEED``), and writes batches of ``{pid, text}`` to label. ``--round 2``
writes every other passage of that pool (the rest of the dev platforms' paragraphs).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from policywatch_classifier.corpus import passage_key, passages_by_family
from policywatch_classifier.evaluate import load_eval_set
from policywatch_classifier.train import shared_dir

SEED = 20261205
#: Passages drawn per dev platform family: Google's many services share text, so it is capped
#: below its share of the pool (5,041 of the 13,443 distinct passages of any length; 4,119 of the
#: 10,334 of 80–700 characters).
QUOTA = {
    "Google": 900,
    "AliExpress": 500,
    "App Store": 400,
    "TikTok": 400,
    "Bing": 300,
    "Pinterest": 250,
    "LinkedIn": 200,
    "Temu": 200,
    "Stripchat": 100,
}
MIN_CHARS, MAX_CHARS = 80, 700
#: Family -> (service, passage) of the candidate paragraphs.
Pool = dict[str, list[tuple[str, str]]]


def dev_family_passages(shared: Path) -> Pool:
    """(service, passage) of the dev platforms' latest documents by family, 80–700 characters,
    without any passage of the evaluation set (either split)."""
    items = load_eval_set(shared)
    return passages_by_family(
        shared,
        {it.service for it in items if it.split == "dev"},
        exclude={it.text for it in items},
        keep=lambda passage: MIN_CHARS <= len(passage) <= MAX_CHARS,
    )


def _row(family: str, service: str, text: str) -> dict[str, str]:
    return {"pid": passage_key(text), "family": family, "service": service, "text": text}


def sample(pool: Pool) -> list[dict[str, str]]:
    """Round 1: ``QUOTA`` passages of each family of ``pool`` (``dev_family_passages``), shuffled."""
    rng = random.Random(SEED)
    rows = []
    for family, passages in sorted(pool.items()):
        for service, text in rng.sample(passages, min(QUOTA.get(family, 0), len(passages))):
            rows.append(_row(family, service, text))
    rng.shuffle(rows)
    return rows


def rest(pool: Pool) -> list[dict[str, str]]:
    """Round 2: every passage of the pool that ``sample`` did not draw, shuffled (seed ``SEED`` + 1)."""
    drawn = {r["pid"] for r in sample(pool)}
    rows = [
        _row(family, service, text)
        for family, passages in sorted(pool.items())
        for service, text in passages
        if passage_key(text) not in drawn
    ]
    random.Random(SEED + 1).shuffle(rows)  # each annotator's batch spans every family
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["sample"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--round", type=int, choices=[1, 2], default=1)
    args = ap.parse_args()
    pool = dev_family_passages(shared_dir())  # read once: round 2 is the pool minus round 1
    rows = sample(pool) if args.round == 1 else rest(pool)
    args.out.mkdir(parents=True, exist_ok=True)
    for k in range(0, len(rows), args.batch):
        with (args.out / f"batch{k // args.batch:02d}.jsonl").open("w", encoding="utf-8") as fh:
            for r in rows[k : k + args.batch]:
                fh.write(json.dumps({"pid": r["pid"], "text": r["text"]}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} passages in {(len(rows) + args.batch - 1) // args.batch} batches")


if __name__ == "__main__":
    main()
