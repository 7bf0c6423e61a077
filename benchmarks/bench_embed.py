"""Encoding throughput of `gaplab embed`'s encoders, in pairs per second (not collected by pytest).

Measures, with ``--threads`` torch threads (default 2, the CI/laptop setting):

* ``minilm``: the frozen MiniLM text tower on *unique* sentences (no cache hits), batch 128;
* ``builtin-digits``: the built-in two-tower (``gaplab-minilm-digits``) on digits pairs, the
  way ``gaplab embed --dataset digits`` runs it (template captions hit the cache);
* ``clip-b32``: a base-size CLIP (ViT-B/32 image tower, 12-layer 512-wide text tower,
  ~151M parameters, the ``CLIPConfig()`` defaults) with *random* weights built locally, fed
  224×224 images through the CLIP image processor, via :class:`HFCLIPEncoder`.

A pair is one image plus one caption, so pairs/s = N / (image seconds + text seconds).
Reported beside wall time: process CPU seconds, since a busy shared machine inflates wall
time but not CPU time.

    python benchmarks/bench_embed.py                 # all three, 2 threads
    python benchmarks/bench_embed.py --only clip-b32 --n 64 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402


def _timed(fn, *args):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - t0, time.process_time() - c0


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = ("photo picture drawing sketch image red green blue small large old new cat dog sandal "
             "coat bag digit seven three shirt sneaker boot dress on a table in the street at night").split()
    return [f"a {' '.join(rng.choice(words, size=rng.integers(4, 10)))} number {i}." for i in range(n)]


def bench_minilm(n: int) -> dict:
    from gaplab.models.text import MiniLMTextEncoder

    (enc, load_s, _) = _timed(MiniLMTextEncoder)
    enc.cache_size = 0
    enc(_sentences(32, seed=1))  # warm-up
    _, wall, cpu = _timed(enc, _sentences(n))
    return {"name": "minilm", "what": f"{n} unique sentences, batch 128", "load_s": load_s,
            "wall_s": wall, "cpu_s": cpu, "texts_per_s": n / wall, "pairs_per_s": n / wall,
            "pairs_per_cpu_s": n / cpu}


def bench_builtin(n: int) -> dict:
    from gaplab.data import load_digits_pairs
    from gaplab.models.adapters import create_encoder, embed_dataset

    ds = load_digits_pairs(split="all", limit=n, seed=0)
    enc, load_s, _ = _timed(create_encoder, "gaplab-minilm-digits")
    embed_dataset(enc, ds.subset(np.arange(16)), batch_size=64)  # warm-up
    _, wall, cpu = _timed(embed_dataset, enc, ds)
    return {"name": "builtin-digits", "what": f"{len(ds)} digits pairs (template captions, cached)",
            "load_s": load_s, "wall_s": wall, "cpu_s": cpu, "pairs_per_s": len(ds) / wall,
            "pairs_per_cpu_s": len(ds) / cpu}


def _clip_b32():
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<bos>", "<eos>", *sorted(set(" ".join(_sentences(2000)).replace(".", " .").split()))]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>", special_tokens=[("<bos>", 2), ("<eos>", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    cfg = CLIPConfig(text_config={"bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 0})  # defaults = ViT-B/32
    torch.manual_seed(0)
    model = CLIPModel(cfg)
    return model, fast, CLIPImageProcessor()


def bench_clip(n: int, batch_size: int) -> dict:
    from gaplab.data import load_digits_pairs
    from gaplab.models.adapters import HFCLIPEncoder, embed_dataset

    (parts, build_s, _) = _timed(_clip_b32)
    enc = HFCLIPEncoder.from_components(*parts, name="clip-vit-b32-random")
    n_params = sum(p.numel() for p in enc.model.parameters())
    ds = load_digits_pairs(split="all", limit=n, seed=0)
    ds.captions = _sentences(len(ds.captions))  # unique, CLIP-length captions
    embed_dataset(enc, ds.subset(np.arange(8)), batch_size=8)  # warm-up
    _, img_wall, img_cpu = _timed(lambda: [enc.encode_image(ds.images[i : i + batch_size]) for i in range(0, n, batch_size)])
    _, txt_wall, txt_cpu = _timed(lambda: [enc.encode_text(ds.captions[i : i + batch_size]) for i in range(0, n, batch_size)])
    wall, cpu = img_wall + txt_wall, img_cpu + txt_cpu
    return {"name": "clip-b32", "what": f"{n} pairs, 224x224 images, batch {batch_size}, {n_params / 1e6:.0f}M params (random)",
            "load_s": build_s, "wall_s": wall, "cpu_s": cpu, "images_per_s": n / img_wall, "texts_per_s": n / txt_wall,
            "pairs_per_s": n / wall, "pairs_per_cpu_s": n / cpu}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["minilm", "builtin-digits", "clip-b32"], action="append")
    ap.add_argument("--n-text", type=int, default=2000, help="sentences for minilm")
    ap.add_argument("--n-pairs", type=int, default=1797, help="pairs for builtin-digits")
    ap.add_argument("--n-clip", type=int, default=128, help="pairs for clip-b32")
    ap.add_argument("--batch-size", type=int, default=32, help="clip-b32 batch size")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    which = args.only or ["minilm", "builtin-digits", "clip-b32"]
    results = []
    for name in which:
        if name == "minilm":
            r = bench_minilm(args.n_text)
        elif name == "builtin-digits":
            r = bench_builtin(args.n_pairs)
        else:
            r = bench_clip(args.n_clip, args.batch_size)
        r["threads"] = args.threads
        results.append(r)
        print(f"{r['name']:<15} {r['pairs_per_s']:>9.1f} pairs/s wall  {r['pairs_per_cpu_s']:>9.1f} pairs/CPU-s  "
              f"({r['what']}; wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s, load {r['load_s']:.1f} s)", flush=True)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"torch threads {args.threads}, cores {os.cpu_count()}, 1-min load average {load:.1f}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "load_average": load, "cores": os.cpu_count()}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
