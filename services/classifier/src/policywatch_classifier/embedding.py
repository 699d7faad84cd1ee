"""Dense passage embeddings from static token vectors (WordLlama ``l2_supercat``, 256 dimensions).

The weights (32,000 tokens × 256, float16, 16 MB) and the tokenizer configuration ship inside the
``wordllama`` wheel on PyPI (MIT). They are read straight from the installed package files: the
package's own loader is not used, because it falls back to downloading from the Hugging Face hub
when a file is missing, and its ``inference`` module configures the root logger on import. Here a
missing file is an error (``EmbeddingUnavailable``); nothing is ever downloaded.

An embedding is the mean of the passage's token vectors, L2-normalised (what WordLlama's
``embed(norm=True)`` computes, without padding). Static embeddings cost one table look-up per
token: thousands of passages per second on one core.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = "wordllama"
WEIGHTS = ("weights", "l2_supercat_256.safetensors")
TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")
TENSOR = "embedding.weight"
#: Names the embedding in the model artefact: a different table would silently change every score.
EMBEDDING_ID = "wordllama-l2_supercat-256"
MAX_TOKENS = 512  # longer passages: the first 512 tokens carry the topic; bounds the cost
#: Passages per look-up: bounds the token-vector buffer (32 × 512 tokens × 256 × 4 B = 16 MB).
BATCH = 32


class EmbeddingUnavailable(RuntimeError):
    """The ``wordllama`` package (weights or tokenizer file) is not installed."""


def package_dir() -> Path:
    # find_spec locates the package without importing it (its import has logging side effects).
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingUnavailable(f"the {PACKAGE!r} package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


class StaticEmbedder:
    """Mean-pooled, L2-normalised static token embeddings."""

    def __init__(self, table: np.ndarray, tokenizer: Any, name: str = EMBEDDING_ID) -> None:
        self.table = table  # (vocab, dim), float16: half the memory; cast per batch
        self.tokenizer = tokenizer
        self.name = name
        self.dim = int(table.shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n_texts, dim) float32; an empty text gives a zero vector."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            out[start : start + BATCH] = self._embed_batch(texts[start : start + BATCH])
        return out

    def token_ids(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's table rows: its first ``MAX_TOKENS`` token ids (int64, within the table)."""
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        last = self.table.shape[0] - 1
        return [np.clip(np.asarray(e.ids[:MAX_TOKENS], dtype=np.int64), 0, last) for e in encodings]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ids = self.token_ids(texts)
        lengths = np.array([len(x) for x in ids])
        nonempty = lengths > 0
        if not nonempty.any():
            return out
        flat = np.concatenate([x for x in ids if len(x)])
        vecs = self.table[flat].astype(np.float32)
        starts = np.concatenate([[0], np.cumsum(lengths[nonempty])[:-1]])
        sums = np.add.reduceat(vecs, starts, axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        out[nonempty] = sums / np.maximum(norms, 1e-12)  # mean then normalise == normalise the sum
        return out


@lru_cache(maxsize=1)  # one 16 MB table per process
def get_embedder() -> StaticEmbedder:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    root = package_dir()
    weights, tok = root.joinpath(*WEIGHTS), root.joinpath(*TOKENIZER)
    for f in (weights, tok):
        if not f.is_file():
            raise EmbeddingUnavailable(f"{f} is missing (reinstall {PACKAGE})")
    table = load_file(str(weights))[TENSOR].astype(np.float16, copy=False)
    tokenizer = Tokenizer.from_file(str(tok))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    bound_bpe_cache(tokenizer)
    return StaticEmbedder(table, tokenizer)


#: Entries of the BPE model's word cache. This tokenizer has no pre-tokenizer, so a "word" is a
#: whole passage: its default cache keeps up to 10,000 passages shorter than 256 bytes with their
#: symbols, ~8 KB each — ~80 MB of the classifier's resident memory (Rust memory, invisible to
#: tracemalloc; +84 MB after tokenizing the passages of 400 distinct policies), for hits that
#: hardly happen: the provision index and the tagger's memo already skip passages seen before.
BPE_CACHE_ENTRIES = 0


def bound_bpe_cache(tokenizer: Any, entries: int = BPE_CACHE_ENTRIES) -> None:
    # ``_resize_cache`` is the tokenizers package's (0.23) own method, underscored; pinned in
    # uv.lock and checked by a unit test, so an upgrade that drops it fails loudly.
    tokenizer.model._resize_cache(entries)
