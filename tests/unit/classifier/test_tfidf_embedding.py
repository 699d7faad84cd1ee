"""The run-time TF-IDF transform equals scikit-learn's; embeddings load offline from the wheel."""

from __future__ import annotations

import numpy as np
import pytest
from policywatch_classifier.embedding import EMBEDDING_ID, StaticEmbedder, get_embedder, package_dir
from policywatch_classifier.tfidf import CompactTfidf
from sklearn.feature_extraction.text import TfidfVectorizer

TEXTS = [
    "We may share your personal data with advertisers and measurement partners.",
    "Vous pouvez accéder à vos données; Café naïve résumé — ÆØÅ.",
    "You can opt out at any time.\n\nNew  paragraph\twith   irregular   spacing.",
    "",
    "   ",
    "a b c",
    "We keep a record of your request for 3 years. We delete logs after 90 days.",
    "Für Nutzer in der EU: Ihre Daten werden in die USA übertragen.",
]
UNSEEN = ["Brand-new wording, unseen n-grams: zyxwv qqq.", "résumé résumé résumé", "", "x"]


@pytest.mark.parametrize(
    "vec",
    [
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, strip_accents="unicode"),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=1, sublinear_tf=True),
        TfidfVectorizer(ngram_range=(1, 1)),
    ],
    ids=["word12", "char_wb35", "word1-plain"],
)
def test_compact_tfidf_equals_sklearn(vec: TfidfVectorizer) -> None:
    vec.fit(TEXTS)
    compact = CompactTfidf.from_dict(CompactTfidf.from_sklearn(vec).to_dict())
    for texts in (TEXTS, UNSEEN):
        want, got = vec.transform(texts), compact.transform(texts)
        assert want.shape == got.shape
        assert abs(want - got).max() < 1e-12 if want.nnz else got.nnz == 0
        assert np.array_equal(want.indptr, got.indptr)


def test_compact_tfidf_refuses_options_it_does_not_reproduce() -> None:
    vec = TfidfVectorizer(stop_words="english").fit(TEXTS)
    with pytest.raises(ValueError):
        CompactTfidf.from_sklearn(vec)


def test_embedder_loads_from_installed_package_and_is_normalised() -> None:
    root = package_dir()
    assert (root / "weights").is_dir()  # shipped inside the wheel: nothing downloaded
    emb = get_embedder()
    assert emb.name == EMBEDDING_ID and emb.table.dtype == np.float16
    v = emb.embed(
        [
            "We may share your personal data with advertisers.",
            "We share your information with advertising partners.",
            "You may terminate your account at any time.",
            "",
        ]
    )
    assert v.shape == (4, emb.dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:3], axis=1), 1.0, atol=1e-5)
    assert not v[3].any()  # empty text: zero vector
    assert v[0] @ v[1] > v[0] @ v[2]  # related sentences are closer


def test_embedding_is_independent_of_batch() -> None:
    emb = get_embedder()
    texts = ["We sell no data.", "Arbitration applies to all disputes between you and us.", "Hi"]
    batch = emb.embed(texts)
    single = np.vstack([emb.embed([t]) for t in texts])
    assert np.allclose(batch, single, atol=1e-6)


def test_static_embedder_mean_pools_token_vectors() -> None:
    class Enc:
        def __init__(self, ids: list[int]) -> None:
            self.ids = ids

    class Tok:
        def encode_batch(self, texts: list[str], add_special_tokens: bool = False) -> list[Enc]:
            return [Enc([int(c) for c in t]) for t in texts]

    table = np.array([[1, 0], [0, 1], [3, 4]], dtype=np.float16)
    out = StaticEmbedder(table, Tok(), name="t").embed(["01", "2", ""])
    assert np.allclose(out[0], [2**-0.5, 2**-0.5]) and np.allclose(out[1], [0.6, 0.8])
    assert not out[2].any()


