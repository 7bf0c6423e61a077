"""collapsed_modality_warning: flags (nearly) identical rows with the likely cause, and stays
quiet on healthy embeddings and on repeats that the inputs explain."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gaplab.metrics.functional.diagnostics import (
    CollapseWarning,
    collapse_warnings,
    collapsed_modality_warning,
    count_distinct_rows,
    warn_if_collapsed,
)


def healthy(n=500, d=16, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_healthy_embeddings_pass():
    assert collapsed_modality_warning(healthy(), "text") is None
    assert collapsed_modality_warning(healthy() + 3.0, "image") is None  # a cone, mean cosine ~0.97
    assert collapse_warnings(healthy(), healthy(seed=1)) == []


def test_all_identical_rows_name_the_tokenizer():
    y = np.tile(healthy(1)[0], (500, 1))
    y += 1e-7 * np.random.default_rng(1).normal(size=y.shape).astype(np.float32)  # batch float noise
    msg = collapsed_modality_warning(y, "text")
    assert msg.startswith("text embeddings are nearly all identical (")
    assert "of 500 rows, mean cosine 1.000)" in msg
    assert msg.endswith(": the tokenizer may be empty or the captions identical")
    assert int(msg.split("(")[1].split(" ")[0]) <= 4  # ~1 distinct row, noise may split a few


def test_few_distinct_rows():
    y = np.repeat(healthy(3), [200, 200, 100], axis=0)
    msg = collapsed_modality_warning(y, "text")
    assert msg.startswith("text embeddings have few distinct rows (3 distinct of 500 rows")
    assert "may be empty" in msg and "fine if the captions repeat on purpose" in msg


def test_repeats_explained_by_the_inputs_pass():
    y = np.repeat(healthy(10), 50, axis=0)  # 10 class prompts, 50 rows each
    assert collapsed_modality_warning(y, "text", n_distinct_inputs=10) is None
    assert collapse_warnings(None, y, captions=[f"class {i}" for i in range(10) for _ in range(50)]) == []
    msg = collapsed_modality_warning(y, "text", n_distinct_inputs=400)
    assert "10 distinct of 500 rows" in msg and "400 distinct captions" in msg
    one = np.tile(healthy(1), (30, 1))
    assert collapsed_modality_warning(one, "text", n_distinct_inputs=1) is None


def test_threshold_at_half():
    base = healthy(60)
    ok = np.vstack([base[:30], base[:30], base[30:40]])  # 40 distinct of 70 rows
    assert collapsed_modality_warning(ok, "image") is None
    bad = np.vstack([base[:20]] * 3)  # 20 distinct of 60 rows
    assert "20 distinct of 60 rows" in collapsed_modality_warning(bad, "image")
    # below 20 rows only full collapse counts
    assert collapsed_modality_warning(np.vstack([base[:3]] * 5), "image") is None


def test_parallel_but_distinct_rows():
    x = np.ones((200, 64)) + 1e-2 * np.random.default_rng(0).normal(size=(200, 64))
    msg = collapsed_modality_warning(x, "image")
    assert msg.startswith("image embeddings all point almost the same way (200 distinct of 200 rows, mean cosine 0.9")
    assert "may be untrained" in msg


def test_images_and_other_names():
    x = np.zeros((40, 5))
    x[:, 0] = 1.0
    assert "image processor or image tower may ignore its input" in collapsed_modality_warning(x, "image")
    assert "the encoder may ignore its input" in collapsed_modality_warning(x, "audio")
    assert collapsed_modality_warning(x, "text", cause="bad luck").endswith(": bad luck")


def test_large_input_is_sampled_and_fast():
    import time

    y = np.tile(healthy(1), (300_000, 1))
    t = time.perf_counter()
    msg = collapsed_modality_warning(y, "text")
    assert time.perf_counter() - t < 5.0
    assert "1 distinct of 20,000 sampled rows (of 300,000)" in msg


def test_zero_rows_and_odd_input_never_raise():
    x = healthy(30)
    x[3] = 0.0
    x[4] = np.nan
    assert collapsed_modality_warning(x, "image") is None
    assert collapsed_modality_warning(np.ones(5), "text") is None
    assert collapsed_modality_warning(np.ones((1, 4)), "text") is None
    assert collapsed_modality_warning(np.array([["a", "b"]]), "text") is None


def test_count_distinct_rows_is_scale_invariant():
    assert count_distinct_rows([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]) == 2
    with pytest.raises(ValueError, match="need a 2-D numeric array"):
        count_distinct_rows(np.ones(3))


def test_warn_if_collapsed_uses_a_warning_category():
    with pytest.warns(CollapseWarning, match="text embeddings are nearly all identical"):
        assert warn_if_collapsed(np.ones((30, 4)), "text") is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_collapsed(healthy(), "text") is None
    assert issubclass(CollapseWarning, UserWarning)
