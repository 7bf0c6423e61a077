"""The optional numba kernel of the O(N·d) suite equals the numpy reference path."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError, MetricSuite
from gaplab.metrics.functional import _fused

pytestmark = pytest.mark.skipif(not _fused.HAVE_NUMBA, reason="numba not installed")


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(_fused, "MIN_ROWS", 1)


def _both(monkeypatch, x, y, **kw):
    fused = MetricSuite(**kw).update(x, y).compute()
    with monkeypatch.context() as m:
        m.setattr(_fused, "HAVE_NUMBA", False)
        ref = MetricSuite(**kw).update(x, y).compute()
    return fused, ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"normalize": False}, {"alpha": 1.5}])
def test_fused_equals_numpy(monkeypatch, small_threshold, dtype, kw):
    rng = np.random.default_rng(0)
    x, y = (rng.normal(size=(2, 3000, 17)) + 0.3).astype(dtype)
    monkeypatch.setattr(_fused, "CHUNK_ROWS", 700)  # several chunks
    fused, ref = _both(monkeypatch, x, y, **kw)
    for k, v in ref.items():
        np.testing.assert_allclose(fused[k], v, atol=1e-10, rtol=0, err_msg=k)


def test_fused_path_is_taken(monkeypatch, small_threshold):
    calls = []
    original = _fused.accumulate_fused
    monkeypatch.setattr(_fused, "accumulate_fused", lambda *a: calls.append(1) or original(*a))
    x = np.random.default_rng(1).normal(size=(50, 4))
    MetricSuite().update(x, x + 1)
    assert calls


def test_fused_bad_rows_raise_the_standard_error(monkeypatch, small_threshold):
    monkeypatch.setattr(_fused, "CHUNK_ROWS", 1000)
    x = np.random.default_rng(2).normal(size=(5000, 6))
    y = x + 1
    x[3210, 4] = np.nan
    with pytest.raises(InputError, match="first NaN at row 3210, column 4"):
        MetricSuite().update(x, y)
    x[3210, 4] = 0.5
    y[4001] = 0
    with pytest.raises(InputError, match=r"all-zero row \(row 4001\)"):
        MetricSuite().update(x, y)
