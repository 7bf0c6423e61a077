"""GPU check: the same small training on CPU and CUDA gives the same metrics; CUDA throughput.

    PYTHONPATH=src python3 benchmarks/gpu_check.py [--steps 300] [--out result.json]

Self-contained: needs torch, numpy, scipy (and scikit-learn for nothing here); never imports
``gaplab.cli`` (click may be absent). Without a GPU it runs the CPU half and reports
``"cuda": null``. Prints one JSON object:

* ``compare`` — a two-tower MLP on synthetic paired clusters (float64, CLIP, learnable
  temperature, AdamW, hard swap, mismatch), trained with the same seed on CPU and on CUDA:
  per-metric absolute differences of the final history record and of the parameters;
* ``sphere_compare`` — free embeddings on the sphere (float64, SLIP) on both devices;
* ``throughput`` — CUDA steps/s (and CPU steps/s) of a bigger float32 two-tower
  (batch 256, embed 128) and of the sphere setting (batch 10).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from gaplab.models import FreeEmbeddings, MLPEncoder, TwoTower
from gaplab.train import Trainer


def clusters(n: int, dx: int, dy: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    centers = rng.normal(size=(4, 8)) * 2.0
    latent = centers[labels] + 0.5 * rng.normal(size=(n, 8))
    x = latent @ rng.normal(size=(8, dx)) + 0.1 * rng.normal(size=(n, dx))
    y = latent @ rng.normal(size=(8, dy)) + 0.1 * rng.normal(size=(n, dy))
    return torch.tensor(x), torch.tensor(y)


def tower(dx: int, dy: int, width: int, embed: int, seed: int = 0) -> TwoTower:
    torch.manual_seed(seed)
    return TwoTower(MLPEncoder(dx, width, hidden=width), MLPEncoder(dy, width, hidden=width),
                    image_dim=width, text_dim=width, embed_dim=embed)


def train_small(device: str, steps: int):
    x, y = clusters(512, 16, 12)
    val = clusters(256, 16, 12, seed=1)
    m = tower(16, 12, 32, 16)
    tr = Trainer(m, loss="clip", temperature="learnable", optimizer="adamw", lr=1e-3, batch_size=64,
                 steps=steps, swap="hard", swap_p=0.1, mismatch=0.1, eval_every=steps, eval_data=val,
                 device=device, dtype=torch.float64, seed=0)
    tr.fit((x.double(), y.double()))
    params = torch.cat([p.detach().double().cpu().reshape(-1) for p in m.parameters()])
    return tr.history.last, params


def train_sphere(device: str, steps: int):
    m = FreeEmbeddings(1000, 3, init="polar", seed=0, dtype=torch.float64)
    tr = Trainer(m, loss="slip", temperature=0.07, lr=0.01, batch_size=10, steps=steps,
                 eval_every=steps, device=device, seed=0)
    tr.fit()
    return tr.history.last, torch.cat([m.x.detach().cpu().reshape(-1), m.y.detach().cpu().reshape(-1)])


def compare(a: dict, b: dict) -> dict:
    out = {}
    for k, v in a.items():
        if isinstance(v, float) and isinstance(b.get(k), float):
            out[k] = abs(v - b[k])
    return out


def throughput(device: str, steps: int) -> dict:
    res = {}
    x, y = clusters(8192, 64, 48)
    m = tower(64, 48, 256, 128)
    tr = Trainer(m, loss="clip", temperature="learnable", optimizer="adamw", lr=1e-3, batch_size=256,
                 steps=steps + 20, device=device, seed=0)
    tr.total_steps = 20
    tr.fit((x.float(), y.float()))  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    tr.total_steps = steps + 20
    t = time.perf_counter()
    tr.fit((x.float(), y.float()))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    res["two_tower_b256_steps_per_s"] = steps / (time.perf_counter() - t)
    tr = Trainer(FreeEmbeddings(1000, 3), steps=steps, lr=0.01, batch_size=10, device=device)
    t = time.perf_counter()
    tr.fit()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    res["sphere_b10_steps_per_s"] = steps / (time.perf_counter() - t)
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    has_cuda = torch.cuda.is_available()
    report: dict = {"torch": torch.__version__, "cuda": torch.version.cuda if has_cuda else None,
                    "device_name": torch.cuda.get_device_name(0) if has_cuda else None}
    cpu_small, cpu_p = train_small("cpu", args.steps)
    cpu_sphere, cpu_sp = train_sphere("cpu", args.steps)
    report["cpu_final"] = cpu_small
    report["throughput_cpu"] = throughput("cpu", 30)
    if has_cuda:
        gpu_small, gpu_p = train_small("cuda", args.steps)
        gpu_sphere, gpu_sp = train_sphere("cuda", args.steps)
        d = compare(cpu_small, gpu_small)
        report["compare"] = {"max_metric_abs_diff": max(d.values()), "metric_abs_diff": d,
                             "max_param_abs_diff": float((cpu_p - gpu_p).abs().max())}
        ds = compare(cpu_sphere, gpu_sphere)
        report["sphere_compare"] = {"max_metric_abs_diff": max(ds.values()), "metric_abs_diff": ds,
                                    "max_param_abs_diff": float((cpu_sp - gpu_sp).abs().max())}
        report["throughput_cuda"] = throughput("cuda", max(args.steps, 300))
        report["ok"] = report["compare"]["max_metric_abs_diff"] < 1e-6 and report["sphere_compare"]["max_metric_abs_diff"] < 1e-6
    else:
        report["compare"] = None
        report["note"] = "no CUDA device: CPU half only"
    report["seconds"] = time.perf_counter() - t0
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
