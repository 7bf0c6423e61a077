"""temperature (000 Fig. 8): asserted from the measurement at quick scale."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from gaplab.recipes.temperature import MONOTONE_RHO
from gaplab.runs import decide, t_interval

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')

pytest.importorskip("gaplab.models.builtin")
pytest.importorskip("gaplab.train.trainer")


@pytest.fixture(scope="module")
def run(quick_run):
    return quick_run("temperature")


def test_outputs(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["measured"]["taus"] == pytest.approx([1, 0.1, 0.05, 1 / 30, 0.02, 0.01])
    assert (run.out / "temperature.png").stat().st_size > 10_000
    assert len(data["claims"]) == 3


def test_higher_temperature_smaller_gap(run):
    m = run.measured
    gaps = np.array(m["gaps"])  # τ from 1 down to 1/100
    # the trend, not strict monotonicity: at quick scale (one seed) neighbouring low τ lie
    # within noise of each other (0.593 vs 0.576 at τ = 1/50, 1/100 here); the recipe's own
    # "monotonically" claim reports that honestly and test_claims_follow_measurement checks it
    assert spearmanr(np.arange(gaps.size), gaps).statistic >= 0.8, gaps
    assert gaps[0] < 0.8 * m["pretrained_gap"]  # τ = 1 shrinks the gap
    assert gaps[-1] > m["pretrained_gap"]  # τ = 1/100 widens it
    assert min(m["zero_shot"]) > 0.5  # fine-tuning keeps a working model


def test_claims_follow_measurement(run):
    mono = next(c for c in run.claims if "monotonically" in c.claim)
    rho = [spearmanr(np.arange(len(r["gaps"])), r["gaps"]).statistic for r in run.measured["per_seed"]]
    assert mono.per_seed == pytest.approx(rho) and mono.n_seeds == 2
    assert mono.verdict == decide(t_interval(rho)[1], null=MONOTONE_RHO)
