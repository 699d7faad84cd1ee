"""TF-IDF transform of a fitted scikit-learn ``TfidfVectorizer``, without scikit-learn at run time.

Importing scikit-learn costs ~75 MB of resident memory, more than a quarter of the classifier
service's budget (300 MB); the service only needs ``transform``. ``CompactTfidf.from_sklearn``
copies what ``transform`` uses (vocabulary, idf, analyser options) into plain Python/NumPy
objects at training time; ``transform`` reproduces scikit-learn's analysers (``word`` with a
token pattern, ``char_wb``), raw counts, sublinear tf, idf weighting and l2 normalisation.
Identity with scikit-learn is unit-tested (tests/unit/classifier/test_tfidf_embedding.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

_WHITE_SPACES = re.compile(r"\s\s+")  # scikit-learn's _VectorizerMixin._white_spaces


def _strip_accents_unicode(s: str) -> str:
    try:
        s.encode("ASCII", errors="strict")
        return s
    except UnicodeEncodeError:
        normalized = unicodedata.normalize("NFKD", s)
        return "".join(c for c in normalized if not unicodedata.combining(c))


@dataclass
class CompactTfidf:
    analyzer: str  # "word" | "char_wb"
    ngram_range: tuple[int, int]
    lowercase: bool
    strip_accents: str | None  # None | "unicode"
    token_pattern: str
    sublinear_tf: bool
    norm: str | None  # "l2" | None
    vocabulary: dict[str, int]
    idf: np.ndarray | None  # float64, None when use_idf was off

    @classmethod
    def from_sklearn(cls, vec: Any) -> CompactTfidf:
        supported = (
            vec.analyzer in ("word", "char_wb")
            and vec.strip_accents in (None, "unicode")
            and vec.preprocessor is None
            and vec.tokenizer is None
            and vec.stop_words is None
            and vec.input == "content"
            and vec.norm in ("l2", None)
            and not vec.binary
        )
        if not supported:
            raise ValueError("CompactTfidf supports word/char_wb analysers with default pre-processing only")
        return cls(
            analyzer=vec.analyzer,
            ngram_range=tuple(vec.ngram_range),  # type: ignore[arg-type]
            lowercase=bool(vec.lowercase),
            strip_accents=vec.strip_accents,
            token_pattern=str(vec.token_pattern),
            sublinear_tf=bool(vec.sublinear_tf),
            norm=vec.norm,
            vocabulary={str(k): int(v) for k, v in vec.vocabulary_.items()},
            idf=np.asarray(vec.idf_, dtype=np.float64) if vec.use_idf else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain objects only: loading the artefact must not need scikit-learn (or this class)."""
        return {
            "analyzer": self.analyzer,
            "ngram_range": list(self.ngram_range),
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "token_pattern": self.token_pattern,
            "sublinear_tf": self.sublinear_tf,
            "norm": self.norm,
            "vocabulary": self.vocabulary,
            "idf": self.idf,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompactTfidf:
        lo, hi = d["ngram_range"]
        return cls(
            analyzer=d["analyzer"],
            ngram_range=(int(lo), int(hi)),
            lowercase=bool(d["lowercase"]),
            strip_accents=d["strip_accents"],
            token_pattern=d["token_pattern"],
            sublinear_tf=bool(d["sublinear_tf"]),
            norm=d["norm"],
            vocabulary=d["vocabulary"],
            idf=d["idf"],
        )

    def build_analyzer(self) -> Callable[[str], list[str]]:
        lower, accents = self.lowercase, self.strip_accents == "unicode"
        lo, hi = self.ngram_range

        def preprocess(doc: str) -> str:
            if lower:
                doc = doc.lower()
            return _strip_accents_unicode(doc) if accents else doc

        if self.analyzer == "char_wb":

            def char_wb(doc: str) -> list[str]:
                grams: list[str] = []
                for w in _WHITE_SPACES.sub(" ", preprocess(doc)).split():
                    w = " " + w + " "
                    w_len = len(w)
                    for n in range(lo, hi + 1):
                        offset = 0
                        grams.append(w[offset : offset + n])
                        while offset + n < w_len:
                            offset += 1
                            grams.append(w[offset : offset + n])
                        if offset == 0:  # a short word (w_len < n) is counted once
                            break
                return grams

            return char_wb

        find_tokens = re.compile(self.token_pattern).findall

        def word(doc: str) -> list[str]:
            tokens: list[str] = find_tokens(preprocess(doc))
            if hi == 1:
                return tokens
            out = list(tokens) if lo == 1 else []
            n_tok = len(tokens)
            for n in range(max(lo, 2), min(hi + 1, n_tok + 1)):
                for i in range(n_tok - n + 1):
                    out.append(" ".join(tokens[i : i + n]))
            return out

        return word

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        analyze = self.build_analyzer()
        vocab = self.vocabulary
        indptr = [0]
        indices: list[int] = []
        values: list[int] = []
        for doc in texts:
            # Count the n-grams first (in C), then look each distinct one up: same counts per
            # feature (distinct grams have distinct columns), far fewer dictionary look-ups.
            for gram, count in Counter(analyze(doc)).items():
                j = vocab.get(gram)
                if j is not None:
                    indices.append(j)
                    values.append(count)
            indptr.append(len(indices))
        x = sp.csr_matrix(
            (
                np.asarray(values, dtype=np.float64),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(len(texts), len(vocab)),
        )
        x.sort_indices()
        if self.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1.0
        if self.idf is not None:
            x.data *= self.idf[x.indices]
        if self.norm == "l2":
            per_row = np.diff(x.indptr)
            rows = np.repeat(np.arange(x.shape[0]), per_row)
            norms = np.sqrt(np.bincount(rows, weights=x.data**2, minlength=x.shape[0]))
            norms[norms == 0.0] = 1.0
            x.data /= np.repeat(norms, per_row)
        return x
