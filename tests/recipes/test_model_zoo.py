"""model-zoo (004 Fig. 2a / 3b / 6): the τ / permutation / bootstrap helpers against brute force; the zoo's design."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import kendalltau

from gaplab.recipes import _mad
from gaplab.recipes.model_zoo import (
    FIXED_KEY,
    GAP_KEYS,
    TASK_KEYS,
    kendall_tau_b,
    member_config,
    stat_bootstrap,
    tau_bootstrap,
    tau_permutation_p,
    zoo_specs,
)


def _tau_brute(a, b):
    """τ-b by counting pairs one at a time."""
    n = len(a)
    s = ta = tb = 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            s += da * db
            ta += abs(da)
            tb += abs(db)
    return s / math.sqrt(ta * tb)


@pytest.mark.parametrize("seed", range(5))
def test_tau_b_matches_scipy_and_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 4, 9).astype(float), rng.normal(size=9).round(1)
    ours = float(kendall_tau_b(a, b))
    assert ours == pytest.approx(kendalltau(a, b).statistic, abs=1e-12)
    assert ours == pytest.approx(_tau_brute(a, b), abs=1e-12)


def test_tau_b_broadcasts_and_is_nan_on_a_constant_side():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 7)), rng.normal(size=7)
    got = kendall_tau_b(a, b)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, [kendalltau(r, b).statistic for r in a], atol=1e-12)
    assert np.isnan(kendall_tau_b(np.ones(5), np.arange(5.0)))


def test_permutation_p_is_the_exact_enumeration_on_a_tiny_case():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=6), rng.normal(size=6)
    t0 = _tau_brute(a, b)
    null = np.array([_tau_brute(a[list(p)], b) for p in itertools.permutations(range(6))])
    eps = 1e-12  # scipy compares with a relative tolerance; τ takes few distinct values here
    p_greater = np.mean(null >= t0 - eps)
    p_less = np.mean(null <= t0 + eps)
    expected = min(1.0, 2 * min(p_greater, p_less))
    assert tau_permutation_p(a, b, n_perm=9999) == pytest.approx(expected, abs=1e-12)  # 720 ≤ 9999: exact


def test_permutation_p_random_mode_is_seeded_and_never_zero():
    a = np.arange(12.0)
    p1, p2 = (tau_permutation_p(a, a, n_perm=199, seed=4) for _ in range(2))
    assert p1 == p2 and 0 < p1 <= 2 * 1 / 200 + 1e-12


def test_bootstrap_intervals():
    x = np.arange(10.0)
    assert tau_bootstrap(x, -x, n_boot=100) == ([-1.0, -1.0], 0)
    assert tau_bootstrap(x, -x, n_boot=100, absolute=True)[0] == [1.0, 1.0]
    ci, dropped = tau_bootstrap(np.r_[np.zeros(9), 1.0], x, n_boot=500, seed=1)
    assert dropped > 0 and ci[0] <= ci[1]  # resamples without the one distinct value are dropped
    lo, hi = stat_bootstrap(x, n_boot=1000)
    assert lo < 4.5 < hi
    lo, hi = stat_bootstrap(np.r_[np.zeros(6), np.ones(5)], stat="median", n_boot=1000, seed=2)
    assert lo == 0.0 and hi == 1.0


def test_zoo_design():
    full, quick = zoo_specs(False), zoo_specs(True)
    assert len(full) >= 24 and len(quick) >= 8
    wanted = {"embed_dim", "width", "depth", "n_train", "captions", "temperature"}
    for zoo in (full, quick):
        assert wanted <= {s.axis for s in zoo}
        cfgs = [member_config(s, quick=zoo is quick, seed=0) for s in zoo]
        assert len({c.key() for c in cfgs}) == len(zoo)  # no two members are the same model
        assert len({(c.n_test, c.image_size, c.seed) for c in cfgs}) == 1  # one held-out set for all
    assert set(GAP_KEYS) >= {"l2m", "rmg", "moad"} and {"zs_mean", "i2t_r1", "t2i_r5"} <= set(TASK_KEYS)


def test_fixed_temperature_is_a_train_option():
    cfg = member_config(zoo_specs(True)[-1], quick=True, seed=0)
    assert FIXED_KEY in cfg.extra
    assert _mad.train_options(cfg) == {"loss": "clip", "temperature": cfg.extra[FIXED_KEY]}
    assert _mad.train_options(_mad.scaled_config(True))["temperature"] == "learnable"
    with pytest.raises(ValueError, match="both fixed_temperature and temperature_init"):
        _mad.train_options(_mad.MADConfig(extra={FIXED_KEY: 0.07, "temperature_init": 0.1}))


@pytest.mark.slow
def test_quick_run_record(quick_run):
    run = quick_run("model-zoo")
    m = run.measured
    assert m["n_models"] == len(zoo_specs(True)) and len(m["tau"]) == len(GAP_KEYS) * len(TASK_KEYS)
    assert {c.kind for c in run.claims} == {"evidence", "sanity"}
    assert all(c.verdict == "held" for c in run.claims if c.kind == "sanity")
    assert {"model_zoo_scatter.png", "model_zoo_tau.png"} <= set(run.figures)
    fixed = [r for r in m["models"] if r["axis"] == "temperature"]
    assert all(r["final_temperature"] == pytest.approx(r["config"]["temperature"]) for r in fixed)
