"""The from-scratch Fashion-MNIST CLIP over seeds, and the recipes that take it as a model source.

Usage: ``python tools/fashion_clip_reruns.py [--seeds 0,1,2] [--quick]``. Trains (or reads from
the user cache) ``gaplab.train.fashion_clip.train_fashion_clip`` for each seed, prints the
held-out L2M, RMG, linear separability and zero-shot accuracy (mean ± sample sd), then runs
``linear-separability``, ``embedding-shift`` and ``dimension-ablation`` with
``--param model=gaplab-clip-fashion`` over the same seeds (one trained model per seed, 95 %
Student-t intervals over them). The summary goes to ``docs/results/fashion-clip.json`` (the
numbers of ``docs/clip-from-scratch.md`` and of the closing notes come from this file), each
full run record to ``docs/results/full/fashion/<recipe>-fashion.json``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from gaplab.recipes import reproduce
from gaplab.train.fashion_clip import train_fashion_clip

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "fashion-clip.json"
KEYS = ("l2m", "rmg", "linear_separability", "zero_shot")
RECORDS = ROOT / "docs" / "results" / "full" / "fashion"
MODEL_RECIPES = ("linear-separability", "embedding-shift", "dimension-ablation")


def main(argv: list[str]) -> int:
    seeds = [0, 1, 2]
    if "--seeds" in argv:
        seeds = [int(s) for s in argv[argv.index("--seeds") + 1].split(",")]
    quick = "--quick" in argv
    runs = [train_fashion_clip(seed=s, quick=quick, progress=True) for s in seeds]
    table = {}
    for k in KEYS:
        v = np.array([r.metrics[k] for r in runs], dtype=np.float64)
        table[k] = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else None,
                    "per_seed": v.tolist()}
        print(f"{k:22s} {v.mean():.3f} ± {table[k]['sd'] or 0:.3f}  {np.round(v, 3).tolist()}")
    init = {k: float(np.mean([r.init_metrics[k] for r in runs])) for k in KEYS}
    reruns = {}
    with tempfile.TemporaryDirectory() as d:
        for name in MODEL_RECIPES:
            t0 = time.perf_counter()
            rec = reproduce(name, quick=quick, out=Path(d) / name, seed=seeds[0], verbose=False, progress=False,
                            params={"model": "gaplab-clip-fashion", "seeds": seeds})
            reruns[name] = {"wall_time_s": time.perf_counter() - t0,
                            "claims": [{"claim": c.claim, "verdict": c.verdict, "effect": c.effect, "ci95": c.ci95}
                                       for c in rec.claims]}
            if not quick:
                shutil.copyfile(Path(d) / name / "run.json", RECORDS / f"{name}-fashion.json")
            for c in rec.claims:
                print(f"{name}: [{c.verdict}] {c.claim}")
    OUT.write_text(json.dumps({"seeds": seeds, "quick": quick, "held_out": table, "init_mean": init,
                               "train_seconds": [r.train_seconds for r in runs], "reruns": reruns},
                              indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
