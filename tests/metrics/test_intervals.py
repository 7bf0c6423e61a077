"""Bootstrap intervals, permutation nulls and chance levels of ``measure`` against slow references."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab._errors import InputError
from gaplab._validation import normalize_rows
from gaplab.metrics import MetricSuite, chance_levels, measure, permutation_test, retrieval_recall
from gaplab.metrics.functional import dimension_gap
from gaplab.metrics.functional._onepass import cross_pass, top_k_pass
from gaplab.metrics.functional.knn import _hubness_from, _mutual_knn, hubness
from gaplab.metrics.functional.structure import SecondMoments
from gaplab.metrics.functional.uniformity import _uniformity
from gaplab.metrics.intervals import (
    EXACT_KEYS,
    HUBNESS_KEYS,
    RECENTRED_KEYS,
    STRUCTURE_KEYS,
    _hubness_bootstrap,
    _k_occurrence,
    _k_occurrences,
    _log_mean_potential,
    _neighbour_overlap,
    _structure_bootstrap,
    _subsample_bootstrap,
    _WeightedMoments,
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
    boots = exact_bootstrap(x, y, idx, counts, top_k=2)
    for b in range(5):
        xr, yr, ir = _resampled_rows(x, y, idx, counts[b])
        ref = MetricSuite().update(xr, yr, image_index=ir).compute()
        for k in EXACT_KEYS:
            np.testing.assert_allclose(boots[k][b], ref[k], rtol=1e-10, atol=1e-12, err_msg=k)
        # the top-2 share of the resampled rows' own gap vector, from dimension_gap itself
        share = dimension_gap(xr, yr, image_index=ir, top_k=2).share_top
        np.testing.assert_allclose(boots["top_dims_share"][b], share, rtol=1e-10, err_msg="top_dims_share")
    assert "top_dims_share" not in exact_bootstrap(x, y, idx, counts)


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
    assert a["ci95"]["top_dims_share"] == [1.0, 1.0]  # top 10 of 6 dimensions: all of ‖Δ‖², every resample
    two = measure(x, y, ci=40, seed=3, top_k=2)
    lo, hi = two["ci95"]["top_dims_share"]
    assert 0.0 < lo <= two["top_dims_share"] <= hi < 1.0
    lo, hi = a["ci95"]["best_pair_accuracy"]
    assert 0.0 <= lo <= a["best_pair_accuracy"] <= hi <= 1.0
    assert "mutual_knn_chance" not in a["ci95"]  # a constant: no interval rather than a wrong one
    assert "ci95" not in measure(x, y) and "null" not in measure(x, y, ci=0)


def test_subsample_point_values_are_measures_values():
    x, y = _pairs(40)
    xs, ys = normalize_rows(x), normalize_rows(y)
    w = resample_counts(40, 3, 0)
    ref = measure(x, y)
    _, point, _ = _subsample_bootstrap(xs, ys, None, w, w, temperature=0.01, knn_k=10, seed=0, resamples=3,
                                       best_pair=ref["best_pair_dims"])
    for k in ("uniformity_image", "uniformity_text", "logit_entropy_i2t", "logit_entropy_t2i", "i2t_r1",
              "t2i_r5", "mutual_knn", "linear_separability", "best_pair_accuracy"):
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


# ---- structure (d×d moments) and hubness (k-occurrence) on the subsample -----------------------
def _structure_of(m):
    """STRUCTURE_KEYS straight from SecondMoments' methods (frechet() recomputes its centred part)."""
    return {"cka": m.cka(), "cka_debiased": m.cka_debiased(), "procrustes_distance": m.procrustes_distance(),
            "frechet_distance": m.frechet(), "frechet_distance_centered": m.frechet_centered(),
            "erank_image": m.effective_rank("x"), "erank_text": m.effective_rank("y")}


def _indexed_pairs(n=12, extra=18, d=5, seed=1):
    """Images, several captions per image (every image has one), the caption → image index."""
    rng = np.random.default_rng(seed)
    x = normalize_rows(rng.normal(size=(n, d)) + 1)
    idx = np.r_[np.arange(n), rng.integers(0, n, size=extra)]
    return x, normalize_rows(x[idx] + rng.normal(size=(idx.size, d)) - 1), idx


def _unit_pairs(n=12, d=5, seed=1):
    x, y = _pairs(n, d, seed)
    return normalize_rows(x), normalize_rows(y), None


