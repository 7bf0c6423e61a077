"""The post-hoc zoo (i0t, realign, orthogonal-shift, c3, ot): each against a slow,
obviously-correct reference and a tiny case computed by hand. The shared contract battery
(test_common.py) runs them too."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gaplab import ConfigError, InputError
from gaplab.metrics import l2m
from gaplab.mitigate import (
    C3,
    I0T,
    Center,
    Noise,
    OrthogonalShift,
    OTMap,
    ReAlign,
    compare,
    list_mitigations,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _unit(a):
    a = np.asarray(a, float)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _data(n=30, d=5, seed=0, k=None):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    x = z + np.r_[1.5, np.zeros(d - 1)] + 0.3 * rng.normal(size=(n, d))
    y = 0.6 * z[: (k or n)] - np.r_[1.5, np.zeros(d - 1)] + 0.3 * rng.normal(size=(k or n, d))
    return x, y


def test_all_zoo_names_registered():
    assert {"csls", "qb-norm", "db-norm", "i0t", "realign", "orthogonal-shift", "c3", "ot"} <= set(list_mitigations())


# -- i0t ---------------------------------------------------------------------------------------
def naive_i0t(fit, rows, eps=1e-8):
    fit, rows = _unit(fit), _unit(rows)
    out = np.empty_like(rows)
    for j in range(fit.shape[1]):
        col = [r[j] for r in fit]
        mu = sum(col) / len(col)
        sd = (sum((c - mu) ** 2 for c in col) / len(col)) ** 0.5
        out[:, j] = (rows[:, j] - mu) / (sd if sd > eps else 1.0)
    return _unit(out)


def test_i0t_matches_naive():
    x, y = _data()
    xt, yt = _data(seed=1)
    m = I0T().fit(x, y)
    np.testing.assert_allclose(m.transform_image(xt), naive_i0t(x, xt), rtol=1e-12)
    np.testing.assert_allclose(m.transform_text(yt), naive_i0t(y, yt), rtol=1e-12)


def test_i0t_constant_dimension_and_centre_only():
    x, y = _data()
    x[:, 3] = 0.0  # constant after normalisation too
    xt, yt = _data(seed=1)
    m = I0T().fit(x, y)
    assert m.scale_image_[3] == 1.0 and np.isfinite(m.transform_image(xt)).all()
    c = I0T(standardize=False).fit(x, y)
    np.testing.assert_allclose(c.transform_text(yt), Center().fit(x, y).transform_text(yt), rtol=1e-12)


def test_i0t_by_hand():
    # images e1, e2: mean (.5, .5), std (.5, .5); e1 -> (1, -1)/sqrt 2
    m = I0T().fit([[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.8, 0.6]])
    np.testing.assert_allclose(m.transform_image([[1.0, 0.0]]), [[2**-0.5, -(2**-0.5)]], rtol=1e-12)
    with pytest.raises(ConfigError, match="i0t.fit: eps must be >= 0.0"):
        I0T(eps=-1.0).fit([[1.0, 0.0], [0.0, 1.0]], [[0.6, 0.8], [0.8, 0.6]])


# -- realign -----------------------------------------------------------------------------------
def test_realign_literal_reading_stats():
    """renormalize=False: fitted texts have the images' mean exactly; the anchored trace matches."""
    x, y = _data()
    m = ReAlign(renormalize=False).fit(x, y)
    xn, yn = _unit(x), _unit(y)
    var = lambda a: np.mean(np.sum((a - a.mean(0)) ** 2, axis=1))  # noqa: E731
    assert m.scale_ == pytest.approx(np.sqrt(var(xn) / var(yn)), rel=1e-12)
    anchored = xn.mean(0) + m.scale_ * (yn - yn.mean(0))
    assert var(anchored) == pytest.approx(var(xn), rel=1e-12)
    np.testing.assert_allclose(m.transform_text(y).mean(0), xn.mean(0), atol=1e-12)
    np.testing.assert_array_equal(m.transform_image(x), xn)


def test_realign_renormalised_mean_converges():
    x, y = _data()
    xn = _unit(x)
    errs = [np.linalg.norm(ReAlign(n_iter=n).fit(x, y).transform_text(y).mean(0) - xn.mean(0)) for n in (1, 3, 10)]
    assert errs[2] < errs[1] < errs[0] and errs[2] < 1e-3
    np.testing.assert_allclose(np.linalg.norm(ReAlign().fit(x, y).transform_text(y), axis=1), 1.0, rtol=1e-12)


