"""Benchmark of ``gaplab.scale``: 2M pairs × 512 in 8 float16 shards, three ways, one run.

    .venv/bin/python benchmarks/bench_scale.py [--pairs 2000000] [--dim 512] [--shards 8]
                                              [--workers 2] [--repeats 3] [--dir /tmp]

Writes a clip-retrieval layout (``img_emb/img_emb_k.npy``, ``text_emb/text_emb_k.npy``) to a
temporary directory on local disk, deletes it afterwards, and measures in this one run:

* ``single``: one process, one thread, the shards one after another (``workers=1``);
* ``threads``: the local engine's thread pool (``workers`` threads);
* ``dask``: ``run_dask`` as ``gaplab measure --engine dask`` runs it: a
  ``LocalCluster(processes=False, n_workers=workers, threads_per_worker=1)`` started,
  used and closed in every pass (start-up included in the time).

Each mode runs in a fresh subprocess, so its imports, caches and allocator state do not
leak into the next. Peak memory: the kernel's high-water mark ``VmHWM`` from
``/proc/self/status``, reset with ``/proc/self/clear_refs`` (value 5) after imports and
cluster start-up, minus the RSS at that moment, so it counts the measurement only (warm-up
pass included); a sampling thread reading ``VmRSS`` every 5 ms cross-checks it, and is the
only source where ``clear_refs`` is not supported. Both count anonymous memory and any file pages mapped into the
process (the readers use ``pread``, so the dump itself is not mapped). The first pass of
each mode is a warm-up (page cache); times are the median of ``repeats`` passes.
Only the exact O(N·d) statistics are timed (``sample=0``): the sampled O(N²) metrics cost
the same whatever N is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    """Polls ``VmRSS`` every ``interval`` seconds; ``peak`` is the largest value seen."""

    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak, self._stop_event = interval, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _status("VmRSS"))
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak, _status("VmRSS"))


def generate(root: Path, pairs: int, dim: int, shards: int, seed: int = 0) -> None:
    """Write a clip-retrieval layout of float16 shards with a modality gap, chunk by chunk."""
    (root / "img_emb").mkdir(parents=True)
    (root / "text_emb").mkdir()
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=dim).astype(np.float32)
    centre *= 0.8 * np.sqrt(dim) / np.linalg.norm(centre)
    sizes = [pairs // shards + (k < pairs % shards) for k in range(shards)]
    chunk = 65_536
    for k, n in enumerate(sizes):
        img = np.lib.format.open_memmap(root / "img_emb" / f"img_emb_{k}.npy", "w+", np.float16, (n, dim))
        txt = np.lib.format.open_memmap(root / "text_emb" / f"text_emb_{k}.npy", "w+", np.float16, (n, dim))
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            z = rng.standard_normal((b - a, dim), dtype=np.float32)
            img[a:b] = z + centre + 0.3 * rng.standard_normal((b - a, dim), dtype=np.float32)
            txt[a:b] = z - centre + 0.3 * rng.standard_normal((b - a, dim), dtype=np.float32)
        img.flush()
        txt.flush()
        del img, txt


def run_mode(mode: str, root: str, workers: int, repeats: int) -> dict:
    """One mode, in this (fresh) process: warm-up, then ``repeats`` timed passes."""
    from gaplab.scale import discover_shards, plan_shards, run_dask, run_local
    from gaplab.scale.engines import ShardTask

    good, _ = plan_shards(discover_shards(root))
    empty = np.empty(0, dtype=np.int64)
    tasks = [ShardTask(s, h, empty) for s, h in good]
    if mode == "dask":
        import distributed  # noqa: F401  (import time is not run time)

        def once():  # as `gaplab measure --engine dask` runs: LocalCluster started and closed
            return run_dask(tasks, workers=workers, strict=True, progress=False)
    else:
        w = 1 if mode == "single" else workers

        def once():
            return run_local(tasks, workers=w, strict=True, progress=False)

    base = _status("VmRSS")  # after imports and cluster start-up, before any shard is read
    hwm_ok = _reset_hwm()
    sampler = RssSampler()
    sampler.start()
    once()  # warm-up (page cache, first-call overheads): untimed, but its memory counts
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = once()
        times.append(time.perf_counter() - t0)
    sampled_peak = sampler.stop()
    hwm = _status("VmHWM") if hwm_ok else sampled_peak
    return {
        "mode": mode,
        "seconds": statistics.median(times),
        "times": times,
        "rss_before": base,
        "peak_rss": max(hwm, sampled_peak),
        "peak_extra": max(hwm, sampled_peak) - base,
        "hwm_reset": hwm_ok,
        "shard_seconds_mean": result.seconds / result.n_shards,
        "rows": result.rows,
        "l2m": result.stats.l2m(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=2_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workers", default="2", help="threads/Dask workers; a list (2,8) adds rows")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", default=None, help="parent folder on local disk (default: system temp)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--_mode", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_root", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._mode:
        print(json.dumps(run_mode(args._mode, args._root, int(args.workers), args.repeats)))
        return
    worker_counts = [int(w) for w in str(args.workers).split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="gaplab-bench-scale-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        generate(tmp / "dump", args.pairs, args.dim, args.shards)
        gen_s = time.perf_counter() - t0
        shard_bytes = 2 * (args.pairs // args.shards) * args.dim * 2  # image + text, float16
        print(f"generated {args.pairs:,} pairs x {args.dim} float16 in {args.shards} shards "
              f"({shard_bytes / 2**20:.0f} MiB per shard pair) in {gen_s:.1f} s at {tmp}", file=sys.stderr)
        rows = []
        runs = [("single", 1)] + [(m, w) for w in worker_counts for m in ("threads", "dask")]
        for mode, w in runs:
            cmd = [sys.executable, __file__, "--_mode", mode, "--_root", str(tmp / "dump"),
                   "--workers", str(w), "--repeats", str(args.repeats)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rows.append({**json.loads(out.stdout.strip().splitlines()[-1]), "workers": w})
            print(f"  {mode} x{w}: {rows[-1]['seconds']:.2f} s", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    by = {(r["mode"], r["workers"]): r for r in rows}
    single = by[("single", 1)]["seconds"]
    assert len({round(r["l2m"], 12) for r in rows}) == 1, "engines disagree"
    gb = args.pairs * args.dim * 2 * 2 / 1e9
    print(f"\n{args.pairs:,} pairs x {args.dim} float16, {args.shards} shards, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, Python {sys.version.split()[0]}; median of {args.repeats} "
          f"after a warm-up pass; peak = VmHWM{'' if rows[0]['hwm_reset'] else ' (sampled VmRSS)'}")
    print("| mode | workers | time (s) | M pairs/s | GB/s read | speed-up vs single | "
          "peak extra RSS (MiB) | peak / shard pair |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['workers']} | {r['seconds']:.2f} | {args.pairs / r['seconds'] / 1e6:.2f} | "
              f"{gb / r['seconds']:.2f} | {single / r['seconds']:.2f}x | "
              f"{r['peak_extra'] / 2**20:.0f} | {r['peak_extra'] / shard_bytes:.3f} |")
    print()
    for w in worker_counts:
        thr, dsk = by[("threads", w)]["seconds"], by[("dask", w)]["seconds"]
        print(f"{w} workers: threads vs single {single / thr:.2f}x (goal >= 1.5x on 2); "
              f"dask / threads {dsk / thr:.2f} (goal <= 1.3)")
    print(f"max peak extra: {max(r['peak_extra'] for r in rows) / shard_bytes:.3f} shard pairs (goal < 2)")
    by = {m: by[(m, w)] for (m, w) in by if w == worker_counts[0] or m == "single"}
    per_shard = by["single"]["shard_seconds_mean"]
    per_pair = per_shard / (args.pairs / args.shards)
    proj = 2e9 * per_pair / 32
    print(f"per-shard cost (single thread): {per_shard:.3f} s for {args.pairs // args.shards:,} pairs "
          f"= {per_pair * 1e9:.1f} ns/pair; 2e9 pairs on 32 workers (compute only, ideal): "
          f"{proj:.0f} s = {proj / 60:.1f} min")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows, "projection_s": proj}, indent=2))


if __name__ == "__main__":
    main()
