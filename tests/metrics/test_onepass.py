"""The one-pass O(N²) kernels equal the per-metric blockwise passes they replaced (issue 17).

The references below are the former implementations (one blockwise pass per metric, kept
here verbatim as slow, obviously-correct versions), and plain full-matrix numpy where N is
small. Continuous values agree to 1e-12 relative, ranks and neighbour sets exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gaplab import metrics as M
from gaplab._validation import normalize_rows
from gaplab.metrics.functional import _onepass
from gaplab.metrics.functional._blocks import TIE_TOL, beats, row_blocks, similarity_blocks
from gaplab.metrics.functional._onepass import cross_pass, self_pass, top_k_pass, top_k_rows
from gaplab.metrics.measure import KNN_K, pairwise_metrics

REL = 1e-12


# ---- references: the per-metric passes before the fused one --------------------------------
def ref_mean_row_entropy(a, b, temperature, block_rows=None):
    from scipy.special import log_softmax

    total = 0.0
    for _, _, s in similarity_blocks(a, b, block_rows):
        logp = log_softmax(s / temperature, axis=1)
        total += float(-(np.exp(logp) * logp).sum())
    return total / a.shape[0]


def ref_uniformity(a, t, block_rows=None):
    from scipy.special import logsumexp

    a = np.asarray(a, dtype=np.float64)
    n = a.shape[0]
    sq = np.einsum("ij,ij->i", a, a)
    total = -np.inf
    for lo, hi in row_blocks(n, n, block_rows):
        g = a[lo:hi] @ a[lo + 1 :].T
        d2 = np.maximum(sq[lo:hi, None] + sq[None, lo + 1 :] - 2.0 * g, 0.0)
        i = np.arange(lo, hi)[:, None]
        j = np.arange(lo + 1, n)[None, :]
        logits = np.where(j > i, -t * d2, -np.inf)
        if logits.size:
            total = np.logaddexp(total, logsumexp(logits))
    return float(total - np.log(n * (n - 1) / 2.0))


def ref_retrieval_ranks(xa, ya, idx, block_rows=None):
    if idx is None:
        idx = np.arange(ya.shape[0])
    n_img, n_txt = xa.shape[0], ya.shape[0]
    correct_t = np.einsum("ij,ij->i", np.asarray(xa[idx], np.float64), np.asarray(ya, np.float64))
    order = np.argsort(idx, kind="stable")
    i2t = np.empty(n_img, dtype=np.int64)
    t2i = np.zeros(n_txt, dtype=np.int64)
    cols = np.arange(n_txt)
    for lo, hi, s in similarity_blocks(xa, ya, block_rows):
        own = order[(idx[order] >= lo) & (idx[order] < hi)]
        best = np.full(hi - lo, -np.inf)
        np.maximum.at(best, idx[own] - lo, s[idx[own] - lo, own])
        i2t[lo:hi] = beats(s, best[:, None]).sum(axis=1)
        s[idx[own] - lo, cols[own]] = -np.inf
        t2i += beats(s, correct_t[None, :]).sum(axis=0)
    has_caption = np.bincount(idx, minlength=n_img) > 0
    return i2t[has_caption], t2i


def ref_top_k(queries, corpus, k, exclude_self, block_rows=None):
    out = np.empty((queries.shape[0], k), dtype=np.int64)
    for lo, hi, s in similarity_blocks(queries, corpus, block_rows):
        if exclude_self:
            s[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
        out[lo:hi] = top_k_rows(s, k)
    return out


def ref_mutual_knn(xn, yn, k):
    nx, ny = ref_top_k(xn, xn, k, True), ref_top_k(yn, yn, k, True)
    hits = 0
    marks = np.zeros(xn.shape[0], dtype=bool)
    for i in range(xn.shape[0]):
        marks[nx[i]] = True
        hits += int(marks[ny[i]].sum())
        marks[nx[i]] = False
    return hits / (xn.shape[0] * k)


def cone_pairs(n=300, d=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 2.0 * rng.normal(size=d)
    y = x + rng.normal(size=(n, d)) + 1.5 * rng.normal(size=d)
    return normalize_rows(x.astype(np.float32)), normalize_rows(y.astype(np.float32))


def with_index(seed=0):
    """Several captions per image (and one image without any)."""
    x, y = cone_pairs(seed=seed)
    idx = np.random.default_rng(seed + 1).integers(0, 259, size=300)
    return x[:260], y, idx


def duplicates(seed=1):
    """Images are exact copies of 10 prototypes: neighbour sets are decided by the tie rule."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(10, 64)).astype(np.float32)
    labels = rng.integers(0, 10, size=400)
    x = normalize_rows(protos[labels])
    y = normalize_rows((protos[labels] + 0.4 * rng.normal(size=(400, 64))).astype(np.float32))
    return x, y


