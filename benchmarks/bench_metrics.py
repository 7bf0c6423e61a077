"""Benchmarks of the metric core (issue 3). Run: ``python benchmarks/bench_metrics.py [--small]``.

1. ``rmg`` in O(N·d) vs the all-pairs formula computed the usual way (blockwise matrix
   products over every pair), N = 20,000, d = 512. Goal ≥ 80×, equal to 1e-6.
2. The O(N·d) suite (``MetricSuite``) at N = 1,000,000, d = 512, float32, vs one numpy pass
   that only sums the data (x.sum(0) + y.sum(0)). Goal within 3×.
3. ``retrieval_recall`` at N = 100,000, d = 512: peak memory (child process max RSS) < 2 GB.

Ratios are measured in the same run (these machines are noisy); best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np


def best_of(f, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def rmg_all_pairs(x: np.ndarray, y: np.ndarray, block: int = 2048) -> float:
    """RMG the usual way: every pairwise cosine, blockwise matrix products, summed.

    Lean on purpose (the distance sum is taken from the cosine sum, no per-block temporaries),
    so the ratio measures the algorithm, not a sloppy baseline.
    """
    xh = x / np.linalg.norm(x, axis=1, keepdims=True)
    yh = y / np.linalg.norm(y, axis=1, keepdims=True)
    n = len(x)
    cx = cy = 0.0
    for a in range(0, n, block):
        cx += float((xh[a : a + block] @ xh.T).sum(dtype=np.float64))
        cy += float((yh[a : a + block] @ yh.T).sum(dtype=np.float64))
    # off-diagonal only: drop the self-cosines, then d = (1 − cos)/2 summed over i ≠ j
    cx -= float(np.einsum("ij,ij->", xh, xh, dtype=np.float64))
    cy -= float(np.einsum("ij,ij->", yh, yh, dtype=np.float64))
    sx = (n * (n - 1) - cx) / 2.0
    sy = (n * (n - 1) - cy) / 2.0
    match = float(((1.0 - np.einsum("ij,ij->i", xh, yh)) / 2.0).mean(dtype=np.float64))
    return match / ((sx + sy) / (2 * n * (n - 1)) + match)


def bench_rmg(n: int, d: int, repeat: int) -> dict:
    from gaplab.metrics import rmg

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)).astype(np.float32) + 0.1
    y = rng.normal(size=(n, d)).astype(np.float32) - 0.1
    t_fast, v_fast = best_of(lambda: rmg(x, y), repeat)
    t_slow, v_slow = best_of(lambda: rmg_all_pairs(x, y), 1)
    return {"n": n, "d": d, "rmg_fast_s": t_fast, "rmg_all_pairs_s": t_slow,
            "speedup": t_slow / t_fast, "abs_diff": abs(v_fast - v_slow), "goal": ">= 80x, diff <= 1e-6"}


def bench_suite(n: int, d: int, repeat: int) -> dict:
    from gaplab.metrics import MetricSuite

    rng = np.random.default_rng(1)
    x = np.empty((n, d), dtype=np.float32)
    y = np.empty((n, d), dtype=np.float32)
    for a in range(0, n, 100_000):  # generate in chunks to bound temporaries
        b = min(a + 100_000, n)
        x[a:b] = rng.standard_normal((b - a, d), dtype=np.float32)
        y[a:b] = rng.standard_normal((b - a, d), dtype=np.float32)
    t_base, _ = best_of(lambda: (x.sum(0), y.sum(0)), repeat)
    t_suite, _ = best_of(lambda: MetricSuite().update(x, y).compute(), repeat)
    return {"n": n, "d": d, "baseline_sum_s": t_base, "suite_s": t_suite,
            "ratio": t_suite / t_base, "goal": "<= 3x"}


_CHILD = """
import sys, time, numpy as np
from gaplab.metrics import retrieval_recall
def hwm_kb():  # this process's peak resident memory (VmHWM; ru_maxrss survives exec on Linux)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(2)
x = rng.standard_normal((n, d), dtype=np.float32)
y = x + rng.standard_normal((n, d), dtype=np.float32)
base = hwm_kb()
t0 = time.perf_counter()
r = retrieval_recall(x, y)
t = time.perf_counter() - t0
print(base, hwm_kb(), t, r["i2t_r1"])
"""


def bench_retrieval(n: int, d: int) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(d)], capture_output=True, text=True, check=True)
    base_kb, peak_kb, t, r1 = out.stdout.split()
    return {"n": n, "d": d, "time_s": float(t), "peak_rss_gb": int(peak_kb) / 2**20,
            "rss_before_gb": int(base_kb) / 2**20, "data_gb": 2 * n * d * 4 / 2**30,
            "i2t_r1": float(r1), "goal": "peak < 2 GB"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="rmg,suite,retrieval", help="comma-separated subset")
    args = ap.parse_args()
    s = 10 if args.small else 1
    only = set(args.only.split(","))
    results = {}
    if "rmg" in only:
        results["rmg"] = bench_rmg(20_000 // s, 512, args.repeat)
    if "suite" in only:
        results["suite"] = bench_suite(1_000_000 // (s * 10 if args.small else 1), 512, args.repeat)
    if "retrieval" in only:
        results["retrieval"] = bench_retrieval(100_000 // s, 512)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
