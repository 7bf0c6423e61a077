"""Golden numbers: a few recipes and the quick demo give the same numbers through every refactor.

The values in tests/golden/*.json were recorded by ``python tests/golden/record.py`` from
the same seeds; every number a run measures is compared (claims' verdicts too).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden"
#: recipe names (quick, seed 0) and "demo" (gaplab demo --quick)
CASES = ("cone-effect", "mismatch-simulation", "sphere", "demo")


def run_case(name: str, out: Path) -> dict[str, Any]:
    """The measurements of one case as a JSON-like dict."""
    from gaplab.recipes import reproduce

    res = reproduce(name, quick=True, out=out, seed=0, verbose=False, progress=False)
    if name == "demo":
        return {"measured": {"stages": res.measured["stages"], "posthoc": res.measured["posthoc"]}, "claims": []}
    claims = [{"claim": c.claim, "held": c.held} for c in res.claims]
    return {"measured": res.measured, "claims": claims}


def numbers_of(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten to ``path → number | bool | None`` (strings and wall times are left out)."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if "wall" not in str(k) and "seconds" not in str(k):
                out.update(numbers_of(v, f"{prefix}/{k}"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(numbers_of(v, f"{prefix}[{i}]"))
    elif isinstance(obj, bool) or obj is None:
        out[prefix] = obj
    elif isinstance(obj, (int, float)) or hasattr(obj, "item"):
        v = float(obj)
        out[prefix] = v if math.isfinite(v) else str(v)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_same_numbers_as_recorded(name, tmp_path):
    path = GOLDEN / f"{name}.json"
    if not path.exists():
        pytest.fail(f"{path} missing: run python tests/golden/record.py")
    want = json.loads(path.read_text())
    got = numbers_of(run_case(name, tmp_path / name))
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        if isinstance(v, float):
            assert got[k] == pytest.approx(v, rel=1e-7, abs=1e-10), k
        else:
            assert got[k] == v, k
