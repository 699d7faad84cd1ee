"""How many alerts are about a real wording change? A fresh labelled sample of the replay's alerts.

    .venv/bin/policywatch replay ../shared/corpus/vlopses-us-versions.jsonl.xz --out /tmp/replay.jsonl
    .venv/bin/python services/differ/tools/alert_audit.py sample /tmp/replay.jsonl OUT_DIR \
        [--dev 100 --test 100 --seed 20261208]
    .venv/bin/python services/differ/tools/alert_audit.py sample /tmp/replay.jsonl OUT_DIR --round2 \
        --dev 0 --test 100 --seed 20261209
    .venv/bin/python services/differ/tools/alert_audit.py score /tmp/replay.jsonl [--split dev|test|test2|all]
        [--errors N]   (--errors: dev or test only; test2 measures rules written from the others)
    .venv/bin/python services/differ/tools/alert_audit.py agreement

``tests/data/differ/labels.jsonl`` (170 recorded lines drawn at random) holds only 40 alerts, so
the share of alerts that are not substantive rests on 40 lines, and the noise rules were written
while reading 5 of them. This tool draws alerts the first sample did not hold, split by platform
family as the classifier's evaluation set (dev families to write rules from; held-out families to
measure once), and shows each as a word diff of the raw recorded texts (difflib, independent of the
differ's own output), as the first labels were made. Labels use the first sample's kinds; the
labels file keeps commits and labels only (``tests/data/differ/alert_labels.jsonl``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from policywatch_classifier.evaluate import held_out_services
from policywatch_differ.evaluate import evaluate
from policywatch_differ.replay import iter_records

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "vlopses-us-versions.jsonl.xz"
FIRST_LABELS = ROOT / "tests" / "data" / "differ" / "labels.jsonl"
LABELS = ROOT / "tests" / "data" / "differ" / "alert_labels.jsonl"
KINDS = ("substantive", "ui", "tracking", "variant", "date_only", "relative_date", "formatting", "error_page")
#: Characters of diff shown per alert (an annotator reads them all).
MAX_DIFF = 8000
WORD = re.compile(r"\S+")
#: A markdown link or image target, and a heading's underline: shown apart from the words (a
#: changed target alone is a ``tracking`` change by the first sample's conventions).
TARGET = re.compile(r"\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)")
UNDERLINE = re.compile(r"^\s*[-=]{3,}\s*$")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def word_diff(before: str, after: str) -> str:
    """``[-removed-] {+added+}`` runs of two lines, with three words of context around each."""
    a, b = WORD.findall(before), WORD.findall(after)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            words = a[i1:i2]
            out.append(
                " ".join(words) if len(words) <= 6 else f"{' '.join(words[:3])} … {' '.join(words[-3:])}"
            )
            continue
        if i2 > i1:
            out.append(f"[-{' '.join(a[i1:i2])}-]")
        if j2 > j1:
            out.append(f"{{+{' '.join(b[j1:j2])}+}}")
    return " ".join(out)


def words_only(text: str) -> list[str]:
    """The text's lines without link targets and heading underlines."""
    return [TARGET.sub("]", line) for line in text.splitlines() if not UNDERLINE.match(line)]


def text_diff(before: str, after: str) -> str:
    """The changed lines of two recorded texts, link targets apart: a replaced line as a word
    diff, added and removed lines whole; then how many link targets appeared or went."""
    a, b = words_only(before), words_only(after)
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            parts += [f"~ {word_diff(x, y)}" for x, y in zip(a[i1:i2], b[j1:j2], strict=True)]
            continue
        parts += [f"- {x}" for x in a[i1:i2] if x.strip()] + [f"+ {y}" for y in b[j1:j2] if y.strip()]
    targets = [set(TARGET.findall(t)) for t in (before, after)]
    moved = len(targets[0] ^ targets[1])
    if moved:
        parts.append(
            f"(link targets: {len(targets[0] - targets[1])} gone, {len(targets[1] - targets[0])} new)"
        )
    return "\n".join(parts) if parts else "(no difference in the words)"


def previous_texts(commits: set[str]) -> dict[str, tuple[str, str, bool]]:
    """commit -> (text recorded before it, its text, whether a later version of the document has
    the earlier text's words again) for each wanted commit: the first labels were made knowing
    whether a change flaps back (A → B → A), which tells a regional variant from a change."""
    found: dict[str, tuple[str, str, bool]] = {}
    last: dict[tuple[str, str], str] = {}
    waiting: dict[tuple[str, str], list[tuple[str, list[str]]]] = {}
    for _, row in iter_records(CORPUS):
        if row is None:
            continue
        doc = (row["service"], row["document"])
        if doc in waiting:  # only a document with a drawn alert before this recording is compared
            words = words_only(row["text"])
            for commit, earlier in waiting[doc]:
                if words == earlier:
                    before, after, _ = found[commit]
                    found[commit] = (before, after, True)
        if row["commit"] in commits:
            before = last.get(doc, "")
            found[row["commit"]] = (before, row["text"], False)
            waiting.setdefault(doc, []).append((row["commit"], words_only(before)))
        last[doc] = row["text"]
    return found


