"""gaplab.mitigate.calibrate: scores → P(match), AUC over all pairs, ECE, thresholds.

Each number is checked against a slow brute-force version written here (double loops over
every positive/negative pair, every candidate threshold, every bin) and on tiny cases worked
by hand.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import ortho_group

from gaplab._errors import ConfigError, InputError, NotFittedError
from gaplab.data.published import load_published
from gaplab.mitigate.calibrate import (
    Calibrator,
    calibrate_pairs,
    expected_calibration_error,
    load_calibrator,
    mann_whitney_auc,
    operating_thresholds,
    pair_scores,
    pairs_auc,
    prior_weights,
    reliability_bins,
    reliability_figure,
)

pytestmark = pytest.mark.usefixtures("one_thread")


# -- brute-force references --------------------------------------------------------------------
def naive_pairs(x, y, image_index=None):
    """Every (image, caption) cosine with its label, by a Python double loop."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    idx = np.arange(len(y)) if image_index is None else np.asarray(image_index)
    pos, neg = [], []
    for i in range(len(x)):
        for k in range(len(y)):
            s = float(np.dot(x[i], y[k]))
            (pos if idx[k] == i else neg).append(s)
    return np.array(pos), np.array(neg)


def exact_pairs(x, y, image_index=None):
    """For integer embeddings: every cosine as an exact rational sign·cos² (ties are true ties)."""
    from fractions import Fraction

    idx = np.arange(len(y)) if image_index is None else np.asarray(image_index)
    pos, neg = [], []
    for i in range(len(x)):
        for k in range(len(y)):
            xi, yk = [int(v) for v in x[i]], [int(v) for v in y[k]]
            dot = sum(a * b for a, b in zip(xi, yk, strict=True))
            c = Fraction((1 if dot >= 0 else -1) * dot * dot, sum(a * a for a in xi) * sum(b * b for b in yk))
            (pos if idx[k] == i else neg).append(c)
    return np.array(pos, dtype=object), np.array(neg, dtype=object)


def naive_auc(pos, neg):
    total = 0.0
    for p in pos:
        total += np.sum(p > neg) + 0.5 * np.sum(p == neg)
    return total / (len(pos) * len(neg))


def naive_ece(p, y, prior, n_bins):
    """Equal-mass bins by explicit loops: each distinct prediction whole, placed by its mid-mass."""
    p, y = np.asarray(p, float), np.asarray(y, int)
    n1, n0 = y.sum(), len(y) - y.sum()
    w = np.ones(len(y)) if prior is None else np.where(y == 1, prior / n1, (1 - prior) / n0)
    total = w.sum()
    bins = [[0.0, 0.0, 0.0] for _ in range(n_bins)]  # weight, Σw·p, Σw·y
    below = 0.0
    for v in sorted(set(p.tolist())):
        sel = p == v
        wv = w[sel].sum()
        b = min(int(n_bins * (below + wv / 2) / total), n_bins - 1)
        bins[b][0] += wv
        bins[b][1] += wv * v
        bins[b][2] += (w[sel] * y[sel]).sum()
        below += wv
    return sum(abs(c - f) for m, c, f in bins if m > 0) / total


def naive_thresholds(pos, neg, prior, kind, target):
    """Scan every candidate threshold (the distinct matched scores)."""
    best = None
    for t in sorted(set(pos.tolist())):
        tpr = np.mean(pos >= t)
        fpr = np.mean(neg >= t)
        prec = prior * tpr / (prior * tpr + (1 - prior) * fpr)
        if kind == "precision" and prec >= target and best is None:
            best = (t, prec, tpr)
        if kind == "recall" and tpr >= target:
            best = (t, prec, tpr)
    return best


def paired(n=40, d=6, noise=0.6, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    return z + noise * rng.normal(size=z.shape), z + noise * rng.normal(size=z.shape)


# -- AUC ---------------------------------------------------------------------------------------
def test_mann_whitney_by_hand():
    # pairs (0.9,0.5) > ; (0.9,0.1) > ; (0.5,0.5) tie ; (0.5,0.1) >  →  3.5 / 4
    assert mann_whitney_auc([0.9, 0.5], [0.5, 0.1]) == 0.875
    assert mann_whitney_auc([0.1], [0.2, 0.3]) == 0.0
    assert mann_whitney_auc([0.3, 0.3], [0.3]) == 0.5


def test_pairs_auc_by_hand():
    # images e1, e2; captions e1, (e1+e2)/√2: matched cosines 1 and 1/√2, unmatched 1/√2 and 0
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[1.0, 0.0], [1.0, 1.0]])
    r = pairs_auc(x, y)
    # positives {1, .7071}, negatives {.7071 (img0-cap1), 0 (img1-cap0)}: >, >, tie, > → 3.5/4
    assert r["auc"] == pytest.approx(0.875, abs=1e-12)
    assert (r["n_positive"], r["n_negative"], r["auc_exact"], r["auc_se"]) == (2, 2, True, 0.0)


