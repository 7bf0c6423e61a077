"""Bootstrap intervals, permutation nulls and chance levels of ``measure`` against slow references."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab._errors import InputError
from gaplab._validation import normalize_rows
from gaplab.metrics import MetricSuite, chance_levels, measure, permutation_test, retrieval_recall
from gaplab.metrics.functional._onepass import top_k_pass
from gaplab.metrics.functional.knn import _mutual_knn
from gaplab.metrics.functional.uniformity import _uniformity
from gaplab.metrics.intervals import (
    EXACT_KEYS,
    _log_mean_potential,
    _neighbour_overlap,
    _subsample_bootstrap,
    bootstrap_measure,
    exact_bootstrap,
    resample_counts,
)
from gaplab.runs import bootstrap_interval


def _pairs(n=40, d=6, seed=0, shift=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + shift
    return x, x + rng.normal(size=(n, d)) - shift


def _resampled_rows(x, y, idx, counts):
    """The rows a resample stands for: each image repeated by its count, with all its captions."""
    imgs = np.repeat(np.arange(x.shape[0]), counts)
    if idx is None:
        return x[imgs], y[imgs], None
    caps, new_idx = [], []
    for j, i in enumerate(imgs):
        own = np.flatnonzero(idx == i)
        caps.extend(own)
        new_idx.extend([j] * own.size)
    return x[imgs], y[np.array(caps)], np.array(new_idx)


@pytest.mark.parametrize("with_index", [False, True])
def test_exact_bootstrap_is_measure_on_the_resampled_rows(with_index):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 5)) + 1
    idx = rng.integers(0, 12, size=30) if with_index else None
    idx = None if idx is None else np.r_[np.arange(12), idx[12:]]  # every image has a caption
    y = rng.normal(size=(30 if with_index else 12, 5))
    counts = resample_counts(12, 5, seed=3)
    boots = exact_bootstrap(x, y, idx, counts)
    for b in range(5):
        xr, yr, ir = _resampled_rows(x, y, idx, counts[b])
        ref = MetricSuite().update(xr, yr, image_index=ir).compute()
        for k in EXACT_KEYS:
            np.testing.assert_allclose(boots[k][b], ref[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_hand_computed_resamples():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    boots = exact_bootstrap(x, y, None, np.array([[2, 0], [0, 2], [1, 1]]))
    np.testing.assert_allclose(boots["l2m"], [np.sqrt(2), np.sqrt(2), 0.0], atol=1e-12)
    np.testing.assert_allclose(boots["mean_cos_paired"], [0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(boots["mean_cos_image"], [1.0, 1.0, 0.0], atol=1e-12)  # the two copies agree


def test_per_pair_mean_matches_runs_bootstrap_interval():
    x, y = _pairs(50)
    r = bootstrap_measure(x, y, None, {"mean_cos_paired": 0.0}, resamples=300, seed=7, pairwise=False)
    cos = np.einsum("ij,ij->i", normalize_rows(x), normalize_rows(y))
    _, (lo, hi) = bootstrap_interval(cos, seed=7, n_boot=300)
    np.testing.assert_allclose(r["ci95"]["mean_cos_paired"], [lo, hi], rtol=1e-12)


def test_measure_ci_keys_seeds_and_coverage_of_the_value():
    x, y = _pairs(60)
    a = measure(x, y, ci=40, seed=3)
    b = measure(x, y, ci=40, seed=3)
    c = measure(x, y, ci=40, seed=4)
    assert a["ci95"] == b["ci95"] and a["null"] == b["null"]
    assert a["ci95"]["l2m"] != c["ci95"]["l2m"]
    assert a["ci"] == {**a["ci"], "method": "bootstrap", "resamples": 40, "seed": 3, "unit": "pair", "shifted": False}
    for k in (*EXACT_KEYS, "uniformity_image", "logit_entropy_t2i", "i2t_r1", "mutual_knn", "linear_separability"):
        lo, hi = a["ci95"][k]
        assert lo <= hi and lo - 1e-9 <= a[k] <= hi + 1e-9, (k, lo, a[k], hi)
    assert "cka" not in a["ci95"]  # not covered, so absent rather than wrong
    assert "ci95" not in measure(x, y) and "null" not in measure(x, y, ci=0)


def test_subsample_point_values_are_measures_values():
    x, y = _pairs(40)
    xs, ys = normalize_rows(x), normalize_rows(y)
    w = resample_counts(40, 3, 0)
    _, point, _ = _subsample_bootstrap(xs, ys, None, w, w, temperature=0.01, knn_k=10, seed=0, resamples=3)
    ref = measure(x, y)
    for k in ("uniformity_image", "uniformity_text", "logit_entropy_i2t", "logit_entropy_t2i", "i2t_r1",
              "t2i_r5", "mutual_knn", "linear_separability"):
        np.testing.assert_allclose(point[k], ref[k], rtol=1e-5, err_msg=k)


def test_weighted_uniformity_against_a_double_loop():
    xs = normalize_rows(np.random.default_rng(2).normal(size=(15, 4)))
    w = resample_counts(15, 4, 5)
    got = _log_mean_potential(xs, w)
    for b in range(4):
        num = den = 0.0
        for i in range(15):
            for j in range(15):
                if i != j:  # distinct rows only: a row's copies are not a pair
                    num += w[b, i] * w[b, j] * np.exp(-2.0 * np.sum((xs[i] - xs[j]) ** 2))
                    den += w[b, i] * w[b, j]
        np.testing.assert_allclose(got[b], np.log(num / den), rtol=1e-10)
    # unit weights: exactly the uniformity of the rows
    np.testing.assert_allclose(_log_mean_potential(xs, np.ones((1, 15)))[0], _uniformity(xs, 2.0, None), rtol=1e-10)


def test_relabelled_neighbours_are_mutual_knn_of_the_repaired_texts():
    x, y = _pairs(30, seed=4)
    xs, ys = normalize_rows(x), normalize_rows(y)
    nx, ny = top_k_pass(xs, xs, 3, exclude_self=True), top_k_pass(ys, ys, 3, exclude_self=True)
    np.testing.assert_allclose(_neighbour_overlap(nx, ny).mean() / 3, _mutual_knn(xs, ys, 3, None))
    rng = np.random.default_rng(0)
    for p in [rng.permutation(30) for _ in range(4)]:
        mapped = np.argsort(p)[ny[p]]
        np.testing.assert_allclose(_neighbour_overlap(nx, mapped).mean() / 3, _mutual_knn(xs, ys[p], 3, None))


def test_nulls_sit_at_chance_and_the_observed_far_above():
    x, y = _pairs(80, d=8, shift=2.0)
    r = measure(x, y, ci=60)
    mk, sep = r["null"]["mutual_knn"], r["null"]["linear_separability"]
    assert abs(mk["mean"] - r["chance"]["mutual_knn"]) < 0.03
    assert mk["range95"][1] < mk["observed"] and mk["p_value"] == pytest.approx(1 / 61)
    assert abs(sep["mean"] - 0.5) < 0.1 and sep["observed"] == pytest.approx(r["linear_separability"])
    assert sep["range95"][1] < sep["observed"] and sep["p_value"] == pytest.approx(1 / 61)


def test_capped_subsample_is_shifted_to_the_full_value():
    x, y = _pairs(90)
    r = measure(x, y, ci=30, ci_max_pairs=40)
    assert r["ci"]["shifted"] and r["ci"]["subsample_pairs"] == 40
    v = r["uniformity_text"]
    a = bootstrap_measure(x, y, None, {"uniformity_text": v}, resamples=30, max_pairs=40)["ci95"]["uniformity_text"]
    b = bootstrap_measure(x, y, None, {"uniformity_text": v + 1}, resamples=30, max_pairs=40)["ci95"]["uniformity_text"]
    np.testing.assert_allclose(np.subtract(b, a), [1.0, 1.0])  # centred on the full-data value
    assert a == r["ci95"]["uniformity_text"]


def test_image_index_resamples_images_with_their_captions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 6)) + 1
    idx = np.repeat(np.arange(30), 2)
    y = x[idx] + rng.normal(size=(60, 6)) - 1
    r = measure(x, y, image_index=idx, ci=30)
    assert r["ci"]["unit"] == "image with its captions" and "mutual_knn" not in r["ci95"]
    assert r["chance"]["i2t_r1"] == pytest.approx(1 - 58 / 60)  # 2 of 60 captions: 1 − (58/60)
    assert r["chance"]["linear_separability"] == pytest.approx(60 / 90)


@pytest.mark.parametrize("ci", [1, -1, "many", 2.5])
def test_bad_ci_is_one_line(ci):
    x, y = _pairs(20)
    with pytest.raises(InputError, match=r"^measure: ci must be a number of resamples >= 2"):
        measure(x, y, ci=ci)


def test_bad_ci_max_pairs():
    x, y = _pairs(20)
    with pytest.raises(InputError, match=r"ci_max_pairs must be an integer >= 4, got 2"):
        measure(x, y, ci=5, ci_max_pairs=2)


# ---- permutation_test -------------------------------------------------------------------------
def _corr(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def test_permutation_test_against_a_slow_loop():
    rng = np.random.default_rng(0)
    a = rng.normal(size=25)
    b = a + rng.normal(size=25)
    r = permutation_test(_corr, a, b, n_permutations=200, seed=11)
    g = np.random.default_rng(11)
    nulls = [_corr(a, b[g.permutation(25)]) for _ in range(200)]
    assert r["statistic"] == _corr(a, b)
    assert r["p_value"] == (1 + sum(v >= r["statistic"] for v in nulls)) / 201
    assert r["null_mean"] == pytest.approx(np.mean(nulls))
    assert r == permutation_test(_corr, a, b, n_permutations=200, seed=11)


def test_permutation_test_hand_cases():
    a = np.arange(10.0)
    assert permutation_test(_corr, a, a, n_permutations=49)["p_value"] == pytest.approx(1 / 50)
    assert permutation_test(_corr, a, -a, n_permutations=49, alternative="less")["p_value"] == pytest.approx(1 / 50)
    # a statistic that ignores the pairing: every permutation ties it, p = 1
    assert permutation_test(lambda u, v: float(v.sum()), a, a, n_permutations=9)["p_value"] == 1.0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"b": np.arange(4.0)}, r"a and b need the same number of rows, got a \(5,\) and b \(4,\)"),
    ({"n_permutations": 0}, r"n_permutations must be an integer >= 1, got 0"),
    ({"alternative": "both"}, r"alternative must be 'greater', 'less' or 'two-sided', got 'both'"),
    ({"stat_fn": 3}, r"stat_fn must be callable, got int"),
])
def test_permutation_test_bad_input(kwargs, match):
    args = {"stat_fn": _corr, "a": np.arange(5.0), "b": np.arange(5.0), **kwargs}
    with pytest.raises(InputError, match=match):
        permutation_test(args.pop("stat_fn"), args.pop("a"), args.pop("b"), **args)


# ---- chance levels ----------------------------------------------------------------------------
def test_chance_levels_hand_cases():
    c = chance_levels(100, 100)
    assert c["linear_separability"] == 0.5 and c["i2t_r5"] == 0.05 and c["t2i_r10"] == 0.1
    assert c["mutual_knn"] == pytest.approx(10 / 99)
    idx = np.array([0, 0, 0, 1])  # image 0 has 3 of 4 captions, image 1 has 1
    c = chance_levels(2, 4, idx, ks=(1, 2))
    assert c["i2t_r1"] == pytest.approx((3 / 4 + 1 / 4) / 2)
    assert c["i2t_r2"] == pytest.approx((1.0 + (1 - 3 / 6)) / 2)  # 1 − C(1,2)/C(4,2); 1 − C(3,2)/C(4,2)
    assert c["t2i_r1"] == 0.5 and "mutual_knn" not in c


def test_chance_recall_is_what_random_embeddings_get():
    got = [retrieval_recall(*np.random.default_rng(s).normal(size=(2, 300, 32)), ks=(10,))["i2t_r10"] for s in range(4)]
    assert abs(np.mean(got) - chance_levels(300, 300)["i2t_r10"]) < 0.02  # 1/30; sd of the mean ≈ 0.005


def test_ci_true_means_the_default_resamples_and_fast_mode_has_only_exact_keys():
    x, y = _pairs(30)
    r = measure(x, y, include_pairwise=False, ci=True)
    assert r["ci"]["resamples"] == 200 and set(r["ci95"]) == set(EXACT_KEYS) and r["null"] == {}