def test_realign_naive_loop():
    """The fixed-point iteration written out row by row."""
    x, y = _data(n=12)
    yt = _data(n=12, seed=1)[1]
    xn, yn = _unit(x), _unit(y)
    mx, my = xn.mean(0), yn.mean(0)
    rho = np.sqrt(np.mean([np.sum((r - mx) ** 2) for r in xn]) / np.mean([np.sum((r - my) ** 2) for r in yn]))
    anchor = [mx + rho * (r - my) for r in yn]
    c = np.zeros(x.shape[1])
    for _ in range(5):
        moved = [(a + c) / np.linalg.norm(a + c) for a in anchor]
        c = c + mx - np.mean(moved, axis=0)
    want = [(mx + rho * (r - my) + c) / np.linalg.norm(mx + rho * (r - my) + c) for r in _unit(yt)]
    np.testing.assert_allclose(ReAlign(n_iter=5).fit(x, y).transform_text(yt), want, rtol=1e-12)


def test_realign_target_text_moves_images():
    x, y = _data()
    m = ReAlign(target="text", renormalize=False).fit(x, y)
    np.testing.assert_allclose(m.transform_image(x).mean(0), _unit(y).mean(0), atol=1e-12)
    np.testing.assert_array_equal(m.transform_text(y), _unit(y))
    with pytest.raises(ConfigError, match="realign.fit: target must be one of 'image', 'text', got 'both'"):
        ReAlign(target="both").fit(x, y)
    with pytest.raises(InputError, match="the text rows are all equal"):
        ReAlign().fit(x, np.ones_like(y))


# -- orthogonal-shift --------------------------------------------------------------------------
def naive_orthogonal_shift(x, y, rank):
    xn, yn = _unit(x), _unit(y)
    mu = xn.mean(0)
    cov = (xn - mu).T @ (xn - mu)
    w, v = np.linalg.eigh(cov)
    p = v[:, np.argsort(w)[::-1][:rank]]
    delta = mu - yn.mean(0)
    return delta - p @ (p.T @ delta), p


def test_orthogonal_shift_matches_eigh_reference():
    x, y = _data(n=40, d=6)
    yt = _data(n=40, d=6, seed=1)[1]
    m = OrthogonalShift(rank=2).fit(x, y)
    shift, p = naive_orthogonal_shift(x, y, 2)
    np.testing.assert_allclose(m.shift_, shift, atol=1e-12)
    np.testing.assert_allclose(np.abs(m.basis_.T @ p), np.eye(2), atol=1e-8)  # same subspace
    np.testing.assert_allclose(m.basis_.T @ m.shift_, 0.0, atol=1e-12)  # orthogonal to it
    np.testing.assert_allclose(m.transform_text(yt), _unit(_unit(yt) + shift), rtol=1e-12)
    np.testing.assert_array_equal(m.transform_image(x), _unit(x))


def test_orthogonal_shift_rank_zero_is_the_full_gap_and_rank_is_clipped():
    x, y = _data(n=10, d=4)
    m = OrthogonalShift(rank=0, alpha=0.5).fit(x, y)
    np.testing.assert_allclose(m.shift_, 0.5 * (_unit(x).mean(0) - _unit(y).mean(0)), atol=1e-15)
    assert OrthogonalShift(rank=100).fit(x, y).rank_ == 3  # min(N - 1, d - 1)
    t = OrthogonalShift(rank=1, retrieval_modality="text", renormalize=False).fit(x, y)
    np.testing.assert_allclose(t.transform_image(x) - _unit(x), np.broadcast_to(t.shift_, x.shape), atol=1e-15)
    with pytest.raises(ConfigError, match="orthogonal-shift.fit: rank must be >= 0, got -1"):
        OrthogonalShift(rank=-1).fit(x, y)


def test_orthogonal_shift_keeps_rankings_better_than_a_full_shift():
    """The point of the method: the gap closes while text->image scores move less evenly than
    under a full shift, when the images vary mostly in a few directions."""
    rng = np.random.default_rng(0)

    def images(n):  # around 3 e0, spread along dims 1-3 (little else)
        z = np.zeros((n, 8))
        z[:, 1:4] = 0.5 * rng.normal(size=(n, 3))
        return 3.0 * np.eye(8)[0] + z + 0.02 * rng.normal(size=(n, 8))

    def texts(n):  # around -3 e0 + 2 e1: part of the gap lies in the images' main subspace
        return -3.0 * np.eye(8)[0] + 2.0 * np.eye(8)[1] + 0.5 * rng.normal(size=(n, 8))

    x, xt, y, yt = images(200), images(200), texts(200), texts(200)
    full = OrthogonalShift(rank=0, renormalize=False).fit(x, y)
    orth = OrthogonalShift(rank=3, renormalize=False).fit(x, y)
    base = _unit(yt) @ _unit(xt).T

    def spread(m):  # how unevenly the shift moves one query's scores across the gallery rows
        return float(np.std((m.transform_text(yt) @ _unit(xt).T - base), axis=1).mean())

    assert spread(orth) < 0.6 * spread(full)  # 0.049 vs 0.095
    assert l2m(*orth.transform(xt, yt)) < l2m(xt, yt)