@pytest.mark.parametrize("several", [False, True])
def test_pairs_auc_exact_matches_brute_force_with_ties(several):
    rng = np.random.default_rng(3)
    x, y = paired(30, 4, noise=1.0, seed=3)
    x, y = np.round(x), np.round(y)  # integer embeddings: many tied cosines
    x[x.sum(1) == 0, 0] = 1.0
    y[~y.any(1), 0] = 1.0
    idx = None
    if several:
        idx = rng.integers(0, 30, size=45)
        y = np.vstack([y, y[:15]])  # duplicate captions: exact ties across matched/unmatched
    pos, neg = exact_pairs(x, y, idx)
    ref = naive_auc(pos, neg)
    assert sum(np.sum(p == neg) for p in pos) > 50  # the case has ties
    got = pairs_auc(x, y, image_index=idx)
    assert got["auc"] == pytest.approx(ref, abs=1e-12)
    assert got["n_negative"] == neg.size and got["n_positive"] == pos.size


def test_pairs_auc_blocks_do_not_change_it(monkeypatch):
    import gaplab.mitigate.calibrate as cal

    x, y = paired(50, 5)
    whole = pairs_auc(x, y)["auc"]
    monkeypatch.setattr(cal, "_BLOCK", 7)  # 1 image row per block
    assert pairs_auc(x, y)["auc"] == whole


def test_pairs_auc_sampled_has_an_honest_error_and_is_seeded():
    x, y = paired(80, 4, noise=1.2, seed=1)
    exact = pairs_auc(x, y)["auc"]
    a = pairs_auc(x, y, max_pairs=100, n_samples=3000, seed=5)
    b = pairs_auc(x, y, max_pairs=100, n_samples=3000, seed=5)
    c = pairs_auc(x, y, max_pairs=100, n_samples=3000, seed=6)
    assert not a["auc_exact"] and a["n_negative_used"] == 3000 and a["auc_se"] > 0
    assert a == b and a["auc"] != c["auc"]
    assert abs(a["auc"] - exact) < 4 * a["auc_se"]


def test_pair_scores_all_and_sampled():
    x, y = paired(12, 3)
    s, lab = pair_scores(x, y)
    pos, neg = naive_pairs(x, y)
    np.testing.assert_allclose(np.sort(s[lab == 1]), np.sort(pos), atol=1e-12)
    np.testing.assert_allclose(np.sort(s[lab == 0]), np.sort(neg), atol=1e-12)
    s2, lab2 = pair_scores(x, y, max_negatives=20, seed=1)
    assert (lab2 == 0).sum() == 20 and (lab2 == 1).sum() == 12
    sampled = s2[lab2 == 0]
    assert np.unique(sampled).size == 20  # distinct pairs, none matched
    assert all(np.isclose(neg, v, atol=1e-12).any() for v in sampled)
    again, _ = pair_scores(x, y, max_negatives=20, seed=1)
    assert np.array_equal(again, s2)


# -- weights, ECE, thresholds ------------------------------------------------------------------
def test_prior_weights_give_the_prior():
    lab = np.array([1, 0, 0, 0, 0, 0, 0, 1])
    for prior in (0.5, 0.1, 0.9):
        w = prior_weights(lab, prior)
        assert w[lab == 1].sum() / w.sum() == pytest.approx(prior)
        assert w.mean() == pytest.approx(1.0)


def test_ece_by_hand_and_against_loops():
    # 2 bins, unweighted: {0.1, 0.1} rate 0 → 0.1; {0.9, 0.9} rate 1/2 → 0.4; half the mass each
    assert expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0], prior=None, n_bins=2) == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    p = np.round(rng.uniform(size=400), 2)  # ties
    y = (rng.uniform(size=400) < p ** 2).astype(int)
    for prior in (None, 0.5, 0.2):
        for n_bins in (1, 5, 15):
            assert expected_calibration_error(p, y, prior=prior, n_bins=n_bins) == pytest.approx(
                naive_ece(p, y, prior, n_bins), abs=1e-12)


