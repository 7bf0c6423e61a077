"""Bad input: one clear InputError naming the problem, never a numpy traceback or silent NaN."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError, MetricSuite
from gaplab import metrics as M

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(2, 10, 4))


@pytest.mark.parametrize("name", ["l2m", "rmg", "l2i", "alignment", "retrieval_recall", "logit_entropy",
                                  "linear_separability", "mean_cosine_paired", "mean_cosine_cross"])
def test_pair_metrics_reject_bad_input(name):
    f = M.get_metric(name)
    bad_nan = X.copy()
    bad_nan[3, 2] = np.nan
    with pytest.raises(InputError, match=rf"^{name}: image embeddings \(x\): non-finite value, first NaN at row 3, column 2$"):
        f(bad_nan, Y)
    bad_inf = Y.copy()
    bad_inf[0, 0] = np.inf
    with pytest.raises(InputError, match=r"text embeddings \(y\): non-finite value, first inf at row 0"):
        f(X, bad_inf)
    zero = X.copy()
    zero[5] = 0
    with pytest.raises(InputError, match=r"all-zero row \(row 5\)"):
        f(zero, Y)
    with pytest.raises(InputError, match=r"same number of rows, got image \(10, 4\) and text \(9, 4\)"):
        f(X, Y[:9])
    with pytest.raises(InputError, match=r"same dimension d, got image \(10, 4\) and text \(10, 3\)"):
        f(X, Y[:, :3])
    with pytest.raises(InputError, match="must be 2-D.*1-D"):
        f(X[0], Y[0])
    with pytest.raises(InputError, match="must be 2-D.*3-D"):
        f(X[None], Y[None])
    with pytest.raises(InputError, match="at least 2 rows"):
        f(X[:1], Y[:1])
    with pytest.raises(InputError, match="numeric"):
        f(np.array([["a", "b"], ["c", "d"]]), Y[:2, :2])


def test_float16_overflow_is_named():
    with np.errstate(over="ignore"):
        x = np.full((4, 3), 70000.0).astype(np.float16)  # overflows to inf
    with pytest.raises(InputError, match="float16 overflow"):
        M.l2m(x, np.ones((4, 3)))


def test_image_index_errors():
    with pytest.raises(InputError, match="one entry per text row"):
        M.l2m(X, Y, image_index=np.arange(3))
    with pytest.raises(InputError, match=r"values must lie in \[0, 10\)"):
        M.l2m(X, Y, image_index=np.arange(10) + 1)
    with pytest.raises(InputError, match="integers"):
        M.l2m(X, Y, image_index=np.linspace(0, 1, 10))


def test_parameter_errors():
    with pytest.raises(InputError, match="temperature must be a positive"):
        M.logit_entropy(X, Y, temperature=0)
    with pytest.raises(InputError, match="t must be > 0"):
        M.uniformity(X, t=-1)
    with pytest.raises(InputError, match="ks must be positive"):
        M.retrieval_recall(X, Y, ks=(0,))
    with pytest.raises(InputError, match="train_fraction"):
        M.linear_separability(X, Y, train_fraction=1.5)
    with pytest.raises(InputError, match="labels must be 10 integers"):
        M.zero_shot_accuracy(X, Y[:3], np.zeros(4, dtype=int))
    with pytest.raises(InputError, match=r"labels must lie in \[0, 3\)"):
        M.zero_shot_accuracy(X, Y[:3], np.full(10, 3))
    with pytest.raises(InputError, match="at least 3 classes"):
        M.kendall_tau_distance(X[:2], Y[:2])


def test_suite_errors():
    s = MetricSuite()
    with pytest.raises(InputError, match="at least 2 images"):
        s.compute()
    s.update(X, Y)
    with pytest.raises(InputError, match="d=3, earlier batches had d=4"):
        s.update(X[:, :3], Y[:, :3])


def test_unknown_metric_lists_valid_names():
    from gaplab import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown metric 'l2n'.*Did you mean 'l2m'"):
        M.get_metric("l2n")


def test_bad_value_deep_in_a_large_array_names_its_row():
    big = np.random.default_rng(1).normal(size=(5000, 3))
    big[4321, 1] = np.inf
    with pytest.raises(InputError, match="first inf at row 4321, column 1"):
        MetricSuite().update(big, big + 1)
    big[4321, 1] = 0
    big[4000] = 0
    with pytest.raises(InputError, match=r"all-zero row \(row 4000\)"):
        M.l2m(big, big + 1)


def test_measure_names_itself_and_the_modality_not_internals():
    zero = X.copy()
    zero[5] = 0
    with pytest.raises(InputError, match=r"^measure: image embeddings \(x\): all-zero row \(row 5\)") as e:
        M.measure(zero, Y)
    assert "MetricSuite" not in str(e.value)


def test_ragged_lists_are_an_input_error():
    with pytest.raises(InputError, match="ragged"):
        M.l2m([[1.0, 2.0], [3.0]], [[1.0, 2.0], [3.0, 4.0]])