@pytest.mark.parametrize(("with_index", "d"), [(False, 5), (True, 5), (False, 40), (True, 64)])
def test_weighted_moments_are_the_metrics_of_the_resampled_rows(with_index, d):
    x, y, idx = _indexed_pairs(d=d) if with_index else _unit_pairs(d=d)
    w_img = resample_counts(x.shape[0], 6, seed=3)
    w_cap = w_img if idx is None else w_img[:, idx]
    moments = _WeightedMoments(x, y, idx)
    projected = x.shape[0] + y.shape[0] < d
    assert moments.xs.shape[1] == (x.shape[0] + y.shape[0] if projected else d)
    for b in range(6):
        xr, yr, ir = _resampled_rows(x, y, idx, w_img[b])
        ref = _structure_of(SecondMoments(dim=d).update(xr, yr, ir))
        got = moments(w_img[b], w_cap[b]).values()
        for k in STRUCTURE_KEYS:  # cka_debiased too: its moment form counts the copies as rows
            # in d dimensions the zero eigenvalues of a rank-n moment come out as ±1e-16, whose
            # roots (1e-8 each) the effective rank and the Fréchet trace take in; the projected
            # moments have fewer of them (see the next test)
            rtol = 1e-5 if projected and k.startswith("erank") else 1e-9
            atol = 1e-7 if projected and k.startswith("frechet") else 1e-12
            np.testing.assert_allclose(got[k], ref[k], rtol=rtol, atol=atol, err_msg=k)


def test_projected_moments_are_closer_to_the_row_space_values():
    x, y, _ = _unit_pairs(30, d=120)
    one = np.ones(30, np.int32)
    got = _WeightedMoments(x, y, None)(one, one).values()
    full = SecondMoments(dim=120).update(x, y).values()
    sigma = np.linalg.svd(x, compute_uv=False)  # 30 singular values, no zero ones
    p = sigma / sigma.sum()
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)  # tr √(Σx^½ Σy Σx^½) = ‖Xc Ycᵀ‖_* / n
    fc = (np.sum(xc**2) + np.sum(yc**2) - 2 * np.linalg.svd(xc @ yc.T, compute_uv=False).sum()) / 30
    for k, exact in (("erank_image", np.exp(-(p * np.log(p)).sum())), ("frechet_distance_centered", fc)):
        np.testing.assert_allclose(got[k], exact, rtol=1e-6, err_msg=k)
        assert abs(got[k] - exact) < abs(full[k] - exact), k


