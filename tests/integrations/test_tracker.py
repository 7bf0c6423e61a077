from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError, MetricSuite, measure
from gaplab.metrics import retrieval_recall
from gaplab.metrics.tracker import GapTracker, scalar_metrics


def _data(n=120, d=10, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 0.7
    y = 0.3 * x + rng.normal(size=(n, d)) - 0.7
    return x.astype(dtype), y.astype(dtype)


def _batches(tracker, x, y, size):
    for lo in range(0, len(x), size):
        tracker.update(x[lo:lo + size], y[lo:lo + size])
    return tracker


def test_tracker_equals_measure_without_pairwise():
    x, y = _data()
    ref = measure(x, y, include_pairwise=False)
    out = _batches(GapTracker(), x, y, 17).compute()
    shared = [k for k in out if k in ref]
    assert {"l2m", "l2i", "rmg", "mean_cos_paired", "mean_cos_cross", "alignment", "residual_gap"} <= set(shared)
    for k in shared:
        assert out[k] == pytest.approx(ref[k], rel=1e-12, abs=1e-14), k
    top = ref["top_dims"][0]
    assert out["gap_vector"][top["dim"]] == pytest.approx(top["diff"], rel=1e-12)


def test_retrieval_equals_measure_and_is_bounded():
    x, y = _data(n=60)
    ref = {**measure(x, y, include_pairwise=False), **retrieval_recall(x, y)}
    t = _batches(GapTracker(retrieval=True), x, y, 16)
    out = t.compute()
    for k in ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"):
        assert out[k] == ref[k], k
    assert out["retrieval_n"] == 60
    small = _batches(GapTracker(retrieval=True, max_rows=25, ks=(1, 3)), x, y, 16).compute()
    assert small["retrieval_n"] == 25 and small["n"] == 60
    assert small["l2m"] == pytest.approx(ref["l2m"], rel=1e-12)
    assert small["i2t_r1"] == retrieval_recall(x[:25], y[:25], ks=(1,))["i2t_r1"]
    assert "i2t_r3" in small and "i2t_r5" not in small


def test_torch_input_any_dtype_and_merge_reset():
    torch = pytest.importorskip("torch")
    x, y = _data(n=40, d=6)
    t = GapTracker().update(torch.from_numpy(x).float().requires_grad_(), torch.from_numpy(y).bfloat16())
    ref = MetricSuite().update(x.astype(np.float32), torch.from_numpy(y).bfloat16().float().numpy()).compute()
    assert t.compute()["rmg"] == pytest.approx(ref["rmg"], rel=1e-12)
    a = GapTracker(retrieval=True).update(x[:25], y[:25])
    b = GapTracker(retrieval=True).update(x[25:], y[25:])
    merged = a.merge(b).compute()
    whole = GapTracker(retrieval=True).update(x, y).compute()
    assert merged["l2m"] == pytest.approx(whole["l2m"], rel=1e-12)
    assert merged["t2i_r1"] == whole["t2i_r1"]
    a.reset()
    assert a.stats is None
    with pytest.raises(InputError, match=r"MetricSuite.compute: needs at least 2 images and 2 texts, got 0"):
        a.compute()


def test_scalar_metrics_leave_out_counts_and_vectors():
    x, y = _data(n=12, d=3)
    logged = scalar_metrics(GapTracker(retrieval=True, ks=(1,)).update(x, y).compute(), prefix="gap/")
    assert "gap/l2m" in logged and "gap/i2t_r1" in logged
    assert not {"gap/n", "gap/dim", "gap/gap_vector", "gap/retrieval_n"} & set(logged)
    assert all(isinstance(v, float) for v in logged.values())


def test_bad_input():
    with pytest.raises(InputError, match=r"GapTracker: max_rows must be an integer >= 2, got 1"):
        GapTracker(max_rows=1)
    with pytest.raises(InputError, match=r"GapTracker: ks must be positive integers, got \(0,\)"):
        GapTracker(ks=(0,))
    t = GapTracker(retrieval=True)
    with pytest.raises(InputError, match=r"GapTracker.update: retrieval=True needs one-to-one pairs"):
        t.update(np.ones((2, 3)), np.ones((4, 3)), image_index=[0, 0, 1, 1])
    t.update(np.eye(3), np.eye(3))
    with pytest.raises(InputError, match=r"GapTracker.update: batch has d=2, earlier batches had d=3"):
        t.update(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(InputError, match=r"GapTracker.update: image embeddings \(x\): non-finite value"):
        t.update(np.array([[1.0, np.nan, 0.0]]), np.ones((1, 3)))
