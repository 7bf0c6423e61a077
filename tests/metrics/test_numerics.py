"""Results do not depend on block size or BLAS thread count; ties are exact."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gaplab import InputError
from gaplab import metrics as M
from gaplab.metrics.functional._stats import PairStats, accumulate

REL = 1e-12


def cone_pairs(n=300, d=48, seed=0, dtype=np.float32):
    """Pairs in two cones (the realistic case: nonzero mean cosines, a real gap)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 2.0 * rng.normal(size=d)
    y = x + rng.normal(size=(n, d)) + 1.5 * rng.normal(size=d)
    return x.astype(dtype), y.astype(dtype)


def blocked(block_rows):
    x, y = cone_pairs()
    return {
        "uniformity": M.uniformity(x, block_rows=block_rows),
        **{f"ent_{k}": v for k, v in M.logit_entropy(x, y, temperature=0.01, block_rows=block_rows).items()},
        **M.retrieval_recall(x, y, ks=(1, 5), block_rows=block_rows),
    }


@pytest.mark.parametrize("block_rows", [1, 7])
def test_pairwise_metrics_do_not_depend_on_block_size(block_rows):
    ref = blocked(None)
    got = blocked(block_rows)
    for k in ref:
        assert got[k] == pytest.approx(ref[k], rel=REL, abs=0), k


def test_logit_entropy_at_low_temperature_is_float64_exact():
    # 1/τ = 100 amplifies float32 rounding of the similarities: compare with an all-float64 reference
    from scipy.special import log_softmax

    x, y = cone_pairs(n=200)
    xn = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    yn = y.astype(np.float64) / np.linalg.norm(y.astype(np.float64), axis=1, keepdims=True)
    logp = log_softmax(xn @ yn.T / 0.01, axis=1)
    ref = float(-(np.exp(logp) * logp).sum(axis=1).mean())
    # the metric normalises in the input dtype (float32), so allow float32 normalisation error
    assert M.logit_entropy(x, y, temperature=0.01)["i2t"] == pytest.approx(ref, rel=1e-5)
    assert M.logit_entropy(xn, yn, temperature=0.01)["i2t"] == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("block_rows", [1, 7, 1024])
def test_streaming_sums_do_not_depend_on_block_size(block_rows):
    x, y = cone_pairs(n=500)
    ref = accumulate(PairStats(dim=x.shape[1]), x, y)
    got = accumulate(PairStats(dim=x.shape[1]), x, y, block_rows=block_rows)
    for name in ("l2m", "l2i", "rmg", "mean_cos_x", "mean_cos_y", "mean_cos_paired", "mean_cos_cross", "alignment"):
        assert getattr(got, name)() == pytest.approx(getattr(ref, name)(), rel=REL, abs=0), name


def test_measure_does_not_depend_on_thread_count():
    x, y = cone_pairs(n=400)
    with threadpool_limits(1):
        one = M.measure(x, y)
    with threadpool_limits(2):
        two = M.measure(x, y)
    for k, v in one.items():
        if isinstance(v, float):
            assert two[k] == pytest.approx(v, rel=REL, abs=0), k
        else:
            assert two[k] == v, k


def test_fitted_metrics_beside_the_passes_or_after_them_agree(monkeypatch):
    import importlib

    measure_mod = importlib.import_module("gaplab.metrics.measure")  # the module, not the function
    x, y = cone_pairs(n=400)
    beside = M.measure(x, y)
    monkeypatch.setattr(measure_mod, "BESIDE_MAX_ELEMENTS", 0)  # the fitted metrics after the passes
    after = M.measure(x, y)
    assert after == beside


def test_exact_duplicate_captions_tie_in_the_querys_favour():
    # captions are exact copies of 10 class prompts; each image sits near its class prompt.
    # Every image's own caption is its class prompt, and the other captions of that class are
    # the same vector: a tie, which goes to the query, so i2t R@1 equals zero-shot accuracy.
    rng = np.random.default_rng(1)
    prompts = rng.normal(size=(10, 64)).astype(np.float32)
    labels = rng.integers(0, 10, size=600)
    y = prompts[labels]
    x = (prompts[labels] + 0.9 * rng.normal(size=(600, 64))).astype(np.float32)
    zs = M.zero_shot_accuracy(x, prompts, labels)
    r = M.retrieval_recall(x, y, ks=(1,))
    assert zs == 1.0
    assert r["i2t_r1"] == zs
    # text→image: a caption ties with nothing (images are distinct); the rule still counts exactly
    ranks = M.retrieval_ranks(x, y)[1]
    s = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float64) @ (
        y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float64).T
    naive = [(s[:, k] > s[k, k] + 1e-9).sum() for k in range(len(y))]
    np.testing.assert_array_equal(ranks, naive)


def test_exact_duplicate_images_tie_in_the_querys_favour():
    # the mirror case: images are exact copies of 10 prototypes, captions sit near them.
    # A caption's own image ties with the other copies of its prototype (before: the
    # correct score came from einsum, the candidates from GEMM, and 1-ulp differences
    # decided: t2i R@1 0.627 instead of 1.0).
    rng = np.random.default_rng(1)
    protos = rng.normal(size=(10, 64)).astype(np.float32)
    labels = rng.integers(0, 10, size=600)
    x = protos[labels]
    y = (protos[labels] + 0.4 * rng.normal(size=(600, 64))).astype(np.float32)
    assert M.zero_shot_accuracy(y, protos, labels) == 1.0
    assert M.retrieval_recall(x, y, ks=(1,))["t2i_r1"] == 1.0
    assert M.retrieval_recall(x, y, ks=(1,), block_rows=7)["t2i_r1"] == 1.0


def test_duplicate_class_prompts_tie_in_zero_shot():
    prompts = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    x = np.array([[1.0, 0.2], [0.1, 1.0]], dtype=np.float32)
    assert M.zero_shot_accuracy(x, prompts, np.array([1, 2])) == 1.0  # class 1 ties class 0


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_block_rows_must_be_a_positive_integer(bad):
    x, y = cone_pairs(n=20)
    for call in (lambda: M.uniformity(x, block_rows=bad),
                 lambda: M.logit_entropy(x, y, block_rows=bad),
                 lambda: M.retrieval_recall(x, y, block_rows=bad)):
        with pytest.raises(InputError, match="block_rows must be a positive integer"):
            call()


@pytest.mark.parametrize("ks", [(1.5,), (0,), (), (True,), ("1",)])
def test_ks_must_be_positive_integers(ks):
    x, y = cone_pairs(n=20)
    with pytest.raises(InputError, match="ks must be positive integers"):
        M.retrieval_recall(x, y, ks=ks)


@pytest.mark.parametrize("C", [0.0, -1.0, float("nan"), float("inf")])
def test_linear_separability_needs_positive_finite_C(C):
    x, y = cone_pairs(n=40)
    with pytest.raises(InputError, match="C must be a positive finite number"):
        M.linear_separability(x, y, C=C)
