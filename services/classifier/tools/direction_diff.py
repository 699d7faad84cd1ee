"""Which tags would a change of the direction rules flip on the recorded corpus? (review aid)

    .venv/bin/policywatch replay ../shared/corpus/vlopses-us-versions.jsonl.xz --out /tmp/replay.jsonl
    .venv/bin/python services/classifier/tools/direction_diff.py /tmp/replay.jsonl [--base HEAD~1]
        [--sample 20] [--seed 1]

Every classified change of the replay output goes through ``pipeline.classify_change`` once; each
tag's direction is computed by ``direction.py`` as committed at ``--base`` (read with ``git
show``) and by the working tree's. Prints how many tags changed, by (category, old, new), the CPU
each version of the rules spent, and a seeded sample of the changed tags with their word diff
(``[-deleted-]{+inserted+}``) to read one by one: a precision check on every tag of the corpus,
beside ``direction_eval.py``'s accuracy on 500 labelled ones.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import time
import types
from collections import Counter
from pathlib import Path
from typing import Any

from policywatch_classifier import pipeline
from policywatch_classifier.direction import direction_of
from policywatch_differ.change import word_diff
from policywatch_shared.events import ChangeEvent

ROOT = Path(__file__).resolve().parents[3]
MODULE = "services/classifier/src/policywatch_classifier/direction.py"


def base_rules(rev: str) -> Any:
    """``direction_of`` of ``direction.py`` at git revision ``rev``."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:{MODULE}"], check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType("direction_base")
    exec(compile(source, f"{rev}:{MODULE}", "exec"), module.__dict__)  # our own file, at REV
    return module.direction_of


def changed_words(before: str, after: str) -> str:
    """The differ's word diff, only what changed: ``[-deleted-]{+inserted+}``."""
    return " ".join(
        f"[-{op.text.strip()}-]" if op.op == "delete" else f"{{+{op.text.strip()}+}}"
        for op in word_diff(before, after)
        if op.op != "equal"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("replay", type=Path, help="output of policywatch replay (JSON Lines)")
    ap.add_argument("--base", default="HEAD", help="git revision of the rules to compare with")
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    events: list[tuple[str, ChangeEvent]] = []
    with args.replay.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("classification"):
                events.append((row["change"]["document_id"], ChangeEvent.model_validate(row["change"])))
    old_rules = base_rules(args.base)
    cpu = {"base": 0.0, "new": 0.0}
    tags: list[tuple[str, str, str, str, str, str, str]] = []
    current = {"document": ""}  # the change being classified, for the tags' listing

    def both(change: str, category: str, **texts: Any) -> Any:
        t0 = time.process_time()
        old = old_rules(change, category, **texts)
        t1 = time.process_time()
        new = direction_of(change, category, **texts)  # type: ignore[arg-type]
        cpu["base"], cpu["new"] = cpu["base"] + t1 - t0, cpu["new"] + time.process_time() - t1
        before, after = texts.get("before") or "", texts.get("after") or ""
        tags.append((current["document"], change, category, before, after, old.value, new.value))
        return new

    pipeline.direction_of = both  # type: ignore[assignment]
    for doc_id, event in events:
        current["document"] = doc_id
        pipeline.classify_change(event)
    changed = [t for t in tags if t[5] != t[6]]
    reworded = sum(t[1] == "reworded" for t in tags)
    print(f"{len(events)} classified changes, {len(tags)} tags ({reworded} on reworded passages)")
    print(f"direction changed on {len(changed)} tags")
    print(f"CPU of the direction rules: base {cpu['base']:.2f} s, working tree {cpu['new']:.2f} s")
    for (category, old, new), n in Counter((t[2], t[5], t[6]) for t in changed).most_common():
        print(f"  {category:28s} {old:9s} -> {new:9s} {n}")
    rng = random.Random(args.seed)
    for doc, _, category, before, after, old, new in rng.sample(changed, min(args.sample, len(changed))):
        print(f"\n### {doc} · {category}: {old} -> {new}\n  {changed_words(before, after)[:600]}")


if __name__ == "__main__":
    main()
