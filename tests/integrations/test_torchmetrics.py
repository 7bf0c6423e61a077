from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchmetrics")

from gaplab import InputError, MetricSuite, measure  # noqa: E402
from gaplab.integrations.torchmetrics import SCALAR_KEYS, ModalityGap  # noqa: E402


def _data(n=300, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) + 0.5
    y = torch.randn(n, d, generator=g, dtype=torch.float64) - 0.5
    return x, y


def _close(a, b):
    assert a.keys() == b.keys() == set(SCALAR_KEYS)
    for k in SCALAR_KEYS:
        assert abs(float(a[k]) - float(b[k])) <= 1e-12, k


def test_halves_merged_equal_whole():
    x, y = _data()
    whole = ModalityGap(dim=16)
    for lo in range(0, 300, 64):
        whole.update(x[lo:lo + 64], y[lo:lo + 64])
    a, b, c = ModalityGap(dim=16), ModalityGap(dim=16), ModalityGap(dim=16)
    a.update(x[:137], y[:137])
    b.update(x[137:], y[137:])
    c.update(x[:137], y[:137])
    a.merge_state(b)                 # a Metric
    c.merge_state(b.metric_state)    # a state dict (what DDP's all-reduce sums)
    _close(a.compute(), whole.compute())
    _close(c.compute(), whole.compute())
    assert int(a.n_pairs) == 300 and a.sum_x.dtype == torch.float64


def test_simulated_two_rank_sync_sums_states():
    """Under DDP, compute() gathers every state from the ranks and applies dist_reduce_fx="sum"."""
    x, y = _data()
    rank1, whole = ModalityGap(dim=16), ModalityGap(dim=16)
    rank1.update(x[100:], y[100:])
    whole.update(x, y)
    other = rank1.metric_state

    def gather(tensor, group=None):  # what all_gather returns on rank 0 of 2
        name = next(k for k, v in rank0.metric_state.items() if v is tensor)
        return [tensor, other[name]]

    rank0 = ModalityGap(dim=16, dist_sync_fn=gather, distributed_available_fn=lambda: True)
    rank0.update(x[:100], y[:100])
    _close(rank0.compute(), whole.compute())
    assert int(rank0.n_pairs) == 100  # unsynced again after compute


def test_equals_measure_and_key():
    x, y = _data(n=50, d=5, seed=3)
    ref = measure(x.numpy(), y.numpy(), include_pairwise=False)
    m = ModalityGap(dim=5)
    m.update(x.float(), y.float())  # float32 input, float64 sums
    out = m.compute()
    for k in SCALAR_KEYS:
        assert float(out[k]) == pytest.approx(ref[k], rel=1e-6, abs=1e-9)
    one = ModalityGap(dim=5, key="l2m")
    one.update(x, y)
    assert float(one.compute()) == pytest.approx(ref["l2m"], rel=1e-12)
    np.testing.assert_allclose(MetricSuite.from_stats(one.pair_stats()).compute()["gap_vector"],
                               MetricSuite().update(x.numpy(), y.numpy()).compute()["gap_vector"], rtol=1e-12)


def test_reset_and_many_captions_per_image():
    x, y = _data(n=12, d=4)
    idx = torch.arange(12) // 3
    m = ModalityGap(dim=4)
    m.update(x[:4], y, image_index=idx)
    assert int(m.n_x) == 4 and int(m.n_y) == 12
    ref = MetricSuite().update(x[:4].numpy(), y.numpy(), image_index=idx.numpy()).compute()
    assert float(m.compute()["rmg"]) == pytest.approx(ref["rmg"], rel=1e-12)
    m.reset()
    assert int(m.n_pairs) == 0 and float(m.sum_x.abs().sum()) == 0.0


@pytest.mark.parametrize("kw, msg", [
    (dict(dim=0), r"ModalityGap: dim must be a positive integer, got 0"),
    (dict(dim=4, key="nope"), r"ModalityGap: key must be one of \['l2m', .*\] or None, got 'nope'"),
    (dict(dim=4, alpha=-1.0), r"ModalityGap: alpha must be a positive finite number, got -1.0"),
])
def test_bad_options(kw, msg):
    with pytest.raises(InputError, match=msg):
        ModalityGap(**kw)


def test_bad_batches():
    m = ModalityGap(dim=4)
    with pytest.raises(InputError, match=r"ModalityGap.update: the metric was built with dim=4, got a batch of width 3"):
        m.update(torch.ones(2, 3), torch.ones(2, 3))
    bad = torch.ones(2, 4)
    bad[1, 2] = float("nan")
    with pytest.raises(InputError, match=r"ModalityGap.update: image embeddings \(x\): non-finite value, first NaN at row 1"):
        m.update(bad, torch.ones(2, 4))
    with pytest.raises(InputError, match=r"MetricSuite.compute: needs at least 2 images and 2 texts, got 0"):
        m.compute()
