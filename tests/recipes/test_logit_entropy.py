"""Recipe ``logit-entropy`` (paper 004, Fig. 8 of the notes): quick run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gaplab.recipes.logit_entropy import _gap_at_entropy
from gaplab.runs import decide, t_interval

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def quick(quick_run):
    r = quick_run("logit-entropy")
    return r, r.out


def test_outputs_exist(quick):
    res, out = quick
    data = json.loads((out / "run.json").read_text())
    assert len(data["claims"]) == 2
    assert (out / "gap_vs_logit_entropy.png").stat().st_size > 0
    assert len(data["measured"]["trajectories"]["frozen"]) == data["measured"]["seeds"]


def test_temperatures_behave(quick):
    traj = quick[0].measured["trajectories"]
    for frozen, learnable in zip(traj["frozen"], traj["learnable"], strict=True):
        assert learnable["tau"][-1] < 0.07  # CLIP's learnable τ falls
        assert np.allclose(frozen["tau"], learnable["tau"][-1])  # frozen where the learnable run ends


def test_entropy_falls_from_near_uniform(quick):
    n = 500
    for mode, runs in quick[0].measured["trajectories"].items():
        for r in runs:
            if mode == "learnable":  # starts at τ = 0.07: a soft softmax over random embeddings
                assert r["entropy"][0] > 0.6 * math.log(n)
            assert r["entropy"][-1] < r["entropy"][0] - 0.5


def test_claim_computed_from_measurement(quick):
    res = quick[0]
    d = [p["gap_at_h_star_frozen"] - p["gap_at_h_star_learnable"] for p in res.measured["per_seed"]]
    assert res.claims[0].per_seed == pytest.approx(d)
    assert res.claims[0].verdict == decide(t_interval(d)[1])
    assert res.claims[1].held == (res.measured["gap_shift_spearman"] > 0.9)


def test_gap_at_entropy_interpolates():
    h = np.array([5.0, 4.0, 3.0, 2.0])
    g = np.array([1.0, 0.2, 0.4, 0.6])
    assert _gap_at_entropy(h, g, 3.5) == pytest.approx(0.3)
    assert math.isnan(_gap_at_entropy(h, g, 1.0))