CASES = {"cone": lambda: (*cone_pairs(), None), "index": with_index, "duplicates": lambda: (*duplicates(), None)}


@pytest.mark.parametrize("block_rows", [1, 7, None])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cross_pass_equals_the_per_metric_passes(case, block_rows):
    x, y, idx = CASES[case]()
    r = cross_pass(x, y, idx, temperature=0.01, ranks=True, k=KNN_K, block_rows=block_rows)
    assert r.entropy_i2t == pytest.approx(ref_mean_row_entropy(x, y, 0.01), rel=REL, abs=0)
    assert r.entropy_t2i == pytest.approx(ref_mean_row_entropy(y, x, 0.01), rel=REL, abs=0)
    i2t, t2i = ref_retrieval_ranks(x, y, idx)
    np.testing.assert_array_equal(r.ranks_i2t, i2t)
    np.testing.assert_array_equal(r.ranks_t2i, t2i)
    np.testing.assert_array_equal(r.knn_i2t, ref_top_k(x, y, KNN_K, False))
    np.testing.assert_array_equal(r.knn_t2i, ref_top_k(y, x, KNN_K, False))


@pytest.mark.parametrize("block_rows", [1, 7, None])
@pytest.mark.parametrize("case", sorted(CASES))
def test_self_pass_equals_the_per_metric_passes(case, block_rows):
    x, y, _ = CASES[case]()
    for a in (x, y):
        r = self_pass(a, t=2.0, k=KNN_K, block_rows=block_rows)
        assert r.uniformity == pytest.approx(ref_uniformity(a, 2.0), rel=REL, abs=0)
        np.testing.assert_array_equal(r.knn, ref_top_k(a, a, KNN_K, True))
        np.testing.assert_array_equal(top_k_pass(a, a, KNN_K, exclude_self=True, block_rows=block_rows), r.knn)


def test_public_functions_equal_the_references():
    x, y, idx = with_index()
    xr, yr = normalize_rows(x), normalize_rows(y)  # what the public functions compute on
    assert M.uniformity(x, t=3.0) == pytest.approx(ref_uniformity(xr, 3.0), rel=REL, abs=0)
    raw = np.random.default_rng(3).normal(size=(50, 5)) * 3  # unnormalised rows (normalize=False)
    assert M.uniformity(raw, normalize=False) == pytest.approx(ref_uniformity(raw, 2.0), rel=REL, abs=0)
    h = M.logit_entropy(x, y, temperature=0.05, image_index=idx)
    assert h["i2t"] == pytest.approx(ref_mean_row_entropy(xr, yr, 0.05), rel=REL, abs=0)
    assert h["t2i"] == pytest.approx(ref_mean_row_entropy(yr, xr, 0.05), rel=REL, abs=0)
    for got, want in zip(M.retrieval_ranks(x, y, image_index=idx), ref_retrieval_ranks(xr, yr, idx), strict=True):
        np.testing.assert_array_equal(got, want)
    xs, ys = cone_pairs(n=120)
    xsr, ysr = normalize_rows(xs), normalize_rows(ys)
    assert M.mutual_knn(xs, ys, k=5) == ref_mutual_knn(xsr, ysr, 5)
    np.testing.assert_array_equal(M.top_k_neighbours(xs, ys, k=4), ref_top_k(xsr, ysr, 4, False))
    hub = M.hubness(xs, ys, k=3)
    counts = np.bincount(ref_top_k(ysr, xsr, 3, False).ravel(), minlength=120)
    assert hub["antihub_image"] == np.mean(counts == 0)


