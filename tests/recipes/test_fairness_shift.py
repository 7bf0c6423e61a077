"""fairness-shift (000 Table 2 in spirit): the rate and shift helpers, and the quick run's claims."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab.metrics import l2m
from gaplab.mitigate import GapShift
from gaplab.recipes.fairness_shift import MIN_RATE, PAPER_RATIO, alpha_for_gap_ratio, harmful_rates


def _pairs(seed=0, n=300, d=16, offset=0.6):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    x, y = z + offset * np.eye(d)[0], z + 0.3 * rng.normal(size=(n, d)) - offset * np.eye(d)[0]
    return x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)


def test_alpha_for_the_paper_ratio_widens_the_gap_by_it():
    x, y = _pairs()
    a = alpha_for_gap_ratio(x, y, PAPER_RATIO)
    assert a < 0  # widening: GapShift with a negative alpha
    m = GapShift(alpha=a).fit(x, y)
    assert l2m(m.transform_image(x), m.transform_text(y)) / l2m(x, y) == pytest.approx(PAPER_RATIO, abs=0.02)


def test_harmful_rates_per_group():
    labels = np.eye(3)
    x = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1.0], [0, 1, 0]])
    groups = np.array([0, 0, 1, 1, 2])
    r = harmful_rates(x, labels, np.array([False, True, True]), groups, 4)
    assert r["rate"] == pytest.approx(4 / 5)
    assert r["per_group"][:3] == [0.5, 1.0, 1.0] and np.isnan(r["per_group"][3])  # group 3 is empty
    assert r["top1"].tolist() == [0, 1, 2, 2, 1]


@pytest.mark.slow
def test_quick_run_claims_are_its_numbers(quick_run):
    run = quick_run("fairness-shift")
    claims = {c.claim: c for c in run.claims}
    runs = run.measured["runs"]
    some = claims["Before the shift some top-1 predictions are harmful"]
    assert some.null == MIN_RATE and some.per_seed == pytest.approx([r["before"]["rate"] for r in runs])
    widen = claims["Widening the gap as in Table 2 lowers the harmful-label rate"]
    assert widen.depends_on == some.claim
    assert widen.per_seed == pytest.approx([r["widen"]["rate"] - r["before"]["rate"] for r in runs])
    for r in runs:
        assert r["widen"]["alpha"] < 0 and r["widen"]["l2m"] > r["before"]["l2m"]
        assert r["close"]["l2m"] < r["before"]["l2m"]
