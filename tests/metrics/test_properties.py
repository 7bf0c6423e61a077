"""Hand-computed tiny cases, invariances, streaming, torch input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaplab import MetricSuite
from gaplab import metrics as M


def test_two_antipodal_clusters_by_hand():
    # images all at e1, texts all at −e1: means e1 and −e1
    x = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    y = -x
    assert M.l2m(x, y) == pytest.approx(2.0)
    assert M.l2i(x, y) == pytest.approx(2.0)
    assert M.mean_cosine(x) == pytest.approx(1.0)
    assert M.mean_cosine_paired(x, y) == pytest.approx(-1.0)
    assert M.rmg(x, y) == pytest.approx(1.0)  # intra distance 0, match distance 1
    assert M.alignment(x, y) == pytest.approx(4.0)
    assert M.linear_separability(np.vstack([x] * 4) + 0.01 * np.arange(12)[:, None], np.vstack([y] * 4)) == 1.0


def test_orthonormal_basis_by_hand():
    x = np.eye(4)
    assert M.mean_cosine(x) == pytest.approx(0.0)
    # uniformity: all pairs at squared distance 2 → log exp(−4) = −4
    assert M.uniformity(x) == pytest.approx(-4.0)
    # rmg with y = x: match 0 → 0
    assert M.rmg(x, x) == pytest.approx(0.0)
    # y a permutation of x: match d = 1/2, intra d = 1/2 → 0.5 / (0.5 + 0.5)
    assert M.rmg(x, x[[1, 2, 3, 0]]) == pytest.approx(0.5)
    h = M.logit_entropy(x, x, temperature=1.0)
    p_self = math.e / (math.e + 3)
    p_other = 1 / (math.e + 3)
    assert h["i2t"] == pytest.approx(-(p_self * math.log(p_self) + 3 * p_other * math.log(p_other)))


def _rotation(d, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


def test_rotation_invariance():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 60, 7))
    q = _rotation(7, 1)
    for f in (M.l2m, M.rmg, M.l2i, M.mean_cosine_cross):
        assert f(x @ q, y @ q) == pytest.approx(f(x, y), abs=1e-12)
    assert M.uniformity(x @ q) == pytest.approx(M.uniformity(x), abs=1e-12)


def test_scale_invariance_of_normalised_metrics():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 30, 5))
    scales = rng.uniform(0.1, 10, size=(30, 1))
    assert M.l2m(x * scales, y) == pytest.approx(M.l2m(x, y), abs=1e-12)
    assert M.rmg(x * scales, y) == pytest.approx(M.rmg(x, y), abs=1e-12)


@pytest.mark.parametrize("splits", [[10], [1, 1, 98], [33, 33, 34], [50, 50]])
def test_streaming_merge_equals_one_shot(splits):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 100, 12)) + 0.2
    whole = MetricSuite().update(x, y).compute()
    parts = []
    start = 0
    for s in splits + [100 - sum(splits)]:
        if s:
            parts.append(MetricSuite().update(x[start : start + s], y[start : start + s]) if s >= 1 else None)
        start += s
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    got = merged.compute()
    for k, v in whole.items():
        np.testing.assert_allclose(got[k], v, atol=1e-10, rtol=0)
    # update-in-sequence equals merge
    seq = MetricSuite()
    seq.update(x[:40], y[:40]).update(x[40:], y[40:])
    assert seq.compute()["rmg"] == pytest.approx(whole["rmg"], abs=1e-12)


def test_suite_matches_functional():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(2, 50, 6))
    r = MetricSuite().update(x, y).compute()
    assert r["l2m"] == pytest.approx(M.l2m(x, y))
    assert r["rmg"] == pytest.approx(M.rmg(x, y))
    assert r["mean_cos_image"] == pytest.approx(M.mean_cosine(x))
    assert r["alignment"] == pytest.approx(M.alignment(x, y))


def test_float16_and_float32_inputs_upcast():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2, 64, 8))
    ref = M.l2m(x.astype(np.float16).astype(np.float64), y.astype(np.float16).astype(np.float64))
    assert M.l2m(x.astype(np.float16), y.astype(np.float16)) == pytest.approx(ref, abs=1e-12)
    assert M.uniformity(x.astype(np.float32)) == pytest.approx(M.uniformity(x), abs=1e-5)


def test_torch_tensors_accepted():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(2, 20, 4))
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y)
    assert M.l2m(tx, ty) == pytest.approx(M.l2m(x, y))
    assert M.retrieval_recall(tx, ty) == M.retrieval_recall(x, y)


def test_measure_keys_and_finite_on_real_dump(fixture_path):
    from gaplab.io import load_pairs

    p = load_pairs(fixture_path("videoclip_pairs.npy"))
    r = M.measure(p.image, p.text)
    for key in M.MEASURE_KEYS:
        assert key in r
    for k, v in r.items():
        if isinstance(v, float):
            assert math.isfinite(v), k
    # the random-weight dump of the same architecture already has a gap (cone effect)
    q = load_pairs(fixture_path("videoclip_random_pairs.npy"))
    assert M.l2m(q.image, q.text) > 0.5
    assert M.mean_cosine(q.image) > 0.3  # isotropic random vectors in 768-d would give ~0 ± 0.04
