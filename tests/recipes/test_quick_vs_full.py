"""A quick verdict is the full-scale verdict or inconclusive (full-scale records: tools/full_scale.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gaplab.runs import RunRecord

pytestmark = pytest.mark.slow  # runs the recipes at --quick (shared with their own tests)

FULL = Path(__file__).resolve().parents[2] / "docs" / "results" / "full"
RECORDS = sorted(FULL.glob("*.json"))

#: (recipe, claim) pairs whose quick verdict is known to differ from the full one, and why. Each
#: is checked to still differ, so a fix shows up as a failure here and the entry is removed.
KNOWN = {
    ("temperature-mitigation", "soft_swap: R@1 not worse than the baseline"):
        "150 quick steps barely train the swap; at 800 steps it costs R@1 beyond the 0.02 margin",
    ("temperature-mitigation", "no mitigation makes retrieval worse"):
        "follows the soft_swap claim above",
    ("model-zoo", "The zoo's models learned the object (premise of every claim below)"):
        "the quick zoo's models (600-3,000 images, few epochs) stay at chance on the digit; the full zoo "
        "learns it (median digit accuracy 0.55); with the premise not held every quick claim is inconclusive",
}


@pytest.mark.parametrize("path", RECORDS, ids=[p.stem for p in RECORDS])
def test_quick_verdicts_agree_with_full_scale(path, quick_run):
    full = RunRecord.from_dict(json.loads(path.read_text()), source=str(path))
    quick = {c.claim: c for c in quick_run(full.name).claims}
    compared = 0
    for c in full.claims:
        q = quick.get(c.claim)
        if q is None:  # claim texts that carry a scale-dependent number are not matched
            continue
        compared += 1
        agrees = q.verdict in (c.verdict, "inconclusive")
        if (full.name, c.claim) in KNOWN:
            assert not agrees, f"{full.name}: {c.claim!r} agrees now; remove it from KNOWN"
        else:
            assert agrees, (c.claim, q.verdict, c.verdict)
    assert compared >= 1