def test_orthogonal_shift_by_hand():
    m = OrthogonalShift(rank=1, renormalize=False).fit([[0.6, 0.8, 0.0], [0.6, -0.8, 0.0]],
                                                      [[0.8, 0.6, 0.0], [0.8, -0.6, 0.0]])
    # gap (-0.2, 0, 0) already orthogonal to the images' principal axis (0, 1, 0): kept whole
    np.testing.assert_allclose(m.shift_, [-0.2, 0.0, 0.0], atol=1e-15)


# -- c3 ----------------------------------------------------------------------------------------
def test_c3_default_is_center_and_corrupt_at_transform_is_noise():
    x, y = _data()
    xt, yt = _data(seed=1)
    c = C3().fit(x, y)
    ref = Center().fit(x, y)
    np.testing.assert_allclose(c.transform_text(yt), ref.transform_text(yt), rtol=1e-12)
    np.testing.assert_allclose(c.transform_image(xt), ref.transform_image(xt), rtol=1e-12)
    for modality in ("text", "image"):
        c = C3(std=0.3, modality=modality, corrupt_at_transform=True, seed=4).fit(x, y)
        n = Noise(std=0.3, modality=modality, seed=4).fit(x, y)
        np.testing.assert_array_equal(c.transform_text(yt), n.transform_text(yt))
        np.testing.assert_array_equal(c.transform_image(xt), n.transform_image(xt))


def test_c3_corrupt_is_the_training_view():
    x, y = _data()
    m = C3(std=0.2, seed=1, renormalize=False).fit(x, y)
    yn = _unit(y)
    rng = np.random.default_rng(1)
    want = yn - yn.mean(0) + rng.standard_normal(yn.shape) * 0.2 / np.sqrt(y.shape[1])
    np.testing.assert_allclose(m.corrupt(y), want, rtol=1e-12)
    np.testing.assert_array_equal(m.corrupt(y), m.corrupt(y))  # seeded
    with pytest.raises(ConfigError, match="c3.fit: std must be >= 0.0"):
        C3(std=-1).fit(x, y)


# -- ot ----------------------------------------------------------------------------------------
def brute_force_plan(cost):
    """Equal sizes, uniform weights: the best permutation, by enumeration."""
    n = cost.shape[0]
    best = min(itertools.permutations(range(n)), key=lambda p: sum(cost[i, p[i]] for i in range(n)))
    return np.array(best)


def _centred(x, y):
    xn, yn = _unit(x), _unit(y)
    return xn - xn.mean(0), yn - yn.mean(0)


@pytest.mark.parametrize("solver", ["scipy", "pot"])
def test_ot_matches_brute_force(solver):
    if solver == "pot":
        pytest.importorskip("ot")
    x, y = _data(n=6, d=4)
    yt = _data(n=6, d=4, seed=1)[1]
    m = OTMap(solver=solver, renormalize=False).fit(x, y)
    xc, yc = _centred(x, y)
    cost = ((yc[:, None, :] - xc[None, :, :]) ** 2).sum(-1)
    perm = brute_force_plan(cost)
    assert m.transport_cost_ == pytest.approx(cost[np.arange(6), perm].mean(), rel=1e-9)
    # fitting texts land exactly on their matched centred image
    np.testing.assert_allclose(m.transform_text(y), xc[perm], atol=1e-12)
    # a new text: its nearest fitting text's displacement
    ytc = _unit(yt) - _unit(y).mean(0)
    nn = [int(np.argmin([np.sum((r - b) ** 2) for b in yc])) for r in ytc]
    np.testing.assert_allclose(m.transform_text(yt), ytc + (xc[perm] - yc)[nn], atol=1e-12)
    np.testing.assert_allclose(m.transform_image(x), xc, atol=1e-15)


def test_ot_unequal_sizes_linprog_equals_pot():
    pytest.importorskip("ot")
    x, y = _data(n=9, d=4, k=6)
    a = OTMap(solver="scipy").fit(x, y)
    b = OTMap(solver="pot").fit(x, y)
    assert a.solver_ == "scipy-linprog" and b.solver_ == "pot"
    assert a.transport_cost_ == pytest.approx(b.transport_cost_, rel=1e-7)


