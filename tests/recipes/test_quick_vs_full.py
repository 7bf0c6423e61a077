"""A quick verdict is the full-scale verdict or inconclusive (full-scale records: tools/full_scale.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gaplab.runs import RunRecord

pytestmark = pytest.mark.slow  # runs the recipes at --quick (shared with their own tests)

FULL = Path(__file__).resolve().parents[2] / "docs" / "results" / "full"
RECORDS = sorted(FULL.glob("*.json"))


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
        assert q.verdict in (c.verdict, "inconclusive"), (c.claim, q.verdict, c.verdict)
    assert compared >= 1
