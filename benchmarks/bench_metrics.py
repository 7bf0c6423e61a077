"""Benchmarks of the metric core (issues 3 and 17). Run: ``python benchmarks/bench_metrics.py [--quick]``.

1. ``measure`` — everything — at N = 20,000, d = 512, vs three bare blockwise float64 GEMM
   passes (X·Yᵀ, X·Xᵀ, Y·Yᵀ, the same block size). Goal within 1.5×. Also reports the time
   of the three one-pass kernels alone and the share of the rest (separability, second
   moments, dimension gap, O(N·d) sums, intervals if any).
2. The O(N·d) suite, ``measure(include_pairwise=False)``, at N = 1,000,000, d = 512, float32,
   vs a plain ``x.sum(0); y.sum(0)``. Goal within 1.5×. ``MetricSuite`` alone is reported too.
3. ``gaplab measure`` (the CLI, a subprocess) at N = 100,000, d = 512 on a ``.npy`` pairs
   file: peak RSS (the child's own ``VmHWM``, Linux) < 2 GB, and wall time.
4. ``rmg`` in O(N·d) vs the all-pairs formula, N = 20,000 (issue 3). Goal ≥ 80×.

Ratios are measured in the same run (these machines are noisy): each timing is the best of
``--repeat`` runs, baseline and candidate interleaved. ``--quick`` divides every N by 10
(a smoke test of the script, not of the goals).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def best_pair(f, g, repeat):
    """Best-of-``repeat`` times of ``f`` and ``g``, interleaved so both see the same load."""
    tf, tg = [], []
    for _ in range(repeat):
        for f_, ts in ((f, tf), (g, tg)):
            t0 = time.perf_counter()
            f_()
            ts.append(time.perf_counter() - t0)
    return min(tf), min(tg)


def best_of(f, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), out


def pairs(n: int, d: int, seed: int, gap: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """float32 pairs in two cones, generated in chunks to bound temporaries."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, d), dtype=np.float32)
    y = np.empty((n, d), dtype=np.float32)
    shift = rng.standard_normal(d, dtype=np.float32) * gap
    for a in range(0, n, 100_000):
        b = min(a + 100_000, n)
        x[a:b] = rng.standard_normal((b - a, d), dtype=np.float32) + shift
        y[a:b] = x[a:b] + rng.standard_normal((b - a, d), dtype=np.float32) - shift
    return x, y


def three_gemm_passes(xn: np.ndarray, yn: np.ndarray) -> None:
    """The floor: X·Yᵀ, X·Xᵀ, Y·Yᵀ in float64 blocks of the metrics' default size, nothing else."""
    from gaplab.metrics.functional._blocks import row_blocks

    for a, b in ((xn, yn), (xn, xn), (yn, yn)):
        b64 = np.ascontiguousarray(b, dtype=np.float64)
        out = None
        for lo, hi in row_blocks(a.shape[0], b64.shape[0]):
            blk = np.asarray(a[lo:hi], dtype=np.float64)
            if out is None or out.shape[0] != hi - lo:
                out = np.empty((hi - lo, b64.shape[0]))
            np.matmul(blk, b64.T, out=out)


def bench_measure(n: int, d: int, repeat: int) -> dict:
    from gaplab import measure
    from gaplab._validation import normalize_rows
    from gaplab.metrics.functional._onepass import cross_pass, self_pass

    x, y = pairs(n, d, 0)
    xn, yn = normalize_rows(x), normalize_rows(y)

    def passes():
        self_pass(xn, t=2.0, k=10)
        self_pass(yn, t=2.0, k=10)
        cross_pass(xn, yn, None, temperature=0.01, ranks=True, k=10)

    t_gemm, t_measure = best_pair(lambda: three_gemm_passes(xn, yn), lambda: measure(x, y), repeat)
    t_passes, _ = best_of(passes, 1)
    return {"n": n, "d": d, "gemm_3_passes_s": t_gemm, "measure_s": t_measure, "ratio": t_measure / t_gemm,
            "one_pass_kernels_s": t_passes, "one_pass_ratio": t_passes / t_gemm,
            "rest_of_measure_s": t_measure - t_passes, "goal": "ratio <= 1.5"}


def bench_suite(n: int, d: int, repeat: int) -> dict:
    from gaplab import measure
    from gaplab.metrics import MetricSuite

    x, y = pairs(n, d, 1)
    measure(x[: 1 << 15], y[: 1 << 15], include_pairwise=False)  # compile / warm the kernels
    t_base, t_fast = best_pair(lambda: (x.sum(0), y.sum(0)), lambda: measure(x, y, include_pairwise=False), repeat)
    t_suite, _ = best_of(lambda: MetricSuite().update(x, y).compute(), repeat)
    return {"n": n, "d": d, "baseline_sum_s": t_base, "measure_fast_s": t_fast, "ratio": t_fast / t_base,
            "metric_suite_s": t_suite, "suite_ratio": t_suite / t_base, "goal": "ratio <= 1.5"}


