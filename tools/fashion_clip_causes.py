"""Where the Fashion-MNIST CLIP's gap comes from: the cause table of ``docs/clip-from-scratch.md``.

Usage: ``python tools/fashion_clip_causes.py [--seeds 0] [--full]``. Trains (or reads from the
user cache) :func:`gaplab.train.fashion_clip.train_fashion_clip` once per cause and seed — the
quick config unless ``--full`` — with the overrides below, and prints the held-out τ at the
end, L2M, RMG, linear separability, zero-shot accuracy and mean paired cosine as a markdown
table (mean ± sample sd where there is more than one seed), the random initialisation first.
With more than one seed a second table gives L2M per seed with its 95 % t interval, and the
paired (same-seed) difference of L2M and RMG from CLIP's recipe (the first row, τ learnable)
with its 95 % t interval. Writes ``docs/results/fashion-clip-causes.json`` (per-seed values,
and mean, sd and 95 % interval per metric). The four causes are the papers': the cone
at initialisation (Liang et al., 2022, §2), a low temperature (Liang §4.3; Yaras et al.),
mismatched pairs (Liang §4.2) and information imbalance (Schrodi et al., ICLR 2025, §5).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gaplab.runs import t_interval
from gaplab.train.fashion_clip import train_fashion_clip

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "fashion-clip-causes.json"
LEARNABLE_FAST = {"name": "learnable", "init": 0.07, "max_scale": 100.0, "lr_scale": 20.0}
#: (row label, config overrides)
CAUSES: list[tuple[str, dict[str, Any]]] = [
    ("τ learnable (init 0.07, clamp 0.01)", {"temperature": "learnable"}),
    ("τ learnable, 20× learning rate for τ", {"temperature": LEARNABLE_FAST}),
    ("τ fixed 1.0", {"temperature": 1.0}),
    ("τ fixed 0.07", {"temperature": 0.07}),
    ("τ fixed 0.01 (CLIP's end value; the default)", {"temperature": 0.01}),
    ("τ learnable, 30 % mismatched pairs", {"temperature": "learnable", "mismatch": 0.3}),
    ("captions: class only (τ learnable)", {"temperature": "learnable", "min_attributes": 0, "max_attributes": 0}),
    ("captions: all 9 attributes (τ learnable)", {"temperature": "learnable", "min_attributes": 9, "max_attributes": 9}),
]
KEYS = ("temperature", "l2m", "rmg", "linear_separability", "zero_shot", "mean_cos_paired")


def _cell(values: list[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{v.mean():.3f}" if v.size == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def _summary(values: list[float]) -> dict[str, Any]:
    """Mean, sample sd and 95 % t interval (``None`` for one seed) of per-seed values."""
    mean, ci = t_interval(values)
    return {"mean": mean, "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
            "ci95": list(ci) if ci is not None else None}


def _ci(values: list[float]) -> str:
    mean, ci = t_interval(values)
    return f"{mean:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci is not None else f"{mean:+.3f}"


def main(argv: list[str]) -> int:
    seeds = [0]
    if "--seeds" in argv:
        seeds = [int(s) for s in argv[argv.index("--seeds") + 1].split(",")]
    quick = "--full" not in argv
    rows: list[dict[str, Any]] = []
    init: dict[str, list[float]] = {k: [] for k in KEYS if k != "temperature"}
    for label, overrides in CAUSES:
        per_seed = []
        for s in seeds:
            run = train_fashion_clip(seed=s, quick=quick, progress=True, **overrides)
            per_seed.append({k: float(run.metrics[k]) for k in KEYS})
            if overrides == {"temperature": 0.01}:
                for k in init:
                    init[k].append(float(run.init_metrics[k]))
        rows.append({"run": label, "overrides": overrides, "per_seed": per_seed})
    head = "| run | τ at end | L2M | RMG | lin. sep. | zero-shot | paired cos |"
    print(f"{'quick' if quick else 'full'} config, seeds {seeds}, 10,000 held-out pairs\n\n{head}\n|---|---|---|---|---|---|---|")
    print("| initialisation (step 0) | – | " + " | ".join(_cell(init[k]) for k in KEYS[1:]) + " |")
    for r in rows:
        print(f"| {r['run']} | " + " | ".join(_cell([p[k] for p in r["per_seed"]]) for k in KEYS) + " |")
    for r in rows:
        r["summary"] = {k: _summary([p[k] for p in r["per_seed"]]) for k in KEYS}
    if len(seeds) > 1:
        base = {k: [p[k] for p in rows[0]["per_seed"]] for k in ("l2m", "rmg")}
        print(f"\nL2M per seed ({', '.join(map(str, seeds))}) with its 95 % t interval, and the "
              f"paired difference from \"{rows[0]['run']}\" (same seed; mean [95 % t interval])"
              "\n\n| run | L2M per seed | L2M 95 % interval | Δ L2M | Δ RMG |"
              "\n|---|---|---|---|---|")
        table = [("initialisation (step 0)", init)] + [
            (r["run"], {k: [p[k] for p in r["per_seed"]] for k in base}) for r in rows]
        for i, (label, vals) in enumerate(table):
            diffs = {k: [a - b for a, b in zip(vals[k], base[k], strict=True)] for k in base}
            deltas = ["–", "–"] if i == 1 else [_ci(diffs[k]) for k in base]
            lo, hi = t_interval(vals["l2m"])[1]
            print(f"| {label} | " + " / ".join(f"{v:.3f}" for v in vals["l2m"])
                  + f" | [{lo:.3f}, {hi:.3f}] | " + " | ".join(deltas) + " |")
    init_summary = {k: _summary(v) for k, v in init.items()}
    OUT.write_text(json.dumps({"seeds": seeds, "quick": quick, "init": init,
                               "init_summary": init_summary, "rows": rows},
                              indent=1, sort_keys=True, default=str) + "\n")
    print(f"\nwrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