def sample(replay: Path, out: Path, n_dev: int, n_test: int, seed: int, round2: bool = False) -> None:
    """Draw alerts outside the first sample, per split; write items for annotators (one JSON line
    each: id, platform, document, recorded date, diff, whether it flaps back) and the key (id ->
    commit, split). ``round2``: outside this sample's labels too; its held-out alerts get split
    ``test2`` (they measure rules written from the first held-out alerts)."""
    first = {r["commit"] for r in read_jsonl(FIRST_LABELS)}
    if round2:
        first |= {r["commit"] for r in read_jsonl(LABELS)}
    held = held_out_services()
    alerts = [r for r in read_jsonl(replay) if r["alert"] and r["commit"] not in first]
    rng = random.Random(seed)
    rng.shuffle(alerts)
    chosen = [r for r in alerts if r["service"] not in held][:n_dev] + [
        r for r in alerts if r["service"] in held
    ][:n_test]
    texts = previous_texts({r["commit"] for r in chosen})
    rng.shuffle(chosen)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "items.jsonl").open("w", encoding="utf-8") as items, (out / "key.jsonl").open("w") as key:
        for n, r in enumerate(chosen):
            before, after, flaps = texts[r["commit"]]
            diff = text_diff(before, after)
            items.write(
                json.dumps(
                    {
                        "id": n,
                        "platform": r["service"],
                        "document": r["document"],
                        "recorded_at": r["recorded_at"][:10],
                        "diff": diff[:MAX_DIFF] + (" …[diff cut]" if len(diff) > MAX_DIFF else ""),
                        "flaps_back": flaps,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            split = ("test2" if round2 else "test") if r["service"] in held else "dev"
            key.write(json.dumps({"id": n, "commit": r["commit"], "split": split}) + "\n")
    print(f"{len(alerts)} alerts outside the first sample; drew {len(chosen)} into {out}")


def score(replay: Path, split: str, errors: int) -> None:
    """The share of the labelled alerts that still alert and are not substantive, with the
    non-substantive kinds, for the labelled split(s), and the substantive ones no longer alerting
    (as the differ's recall counts them: not one whose version had already been alerted and came
    back, ``reverted``); ``errors``: list that many (dev or round-1 held-out, the rule-writing
    sets; never ``test2``, which measures the rules)."""
    if errors and split not in ("dev", "test"):
        # The first held-out 100 became the rule-writing set (seventeenth session); test2 measures.
        sys.exit("--errors lists dev and held-out round-1 (test) alerts only")
    labels = {r["commit"]: r for r in read_jsonl(LABELS) if split in ("all", r["split"])}
    # The differ's own evaluation (bench/differ_replay.py scores the first sample with it).
    q = evaluate((r for _, r in iter_records(replay) if r is not None), labels)
    wrong = q["false_alerts"]
    kinds = Counter(w["label"] for w in wrong)
    lo, hi = wilson(len(wrong), q["alerts"])
    print(
        f"{split}: {len(labels)} labelled alerts; still alerting {q['alerts']}; not substantive "
        f"{len(wrong)} ({len(wrong) / max(q['alerts'], 1):.1%}, 90 % {lo:.1%} … {hi:.1%}): {dict(kinds)}"
    )
    missed = [m["outcome"] for m in q["misses"]]
    print(f"  labelled substantive and no longer alerting: {len(missed)} {missed}")
    for w in wrong[:errors]:
        print(f"  {w['commit'][:10]} {w['doc']}: {w['label']}")


def wilson(k: int, n: int, z: float = 1.645) -> tuple[float, float]:
    """90 % Wilson interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre, half = p + z * z / (2 * n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def agreement() -> None:
    """How often the two blind labellings agree (substantive or not; and on the kind)."""
    rows = read_jsonl(LABELS)
    same = sum(r["a"] == r["b"] for r in rows)
    binary = sum((r["a"] == "substantive") == (r["b"] == "substantive") for r in rows)
    print(f"{len(rows)} alerts: same kind {same}, same substantive-or-not {binary}")
    print(f"  labels: {dict(Counter(r['label'] for r in rows))}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("replay", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--dev", type=int, default=100)
    s.add_argument("--test", type=int, default=100)
    s.add_argument("--seed", type=int, default=20261208)
    s.add_argument("--round2", action="store_true", help="outside both samples; held-out alerts: test2")
    c = sub.add_parser("score")
    c.add_argument("replay", type=Path)
    c.add_argument("--split", choices=("dev", "test", "test2", "all"), default="dev")
    c.add_argument("--errors", type=int, default=0)
    sub.add_parser("agreement")
    args = ap.parse_args()
    if args.cmd == "sample":
        sample(args.replay, args.out, args.dev, args.test, args.seed, args.round2)
    elif args.cmd == "score":
        score(args.replay, args.split, args.errors)
    else:
        agreement()


if __name__ == "__main__":
    main()
