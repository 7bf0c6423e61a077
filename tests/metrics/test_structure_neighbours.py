"""CKA, Procrustes, Fréchet, effective rank, mutual kNN, hubness, residual gap: against the loops."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError
from gaplab import metrics as M
from gaplab.metrics.functional import SecondMoments
from tests.reference import naive

CASES = [(12, 3), (30, 8), (45, 16)]


def data(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 0.8
    y = 0.6 * x + rng.normal(size=(n, d)) - 0.5
    return x, y


@pytest.mark.parametrize("n,d", CASES)
def test_structure_metrics_match_the_reference(n, d):
    x, y = data(n, d, n + d)
    assert M.cka(x, y) == pytest.approx(naive.cka(x, y), rel=1e-10)
    assert M.cka_debiased(x, y) == pytest.approx(naive.cka_debiased(x, y), rel=1e-9)
    assert M.procrustes_distance(x, y) == pytest.approx(naive.procrustes_distance(x, y), abs=1e-10)
    assert M.frechet_distance(x, y) == pytest.approx(naive.frechet(x, y), abs=1e-8)
    assert M.frechet_distance_centered(x, y) == pytest.approx(naive.frechet(x, y, centered=True), abs=1e-8)
    assert M.effective_rank(x) == pytest.approx(naive.erank(x), rel=1e-10)
    assert M.residual_gap(x, y) == pytest.approx(naive.residual_gap(x, y, np.arange(n)), abs=1e-12)


@pytest.mark.parametrize("n,d", CASES)
def test_neighbour_metrics_match_the_reference(n, d):
    x, y = data(n, d, 2 * n + d)
    k = 5
    assert M.mutual_knn(x, y, k=k) == pytest.approx(naive.mutual_knn(x, y, k))
    got, ref = M.hubness(x, y, k=k), naive.hubness(x, y, k)
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=1e-12), key


def test_alignment_is_l2m_squared_plus_residual():
    x, y = data(40, 6, 1)
    assert M.alignment(x, y) == pytest.approx(M.l2m(x, y) ** 2 + M.residual_gap(x, y), abs=1e-12)
    # with 3 captions for every image the identity still holds exactly
    rng = np.random.default_rng(2)
    idx = np.repeat(np.arange(40), 3)
    yy = x[idx] + rng.normal(size=(120, 6))
    assert M.alignment(x, yy, image_index=idx) == pytest.approx(
        M.l2m(x, yy, image_index=idx) ** 2 + M.residual_gap(x, yy, image_index=idx), abs=1e-12)
    assert M.residual_gap(x, yy, image_index=idx) == pytest.approx(naive.residual_gap(x, yy, idx), abs=1e-12)


def test_hand_cases():
    # a rotation: CKA 1, Procrustes 0; effective rank of an orthonormal basis is d
    x = np.random.default_rng(3).normal(size=(20, 4))
    q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(4, 4)))
    assert M.cka(x, x @ q) == pytest.approx(1.0, abs=1e-12)
    assert M.procrustes_distance(x, x @ q) == pytest.approx(0.0, abs=1e-6)
    assert M.effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert M.effective_rank(np.ones((4, 3))) == pytest.approx(1.0, abs=1e-6)
    # shifted copies: the centred Fréchet part is 0 and the whole distance is the squared gap
    a = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert M.frechet_distance(a, -a) == pytest.approx(M.l2m(a, -a) ** 2, abs=1e-12)
    # identical neighbourhoods: mutual kNN 1; a hub: every text's nearest image is image 0
    pts = np.array([[1.0, 0.0], [0.95, 0.3], [0.0, 1.0], [0.3, 0.95]])
    assert M.mutual_knn(pts, pts, k=1) == 1.0
    hub_x = np.array([[1.0, 1.0], [1.0, -0.2], [-0.2, 1.0], [-1.0, -1.0]])
    texts = np.array([[1.0, 0.9], [0.9, 1.0], [1.0, 0.8], [0.8, 1.0]])
    h = M.hubness(hub_x, texts, k=1)
    # N_k = (4, 0, 0, 0): mean 1, third central moment 6, variance 3 → skewness 6 / 3^1.5 = 2/√3
    assert h["antihub_image"] == 0.75
    assert h["hubness_image"] == pytest.approx(2 / np.sqrt(3), rel=1e-12)


def test_second_moments_merge_exactly():
    x, y = data(60, 5, 9)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    whole = SecondMoments(dim=5).update(xn, yn)
    parts = SecondMoments(dim=5).update(xn[:25], yn[:25]).merge(SecondMoments(dim=5).update(xn[25:], yn[25:]))
    for name in ("cka", "cka_debiased", "procrustes_distance", "frechet", "frechet_centered"):
        assert getattr(parts, name)() == pytest.approx(getattr(whole, name)(), rel=1e-12, abs=1e-14), name


def test_duplicates_tie_to_the_lower_index_whatever_the_block_size():
    base = np.random.default_rng(5).normal(size=(8, 6))
    x = np.vstack([base, base, base])  # every point three times
    ref = M.top_k_neighbours(x, k=4)
    for b in (1, 5):
        np.testing.assert_array_equal(M.top_k_neighbours(x, k=4, block_rows=b), ref)
    # point i's nearest are its two copies (lower index first), then the rest
    assert set(ref[0, :2]) == {8, 16} and list(ref[0, :2]) == [8, 16]


def test_measure_reports_the_new_keys():
    x, y = data(40, 6, 11)
    out = M.measure(x, y)
    for k in ("cka", "cka_debiased", "procrustes_distance", "frechet_distance", "frechet_distance_centered",
              "erank_image", "erank_text", "mutual_knn", "mutual_knn_chance", "hubness_image", "antihub_image",
              "hubness_text", "antihub_text", "residual_gap"):
        assert np.isfinite(out[k]), k
    assert out["mutual_knn"] == pytest.approx(M.mutual_knn(x, y))
    assert out["mutual_knn_chance"] == pytest.approx(10 / 39)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, 40])
def test_bad_k(k):
    x, y = data(20, 4, 0)
    with pytest.raises(InputError, match="k"):
        M.mutual_knn(x, y, k=k)
