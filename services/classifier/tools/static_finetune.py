"""Would the static token embeddings, fine-tuned for the taxonomy, rank better? (probe)

    pip install --target /tmp/tt --no-deps torch==2.13.0     # torch is not a project dependency
    PYTHONPATH=/tmp/tt .venv/bin/python services/classifier/tools/static_finetune.py \
        [--epochs 4] [--lr 3e-3] [--anchor 1e-4] [--seeds 0 1 2] [--save F.npz] [--oof-cache F]

The shipped embedding model is a logistic regression on the mean of WordLlama's static token
vectors, which were trained for sentence similarity, not for the taxonomy: "vendors" and "service
providers" are close, but so are "retain" and "delete". This probe fine-tunes the table itself
with a linear head per category (fastText-style supervised training, initialised from WordLlama):
a passage is the L2-normalised mean of its token vectors times a learned scale, binary
cross-entropy over the categories each row is labelled for (``Example.known``: partial labels stay
partial), at the row's training weight, with an L2 pull of every vector towards its WordLlama value
(``--anchor``) so that words seen in few rows do not drift. The cost at run time would be the
shipped embedding's (one table look-up per token), so unlike the fine-tuned encoder
(``finetune.py``) it fits the speed budget whatever it scores.

Each family fold is scored by a model trained on that fold's rows (``evaluate.fold_training_rows``:
the same rows and decontamination as the shipped out-of-fold scores, all of them). The out-of-fold
probabilities are judged like every idea in ``dev_ideas.py``: alone, and blended into the shipped
model probability, by the nested dev macro-F1 with a paired bootstrap interval. The test split is
never loaded.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev_ideas import Dev
from finetune import report
from policywatch_classifier.embedding import get_embedder
from policywatch_classifier.evaluate import fold_training_rows
from policywatch_classifier.train import Example


def token_ids(texts: list[str]) -> list[np.ndarray]:
    """The shipped embedding's token ids; an empty text reads as token 0 (a bag needs one)."""
    ids = get_embedder().token_ids(texts)
    return [x if len(x) else np.zeros(1, dtype=np.int64) for x in ids]


def bag(ids: list[np.ndarray]) -> tuple[Any, Any]:
    import torch

    flat = torch.from_numpy(np.concatenate(ids))
    offsets = torch.from_numpy(np.concatenate([[0], np.cumsum([len(x) for x in ids])[:-1]]))
    return flat, offsets


