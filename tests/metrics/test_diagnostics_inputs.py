"""input_warnings: duplicate rows, wild norms, float16 precision and small N, at their stated thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab._errors import InputError
from gaplab.metrics import measure
from gaplab.metrics.functional.diagnostics import (
    DUPLICATE_SHARE,
    FLOAT16_LOGIT_TOLERANCE,
    NORM_CV_MAX,
    NORM_RATIO_MAX,
    SMALL_N,
    duplicate_row_share,
    input_warnings,
)


def rows(n=100, d=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_healthy_input_has_no_warnings():
    assert input_warnings(rows(), rows(seed=1)) == []


def test_duplicate_row_share_against_a_slow_count():
    a = rows(40, 3)
    a[10:15] = a[3]
    a[20] = a[21]
    seen, dup = set(), 0
    for r in a:
        dup += r.tobytes() in seen
        seen.add(r.tobytes())
    assert duplicate_row_share(a) == pytest.approx(dup / 40) == pytest.approx(6 / 40)
    assert duplicate_row_share([[1.0, 0.0], [1.0, 0.0]]) == 0.5
    z = np.zeros((10, 40))  # rows that agree on most columns: the hashed ones collide, the full rows do not
    z[:, 0] = 1
    z[5:, 38] = 2
    z[7, 38] = 3
    assert duplicate_row_share(z) == pytest.approx(7 / 10)  # 4 repeats of row 0, 3 of row 5
    assert duplicate_row_share(z.astype(np.float16)) == pytest.approx(7 / 10)
    with pytest.raises(InputError, match=r"duplicate_row_share: need a 2-D array with rows, got shape \(3,\)"):
        duplicate_row_share([1.0, 2.0, 3.0])


def test_duplicates_warn_above_the_threshold_only():
    x, y = rows(), rows(seed=1)
    k = int(DUPLICATE_SHARE * 100)  # exactly at the threshold: quiet
    x[1 : 1 + k] = x[0]
    assert input_warnings(x, y) == []
    x[1 + k] = x[0]
    (msg,) = input_warnings(x, y)
    assert msg.startswith("6% of the image rows exactly repeat another row (above 5%)") and "image_index" in msg
    y[:20] = y[50]
    assert any(m.startswith("20% of the text rows") for m in input_warnings(x, y))


def test_a_collapsed_modality_is_not_also_reported_as_duplicates():
    y = np.tile(rows(1, 8), (100, 1))
    msgs = input_warnings(rows(), y)
    assert len(msgs) == 1 and msgs[0].startswith("text embeddings are nearly all identical")


def test_wild_norms_in_unnormalised_input():
    x, y = rows(), rows(seed=1)
    x[0] *= 3 * NORM_RATIO_MAX  # one row far longer than the rest
    (msg,) = input_warnings(x, y)
    assert msg.startswith("image row norms vary wildly (max/min") and "normalise rows" in msg
    z = rows(seed=2)
    z *= np.exp(np.random.default_rng(3).normal(scale=2 * NORM_CV_MAX, size=(100, 1)))  # CV well above 0.5
    assert any(m.startswith("text row norms vary wildly") for m in input_warnings(rows(), z))
    unit = rows() / np.linalg.norm(rows(), axis=1, keepdims=True)
    assert input_warnings(unit, rows(seed=1)) == []


def test_float16_warns_only_where_tau_magnifies_it():
    x, y = rows().astype(np.float16), rows(seed=1)
    (msg,) = input_warnings(x, y, temperature=0.01)
    assert msg.startswith("float16 image input") and "logit_entropy" in msg
    eps16 = float(np.finfo(np.float16).eps)
    assert input_warnings(x, y, temperature=eps16 / FLOAT16_LOGIT_TOLERANCE * 1.01) == []
    assert input_warnings(x, y, temperature=0.01, pairwise=False) == []  # --fast: no logit entropy


def test_small_n_names_the_metrics():
    (msg,) = input_warnings(rows(SMALL_N - 1), rows(SMALL_N - 1, seed=1))
    assert msg == (f"N = {SMALL_N - 1} pairs is below {SMALL_N}: linear_separability, mutual_knn, hubness are "
                   "noisy at this size; read them with --ci")
    assert input_warnings(rows(SMALL_N), rows(SMALL_N, seed=1)) == []
    assert input_warnings(rows(10), rows(10, seed=1), pairwise=False) == []


def test_measure_reports_them():
    x, y = rows(60), rows(60, seed=1)
    x[1:10] = x[0]
    out = measure(x, y, include_pairwise=False)
    assert out["warnings"][0].startswith("15% of the image rows exactly repeat")
    assert "warnings" not in measure(rows(60), rows(60, seed=1), include_pairwise=False)


def test_measure_sees_float16_before_it_is_upcast():
    x, y = rows(60).astype(np.float16), rows(60, seed=1).astype(np.float16)
    assert measure(x, y, include_pairwise=False).get("warnings") is None
    (msg,) = measure(x, y)["warnings"]
    assert msg.startswith("float16 image and text input")


def test_rows_equal_in_the_hashed_columns_only_are_not_duplicates():
    from gaplab.metrics.functional.diagnostics import duplicate_row_share

    a = np.zeros((6, 40))
    a[:, 30] = np.arange(6)  # equal in the 16 hashed leading columns, different after
    assert duplicate_row_share(a) == 0.0
    a[5] = a[0]
    assert duplicate_row_share(a) == pytest.approx(1 / 6)


def test_norm_check_on_a_sample_of_a_large_input():
    from gaplab.metrics.functional.diagnostics import NORM_SAMPLE_ROWS, input_warnings

    rng = np.random.default_rng(0)
    n = NORM_SAMPLE_ROWS + 20_000
    x = rng.normal(size=(n, 4)).astype(np.float32)
    x[::2] *= 100.0  # half the rows 100x longer: any sample sees it
    y = rng.normal(size=(n, 4)).astype(np.float32)
    y /= np.linalg.norm(y, axis=1, keepdims=True)  # unit rows: no warning
    msgs = input_warnings(x, y, pairwise=False)
    assert any(m.startswith("image row norms vary wildly") for m in msgs)
    assert not any(m.startswith("text row norms") for m in msgs)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 2, 3, 40])
def test_duplicate_count_equals_a_set_of_row_bytes(dtype, d):
    from gaplab.metrics.functional.diagnostics import duplicate_row_share

    a = np.random.default_rng(d).integers(0, 3, size=(300, d)).astype(dtype)  # many exact repeats
    ref = 300 - len({row.tobytes() for row in a})
    assert duplicate_row_share(a) == pytest.approx(ref / 300)