def test_sparse_dot_equals_scipy_product_with_empty_rows() -> None:
    import scipy.sparse as sp
    from policywatch_classifier.model import _sparse_dot

    rng = np.random.default_rng(7)
    wt = rng.normal(size=(500, 6)).astype(np.float32)
    dense = rng.random((5, 500)) * (rng.random((5, 500)) < 0.05)
    dense[1] = 0.0  # a passage with no known feature
    dense[4] = 0.0  # … also the last one (reduceat's edge)
    x = sp.csr_matrix(dense)
    got = _sparse_dot(x, wt)
    assert got.dtype == np.float64 and got.shape == (5, 6)
    np.testing.assert_allclose(got, np.asarray(x @ wt.astype(np.float64)), rtol=1e-12, atol=1e-12)
    assert not got[1].any() and not got[4].any()
    assert not _sparse_dot(sp.csr_matrix((2, 500)), wt).any()


def test_sparse_dot_in_steps_sums_exactly_as_in_one_go() -> None:
    """Bounding the products buffer (steps of a few non-zeros, a row never split) changes no bit."""
    import scipy.sparse as sp
    from policywatch_classifier.model import _sparse_dot

    rng = np.random.default_rng(11)
    wt = rng.normal(size=(400, 5)).astype(np.float32)
    dense = rng.random((40, 400)) * (rng.random((40, 400)) < 0.04)
    dense[[0, 7, 8, 39]] = 0.0  # empty rows at the start, inside a step, at a step edge, last
    dense[20] = rng.random(400)  # one row far larger than a step
    x = sp.csr_matrix(dense)
    whole = _sparse_dot(x, wt, chunk_nnz=x.nnz)
    for step in (1, 3, 17, 64, 399, 401):
        np.testing.assert_array_equal(_sparse_dot(x, wt, chunk_nnz=step), whole)
    np.testing.assert_allclose(whole, np.asarray(x @ wt.astype(np.float64)), rtol=1e-12, atol=1e-12)


_BPE_GROWTH = """
import random, sys
import psutil
from policywatch_classifier.embedding import TOKENIZER, get_embedder, package_dir
from tokenizers import Tokenizer
if sys.argv[1] == "shipped":  # the tokenizer as the classifier loads it
    tok = get_embedder().tokenizer
else:  # the package's own default cache: the control
    tok = Tokenizer.from_file(str(package_dir().joinpath(*TOKENIZER)))
rng = random.Random(1)
words = ["data", "share", "partners", "retain", "consent", "account", "privacy", "we", "may"]
def passage():
    return " ".join(rng.choice(words) + str(rng.randrange(10**6)) for _ in range(25))[:200]
for _ in range(3):  # one-time costs (thread pool, allocator arenas) before measuring
    tok.encode_batch([passage() for _ in range(200)], add_special_tokens=False)
texts = [passage() for _ in range(8000)]
proc = psutil.Process()
before = proc.memory_info().rss
for i in range(0, len(texts), 500):
    tok.encode_batch(texts[i : i + 500], add_special_tokens=False)
print((proc.memory_info().rss - before) / 1e6)
"""


def test_tokenizer_word_cache_is_bounded() -> None:
    """The tokenizer treats a whole passage as one word; its default BPE cache kept every passage
    shorter than 256 bytes, ~8 KB each, up to 10,000 (Rust memory, +84 MB in the classifier over
    400 distinct policies). Measured as resident memory growth over 8,000 distinct 200-character
    passages, each way in a fresh process, with the default cache as control (67 vs 5 MB measured)."""
    import subprocess
    import sys

    def growth_mb(mode: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", _BPE_GROWTH, mode], capture_output=True, text=True, check=True, timeout=120
        )
        return float(out.stdout.strip())

    bounded, default = growth_mb("shipped"), growth_mb("default")
    assert default > 8.0, f"control: the default cache grew only {default:.1f} MB (test cannot tell)"
    assert bounded < default / 4, f"bounded cache grew {bounded:.1f} MB (default {default:.1f} MB)"
