"""Direction of a tagged passage change: does it expand what the platform may do (or reduce the
user's rights/information), restrict it, or only clarify/reorganise?

Written rules (docs/classifier.md, "Direction"):
1. A removed passage in a *disclosure* category (privacy categories: what is collected, shared,
   kept, protected, who is a child …) → ``expands``: the user loses information or a stated
   protection. A removed passage in a *platform-power* category (licence, liability, disputes,
   termination) → ``restricts`` when it granted the platform a power, else ``expands``.
2. An added passage → ``expands`` if it grants the platform a power ("we may", "license",
   "share", "train", "without notice" …) more than it promises protections; ``restricts`` if it
   promises protections ("we do not", "you can opt out", "we will notify" …); else ``neutral``.
3. A reworded passage → compare the words inserted and deleted: inserted power words or deleted
   protection words → ``expands``; the reverse → ``restricts``; otherwise ``neutral``.
"""

from __future__ import annotations

import re
from typing import Literal

from policywatch_shared.events import DiffOp, Direction

POWER_CATEGORIES = {"content_license", "liability", "dispute_resolution", "account_termination"}

_POWER = re.compile(
    r"\b(we (may|can|might|will) (also )?(use|share|sell|disclose|collect|transfer|train|retain|keep|"
    r"combine|process|analy[sz]e|access|license|suspend|terminate|remove|change|modify)|"
    r"reserve the right|sole discretion|at any time|without (prior )?notice|without (your )?consent|"
    r"irrevocabl\w*|perpetual|royalty[- ]free|sublicens\w*|transferable|worldwide licen[cs]e|"
    r"train\w*|fine[- ]tun\w*|sell|sale|share|sharing|disclos\w*|third[- ]part\w*|partners?|advertis\w*|"
    r"indefinitely|as long as we|waive\w*|arbitrat\w*|class action|not (be )?liable|as is|indemnif\w*|"
    r"publicly available|biometric|precise location|infer\w*|profil\w*)\b",
    re.I,
)
_PROTECT = re.compile(
    r"\b(we (do not|don.t|will not|won.t|never|cannot|can.t)|not (be )?used to|only (with|if|when)|"
    r"opt[- ]?(out|in)|your consent|you (can|may) (delete|object|withdraw|opt|limit|disable|turn off|choose|"
    r"access|correct|export)|right to (access|delete|object|opt|know|correct|port)|we will (notify|inform|"
    r"ask)|prior notice|advance notice|\d+ days.? notice|encrypt\w*|safeguard\w*|protect\w*|delete\w*|"
    r"minimi[sz]\w*|limited|restrict\w*|anonymi[sz]\w*|de-identified|aggregate\w*|confidential\w*)\b",
    re.I,
)

ChangeKindLit = Literal["added", "removed", "reworded"]


_NEGATED = re.compile(r"\b(not|never|no|n.t|without your)\b(\s+\S+){1,4}", re.I)


def _count(rx: re.Pattern[str], text: str) -> int:
    if not text:
        return 0
    if rx is _POWER:
        # "we do not sell" grants no power: drop the negated words before counting powers.
        text = _NEGATED.sub(" ", text)
    return len(rx.findall(text))


def _lean(text: str) -> int:
    """+1 when the text grants the platform powers more than it promises protections, −1 the reverse."""
    power, protect = _count(_POWER, text), _count(_PROTECT, text)
    if power > protect:
        return 1
    if protect > power:
        return -1
    return 0


def _diff_sides(before: str, after: str, word_diff: list[DiffOp] | None) -> tuple[str, str]:
    if word_diff:
        ins = " ".join(op.text for op in word_diff if op.op == "insert")
        dele = " ".join(op.text for op in word_diff if op.op == "delete")
        return ins, dele
    # No word diff from the differ: compare word sets (order-insensitive approximation).
    bw, aw = before.split(), after.split()
    bs, as_ = set(bw), set(aw)
    return " ".join(w for w in aw if w not in bs), " ".join(w for w in bw if w not in as_)


def direction_of(
    change: ChangeKindLit,
    category: str,
    *,
    before: str | None = None,
    after: str | None = None,
    word_diff: list[DiffOp] | None = None,
) -> Direction:
    if change == "removed":
        if category in POWER_CATEGORIES and _lean(before or "") > 0:
            return Direction.RESTRICTS
        return Direction.EXPANDS
    if change == "added":
        lean = _lean(after or "")
        if category in POWER_CATEGORIES and lean >= 0:
            return Direction.EXPANDS
        return {1: Direction.EXPANDS, -1: Direction.RESTRICTS}.get(lean, Direction.NEUTRAL)
    inserted, deleted = _diff_sides(before or "", after or "", word_diff)
    power_delta = _count(_POWER, inserted) - _count(_POWER, deleted)
    protect_delta = _count(_PROTECT, inserted) - _count(_PROTECT, deleted)
    score = power_delta - protect_delta
    if score > 0:
        return Direction.EXPANDS
    if score < 0:
        return Direction.RESTRICTS
    return Direction.NEUTRAL


def has_opt_out(text: str) -> bool:
    """Does the text describe a way to opt out / object / turn the practice off?"""
    return bool(
        re.search(
            r"\b(opt[- ]?out|opt[- ]in|object|objection|turn (it )?off|disable|withdraw (your )?consent|"
            r"unless you (have )?(opted|objected|turned)|in your settings|choose not to|decline)\b",
            text,
            re.I,
        )
    )