def test_ot_unequal_sizes_barycentre_by_hand():
    # two texts, four images (already centred): each text's half of the mass goes to its two
    # nearest images, so text (.6, .8) maps to the mean of e1 and e2
    x = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]
    y = [[0.6, 0.8], [-0.6, -0.8]]
    m = OTMap(solver="scipy", renormalize=False).fit(x, y)
    assert m.solver_ == "scipy-linprog"
    np.testing.assert_allclose(m.transform_text(y), [[0.5, 0.5], [-0.5, -0.5]], atol=1e-9)


def test_ot_linear_extension_is_least_squares():
    x, y = _data(n=20, d=4)
    yt = _data(n=20, d=4, seed=1)[1]
    m = OTMap(extension="linear", solver="scipy", renormalize=False).fit(x, y)
    xc, yc = _centred(x, y)
    cost = ((yc[:, None, :] - xc[None, :, :]) ** 2).sum(-1)
    from scipy.optimize import linear_sum_assignment
    _, perm = linear_sum_assignment(cost)
    a, *_ = np.linalg.lstsq(np.c_[yc, np.ones(20)], xc[perm], rcond=None)
    ytc = _unit(yt) - _unit(y).mean(0)
    np.testing.assert_allclose(m.transform_text(yt), np.c_[ytc, np.ones(20)] @ a, atol=1e-10)


def test_ot_bad_params():
    x, y = _data()
    with pytest.raises(ConfigError, match="ot.fit: extension must be one of 'nearest', 'linear', got 'knn'"):
        OTMap(extension="knn").fit(x, y)
    with pytest.raises(ConfigError, match="solver must be one of 'auto', 'pot', 'scipy'"):
        OTMap(solver="sinkhorn").fit(x, y)


# -- all of them under the held-out battery ----------------------------------------------------
def test_zoo_under_compare():
    x, y = _data(n=80, d=6)
    r = compare(x, y, ["i0t", "realign", "orthogonal-shift", "c3", "ot"], seed=0)
    before = r["rows"][0]
    for row in r["rows"][1:]:
        assert row["l2m"] < before["l2m"], row["method"]
        assert 0.0 <= row["flip_rate"] <= 1.0 and 0.0 <= row["mixed_own_share10"] <= 1.0


# -- the table on the shipped CLIP dump (issue 18, item 5) ---------------------------------------
@pytest.mark.slow
def test_published_clip_table():
    from gaplab.mitigate import TABLE_KEYS, get_mitigation, published_table

    t = published_table("clip_coco", seed=0)
    assert t["split"]["n_test_images"] == 250 and t["keys"] == list(TABLE_KEYS)
    rows = {r["method"]: r for r in t["rows"]}
    assert list(rows) == ["none", *list_mitigations()]
    none = rows["none"]
    assert none["l2m"] > 0.8 and none["mixed_own_share10"] == 1.0  # CLIP's gap: texts find texts
    for name, r in rows.items():
        assert all(isinstance(r[k], float) for k in TABLE_KEYS), name
        if name != "none" and get_mitigation(name).score_level:
            assert r["l2m"] == pytest.approx(none["l2m"], rel=1e-6)
    assert rows["center"]["l2m"] < 0.2 * none["l2m"]
    qb = rows["qb-norm"]  # the hubness fix: fewer hubs, texts no longer fill the mixed top 10
    assert qb["hubness_image"] < 0.5 * none["hubness_image"] and qb["mixed_own_share10"] < 0.7
    assert rows["csls"]["t2i_r1"] > none["t2i_r1"]
    assert "qb-norm" in t["text"] and t["text"].count("\n") == len(rows)
    with pytest.raises(InputError, match="published_table: unknown key 'r1'"):
        published_table(mitigations=[], keys=("r1",))


def test_ot_map_does_not_depend_on_which_optimum_the_solver_found():
    # repeated captions make many plans optimal; the map averages over identical rows, so
    # POT and scipy (different optima) give the same transform
    pytest.importorskip("ot")
    from gaplab.mitigate import create_mitigation

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 16)) + 1
    y = (rng.normal(size=(12, 16)) - 1)[rng.integers(0, 12, 120)]
    a = create_mitigation("ot", solver="pot").fit(x, y)
    b = create_mitigation("ot", solver="scipy").fit(x, y)
    np.testing.assert_allclose(a.transform_text(y), b.transform_text(y), atol=1e-12)


def test_mean_over_duplicates_by_hand():
    from gaplab.mitigate.zoo import _mean_over_duplicates

    out = _mean_over_duplicates(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
                                np.array([[1.0, 1.0], [5.0, 5.0], [3.0, 3.0]]))
    np.testing.assert_array_equal(out, [[2.0, 2.0], [5.0, 5.0], [2.0, 2.0]])
