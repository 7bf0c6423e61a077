"""Run recipes at full scale (seed 0) and keep their run records as the committed reference.

Usage: ``python tools/full_scale.py [NAME ...]`` (default: every recipe; ``--skip NAME``).
Writes ``docs/results/full/<name>.json`` (the run record without figures) and prints each
recipe's wall time. ``tools/gen_docs.py`` builds ``docs/reproductions.md`` from these files,
and ``tests/recipes/test_quick_vs_full.py`` checks that every quick verdict is the full one or
``inconclusive``. Full scale takes from seconds to tens of minutes per recipe on 2 cores.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from gaplab.recipes import list_recipes, reproduce

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "full"


def main(argv: list[str]) -> int:
    skip = {argv[i + 1] for i, a in enumerate(argv) if a == "--skip" and i + 1 < len(argv)}
    names = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] != "--skip")]
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or [n for n in list_recipes() if n != "demo"]:
        if name in skip:
            continue
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            rec = reproduce(name, quick=False, out=d, seed=0, verbose=False, progress=False, threads=1)
            data = rec.to_dict()
        # the claims are the reference; measurements and figures stay out of the repository
        data.update(figures=[], pairs=[], measured={}, history=None)
        (OUT / f"{name}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
