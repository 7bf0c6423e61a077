"""Each method against its definition on small, hand-checkable data."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import ConfigError, InputError
from gaplab.metrics import gap_vector, l2m
from gaplab.mitigate import (
    Center,
    GapShift,
    MultiMean,
    Noise,
    Procrustes,
    RemoveDims,
    create_mitigation,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def gap_data(n=80, d=6, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    shift = np.zeros(d)
    shift[[1, 4]] = [3.0, -2.0]  # the gap lives in dims 1 and 4
    return z + shift, z - shift + 0.1 * rng.normal(size=(n, d))


# -- center ----------------------------------------------------------------------------------
def test_center_means_zero_before_renormalisation():
    x, y = gap_data()
    m = Center(renormalize=False).fit(x, y)
    xo, yo = m.transform(x, y)
    np.testing.assert_allclose(xo.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(yo.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(m.mean_image_, unit(x).mean(axis=0), rtol=1e-12)


def test_center_definition_with_renormalisation():
    x, y = gap_data()
    m = Center().fit(x, y)
    np.testing.assert_allclose(m.transform_image(x), unit(unit(x) - unit(x).mean(axis=0)), rtol=1e-12)
    np.testing.assert_allclose(m.transform_text(y), unit(unit(y) - unit(y).mean(axis=0)), rtol=1e-12)
    assert l2m(*m.transform(x, y)) < 0.1 * l2m(x, y)


def test_center_rejects_non_bool():
    with pytest.raises(ConfigError, match=r"center.fit: renormalize must be True or False, got 'yes'"):
        Center(renormalize="yes").fit(*gap_data())


# -- gap-shift -------------------------------------------------------------------------------
def test_gap_shift_alpha_one_meets_at_midpoint():
    x, y = gap_data()
    m = GapShift(alpha=1.0, renormalize=False).fit(x, y)
    xo, yo = m.transform(x, y)
    np.testing.assert_allclose(xo.mean(axis=0), yo.mean(axis=0), atol=1e-12)
    mid = (unit(x).mean(axis=0) + unit(y).mean(axis=0)) / 2
    np.testing.assert_allclose(xo.mean(axis=0), mid, atol=1e-12)


def test_gap_shift_is_paper_formula_with_lambda_half_alpha():
    x, y = gap_data()
    lam = 0.3
    m = GapShift(alpha=2 * lam).fit(x, y)
    delta = gap_vector(x, y)
    np.testing.assert_allclose(m.transform_image(x), unit(unit(x) - lam * delta), rtol=1e-12)
    np.testing.assert_allclose(m.transform_text(y), unit(unit(y) + lam * delta), rtol=1e-12)


def test_gap_shift_alpha_zero_is_identity_and_negative_widens():
    x, y = gap_data()
    np.testing.assert_allclose(GapShift(alpha=0.0).fit(x, y).transform_image(x), unit(x), rtol=1e-12)
    assert l2m(*GapShift(alpha=-0.5).fit(x, y).transform(x, y)) > l2m(x, y)


def test_gap_shift_auto_minimises_l2m_on_grid():
    x, y = gap_data()
    m = GapShift(alpha="auto").fit(x, y)
    best = l2m(*m.transform(x, y))
    for a in (0.0, 0.5, 1.0, 1.5, 2.0):
        assert best <= l2m(*GapShift(alpha=a).fit(x, y).transform(x, y)) + 1e-12
    assert 0.0 <= m.alpha_ <= 2.0


@pytest.mark.parametrize("alpha", ["half", True, float("nan"), None])
def test_gap_shift_bad_alpha(alpha):
    with pytest.raises(ConfigError, match=r"gap-shift.fit: alpha must be"):
        GapShift(alpha=alpha).fit(*gap_data())


# -- remove-dims -----------------------------------------------------------------------------
def test_remove_dims_picks_largest_mean_difference_and_zeroes_them():
    x, y = gap_data()
    m = RemoveDims(k=2).fit(x, y)
    assert sorted(m.dims_.tolist()) == [1, 4]
    diff = gap_vector(x, y)
    np.testing.assert_array_equal(m.dims_, np.argsort(-np.abs(diff), kind="stable")[:2])
    xo = m.transform_image(x)
    np.testing.assert_array_equal(xo[:, [1, 4]], 0.0)
    keep = [0, 2, 3, 5]
    np.testing.assert_allclose(xo[:, keep], unit(unit(x)[:, keep]), rtol=1e-12)


def test_remove_dims_gap_closes_as_k_grows():
    x, y = gap_data(d=6)
    gaps = [l2m(*RemoveDims(k=k).fit(x, y).transform(x, y)) for k in (1, 2)]
    assert gaps[1] < gaps[0] < l2m(x, y)


@pytest.mark.parametrize("k", [0, 6, 2.5, "two"])
def test_remove_dims_bad_k(k):
    with pytest.raises(ConfigError, match=r"remove-dims.fit: k must be"):
        RemoveDims(k=k).fit(*gap_data(d=6))


def test_remove_dims_needs_two_dims():
    with pytest.raises(InputError, match=r"d >= 2"):
        RemoveDims(k=1).fit(np.ones((4, 1)), np.ones((4, 1)))


# -- procrustes ------------------------------------------------------------------------------
def random_rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def test_procrustes_recovers_known_rotation():
    rng = np.random.default_rng(3)
    d = 16
    x = unit(rng.normal(size=(100, d)))
    q = random_rotation(d, 4)
    y = x @ q.T  # texts = images rotated
    m = Procrustes().fit(x, y)
    np.testing.assert_allclose(m.rotation_, q, atol=1e-6)
    np.testing.assert_allclose(m.transform_text(y), x, atol=1e-6)
    np.testing.assert_allclose(m.transform_image(x), x, atol=1e-12)
    np.testing.assert_allclose(m.rotation_.T @ m.rotation_, np.eye(d), atol=1e-10)
    assert l2m(*m.transform(x, y)) < 1e-6


def test_procrustes_with_several_captions_per_image():
    rng = np.random.default_rng(5)
    x = unit(rng.normal(size=(30, 8)))
    q = random_rotation(8, 6)
    idx = np.repeat(np.arange(30), 2)
    y = x[idx] @ q.T
    m = Procrustes().fit(x, y, image_index=idx)
    np.testing.assert_allclose(m.rotation_, q, atol=1e-6)


def test_procrustes_needs_pairs():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match=r"same number of rows"):
        Procrustes().fit(rng.normal(size=(10, 4)), rng.normal(size=(9, 4)))


def test_unpaired_methods_accept_different_n():
    rng = np.random.default_rng(0)
    m = Center().fit(rng.normal(size=(10, 4)), rng.normal(size=(7, 4)))
    assert m.transform_text(rng.normal(size=(3, 4))).shape == (3, 4)


# -- noise -----------------------------------------------------------------------------------
def test_noise_zero_std_equals_center():
    x, y = gap_data()
    a = Noise(std=0.0).fit(x, y).transform(x, y)
    b = Center().fit(x, y).transform(x, y)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12)


def test_noise_norm_and_modality():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4000, 64)), rng.normal(size=(4000, 64))
    m = Noise(std=0.3, renormalize=False, seed=7).fit(x, y)
    eps = m.transform_text(y) - (unit(y) - m.mean_text_)
    assert abs(np.linalg.norm(eps, axis=1).mean() - 0.3) < 0.01
    assert abs(eps.mean()) < 1e-3
    np.testing.assert_allclose(m.transform_image(x), unit(x) - m.mean_image_, rtol=1e-12)
    mi = Noise(std=0.3, modality="image", renormalize=False).fit(x, y)
    np.testing.assert_allclose(mi.transform_text(y), unit(y) - mi.mean_text_, rtol=1e-12)
    assert not np.allclose(mi.transform_image(x), unit(x) - mi.mean_image_)


def test_noise_deterministic_per_seed():
    x, y = gap_data()
    a = Noise(seed=1).fit(x, y).transform_text(y)
    np.testing.assert_array_equal(a, Noise(seed=1).fit(x, y).transform_text(y))
    assert not np.array_equal(a, Noise(seed=2).fit(x, y).transform_text(y))


@pytest.mark.parametrize(
    ("params", "msg"),
    [({"std": -1.0}, "std must be >= 0"), ({"modality": "audio"}, "modality must be one of"),
     ({"seed": -3}, "seed must be >= 0"), ({"center": 1}, "center must be True or False")],
)
def test_noise_bad_params(params, msg):
    with pytest.raises(ConfigError, match=msg):
        Noise(**params).fit(*gap_data())


# -- multi-mean ------------------------------------------------------------------------------
def test_multi_mean_without_queries_equals_center():
    x, y = gap_data()
    m = MultiMean().fit(x, y)
    c = Center().fit(x, y)
    np.testing.assert_allclose(m.transform_text(y), c.transform_text(y), rtol=1e-12)
    np.testing.assert_allclose(m.transform_query(y), c.transform_text(y), rtol=1e-12)
    assert m.n_query_ == 0


def test_multi_mean_uses_three_means():
    x, y = gap_data()
    rng = np.random.default_rng(9)
    q = rng.normal(size=(12, x.shape[1])) + 5.0
    m = MultiMean(renormalize=False).fit(x, y, query_text=q)
    np.testing.assert_allclose(m.mean_query_, unit(q).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(m.transform_text(q, role="query").mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(m.transform_text(y, role="corpus").mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(m.transform_image(x).mean(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ConfigError, match=r"role must be one of 'corpus', 'query'"):
        m.transform_text(y, role="both")


def test_multi_mean_query_width_checked():
    x, y = gap_data(d=6)
    with pytest.raises(InputError, match=r"query_text has 5 features, image_emb has 6"):
        MultiMean().fit(x, y, query_text=np.ones((3, 5)))


def test_unexpected_fit_argument():
    x, y = gap_data()
    with pytest.raises(ConfigError, match=r"center.fit: unexpected fit argument 'query_text'"):
        Center().fit(x, y, query_text=y)


def test_create_mitigation_drops_none():
    assert create_mitigation("remove-dims", k=None).k == 2
