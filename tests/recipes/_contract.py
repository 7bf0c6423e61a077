"""The run-record contract every recipe's run.json must meet (shared by the recipe tests)."""

from __future__ import annotations

import math
from typing import Any

from gaplab.runs import RUN_FILE, VERDICTS, Claim, RunRecord


def check_record(data: dict[str, Any]) -> RunRecord:
    """Parse ``data`` as a run record and check every claim's verdict against its own numbers."""
    record = RunRecord.from_dict(data, source=RUN_FILE)
    assert record.kind in ("recipe", "train", "demo") and record.name and isinstance(record.seed, int)
    assert record.versions.get("gaplab") and record.versions.get("numpy")
    by_text = {c["claim"]: Claim.from_dict(c) for c in data["claims"]}
    for c in data["claims"]:
        claim = Claim.from_dict(c)
        assert claim.verdict in VERDICTS, c
        assert claim.kind in ("evidence", "sanity"), c
        assert c["held"] is (claim.verdict == "held"), c
        if claim.ci95 is not None:  # an interval: the verdict is a function of it
            assert claim.verdict == claim.rederive(by_text.get(claim.depends_on)), c
            assert claim.effect is not None and math.isfinite(claim.effect), c
            lo, hi = claim.ci95
            assert lo <= claim.effect <= hi, c
        if claim.per_seed:
            assert claim.n_seeds == len(claim.per_seed), c
    return record