def test_ece_tells_calibrated_from_not():
    rng = np.random.default_rng(1)
    p = rng.uniform(size=20000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(p, y, prior=None) < 0.02
    assert expected_calibration_error(p ** 3, y, prior=None) > 0.15


def test_reliability_bins_mass_and_ties_not_split():
    b = reliability_bins([0.2] * 6 + [0.8] * 2, [0, 0, 0, 1, 0, 1, 1, 1], prior=None, n_bins=4)
    assert b["mass"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(b["confidence"], [0.2, 0.8])  # six tied 0.2s stay in one bin
    assert b["frequency"].tolist() == [pytest.approx(2 / 6), 1.0]


@pytest.mark.parametrize("prior", [0.5, 0.1])
def test_thresholds_match_brute_force(prior):
    x, y = paired(40, 5, noise=0.8, seed=2)
    pos, neg = naive_pairs(x, y)
    s = np.concatenate([pos, neg])
    lab = np.r_[np.ones(pos.size, int), np.zeros(neg.size, int)]
    rows = operating_thresholds(s, lab, prior=prior, precisions=(0.6, 0.9, 0.99), recalls=(0.5, 0.9))
    for r in rows:
        ref = naive_thresholds(pos, neg, prior, r["target"], r["value"])
        if ref is None:
            assert r["threshold"] is None
            continue
        assert r["threshold"] == pytest.approx(ref[0], abs=1e-12)
        assert r["precision"] == pytest.approx(ref[1], abs=1e-12)
        assert r["recall"] == pytest.approx(ref[2], abs=1e-12)


def test_thresholds_by_hand():
    # t = 0.8: TPR 2/3, FPR 0 → precision 1; t = 0.7: TPR 1, FPR 1/2 → (0.5)/(0.5 + 0.25) = 2/3
    rows = operating_thresholds([0.9, 0.8, 0.7, 0.75, 0.1], [1, 1, 1, 0, 0], precisions=[0.9, 1.0],
                                recalls=[0.9], test_scores=[0.85, 0.2, 0.9], test_labels=[1, 1, 0])
    p9, p1, r9 = rows
    assert (p9["threshold"], p9["precision"], p9["recall"]) == (0.8, 1.0, pytest.approx(2 / 3))
    assert p1["threshold"] == 0.8
    assert (r9["threshold"], r9["precision"], r9["recall"]) == (0.7, pytest.approx(2 / 3), 1.0)
    # on the test set, cos ≥ 0.8: the 0.85 positive and the 0.9 negative → TPR 1/2, FPR 1 → 1/3
    assert p9["precision_test"] == pytest.approx(1 / 3) and p9["recall_test"] == 0.5


# -- the calibrator ----------------------------------------------------------------------------
def test_isotonic_applies_the_prior_exactly():
    # three score levels with match rates that already increase: no pooling, so each level's
    # probability is π·a/n₊ / (π·a/n₊ + (1-π)·b/n₋) with a, b its positive/negative counts
    s = np.r_[[0.1] * 10, [0.2] * 10, [0.3] * 10]
    lab = np.r_[[1] * 1 + [0] * 9, [1] * 4 + [0] * 6, [1] * 8 + [0] * 2]
    n1, n0 = lab.sum(), (1 - lab).sum()
    for prior in (0.5, 0.05):
        got = Calibrator(prior=prior).fit_scores(s, lab).predict_proba([0.1, 0.2, 0.3])
        want = [prior * a / n1 / (prior * a / n1 + (1 - prior) * b / n0) for a, b in ((1, 9), (4, 6), (8, 2))]
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_isotonic_is_sklearns():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(4)
    s = rng.normal(size=300)
    lab = (rng.uniform(size=300) < 1 / (1 + np.exp(-3 * s))).astype(int)
    cal = Calibrator(prior=0.3).fit_scores(s, lab)
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(s, lab, sample_weight=prior_weights(lab, 0.3))
    q = np.linspace(-4, 4, 101)
    np.testing.assert_allclose(cal.predict_proba(q), ref.predict(q), atol=1e-12)


def test_platt_is_the_weighted_logistic_optimum():
    rng = np.random.default_rng(5)
    s = rng.normal(size=500)
    lab = (rng.uniform(size=500) < 1 / (1 + np.exp(-(2 * s - 1)))).astype(int)
    prior = 0.5
    cal = Calibrator(method="platt", prior=prior).fit_scores(s, lab)
    w = prior_weights(lab, prior)
    n1, n0 = lab.sum(), 500 - lab.sum()
    t = np.where(lab == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))

    def loss(ac):
        f = ac[0] * s + ac[1]
        return np.sum(w * (np.logaddexp(0, f) - t * f))

    ref = minimize(loss, [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000}).x
    assert cal.coef_ == pytest.approx(ref[0], abs=1e-5) and cal.intercept_ == pytest.approx(ref[1], abs=1e-5)
    assert loss([cal.coef_, cal.intercept_]) <= loss(ref) + 1e-9


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_logit_score_gives_the_same_probabilities(method):
    x, y = paired(30, 4)
    s, lab = pair_scores(x, y)
    plain = Calibrator(method=method).fit_scores(s, lab)
    logit = Calibrator(method=method, logit_scale=50.0, logit_bias=-12.0).fit_scores(s, lab)
    q = np.linspace(-1, 1, 41)
    np.testing.assert_allclose(logit.predict_proba(q), plain.predict_proba(q), atol=1e-7)


def test_contract_params_state_and_errors():
    cal = Calibrator(method="platt", prior=0.2)
    assert vars(cal) == cal.get_params() == {"method": "platt", "prior": 0.2, "logit_scale": None,
                                             "logit_bias": None, "max_negatives": 1_000_000, "seed": 0}
    assert repr(cal).startswith("Calibrator(method='platt', prior=0.2")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        cal.predict_proba([0.1])
    with pytest.raises(ConfigError, match="has no parameter 'bogus'"):
        cal.set_params(bogus=1)
    assert cal.set_params(method="isotonic") is cal
    x, y = paired(20, 4)
    assert cal.fit(x, y) is cal
    assert cal.n_positive_ == 20 and cal.n_negative_ == 380 and cal.base_rate_ == pytest.approx(20 / 400)
    cal.set_params(method="platt").fit(x, y)
    assert not hasattr(cal, "x_thresholds_")  # refit starts from scratch
    assert Calibrator(method="platt", prior=0.2).fit(x, y).coef_ == cal.coef_  # refit = fresh fit
    s, lab = pair_scores(x, y)  # fit(x, y) = fit_scores(pair_scores(x, y))
    assert Calibrator(method="platt", prior=0.2).fit_scores(s, lab).coef_ == cal.coef_


@pytest.mark.parametrize("kwargs, call, match", [
    ({"method": "beta"}, "fit", "method must be one of isotonic, platt, got 'beta'"),
    ({"prior": 1.0}, "fit", r"prior must be a number in \(0, 1\), got 1.0"),
    ({"logit_bias": -3.0}, "fit", "logit_bias needs logit_scale"),
    ({"logit_scale": -1.0}, "fit", "logit_scale must be > 0"),
    ({"max_negatives": 0}, "fit", "max_negatives must be a positive integer"),
    ({}, "nan", "cosine has a non-finite value"),
    ({}, "labels", r"labels must be 0 \(unmatched\) or 1"),
    ({}, "one-class", r"needs both matched \(1\) and unmatched \(0\) pairs, got 3 of 3"),
    ({}, "image-only", "needs both image and text embeddings"),
    ({}, "one-image", "at least 2 images"),
])
def test_bad_input_is_one_clear_error(kwargs, call, match):
    cal = Calibrator(**kwargs)
    x, y = paired(10, 3)
    with pytest.raises((InputError, ConfigError), match=match):
        if call == "fit":
            cal.fit(x, y)
        elif call == "nan":
            cal.fit_scores([0.1, np.nan, 0.3], [1, 0, 0])
        elif call == "labels":
            cal.fit_scores([0.1, 0.2, 0.3], [1, 2, 0])
        elif call == "one-class":
            cal.fit_scores([0.1, 0.2, 0.3], [1, 1, 1])
        elif call == "image-only":
            cal.fit(x)
        else:
            cal.fit(x[:2], y[:3], image_index=[0, 0, 0])


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_save_load_is_exact(tmp_path, method):
    x, y = paired(25, 4)
    cal = Calibrator(method=method, prior=0.3, logit_scale=20.0, logit_bias=-3.0).fit(x, y)
    path = cal.save(tmp_path / "cal.json")
    back = load_calibrator(path)
    assert back.get_params() == cal.get_params()
    q = np.linspace(-1, 1, 201)
    assert np.array_equal(back.predict_proba(q), cal.predict_proba(q))
    assert Calibrator.load(path).get_params() == cal.get_params()
    stored = json.loads(path.read_text())
    assert stored["format"] == "gaplab.calibrator/1"
    if method == "isotonic":
        assert stored["state"]["x_thresholds_"] == cal.x_thresholds_.tolist()


def test_load_rejects_other_files(tmp_path):
    (tmp_path / "other.json").write_text('{"format": "gaplab.mitigation/1"}')
    with pytest.raises(InputError, match="not a gaplab calibrator file"):
        load_calibrator(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match="cannot read calibrator"):
        load_calibrator(tmp_path / "broken.json")
    (tmp_path / "short.json").write_text('{"format": "gaplab.calibrator/1", "params": {"method": "platt"}, "state": {}}')
    with pytest.raises(InputError, match="bad calibrator file"):
        load_calibrator(tmp_path / "short.json")
    with pytest.raises(InputError, match="no such file"):
        load_calibrator(tmp_path / "missing.json")
    with pytest.raises(InputError, match="must end in .json"):
        Calibrator().fit_scores([0.1, 0.2], [0, 1]).save(tmp_path / "cal.npz")


# -- the protocol ------------------------------------------------------------------------------
def test_calibrate_pairs_splits_by_image_and_is_seeded():
    rng = np.random.default_rng(7)
    x, _ = paired(40, 6)
    idx = np.repeat(np.arange(40), 3)  # three captions per image
    y = x[idx] + 0.7 * rng.normal(size=(120, 6))
    a = calibrate_pairs(x, y, image_index=idx, seed=3)
    b = calibrate_pairs(x, y, image_index=idx, seed=3)
    c = calibrate_pairs(x, y, image_index=idx, seed=4)
    assert a.summary == b.summary and a.summary != c.summary
    sp = a.summary["split"]
    assert sp["n_train_images"] + sp["n_test_images"] == 40
    assert sp["n_fit_positive"] == 3 * sp["n_train_images"] and sp["n_test_positive"] == 3 * sp["n_test_images"]
    assert sp["n_fit_negative"] == sp["n_train_images"] * sp["n_fit_positive"] - sp["n_fit_positive"]
    pos, neg = naive_pairs(x, y, idx)
    assert a.summary["auc"] == pytest.approx(naive_auc(pos, neg), abs=1e-12)  # all pairs, not a half


def test_calibrate_pairs_siglip_reports_the_models_own_ece():
    x, y = paired(60, 6)
    r = calibrate_pairs(x, y, logit_scale=10.0, logit_bias=-5.0).summary
    assert r["score"] == "logit" and {"model_ece_test", "model_ece_test_natural"} <= set(r)
    assert all("logit" in t for t in r["thresholds"])
    assert "model_ece_test" not in calibrate_pairs(x, y).summary


def test_reliability_figure_is_headless(tmp_path):
    x, y = paired(40, 6)
    fig = reliability_figure(calibrate_pairs(x, y).reliability)
    fig.savefig(tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _rotated_clip(n=400, seed=0):
    x, y = load_published("clip_coco")
    keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], n, replace=False))
    x, y = x[keep].astype(np.float64), y[keep].astype(np.float64)
    q = ortho_group.rvs(x.shape[1], random_state=seed)
    return (x, y), (x @ q, y @ q)


