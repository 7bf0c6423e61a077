"""Every metric against the slow reference in tests/reference/naive.py, on random data."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import metrics as M
from tests.reference import naive

CASES = [(5, 3), (17, 8), (40, 16)]


def _data(n, d, seed, shift=0.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + shift
    y = rng.normal(size=(n, d)) - shift
    return x, y


def _multi(n_img, per, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_img, d)) + 0.3
    idx = np.repeat(np.arange(n_img), per)
    y = x[idx] + rng.normal(size=(len(idx), d)) - 0.3
    return x, y, idx


@pytest.mark.parametrize("n,d", CASES)
@pytest.mark.parametrize("normalize", [True, False])
def test_centroid_metrics(n, d, normalize):
    x, y = _data(n, d, n * d)
    idx = np.arange(n)
    assert M.l2m(x, y, normalize=normalize) == pytest.approx(naive.l2m(x, y, normalize), abs=1e-12)
    assert M.l2i(x, y, normalize=normalize) == pytest.approx(naive.l2i(x, y, idx, normalize), abs=1e-12)
    assert M.alignment(x, y, normalize=normalize) == pytest.approx(naive.alignment(x, y, idx, 2.0, normalize), abs=1e-12)
    assert M.alignment(x, y, alpha=1.5, normalize=normalize) == pytest.approx(
        naive.alignment(x, y, idx, 1.5, normalize), abs=1e-12
    )
    gap = M.gap_vector(x, y, normalize=normalize)
    ref = (naive.unit(x) - naive.unit(y)).mean(0) if normalize else (x - y).mean(0)
    np.testing.assert_allclose(gap, ref, atol=1e-12)


@pytest.mark.parametrize("n,d", CASES)
def test_cosine_metrics_and_rmg(n, d):
    x, y = _data(n, d, 7 + n)
    idx = np.arange(n)
    assert M.rmg(x, y) == pytest.approx(naive.rmg(x, y, idx), abs=1e-12)
    assert M.mean_cosine(x) == pytest.approx(naive.mean_cosine(x), abs=1e-12)
    assert M.mean_cosine_paired(x, y) == pytest.approx(naive.mean_cosine_paired(x, y, idx), abs=1e-12)
    assert M.mean_cosine_cross(x, y) == pytest.approx(naive.mean_cosine_cross(x, y, idx), abs=1e-12)


@pytest.mark.parametrize("per", [1, 3, 5])
def test_many_captions_per_image(per):
    x, y, idx = _multi(9, per, 6, per)
    assert M.l2m(x, y, image_index=idx) == pytest.approx(naive.l2m(x, y), abs=1e-12)
    assert M.l2i(x, y, image_index=idx) == pytest.approx(naive.l2i(x, y, idx), abs=1e-12)
    assert M.rmg(x, y, image_index=idx) == pytest.approx(naive.rmg(x, y, idx), abs=1e-12)
    assert M.mean_cosine_paired(x, y, image_index=idx) == pytest.approx(naive.mean_cosine_paired(x, y, idx), abs=1e-12)
    assert M.mean_cosine_cross(x, y, image_index=idx) == pytest.approx(naive.mean_cosine_cross(x, y, idx), abs=1e-12)
    assert M.alignment(x, y, image_index=idx) == pytest.approx(naive.alignment(x, y, idx), abs=1e-12)
    r = M.retrieval_recall(x, y, image_index=idx, ks=(1, 2, 5))
    for k in (1, 2, 5):
        i2t, t2i = naive.recall(x, y, idx, k)
        assert r[f"i2t_r{k}"] == pytest.approx(i2t) and r[f"t2i_r{k}"] == pytest.approx(t2i)


def test_image_without_caption_is_left_out_of_i2t():
    x, y, idx = _multi(6, 2, 4, 0)
    keep = idx != 3  # image 3 has no caption
    r = M.retrieval_recall(x, y[keep], image_index=idx[keep], ks=(1, 3))
    for k in (1, 3):
        i2t, t2i = naive.recall(x, y[keep], idx[keep], k)
        assert r[f"i2t_r{k}"] == pytest.approx(i2t) and r[f"t2i_r{k}"] == pytest.approx(t2i)


@pytest.mark.parametrize("n,d", CASES)
@pytest.mark.parametrize("normalize", [True, False])
def test_uniformity_blockwise(n, d, normalize):
    x, _ = _data(n, d, 3 * n)
    x = x * 0.3 if not normalize else x
    ref = naive.uniformity(x, 2.0, normalize)
    for block in (None, 1, 4, 7):
        assert M.uniformity(x, normalize=normalize, block_rows=block) == pytest.approx(ref, abs=1e-10)
    assert M.uniformity(x, t=0.5, normalize=normalize) == pytest.approx(naive.uniformity(x, 0.5, normalize), abs=1e-10)


@pytest.mark.parametrize("n,d", CASES)
def test_retrieval_one_to_one(n, d):
    x, y = _data(n, d, 11 * n, shift=0.1)
    y = x + 0.8 * y  # partially matched
    for block in (None, 2, 5):
        r = M.retrieval_recall(x, y, ks=(1, 3, 10), block_rows=block)
        for k in (1, 3, 10):
            i2t, t2i = naive.recall(x, y, np.arange(n), k)
            assert r[f"i2t_r{k}"] == pytest.approx(i2t) and r[f"t2i_r{k}"] == pytest.approx(t2i)


@pytest.mark.parametrize("n,d", CASES)
def test_logit_entropy(n, d):
    x, y = _data(n, d, 5 * n)
    for tau in (0.05, 1.0):
        h = M.logit_entropy(x, y, temperature=tau, block_rows=3)
        i2t, t2i = naive.logit_entropy(x, y, tau)
        assert h["i2t"] == pytest.approx(i2t, abs=1e-10) and h["t2i"] == pytest.approx(t2i, abs=1e-10)


@pytest.mark.parametrize("n,d", CASES)
def test_moad_and_kendall(n, d):
    rng = np.random.default_rng(n)
    x, yo, ya = rng.normal(size=(3, n, d))
    assert M.moad(x, yo + x, ya) == pytest.approx(naive.moad(x, yo + x, ya), abs=1e-12)
    mx, my = rng.normal(size=(2, max(n // 2, 4), d))
    assert M.kendall_tau_distance(mx, my) == pytest.approx(naive.kendall_tau_distance(mx, my), abs=1e-12)


def test_zero_shot_against_argmax():
    rng = np.random.default_rng(0)
    x, c = rng.normal(size=(50, 8)), rng.normal(size=(5, 8))
    labels = rng.integers(0, 5, 50)
    pred = np.argmax(naive.unit(x) @ naive.unit(c).T, axis=1)
    assert M.zero_shot_accuracy(x, c, labels) == pytest.approx(np.mean(pred == labels))
    top2 = np.argsort(-(naive.unit(x) @ naive.unit(c).T), axis=1)[:, :2]
    assert M.zero_shot_accuracy(x, c, labels, k=2) == pytest.approx(np.mean([labels[i] in top2[i] for i in range(50)]))


def test_dimension_gap_finds_planted_dims():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 400, 20))
    x[:, 3] += 4.0
    y[:, 11] += 4.0
    dg = M.dimension_gap(x, y, top_k=2)
    assert set(dg.top_dims) == {3, 11}
    assert dg.share_top > 0.8
    assert set(dg.best_pair) == {3, 11} and dg.best_pair_accuracy > 0.95
    np.testing.assert_allclose(dg.diff, M.gap_vector(x, y))


def test_linear_separability_extremes():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 10))
    assert M.linear_separability(x + 5, x - 5) == 1.0
    same = M.linear_separability(x, rng.normal(size=(200, 10)), seed=2)
    assert 0.3 < same < 0.7
