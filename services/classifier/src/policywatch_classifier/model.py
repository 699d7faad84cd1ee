"""The trained linear model: TF-IDF word + character n-grams, one logistic regression per category.

The artefact (``data/model/classifier-model.joblib``) is produced by ``train.py``. It holds the
two fitted vectorisers, a weight matrix (float16, categories × features), biases, and the
training metadata (data sets, their licences, counts, a content hash that names the version).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy.sparse as sp

MODEL_FILE = "classifier-model.joblib"


def model_path() -> Path:
    return Path(str(resources.files("policywatch_classifier").joinpath("data", "model", MODEL_FILE)))


@dataclass
class LinearModel:
    version: str
    categories: list[str]
    word: Any  # fitted TfidfVectorizer (word n-grams)
    char: Any  # fitted TfidfVectorizer (char_wb n-grams)
    weights: np.ndarray  # (n_categories, n_features), float16 on disk
    bias: np.ndarray  # (n_categories,)
    meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""  # sha256 prefix of the artefact file (names the exact model in model_version)

    def features(self, texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([self.word.transform(texts), self.char.transform(texts)], format="csr")

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n_texts, n_categories) probabilities."""
        if not texts:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        x = self.features(texts)
        z = np.asarray(x @ self._w32.T) + self.bias
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)

    @property
    def _w32(self) -> np.ndarray:
        w = self.__dict__.get("_w32_cache")
        if w is None:
            w = self.weights.astype(np.float32)
            self.__dict__["_w32_cache"] = w
        return w

    def dump(self, path: Path) -> str:
        """Write the artefact; returns its sha256 (first 12 hex)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": self.version,
            "categories": self.categories,
            "word": self.word,
            "char": self.char,
            "weights": self.weights.astype(np.float16),
            "bias": self.bias.astype(np.float32),
            "meta": self.meta,
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
    return LinearModel(
        version=raw["version"],
        categories=list(raw["categories"]),
        word=raw["word"],
        char=raw["char"],
        weights=raw["weights"],
        bias=raw["bias"],
        meta=raw.get("meta", {}),
        digest=digest,
    )


@lru_cache(maxsize=1)
def get_model() -> LinearModel | None:
    return load_model()