def test_done_when_rotated_clip_auc_and_ece():
    """Issue 18: on a rotated subsample of real CLIP, auc = brute force ± 0.02, ece_test ≤ 0.05."""
    (x, y), (xr, yr) = _rotated_clip()
    res = calibrate_pairs(xr, yr, seed=0).summary
    xn = xr / np.linalg.norm(xr, axis=1, keepdims=True)
    yn = yr / np.linalg.norm(yr, axis=1, keepdims=True)
    sim = xn @ yn.T
    pos, neg = np.diag(sim), sim[~np.eye(len(sim), dtype=bool)]
    ref = np.mean([np.mean(p > neg) + 0.5 * np.mean(p == neg) for p in pos])  # every (pos, neg) pair
    assert abs(res["auc"] - ref) <= 0.02
    assert res["auc_exact"] and res["auc"] == pytest.approx(ref, abs=1e-9)
    assert res["ece_test"] <= 0.05 and res["methods"]["platt"]["ece_test"] <= 0.05
    # the rotation changes nothing
    plain = calibrate_pairs(x, y, seed=0).summary
    assert plain["auc"] == pytest.approx(res["auc"], abs=1e-9)
    for m in ("isotonic", "platt"):
        assert plain["methods"][m]["ece_test"] == pytest.approx(res["methods"][m]["ece_test"], abs=1e-6)
    for a, b in zip(plain["thresholds"], res["thresholds"], strict=True):
        assert a["cosine"] == pytest.approx(b["cosine"], abs=1e-9)
        assert a["precision_test"] == pytest.approx(b["precision_test"], abs=1e-9)


def test_calibrate_pairs_samples_negatives_when_asked():
    x, y = paired(40, 6)
    a = calibrate_pairs(x, y, max_negatives=50, seed=2).summary
    assert a["split"]["n_fit_negative"] == 50 and a["split"]["n_test_negative"] == 50
    assert a == calibrate_pairs(x, y, max_negatives=50, seed=2).summary
    assert a["auc_exact"] and a["n_negative_used"] == 40 * 39  # the AUC still uses every pair
