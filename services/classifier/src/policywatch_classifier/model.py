"""The trained model: per category, a logistic regression on TF-IDF word + character n-grams,
blended with a logistic regression on dense passage embeddings (``embedding.py``):

    p = (1 − b) · σ(TF-IDF · w + c) + b · σ(embedding · v + d)

The artefact (``data/model/classifier-model.joblib``) is produced by ``train.py``. It holds the
two fitted vectorisers as plain objects (``tfidf.CompactTfidf``: no scikit-learn at run time),
a weight matrix (float16, categories × features), biases, the embedding weights (float16,
categories × 256), the blend weight ``b``, the name of the embedding table
(``embedding.EMBEDDING_ID``) and the training metadata (data sets, licences, counts). An
artefact without embedding weights is the TF-IDF model alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp

from policywatch_classifier.names import mask_names
from policywatch_classifier.tfidf import CompactTfidf

MODEL_FILE = "classifier-model.joblib"


def model_path() -> Path:
    return Path(str(resources.files("policywatch_classifier").joinpath("data", "model", MODEL_FILE)))


@dataclass
class LinearModel:
    version: str
    categories: list[str]
    word: CompactTfidf  # word 1–2-grams
    char: CompactTfidf  # char_wb 3–5-grams
    weights: np.ndarray  # (n_categories, n_features), float16 on disk
    bias: np.ndarray  # (n_categories,)
    meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""  # sha256 prefix of the artefact file (names the exact model in model_version)
    emb_weights: np.ndarray | None = None  # (n_categories, dim) on passage embeddings
    emb_bias: np.ndarray | None = None
    blend: float = 0.0  # b: share of the embedding model in the probability
    embedding: str = ""  # embedding.EMBEDDING_ID the weights were fitted on
    #: Platform names were written as one word in the training rows (``names.mask_names``, model
    #: 1.8.0): the passages the model reads are masked the same way.
    masks_names: bool = False

    def features(self, texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([self.word.transform(texts), self.char.transform(texts)], format="csr")

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n_texts, n_categories) probabilities."""
        if not texts:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        if self.masks_names:
            texts = [mask_names(t) for t in texts]
        x = self.features(texts)
        p = sigmoid(_sparse_dot(x, self._w32t) + self.bias)
        if self.emb_weights is not None and self.emb_bias is not None and self.blend > 0:
            from policywatch_classifier.embedding import get_embedder

            embedder = get_embedder()
            if embedder.name != self.embedding:
                raise ValueError(f"model fitted on embedding {self.embedding!r}, installed {embedder.name!r}")
            e = embedder.embed(texts)
            pe = sigmoid(e @ self._v32.T + self.emb_bias)
            p = (1.0 - self.blend) * p + self.blend * pe
        return p.astype(np.float32)

    # Cast once per model, not per predict_proba call (the hot path).
    @cached_property
    def _w32t(self) -> np.ndarray:
        """(n_features, n_categories) float32, contiguous: the rows a passage's features pick."""
        return np.ascontiguousarray(self.weights.astype(np.float32).T)

    @cached_property
    def _v32(self) -> np.ndarray:
        assert self.emb_weights is not None
        return self.emb_weights.astype(np.float32)

    def dump(self, path: Path) -> str:
        """Write the artefact; returns its sha256 (first 12 hex)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": self.version,
            "categories": self.categories,
            "word": self.word.to_dict(),
            "char": self.char.to_dict(),
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "meta": self.meta,
            "mask_names": self.masks_names,
        }
        if self.emb_weights is not None and self.emb_bias is not None:
            payload["emb"] = {
                "embedding": self.embedding,
                "weights": self.emb_weights.astype(np.float16),
                "bias": self.emb_bias.astype(np.float32),
                "blend": float(self.blend),
            }
        joblib.dump(payload, path, compress=("xz", 6))
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def load_model(path: Path | None = None) -> LinearModel | None:
    """Load the artefact; ``None`` when it is missing (the tagger then runs on rules alone)."""
    p = path or model_path()
    if not p.exists():
        return None
    raw = joblib.load(p)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()[:8]
    emb = raw.get("emb") or {}
    return LinearModel(
        version=raw["version"],
        categories=list(raw["categories"]),
        word=_vectoriser(raw["word"]),
        char=_vectoriser(raw["char"]),
        weights=raw["weights"],
        bias=raw["bias"],
        meta=raw.get("meta", {}),
        digest=digest,
        emb_weights=emb.get("weights"),
        emb_bias=emb.get("bias"),
        blend=float(emb.get("blend", 0.0)),
        embedding=str(emb.get("embedding", "")),
        masks_names=bool(raw.get("mask_names", False)),
    )


def _vectoriser(stored: Any) -> CompactTfidf:
    # Artefacts before model 1.2.0 pickled scikit-learn vectorisers (loading them imports it).
    return CompactTfidf.from_dict(stored) if isinstance(stored, dict) else CompactTfidf.from_sklearn(stored)


#: Non-zeros per step of ``_sparse_dot``: its products buffer (nnz × categories, float32 then
#: float64) was ~25 MB for 256 corpus passages and ~60 MB for long ones, the classifier's largest
#: transient allocation; 16,384 non-zeros bound it at ~4 MB for the same sums.
DOT_CHUNK_NNZ = 16_384


def _sparse_dot(x: sp.csr_matrix, wt: np.ndarray, chunk_nnz: int = DOT_CHUNK_NNZ) -> np.ndarray:
    """``x @ wt`` for a few sparse rows against 100k dense weight rows, in float64.

    scipy's ``x @ wt`` casts the whole float32 weight matrix to float64 on every call (x is
    float64): 9 ms per call, a fifth of the classifier's CPU under load. Picking only the rows the
    passages use is ~35× faster and sums the same products in the same order. Rows go in steps of
    about ``chunk_nnz`` non-zeros (a row is never split), which bounds the products buffer."""
    out = np.zeros((x.shape[0], wt.shape[1]), dtype=np.float64)
    if x.nnz == 0:
        return out
    indptr = x.indptr
    row = 0
    while row < x.shape[0]:
        # Last row whose end stays within the step (at least one row per step).
        stop = max(row + 1, int(np.searchsorted(indptr, indptr[row] + chunk_nnz, side="right")) - 1)
        lo, hi = indptr[row], indptr[stop]
        if hi > lo:
            products = wt[x.indices[lo:hi]] * x.data[lo:hi, None]
            starts = indptr[row:stop] - lo
            filled = np.diff(indptr[row : stop + 1]) > 0  # reduceat would copy a neighbour's row
            out[row:stop][filled] = np.add.reduceat(products, starts[filled], axis=0)
        row = stop
    return out


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@lru_cache(maxsize=1)
def get_model() -> LinearModel | None:
    return load_model()
