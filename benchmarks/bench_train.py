"""Benchmark of the sphere setting of paper 001 (1,000 pairs in R³, batch 10, SGD lr 0.01).

Compares, in one run:

* ``plain``   — a plain per-step PyTorch loop (autograd + optimizer.step), one intra-op thread;
* ``trainer`` — :class:`gaplab.train.Trainer` (autograd, with its bookkeeping);
* ``fast``    — :func:`gaplab.train.train_free_embeddings_fast`, one run of ``--steps`` steps;
* ``grid``    — the 9 runs of the sphere recipe (clip/simclr/slip × polar/nearby/overlapped)
  in parallel on all cores (:func:`gaplab.train.sphere_grid_fast`);
* ``equal``   — max |fast − autograd| over 1,000 float64 steps, per loss.

Prints a table and the ratios, and writes JSON with ``--json PATH``. Wall times depend on
what else the machine is running: the CPU seconds of this process are printed too.

    PYTHONPATH=src python3 benchmarks/bench_train.py            # full: 2.5M steps
    PYTHONPATH=src python3 benchmarks/bench_train.py --quick    # 250k steps, ~1 minute
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch


def plain_loop(steps: int) -> float:
    """µs per step of the textbook loop."""
    torch.manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(1000, 3), dim=1).requires_grad_()
    y = torch.nn.functional.normalize(torch.randn(1000, 3), dim=1).requires_grad_()
    opt = torch.optim.SGD([x, y], lr=0.01)
    labels = torch.arange(10)
    perm = torch.randperm(1000)

    def run(n: int) -> None:
        for s in range(n):
            i = perm[(s * 10) % 1000 : (s * 10) % 1000 + 10]
            a = torch.nn.functional.normalize(x[i], dim=1)
            b = torch.nn.functional.normalize(y[i], dim=1)
            logits = a @ b.T / 0.07
            loss = 0.5 * (torch.nn.functional.cross_entropy(logits, labels)
                          + torch.nn.functional.cross_entropy(logits.T, labels))
            opt.zero_grad()
            loss.backward()
            opt.step()

    run(200)
    t = time.perf_counter()
    run(steps)
    return (time.perf_counter() - t) / steps * 1e6


def trainer_loop(steps: int) -> float:
    from gaplab.models import FreeEmbeddings
    from gaplab.train import Trainer

    tr = Trainer(FreeEmbeddings(1000, 3, init="polar"), steps=steps, lr=0.01, batch_size=10)
    t = time.perf_counter()
    tr.fit()
    return (time.perf_counter() - t) / steps * 1e6


def equality(steps: int = 1000) -> dict[str, float]:
    from gaplab.models import FreeEmbeddings, sphere_init
    from gaplab.train import Trainer, train_free_embeddings_fast

    out = {}
    for loss in ("clip", "simclr", "slip"):
        x0, y0 = sphere_init(1000, 3, "polar", seed=0)
        run = train_free_embeddings_fast(x0, y0, loss=loss, steps=steps, seed=0)
        m = FreeEmbeddings(x0=x0, y0=y0, dtype=torch.float64)
        Trainer(m, loss=loss, steps=steps, lr=0.01, batch_size=10, temperature=0.07, seed=0).fit()
        out[loss] = float(max(np.abs(run.params_x - m.x.detach().numpy()).max(),
                              np.abs(run.params_y - m.y.detach().numpy()).max()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2_500_000, help="steps of the fast runs (paper: 2.5M)")
    ap.add_argument("--quick", action="store_true", help="250k fast steps, shorter torch loops")
    ap.add_argument("--torch-steps", type=int, default=3000, help="steps timed for the torch loops")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    steps = 250_000 if args.quick else args.steps
    torch.set_num_threads(1)  # tiny tensors: one thread is the fastest plain loop

    from gaplab.models import sphere_init
    from gaplab.train import sphere_grid_fast, train_free_embeddings_fast

    res: dict[str, object] = {"steps": steps, "cores": os.cpu_count()}
    try:
        res["load_average_before"] = os.getloadavg()[0]
    except OSError:
        pass
    res["plain_us_per_step"] = plain_loop(args.torch_steps)
    res["trainer_us_per_step"] = trainer_loop(args.torch_steps)

    x0, y0 = sphere_init(1000, 3, "polar", seed=0)
    t = time.perf_counter()
    train_free_embeddings_fast(x0, y0, steps=10)  # compile / load the numba cache
    train_free_embeddings_fast(np.stack([x0, x0]), np.stack([y0, y0]), steps=10)
    res["compile_s"] = time.perf_counter() - t

    for loss in ("clip", "simclr", "slip"):
        c = time.process_time()
        run = train_free_embeddings_fast(x0, y0, loss=loss, steps=steps)
        res[f"fast_{loss}_s"] = run.seconds
        res[f"fast_{loss}_us_per_step"] = run.seconds / steps * 1e6
        res[f"fast_{loss}_cpu_us_per_step"] = (time.process_time() - c) / steps * 1e6

    c = time.process_time()
    t = time.perf_counter()
    sphere_grid_fast(steps=steps, snapshot_steps=[steps // 10, steps // 2])
    res["grid9_s"] = time.perf_counter() - t
    res["grid9_cpu_s"] = time.process_time() - c
    res["equal_max_abs_diff_1000_steps"] = equality()

    plain = float(res["plain_us_per_step"])  # type: ignore[arg-type]
    res["ratio_fast_clip_vs_plain"] = plain / float(res["fast_clip_us_per_step"])  # type: ignore[arg-type]
    res["ratio_trainer_vs_plain"] = plain / float(res["trainer_us_per_step"])  # type: ignore[arg-type]
    scale = 2_500_000 / steps
    res["projected_fast_clip_2p5M_s"] = float(res["fast_clip_s"]) * scale  # type: ignore[arg-type]
    res["projected_grid9_2p5M_s"] = float(res["grid9_s"]) * scale  # type: ignore[arg-type]
    res["projected_plain_2p5M_s"] = plain * 2.5

    print(f"sphere setting: 1,000 pairs in R^3, batch 10, SGD lr 0.01, {steps:,} fast steps")
    print(f"  plain PyTorch loop        {plain:9.1f} us/step")
    print(f"  gaplab Trainer (autograd) {res['trainer_us_per_step']:9.1f} us/step")
    for loss in ("clip", "simclr", "slip"):
        print(f"  fast {loss:<6}               {res[f'fast_{loss}_us_per_step']:9.2f} us/step "
              f"(cpu {res[f'fast_{loss}_cpu_us_per_step']:.2f})  {plain / res[f'fast_{loss}_us_per_step']:7.0f}x plain")
    print(f"  one run of 2.5M steps (clip): {res['projected_fast_clip_2p5M_s']:.1f} s "
          f"(plain loop: {res['projected_plain_2p5M_s']:.0f} s)")
    print(f"  9 runs (3 losses x 3 inits) x 2.5M steps: {res['projected_grid9_2p5M_s']:.1f} s wall, "
          f"{res['grid9_cpu_s'] * scale:.1f} s cpu")
    print(f"  fast vs autograd, float64, 1000 steps: max |diff| {res['equal_max_abs_diff_1000_steps']}")
    print(f"  ratio fast/plain: {res['ratio_fast_clip_vs_plain']:.0f}x; trainer/plain: {res['ratio_trainer_vs_plain']:.2f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