def test_tiny_temperature_takes_the_separate_column_pass():
    # 1/τ = 2000: e^(−2/τ) underflows, so the t → i side must not reuse the shifted exponentials
    x, y = cone_pairs(n=80)
    r = cross_pass(x, y, None, temperature=5e-4)
    assert r.entropy_i2t == pytest.approx(ref_mean_row_entropy(x, y, 5e-4), rel=REL, abs=0)
    assert r.entropy_t2i == pytest.approx(ref_mean_row_entropy(y, x, 5e-4), rel=REL, abs=0)


def test_a_hand_computed_case():
    # three unit vectors in the plane at 0°, 90°, 180°; captions = images
    x = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    r = cross_pass(x, x, None, temperature=1.0, ranks=True, k=1)
    # row 0 scores (1, 0, −1): p ∝ (e, 1, 1/e); row 1 (0, 1, 0): p ∝ (1, e, 1); row 2 mirrors row 0
    p0 = np.array([np.e, 1, 1 / np.e]) / (np.e + 1 + 1 / np.e)
    p1 = np.array([1, np.e, 1]) / (2 + np.e)
    want = (2 * -(p0 * np.log(p0)).sum() - (p1 * np.log(p1)).sum()) / 3
    assert r.entropy_i2t == pytest.approx(want, rel=1e-14)
    assert r.entropy_t2i == pytest.approx(want, rel=1e-14)  # symmetric scores
    assert r.ranks_i2t.tolist() == [0, 0, 0] and r.ranks_t2i.tolist() == [0, 0, 0]
    assert r.knn_i2t.ravel().tolist() == [0, 1, 2]
    # image 1 is equally far from 0 and 2 (cosine 0): the tie goes to the lower index
    s = self_pass(x, t=1.0, k=1)
    assert s.knn.ravel().tolist() == [1, 0, 1]
    # pairs: d² = 2, 4, 2 → log mean of (e^−2, e^−4, e^−2)
    assert s.uniformity == pytest.approx(np.log((2 * np.exp(-2) + np.exp(-4)) / 3), rel=1e-14)


def test_many_exact_ties_keep_the_tie_rule():
    # every text ties with every image copy of its prototype (40 copies > the usual k + slack)
    x, y = duplicates()
    x = np.repeat(x[:10], 40, axis=0)
    r = cross_pass(x, y, None, k=KNN_K, block_rows=7)
    np.testing.assert_array_equal(r.knn_t2i, ref_top_k(y, x, KNN_K, False))


def test_one_pass_does_not_depend_on_thread_count_or_chunk_size(monkeypatch):
    x, y = cone_pairs(n=400)
    with threadpool_limits(1):
        one = pairwise_metrics(x, y, None, np.ones(48), temperature=0.01, seed=0, top_k=5)
    with threadpool_limits(2):
        two = pairwise_metrics(x, y, None, np.ones(48), temperature=0.01, seed=0, top_k=5)
    monkeypatch.setattr(_onepass, "CHUNK_ELEMENTS", 997)
    small = pairwise_metrics(x, y, None, np.ones(48), temperature=0.01, seed=0, top_k=5)
    for other in (two, small):
        assert sorted(other) == sorted(one)
        for k, v in one.items():
            if isinstance(v, float):
                assert other[k] == pytest.approx(v, rel=REL, abs=0), k
            else:
                assert other[k] == v, k


