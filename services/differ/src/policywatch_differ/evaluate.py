"""Quality of a replay against hand labels (``tests/data/differ/labels.jsonl``).

* recall on substantive changes: labelled-substantive lines that alerted;
  ``recall_distinct`` also counts a substantive line whose version had already been
  alerted (a change rolled back and rolled out again is reported once — by design);
* share of alerts that are not substantive, among the labelled lines that alerted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def load_labels(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return {rec["commit"]: rec for rec in (json.loads(line) for line in fh if line.strip())}


def evaluate(results: Iterable[dict[str, Any]], labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    alerted_versions: set[tuple[str, str]] = set()
    sub = sub_alert = sub_covered = 0
    alerts = nonsub_alerts = 0
    by_label: Counter[str] = Counter()
    alerts_by_label: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    false_alerts: list[dict[str, Any]] = []
    for r in results:
        change = r.get("change") or {}
        doc = f"{r.get('service')}/{r.get('document')}"
        to = (change.get("to_version") or {}).get("version_id")
        if r.get("alert") and to:
            alerted_versions.add((doc, to))
        lab = labels.get(str(r.get("commit")))
        if lab is None:
            continue
        by_label[lab["label"]] += 1
        if r.get("alert"):
            alerts += 1
            alerts_by_label[lab["label"]] += 1
            if not lab["substantive"]:
                nonsub_alerts += 1
                false_alerts.append({"commit": r["commit"], "doc": doc, "label": lab["label"]})
        if lab["substantive"]:
            sub += 1
            if r.get("alert"):
                sub_alert += 1
                sub_covered += 1
            elif to and (doc, to) in alerted_versions and r.get("outcome") == "reverted":
                sub_covered += 1
            else:
                misses.append({"commit": r["commit"], "doc": doc, "outcome": r.get("outcome")})
    return {
        "labelled": sum(by_label.values()),
        "labels": dict(by_label),
        "substantive": sub,
        "recall": sub_alert / sub if sub else None,
        "recall_distinct": sub_covered / sub if sub else None,
        "alerts": alerts,
        "non_substantive_alert_share": nonsub_alerts / alerts if alerts else None,
        "alerts_by_label": dict(alerts_by_label),
        "misses": misses,
        "false_alerts": false_alerts,
    }