class StaticModel:
    """Fine-tuned table + head; ``scores`` gives probabilities."""

    def __init__(self, outputs: int, head: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        import torch

        table = torch.from_numpy(get_embedder().table.astype(np.float32))
        self.init = table.clone()
        self.bag = torch.nn.EmbeddingBag.from_pretrained(table, freeze=False, mode="mean")
        self.head = torch.nn.Linear(table.shape[1], outputs)
        self.scale = torch.nn.Parameter(torch.tensor(8.0))
        if head is not None:  # start from the shipped regression on the frozen table
            self.head.weight.data = torch.from_numpy(head[0].astype(np.float32))
            self.head.bias.data = torch.from_numpy(head[1].astype(np.float32))
            self.scale = torch.nn.Parameter(torch.tensor(1.0), requires_grad=False)

    def logits(self, flat: Any, offsets: Any) -> Any:
        import torch

        e = torch.nn.functional.normalize(self.bag(flat, offsets), dim=1)
        return self.head(e * self.scale)

    def scores(self, ids: list[np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return torch.sigmoid(self.logits(*bag(ids))).numpy()


def fit(
    rows: list[Example],
    ids: list[str],
    *,
    epochs: int,
    lr: float,
    anchor: float,
    seed: int,
    batch: int = 64,
    from_regression: bool = False,
    head_lr: float = 1e-2,
) -> StaticModel:
    import torch

    torch.manual_seed(seed)
    head = None
    if from_regression:
        from policywatch_classifier.train import fit_embedding

        # fit_embedding orders categories as the taxonomy, as ``ids`` (Dev.ids) are.
        head = fit_embedding(rows, get_embedder().embed([r.text for r in rows]))
    model = StaticModel(len(ids), head)
    enc = token_ids([r.text for r in rows])
    y = torch.tensor([[c in r.labels for c in ids] for r in rows], dtype=torch.float32)
    m = torch.tensor([[(c in r.known) * r.weight for c in ids] for r in rows], dtype=torch.float32)
    # Balanced classes, as the shipped regressions (class_weight="balanced"): positives of a rare
    # category weigh as much in total as its negatives.
    pos = (y * (m > 0)).sum(0)
    neg = ((1 - y) * (m > 0)).sum(0)
    pos_w = (neg / pos.clamp(min=1)).clamp(max=50)
    opt = torch.optim.Adam(
        [
            {"params": list(model.bag.parameters()), "lr": lr},
            {"params": [*model.head.parameters(), model.scale], "lr": head_lr},
        ]
    )
    order = list(range(len(rows)))
    rng = random.Random(seed)
    steps = epochs * ((len(order) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))
    for epoch in range(epochs):
        rng.shuffle(order)
        t0, loss_sum = time.time(), 0.0
        for i in range(0, len(order), batch):
            b = order[i : i + batch]
            flat, offsets = bag([enc[k] for k in b])
            logits = model.logits(flat, offsets)
            el = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y[b], reduction="none", pos_weight=pos_w
            )
            loss = (el * m[b]).sum() / m[b].sum().clamp(min=1.0)
            used = torch.unique(flat)
            # Pull only the vectors of this batch (the others get no gradient anyway).
            drift = model.bag.weight[used] - model.init[used]
            total = loss + anchor * (drift * drift).sum()
            opt.zero_grad()
            total.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(b)
        print(
            f"    epoch {epoch + 1}: loss {loss_sum / len(order):.4f} ({time.time() - t0:.0f} s)", flush=True
        )
    return model


def components(dev: Dev, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities of the shipped model's two regressions apart (TF-IDF, embedding),
    from the same fold loop as the shipped out-of-fold scores (``cache``: .npz, kept)."""
    from policywatch_classifier.model import sigmoid
    from policywatch_classifier.train import fit_model

    if cache.exists():
        data = np.load(cache)
        return data["pt"], data["pe"]
    pt, pe = np.zeros_like(dev.p), np.zeros_like(dev.p)
    emb = get_embedder()
    for fold, rows in fold_training_rows(dev.items, dev.shared):
        model, _ = fit_model(rows)
        texts = [dev.items[i].text for i in fold]
        col = [model.categories.index(c) for c in dev.ids]
        x = model.features(texts)
        pt[fold] = sigmoid(np.asarray(x @ model.weights.astype(np.float32).T) + model.bias)[:, col]
        assert model.emb_weights is not None and model.emb_bias is not None
        e = emb.embed(texts)
        pe[fold] = sigmoid(e @ model.emb_weights.astype(np.float32).T + model.emb_bias)[:, col]
    np.savez(cache, pt=pt, pe=pe)
    return pt, pe


def replace_report(dev: Dev, q: np.ndarray, pt: np.ndarray, pe: np.ndarray) -> None:
    """The fine-tuned model in place of the shipped embedding regression, at several shares."""
    from dev_ideas import gain
    from policywatch_classifier.train import EMB_BLEND

    recon = (1 - EMB_BLEND) * pt + EMB_BLEND * pe
    print(f"components: max |p - recomposed p| {np.abs(recon - dev.p).max():.4f}")
    print(f"  AP: TF-IDF alone {dev.ap(pt):.3f}, embedding regression alone {dev.ap(pe):.3f}")
    print(f"  AP: fine-tuned {dev.ap(q):.3f}")
    for b in (0.0, 0.1, 0.2):  # how much does the embedding part matter at all?
        dev.line(f"  TF-IDF + {b} shipped embedding regression", dev.combined((1 - b) * pt + b * pe, dev.r))
    for b in (0.3, 0.4, 0.5):
        dev.line(
            f"  TF-IDF + {b} fine-tuned (shipped: {EMB_BLEND} regression)",
            dev.combined((1 - b) * pt + b * q, dev.r),
        )
    for b in (0.2, 0.3):
        third = (1 - b) * ((1 - EMB_BLEND) * pt + EMB_BLEND * pe) + b * q
        dev.line(f"  shipped p + {b} fine-tuned as a third", dev.combined(third, dev.r))
    gain(dev, f"TF-IDF + {EMB_BLEND} fine-tuned", dev.combined((1 - EMB_BLEND) * pt + EMB_BLEND * q, dev.r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-3, help="learning rate of the token vectors")
    ap.add_argument("--anchor", type=float, default=1e-4, help="L2 pull towards the WordLlama vectors")
    ap.add_argument("--from-regression", action="store_true", help="head starts as the shipped regression")
    ap.add_argument("--head-lr", type=float, default=1e-2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="several: their mean probability")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save", type=Path)
    ap.add_argument("--scores", type=Path, help="report a saved run instead")
    ap.add_argument("--oof-cache", type=Path)
    ap.add_argument("--components", type=Path, help="cache (.npz) of the two regressions' out-of-fold parts")
    args = ap.parse_args()
    dev = Dev(args.oof_cache)
    if args.scores:
        q = np.load(args.scores)["q"]
    else:
        import torch

        torch.set_num_threads(args.threads)
        t0 = time.time()
        q = np.zeros_like(dev.p)
        for k, (fold, rows) in enumerate(fold_training_rows(dev.items, dev.shared), start=1):
            print(f"  fold {k}: {len(fold)} dev passages, {len(rows)} rows", flush=True)
            held = token_ids([dev.items[i].text for i in fold])
            for seed in args.seeds:
                model = fit(
                    rows,
                    dev.ids,
                    epochs=args.epochs,
                    lr=args.lr,
                    anchor=args.anchor,
                    seed=seed,
                    from_regression=args.from_regression,
                    head_lr=args.head_lr,
                )
                q[fold] += model.scores(held) / len(args.seeds)
        print(f"training and scoring: {time.time() - t0:.0f} s")
        if args.save:
            np.savez(args.save, q=q)
    report(dev, q, "static fine-tuned")
    if args.components:
        replace_report(dev, q, *components(dev, args.components))


if __name__ == "__main__":
    main()