@pytest.mark.parametrize("with_index", [False, True])
def test_structure_unit_weights_are_the_subsample_values(with_index):
    x, y, idx = _indexed_pairs(30, 40, d=6) if with_index else _unit_pairs(30, d=6)
    w_img = resample_counts(x.shape[0], 3, 0)
    boots, point = _structure_bootstrap(x, y, idx, w_img, w_img if idx is None else w_img[:, idx])
    ref = _structure_of(SecondMoments(dim=6).update(x, y, idx))
    for k in STRUCTURE_KEYS:
        np.testing.assert_allclose(point[k], ref[k], rtol=1e-10, atol=1e-12, err_msg=k)
        assert boots[k].shape == (3,)
    m = SecondMoments(dim=6).update(x, y, idx)
    assert m.values()["frechet_distance"] == m.frechet()  # the same floats, centred part once
    full = measure(x, y, image_index=idx)  # the whole data is the subsample here
    for k in STRUCTURE_KEYS:
        np.testing.assert_allclose(point[k], full[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_structure_resamples_do_not_depend_on_the_thread_count():
    x, y, _ = _unit_pairs(40, d=8)
    w = resample_counts(40, 7, 2)
    one, p1 = _structure_bootstrap(x, y, None, w, w, workers=1)
    three, p3 = _structure_bootstrap(x, y, None, w, w, workers=3)
    assert p1 == p3
    for k in STRUCTURE_KEYS:
        np.testing.assert_array_equal(one[k], three[k], err_msg=k)


@pytest.mark.parametrize("with_index", [False, True])
def test_k_occurrence_is_hubness_of_the_resampled_rows(with_index):
    x, y, idx = _indexed_pairs(20, 25) if with_index else _unit_pairs(20)
    w_img = resample_counts(x.shape[0], 6, seed=5)
    w_cap = w_img if idx is None else w_img[:, idx]
    boots, _ = _hubness_bootstrap(x, y, 3, w_img, w_cap)
    for b in range(6):
        xr, yr, ir = _resampled_rows(x, y, idx, w_img[b])
        ref = hubness(xr, yr, k=3, image_index=ir)  # the copies are tied rows of the gallery
        for k in HUBNESS_KEYS:
            np.testing.assert_allclose(boots[k][b], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_k_occurrence_with_a_fixed_gallery_is_hubness_of_repeated_queries():
    x, y, _ = _unit_pairs(25)
    r = cross_pass(x, y, None, k=4)
    ones = np.ones(25, np.int32)
    for w in resample_counts(25, 4, seed=6):
        rep = np.repeat(np.arange(25), w)
        ref = _hubness_from(r.knn_t2i[rep], r.knn_i2t[rep], 25, 25)
        got_img = _k_occurrences(y, x, 4, w[None], ones[None])[0]
        got_txt = _k_occurrences(x, y, 4, w[None], ones[None])[0]
        np.testing.assert_allclose(got_img, (ref["hubness_image"], ref["antihub_image"]), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got_txt, (ref["hubness_text"], ref["antihub_text"]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("with_index", [False, True])
def test_hubness_unit_weights_are_hubness_from_on_the_subsample(with_index):
    x, y, idx = _indexed_pairs(30, 40) if with_index else _unit_pairs(30)
    w_img = resample_counts(x.shape[0], 2, 0)
    _, point = _hubness_bootstrap(x, y, 10, w_img, w_img if idx is None else w_img[:, idx])
    r = cross_pass(x, y, idx, k=10)
    ref = _hubness_from(r.knn_t2i, r.knn_i2t, x.shape[0], y.shape[0])
    for k in HUBNESS_KEYS:
        np.testing.assert_allclose(point[k], ref[k], rtol=1e-10, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(point[k], measure(x, y, image_index=idx)[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_ranked_lists_deepen_until_every_drawn_query_sees_k_copies():
    x, y, _ = _unit_pairs(30)
    first = top_k_pass(y, x, 30, exclude_self=False)
    m = np.ones(30, np.int32)
    m[first[0, :12]] = 0  # text 0's 12 nearest images (depth 4k = 12) are all undrawn
    w = np.ones(30, np.int32)
    assert _k_occurrence(first[:, :12], 3, w, m) is None and _k_occurrence(first[:, :24], 3, w, m) is not None
    imgs = np.repeat(np.arange(30), m)
    nbrs = top_k_pass(y, x[imgs], 3, exclude_self=False)  # every text queries the drawn images
    counts = np.bincount(nbrs.ravel(), minlength=imgs.size)
    skew = np.mean((counts - counts.mean()) ** 3) / counts.std() ** 3
    got = _k_occurrences(y, x, 3, np.vstack([np.ones(30, np.int32), w]), np.vstack([np.ones(30, np.int32), m]))
    np.testing.assert_allclose(got[1], (skew, np.mean(counts == 0)), rtol=1e-10)


def test_measure_ci_covers_structure_and_hubness_around_the_value():
    x, y = _pairs(120, d=16, seed=2)
    r = measure(x, y, ci=50)
    for k in RECENTRED_KEYS:
        lo, hi = r["ci95"][k]
        assert lo <= r[k] <= hi, (k, lo, r[k], hi)
    assert set(r["ci"]["recentred"]) == set(RECENTRED_KEYS) and set(RECENTRED_KEYS) <= set(r["ci"]["subsample_keys"])
    # a resample's copies make it a smaller, more anisotropic sample: its spectrum is less flat
    assert r["ci"]["recentred"]["erank_image"] < 0 and r["ci"]["recentred"]["erank_text"] < 0
    fast = bootstrap_measure(x, y, None, r, resamples=50, structure=False)["ci95"]
    assert not set(STRUCTURE_KEYS) & set(fast) and set(HUBNESS_KEYS) <= set(fast)
    assert fast["hubness_image"] == r["ci95"]["hubness_image"]


def test_structure_and_antihub_intervals_narrow_with_n():
    # not the skewness of N_k: here it grows with N (hubs emerge), and its noise with it
    keys = (*STRUCTURE_KEYS, "antihub_image", "antihub_text")

    def widths(n):
        x, y = _pairs(n, d=8, seed=3)
        r = measure(x, y, ci=40, ci_max_pairs=n)
        return {k: np.subtract(*r["ci95"][k][::-1]) for k in keys}

    small, large = widths(80), widths(500)
    for k in keys:
        assert 0 < large[k] < small[k], (k, small[k], large[k])


def test_recentred_interval_under_a_capped_subsample_sits_on_the_full_value():
    x, y = _pairs(90, d=8)
    v = measure(x, y)
    kw = {"resamples": 30, "max_pairs": 40}
    a = bootstrap_measure(x, y, None, v, **kw)
    b = bootstrap_measure(x, y, None, {k: v[k] + 1e-3 for k in RECENTRED_KEYS}, **kw)  # inside every range
    assert a["ci"]["shifted"] and a["ci"]["recentred"] == b["ci"]["recentred"]
    for k in RECENTRED_KEYS:
        np.testing.assert_allclose(np.subtract(b["ci95"][k], a["ci95"][k]), [1e-3, 1e-3], rtol=1e-9, err_msg=k)
        assert a["ci95"][k][0] <= v[k] <= a["ci95"][k][1], k


def test_image_index_structure_and_hubness_intervals():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)) + 1
    idx = np.repeat(np.arange(40), 3)
    y = x[idx] + rng.normal(size=(120, 6)) - 1
    r = measure(x, y, image_index=idx, ci=30)
    for k in RECENTRED_KEYS:
        lo, hi = r["ci95"][k]
        assert lo <= r[k] <= hi, (k, lo, r[k], hi)


def test_moved_intervals_stay_inside_the_metric_range():
    # a share near 0 whose interval is moved onto the value must not go below 0
    from gaplab.metrics.intervals import KEY_RANGES

    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 16))
    r = measure(x, x + 0.3 * rng.standard_normal((300, 16)), ci=60, ci_max_pairs=120)
    for k, (lo_k, hi_k) in KEY_RANGES.items():
        if k in r["ci95"]:
            lo, hi = r["ci95"][k]
            assert lo_k <= lo <= hi <= hi_k, (k, lo, hi)