#: runs ``python -m gaplab ARGS`` and, at exit, writes its own peak RSS (Linux ``VmHWM``, kB) to
#: the file named by $GAPLAB_BENCH_HWM. ``RUSAGE_CHILDREN`` would not do: Linux carries the
#: parent's high-water mark into a vfork()ed child at exec, so after the N = 1,000,000 suite
#: it reports the benchmark's own 4 GB peak.
CLI_CHILD = """
import atexit, os, runpy, sys

def _peak():
    with open("/proc/self/status") as f, open(os.environ["GAPLAB_BENCH_HWM"], "w") as out:
        out.write(next(line for line in f if line.startswith("VmHWM")).split()[1])

atexit.register(_peak)
sys.argv = ["gaplab", *sys.argv[1:]]
runpy.run_module("gaplab", run_name="__main__")
"""


def bench_cli_memory(n: int, d: int) -> dict:
    x, y = pairs(n, d, 2)
    with tempfile.TemporaryDirectory() as tmp:
        path, hwm = Path(tmp) / "pairs.npy", Path(tmp) / "hwm"
        np.save(path, np.stack([x, y]))
        del x, y
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CLI_CHILD, "measure", str(path), "--json"], capture_output=True,
                             text=True, env={**os.environ, "PYTHONWARNINGS": "ignore", "GAPLAB_BENCH_HWM": str(hwm)})
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(f"gaplab measure failed: {out.stderr[-2000:]}")
        peak_kb = int(hwm.read_text())
    r = json.loads(out.stdout)
    return {"n": n, "d": d, "wall_s": wall, "peak_rss_gb": peak_kb / 2**20,
            "file_gb": 2 * n * d * 4 / 2**30, "i2t_r1": r.get("i2t_r1"), "goal": "peak < 2 GB"}


def rmg_all_pairs(x: np.ndarray, y: np.ndarray, block: int = 2048) -> float:
    """RMG the usual way: every pairwise cosine, blockwise matrix products, summed."""
    xh = x / np.linalg.norm(x, axis=1, keepdims=True)
    yh = y / np.linalg.norm(y, axis=1, keepdims=True)
    n = len(x)
    cx = cy = 0.0
    for a in range(0, n, block):
        cx += float((xh[a : a + block] @ xh.T).sum(dtype=np.float64))
        cy += float((yh[a : a + block] @ yh.T).sum(dtype=np.float64))
    cx -= float(np.einsum("ij,ij->", xh, xh, dtype=np.float64))
    cy -= float(np.einsum("ij,ij->", yh, yh, dtype=np.float64))
    sx = (n * (n - 1) - cx) / 2.0
    sy = (n * (n - 1) - cy) / 2.0
    match = float(((1.0 - np.einsum("ij,ij->i", xh, yh)) / 2.0).mean(dtype=np.float64))
    return match / ((sx + sy) / (2 * n * (n - 1)) + match)


def bench_rmg(n: int, d: int, repeat: int) -> dict:
    from gaplab.metrics import rmg

    x, y = pairs(n, d, 3)
    t_fast, v_fast = best_of(lambda: rmg(x, y), repeat)
    t_slow, v_slow = best_of(lambda: rmg_all_pairs(x, y), 1)
    return {"n": n, "d": d, "rmg_fast_s": t_fast, "rmg_all_pairs_s": t_slow,
            "speedup": t_slow / t_fast, "abs_diff": abs(v_fast - v_slow), "goal": ">= 80x, diff <= 1e-6"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", "--small", action="store_true", help="every N / 10 (a smoke test)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="measure,suite,cli,rmg", help="comma-separated subset")
    ap.add_argument("--cli-n", type=int, default=None, help="N of the CLI memory benchmark (default 100,000)")
    args = ap.parse_args()
    s = 10 if args.quick else 1
    only = set(args.only.split(","))
    results = {}
    if "measure" in only:
        results["measure"] = bench_measure(20_000 // s, 512, args.repeat)
    if "suite" in only:
        results["suite"] = bench_suite(1_000_000 // s, 512, args.repeat)
    if "cli" in only:
        results["cli"] = bench_cli_memory(args.cli_n or 100_000 // s, 512)
    if "rmg" in only:
        results["rmg"] = bench_rmg(20_000 // s, 512, args.repeat)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
