"""Recipe ``gradient-flow`` (paper 002, Fig. 2, Thm 3.2, Fig. 4b): quick run over seeds, claims re-derived."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _contract import check_record
from scipy.stats import spearmanr

from gaplab.recipes import reproduce
from gaplab.recipes.gradient_flow import (
    CLOSE_MARGIN,
    COUPLING_RHO,
    DECAY_MARGIN,
    FRACTION_MARGIN,
    P_TOL,
    RISE_MARGIN,
    THEOREM_P,
    fit_log_power,
    mismatch_phase,
)
from gaplab.runs import decide, t_interval

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def quick(quick_run):
    r = quick_run("gradient-flow")
    return r, r.out


def _by(res, start):
    (c,) = [c for c in res.claims if c.claim.startswith(start)]
    return c


def test_outputs_exist(quick):
    res, out = quick
    data = json.loads((out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "gradient-flow" and len(data["claims"]) == 6
    check_record(data)
    assert res.measured["seeds"] == [0, 1, 2]
    for f in res.figures:
        assert (out / f).stat().st_size > 0


def test_learnable_temperature_is_not_clamped(quick):
    for r in quick[0].measured["per_seed"]:
        assert r["final_tau"] < 0.01  # past CLIP's clamp: the engine ran with max_scale=None
        assert abs(r["history"]["tau"][0] - 0.07) < 1e-12


def test_per_seed_values_recomputed_from_the_histories(quick):
    m = quick[0].measured
    t = np.array(m["step"], dtype=float)
    for r in m["per_seed"]:
        h = {k: np.array(v) for k, v in r["history"].items()}
        t_match, early = mismatch_phase(t, h["matched"])
        assert t_match == r["t_match"] and h["matched"][t == t_match] == 1.0
        assert np.all(h["matched"][t < t_match] < 1.0)
        assert r["rho_mismatch_phase"] == pytest.approx(spearmanr(h["gap"][early], h["tau"][early]).statistic)
        assert r["rise_relative"] == pytest.approx(h["gap"][early].max() / h["gap"][0] - 1)
        w = t >= max(10 * t_match, m["steps"] / 100)
        slope = np.polyfit(np.log(np.log(t[w])), np.log(h["gap"][w]), 1)[0]
        assert r["p"] == pytest.approx(-slope)
        assert r["fixed_over_learnable"] == pytest.approx(h["gap_fixed_tau"][-1] / h["gap"][-1])
        assert r["early_fraction_increasing"] == pytest.approx(np.mean(np.array(r["early_change"]) > 0))
        assert len(r["early_change"]) == 100


def test_claims_follow_measurements(quick):
    res = quick[0]
    per = res.measured["per_seed"]
    expect = {  # claim start -> (measured key, null, margin, side)
        "Δ and τ have coupled": ("rho_mismatch_phase", COUPLING_RHO, 0.0, ">"),
        "Δ first grows": ("rise_relative", 0.0, RISE_MARGIN, ">"),
        "the gap still decays": ("p", 0.0, DECAY_MARGIN, ">"),
        "Δ decays no faster": ("p", THEOREM_P + P_TOL, 0.0, "<"),
        "with τ fixed": ("fixed_over_learnable", 1.0, CLOSE_MARGIN, "<"),
        "Δ grows over the first": ("early_fraction_increasing", 0.5, FRACTION_MARGIN, ">"),
    }
    for start, (key, null, margin, side) in expect.items():
        c = _by(res, start)
        values = [r[key] for r in per]
        assert c.per_seed == pytest.approx(values) and c.n_seeds == len(values) == 3
        assert (c.null, c.margin, c.side) == (null, margin, side)
        assert c.verdict == decide(t_interval(values)[1], null=null, margin=margin, side=side) == c.rederive()


def test_fixed_temperature_closes_gap(quick):
    c = _by(quick[0], "with τ fixed")
    assert c.verdict == "held"
    for r in quick[0].measured["per_seed"]:
        assert r["final_gap_fixed_tau"] < 1e-6 < r["final_gap"]


def test_fit_log_power_recovers_the_exponent_without_an_offset():
    t = np.logspace(3, 5, 50)
    f = fit_log_power(t, 0.3 / np.log(t) ** 2)
    assert f["p"] == pytest.approx(2.0) and f["b"] == pytest.approx(0.3) and f["r2"] == pytest.approx(1.0)
    # a constant gap has p = 0: "the gap still decays" is then not held (the former offset fit passed it)
    const = fit_log_power(t, np.full_like(t, 0.0165))
    assert abs(const["p"]) < 1e-9
    assert decide([const["p"] - 0.01, const["p"] + 0.01], margin=DECAY_MARGIN) == "not held"
    # faster than the theorem's rate: "no faster than 1/log²t" is not held
    fast = fit_log_power(t, 1.0 / np.log(t) ** 3)
    assert decide([fast["p"] - 0.01, fast["p"] + 0.01], null=THEOREM_P + P_TOL, side="<") == "not held"
    assert math.isnan(fit_log_power(t[:3], t[:3])["p"])  # too few points: NaN, never a silent number


def test_mismatch_phase_never_matched():
    t_match, mask = mismatch_phase(np.array([0, 1, 2]), np.array([0.2, 0.5, 0.9]))
    assert math.isnan(t_match) and not mask.any()


def test_a_run_that_never_matches_is_inconclusive(tmp_path):
    r = reproduce("gradient-flow", out=tmp_path, verbose=False, progress=False,
                  params={"steps": 5, "seeds": 2, "n_inits": 3})
    for start in ("Δ and τ have coupled", "Δ first grows", "the gap still decays", "Δ decays no faster"):
        c = _by(r, start)
        assert c.verdict == "inconclusive" and c.ci95 is None
    check_record(json.loads((tmp_path / "run.json").read_text()))
