"""Passage tagger: lexicon rules + the trained linear model → categories with confidence and evidence.

Combination (per category, documented in docs/classifier.md):
    score = max(p, r · (0.75 + 0.25 · p), (p + r) / 2)
where p is the model probability and r the best rule weight (0 when no rule fired). A strong rule
alone (r ≥ 0.9) clears every threshold; a weak rule needs the model's agreement; the model alone
can tag a passage no rule covers. A category is kept when score ≥ its threshold
(``data/thresholds.yaml``, tuned on the dev split of the evaluation set only).
Evidence: the sentences of the best rule hit, else the sentence the model scores highest.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from policywatch_shared.events import CategoryTag

from policywatch_classifier.model import LinearModel, get_model
from policywatch_classifier.rules import Lexicon, get_lexicon
from policywatch_classifier.taxonomy import Taxonomy, get_taxonomy, load_data
from policywatch_classifier.text import split_sentences

DEFAULT_THRESHOLD = 0.6
MAX_EVIDENCE_CHARS = 400
#: Recent passages' tags, by text. The service tags a change's new passages twice — when the
#: provision index re-indexes the document and when the change itself is classified — and tags
#: depend on the text alone, so the second time is a look-up. Small: only the latest changes matter.
MEMO_SIZE = 512
MEMO_MAX_CHARS = 5000  # longer texts are not remembered (bounds the memo at a few MB)

_Memo = tuple[tuple[str, float, tuple[str, ...]], ...]


#: Share of the lexicon rule weight in a category's score. Since model 1.5.0 (trained with the
#: synthetic passages, its out-of-fold average precision 0.77 -> 0.82) a linear blend beats the
#: earlier max(p, r(0.75 + 0.25p), (p + r)/2), in which a strong rule alone tagged: nested dev
#: macro-F1 0.797 vs 0.778 (0.65-0.75 all give 0.791-0.797; dev_ideas.py combine). A rule now
#: raises the model's score but no longer tags against it.
RULE_BLEND = 0.3


def combine(p: float, r: float) -> float:
    return (1.0 - RULE_BLEND) * p + RULE_BLEND * r


@dataclass(frozen=True)
class Thresholds:
    version: str
    default: float
    per_category: dict[str, float]

    def of(self, category: str) -> float:
        return self.per_category.get(category, self.default)


@lru_cache(maxsize=1)
def get_thresholds() -> Thresholds:
    raw = load_data("thresholds.yaml") or {}
    return Thresholds(
        version=str(raw.get("version", "0")),
        default=float(raw.get("default", DEFAULT_THRESHOLD)),
        per_category={k: float(v) for k, v in (raw.get("thresholds") or {}).items()},
    )


def _clip(sentence: str) -> str:
    return sentence if len(sentence) <= MAX_EVIDENCE_CHARS else sentence[: MAX_EVIDENCE_CHARS - 1] + "…"


class PassageTagger:
    """Tags passages independently (no state between passages)."""

    def __init__(
        self,
        *,
        taxonomy: Taxonomy | None = None,
        lexicon: Lexicon | None = None,
        model: LinearModel | None = None,
        thresholds: Thresholds | None = None,
        use_model: bool = True,
    ) -> None:
        self.taxonomy = taxonomy or get_taxonomy()
        self.lexicon = lexicon or get_lexicon()
        self.model = (model or get_model()) if use_model else None
        self.thresholds = thresholds or get_thresholds()
        self._ids = self.taxonomy.ids
        if self.model is not None and self.model.categories != self._ids:
            # Artefact trained for another taxonomy version: map what matches, drop the rest.
            self._col = {c: self.model.categories.index(c) for c in self._ids if c in self.model.categories}
        else:
            self._col = {c: i for i, c in enumerate(self._ids)}
        self._memo: OrderedDict[str, _Memo] = OrderedDict()
        self._memo_owner: tuple[object, ...] = (self.taxonomy, self.lexicon, self.model, self.thresholds)

    def combined(self, p: float, r: float) -> float:
        # Without a model the rule weight is the score (rules-only baseline and fallback); without
        # rules (the model-only diagnostic) the model's probability is.
        if self.model is None:
            return r
        return combine(p, r) if self.lexicon.rules else p

    @property
    def version(self) -> str:
        if self.model is None:
            model = "rules-only"
        else:
            model = f"m{self.model.version}" + (f"-{self.model.digest}" if self.model.digest else "")
        return f"tax{self.taxonomy.version}+lex{self.lexicon.version}+{model}+thr{self.thresholds.version}"

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[list[str]], list[dict]]:
        """Raw (model p, rule r) matrices plus sentences and rule hits, for tuning and evaluation."""
        n, k = len(texts), len(self._ids)
        p = np.zeros((n, k), dtype=np.float32)
        if self.model is not None and n:
            probs = self.model.predict_proba(list(texts))
            for j, c in enumerate(self._ids):
                if c in self._col:
                    p[:, j] = probs[:, self._col[c]]
        r = np.zeros((n, k), dtype=np.float32)
        sentences = [split_sentences(t) for t in texts]
        hits = []
        for i, t in enumerate(texts):
            h = self.lexicon.match(t, sentences[i])
            hits.append(h)
            for j, c in enumerate(self._ids):
                if c in h:
                    r[i, j] = h[c].score
        return p, r, sentences, hits

    def tag(self, texts: Sequence[str]) -> list[list[CategoryTag]]:
        """Tags per text (fresh objects: callers may set their direction)."""
        # Parts swapped after construction (tests, tuning) invalidate the memo. The parts
        # themselves are held and compared by identity: a freed part's id() can be reused.
        owner = (self.taxonomy, self.lexicon, self.model, self.thresholds)
        if any(a is not b for a, b in zip(owner, self._memo_owner, strict=True)):
            self._memo.clear()
            self._memo_owner = owner
        out: list[list[CategoryTag] | None] = [None] * len(texts)
        missing: list[int] = []
        for i, text in enumerate(texts):
            memo = self._memo.get(text)
            if memo is None:
                missing.append(i)
                continue
            self._memo.move_to_end(text)
            out[i] = [CategoryTag(id=c, confidence=conf, evidence=list(ev)) for c, conf, ev in memo]
        if missing:
            fresh = self._tag([texts[i] for i in missing])
            for i, tags in zip(missing, fresh, strict=True):
                out[i] = tags
                if len(texts[i]) <= MEMO_MAX_CHARS:
                    self._memo[texts[i]] = tuple((t.id, t.confidence, tuple(t.evidence)) for t in tags)
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return [tags for tags in out if tags is not None]

    def _tag(self, texts: Sequence[str]) -> list[list[CategoryTag]]:
        p, r, sentences, hits = self.scores(texts)
        out: list[list[CategoryTag]] = []
        need_model_evidence: list[tuple[int, int]] = []
        for i in range(len(texts)):
            tags: list[CategoryTag] = []
            for j, c in enumerate(self._ids):
                s = self.combined(float(p[i, j]), float(r[i, j]))
                if s < self.thresholds.of(c):
                    continue
                hit = hits[i].get(c)
                evidence = [_clip(e) for e in hit.evidence] if hit else []
                if not evidence:
                    need_model_evidence.append((i, len(tags)))
                tags.append(CategoryTag(id=c, confidence=round(min(1.0, s), 3), evidence=evidence))
            tags.sort(key=lambda t: -t.confidence)
            out.append(tags)
        if need_model_evidence:
            self._model_evidence(out, sentences)
        return out

    def _model_evidence(self, out: list[list[CategoryTag]], sentences: list[list[str]]) -> None:
        """Quote the sentence the model scores highest for tags no rule explains."""
        todo = [(i, t) for i, tags in enumerate(out) for t in tags if not t.evidence]
        if self.model is None:
            return
        # A one-sentence passage's best sentence is that sentence: no model pass needed for it.
        uniq = sorted({i for i, _ in todo if len(sentences[i]) > 1})
        flat = [s for i in uniq for s in sentences[i]]
        probs = self.model.predict_proba(flat) if flat else np.zeros((0, 0))
        offset: dict[int, int] = {}
        pos = 0
        for i in uniq:
            offset[i] = pos
            pos += len(sentences[i])
        for i, tag in todo:
            sents = sentences[i]
            if not sents:
                continue
            if len(sents) == 1:
                tag.evidence = [_clip(sents[0])]
                continue
            col = self._col[tag.id]
            block = probs[offset[i] : offset[i] + len(sents), col]
            tag.evidence = [_clip(sents[int(np.argmax(block))])]


@lru_cache(maxsize=1)
def get_tagger() -> PassageTagger:
    return PassageTagger()