def test_pairwise_metrics_equal_the_per_metric_references():
    x, y = cone_pairs(n=250)
    out = pairwise_metrics(x, y, None, np.ones(48), temperature=0.01, seed=0, top_k=5)
    assert out["uniformity_image"] == pytest.approx(ref_uniformity(x, 2.0), rel=REL, abs=0)
    assert out["uniformity_text"] == pytest.approx(ref_uniformity(y, 2.0), rel=REL, abs=0)
    assert out["logit_entropy_i2t"] == pytest.approx(ref_mean_row_entropy(x, y, 0.01), rel=REL, abs=0)
    assert out["logit_entropy_t2i"] == pytest.approx(ref_mean_row_entropy(y, x, 0.01), rel=REL, abs=0)
    i2t, t2i = ref_retrieval_ranks(x, y, None)
    assert out["i2t_r5"] == np.mean(i2t < 5) and out["t2i_r1"] == np.mean(t2i < 1)
    assert out["mutual_knn"] == ref_mutual_knn(x, y, KNN_K)
    counts = np.bincount(ref_top_k(y, x, KNN_K, False).ravel(), minlength=250)
    assert out["antihub_image"] == np.mean(counts == 0)


def test_top_k_rows_tie_tolerance():
    s = np.array([[0.5, 0.5 + TIE_TOL / 2, 0.1, 0.5]])
    assert top_k_rows(s, 2).tolist() == [[0, 1]]  # 0.5 + tol/2 ties 0.5: the lower indices, in index order
    s = np.array([[0.5, 0.5 + 1e-6, 0.1, 0.5]])
    assert top_k_rows(s, 2).tolist() == [[1, 0]]  # beyond the tolerance: most similar first


def _all_passes(x, y, block_rows):
    c = cross_pass(x, y, None, temperature=0.01, ranks=True, k=KNN_K, block_rows=block_rows)
    s = self_pass(x, t=2.0, k=KNN_K, block_rows=block_rows)
    q = top_k_pass(y, x, KNN_K, exclude_self=False, block_rows=block_rows)
    return (c.entropy_i2t, c.entropy_t2i, c.ranks_i2t, c.ranks_t2i, c.knn_i2t, c.knn_t2i, s.uniformity, s.knn, q)


def test_overlapped_blocks_equal_the_sequential_pass_bit_for_bit(monkeypatch):
    # the product of block i + 1 runs while a worker thread takes block i: same order, same numbers
    x, y = cone_pairs(n=300)
    calls = []
    with threadpool_limits(1):  # both runs: one BLAS thread for the products
        monkeypatch.setattr(_onepass, "_overlap_blas", lambda: 0)
        seq = _all_passes(x, y, block_rows=23)
        monkeypatch.setattr(_onepass, "_overlap_blas", lambda: calls.append(1) or 1)
        over = _all_passes(x, y, block_rows=23)
    assert len(calls) == 3  # the overlapped path ran, once per pass
    for a, b in zip(seq, over, strict=True):
        np.testing.assert_array_equal(a, b)


def test_overlap_error_in_the_worker_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(_onepass, "_overlap_blas", lambda: 1)

    def boom(lo, hi, s):
        raise ValueError(f"block {lo}")

    with pytest.raises(ValueError, match="block 0"):
        _onepass._run_blocks([(0, 2), (2, 4), (4, 6)], lambda lo: 3,
                             lambda lo, hi, buf: buf[: (hi - lo) * 3].reshape(hi - lo, 3), boom)


@pytest.mark.parametrize("stride", [1, 3, 16, 64])
def test_row_top_k_does_not_depend_on_the_sample_floor(monkeypatch, stride):
    # the strided subset only sets a floor: any stride gives the tie rule's answer
    rng = np.random.default_rng(5)
    s = rng.standard_normal((40, 3000))
    s[:, 100:140] = s[:, :40]  # exact duplicates: ties across the floor
    want = top_k_rows(s, KNN_K)
    monkeypatch.setattr(_onepass, "SUBSAMPLE_STRIDE", stride)
    got = _onepass._block_top_k(s.copy(), KNN_K, np.empty(s.shape, dtype=bool))
    np.testing.assert_array_equal(got, want)
