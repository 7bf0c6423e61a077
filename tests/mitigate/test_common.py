"""Shared battery: every registered mitigation goes through the same checks (sklearn's
``parametrize_with_checks``). A new method is tested here with no new test code."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

from gaplab import ConfigError, InputError, NotFittedError, UnknownNameError
from gaplab.metrics import l2m
from gaplab.mitigate import (
    Mitigation,
    clone,
    create_mitigation,
    get_mitigation,
    list_mitigations,
    load_mitigation,
)

NAMES = list_mitigations()


pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n=60, d=8, seed=0, dtype=np.float64):
    c = np.random.default_rng(12345).normal(size=d)  # the same gap direction for every seed
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    c *= 1.5 / np.linalg.norm(c)
    x = z / np.sqrt(d) + c + 0.05 * rng.normal(size=(n, d))
    y = z / np.sqrt(d) - c + 0.05 * rng.normal(size=(n, d))
    return x.astype(dtype), y.astype(dtype)


def _rtol(dtype):
    return 1e-4 if dtype == np.float32 else 1e-7


def test_registry_has_the_issue_names():
    assert set(NAMES) == {"center", "gap-shift", "remove-dims", "procrustes", "noise", "multi-mean",
                          "csls", "qb-norm", "db-norm", "i0t", "realign", "orthogonal-shift", "c3", "ot"}
    score_level = {n for n in NAMES if get_mitigation(n).score_level}
    assert score_level == {"csls", "qb-norm", "db-norm"}


def test_unknown_name_lists_valid_and_closest():
    with pytest.raises(UnknownNameError, match=r"unknown mitigation 'centre'; valid: c3, center, .*Did you mean 'center'"):
        get_mitigation("centre")


@pytest.mark.parametrize("name", NAMES)
def test_init_only_stores_params(name):
    cls = get_mitigation(name)
    m = cls()
    sig = inspect.signature(cls.__init__)
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        assert p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY), "no *args/**kwargs in __init__"
        assert p.default is not p.empty, "every parameter has a default"
    assert set(vars(m)) == set(m.get_params()), "__init__ sets exactly its parameters"
    assert not m.is_fitted()


@pytest.mark.parametrize("name", NAMES)
def test_get_params_clone_roundtrip(name):
    m = get_mitigation(name)()
    c = clone(m)
    assert type(c) is type(m) and c.get_params() == m.get_params() and c is not m
    assert repr(m).startswith(type(m).__name__ + "(")


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_sets_trailing_underscore_state(name):
    x, y = _data()
    m = get_mitigation(name)()
    assert m.fit(x, y) is m
    state = [k for k in vars(m) if k.endswith("_")]
    assert "n_features_in_" in state and m.n_features_in_ == x.shape[1]
    assert set(vars(m)) == set(m.get_params()) | set(state), "no other attributes"


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error(name):
    m = get_mitigation(name)()
    for call in (m.transform_image, m.transform_text):
        with pytest.raises(NotFittedError, match=r"not fitted yet; call fit\(image_emb, text_emb\) first"):
            call(np.ones((3, 4)))
    with pytest.raises(ValueError):  # NotFittedError is a ValueError ...
        m.transform_image(np.ones((3, 4)))
    with pytest.raises(AttributeError):  # ... and an AttributeError, as in sklearn
        m.transform_text(np.ones((3, 4)))


@pytest.mark.parametrize("name", NAMES)
def test_width_mismatch(name):
    x, y = _data(d=8)
    m = get_mitigation(name)().fit(x, y)
    with pytest.raises(InputError, match=r"x has 7 features, but .* was fitted with 8"):
        m.transform_image(x[:, :7])
    with pytest.raises(InputError, match=r"y has 9 features, but .* was fitted with 8"):
        m.transform_text(np.ones((3, 9)))


@pytest.mark.parametrize("name", NAMES)
def test_fit_one_modality_only(name):
    x, _ = _data()
    with pytest.raises(InputError, match=r"needs both image and text embeddings, got only image_emb"):
        get_mitigation(name)().fit(x)


@pytest.mark.parametrize("name", NAMES)
def test_fit_d_mismatch(name):
    x, y = _data()
    with pytest.raises(InputError, match=r"same dimension d"):
        get_mitigation(name)().fit(x, y[:, :5])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_rejected(name, bad):
    x, y = _data()
    x[3, 2] = bad
    with pytest.raises(InputError, match=r"non-finite"):
        get_mitigation(name)().fit(x, y)
    m = get_mitigation(name)().fit(*_data())
    with pytest.raises(InputError, match=r"non-finite"):
        m.transform_image(x)


@pytest.mark.parametrize("name", NAMES)
def test_one_dimensional_input_explains_reshape(name):
    x, y = _data()
    m = get_mitigation(name)().fit(x, y)
    with pytest.raises(InputError, match=r"must be 2-D.*x\[None, :\]"):
        m.transform_image(x[0])


@pytest.mark.parametrize("name", NAMES)
def test_unknown_parameter(name):
    with pytest.raises(ConfigError, match=rf"mitigation '{name}' has no parameter 'bogus'; valid: "):
        create_mitigation(name, bogus=1)
    with pytest.raises(ConfigError, match=r"has no parameter 'bogus'"):
        get_mitigation(name)().set_params(bogus=1)


@pytest.mark.parametrize("name", NAMES)
def test_fit_idempotent(name):
    x, y = _data()
    m = get_mitigation(name)()
    a = m.fit(x, y).transform(x, y)
    b = m.fit(x, y).transform(x, y)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("name", NAMES)
def test_refit_forgets_old_state(name):
    x, y = _data(d=8)
    m = get_mitigation(name)().fit(x, y)
    x2, y2 = _data(d=6, seed=1)
    m.fit(x2, y2)
    assert m.n_features_in_ == 6
    assert m.transform_image(x2).shape == x2.shape


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_shape_dtype_unit_norm(name, dtype):
    x, y = _data(dtype=dtype)
    m = get_mitigation(name)().fit(x, y)
    xo, yo = m.transform(x, y)
    assert xo.shape == x.shape and yo.shape == y.shape
    assert xo.dtype == dtype and yo.dtype == dtype
    assert np.isfinite(xo).all() and np.isfinite(yo).all()
    np.testing.assert_allclose(np.linalg.norm(xo, axis=1), 1.0, rtol=_rtol(dtype) * 10)
    np.testing.assert_allclose(np.linalg.norm(yo, axis=1), 1.0, rtol=_rtol(dtype) * 10)


@pytest.mark.parametrize("name", NAMES)
def test_fit_transform_equals_fit_then_transform(name):
    x, y = _data()
    a = get_mitigation(name)().fit_transform(x, y)
    m = get_mitigation(name)().fit(x, y)
    np.testing.assert_array_equal(a[0], m.transform_image(x))
    np.testing.assert_array_equal(a[1], m.transform_text(y))


@pytest.mark.parametrize("name", NAMES)
def test_single_row_and_list_input(name):
    x, y = _data()
    m = get_mitigation(name)().fit(x, y)
    one = m.transform_image(x[:1])
    assert one.shape == (1, x.shape[1])
    np.testing.assert_allclose(m.transform_text(y.tolist()), m.transform_text(y))


@pytest.mark.parametrize("name", NAMES)
def test_scale_invariant(name):
    """Rows are normalised first: scaling the input changes nothing."""
    x, y = _data()
    m = get_mitigation(name)().fit(x, y)
    np.testing.assert_allclose(m.transform_image(3.0 * x), m.transform_image(x), rtol=1e-10, atol=1e-12)
    m2 = get_mitigation(name)().fit(5.0 * x, 0.5 * y)
    np.testing.assert_allclose(m2.transform_text(y), m.transform_text(y), rtol=1e-10, atol=1e-12)


EMBEDDING_LEVEL = [n for n in NAMES if not get_mitigation(n).score_level]
SCORE_LEVEL = [n for n in NAMES if get_mitigation(n).score_level]


@pytest.mark.parametrize("name", EMBEDDING_LEVEL)
def test_gap_falls(name):
    x, y = _data(n=200, d=16)
    xt, yt = _data(n=200, d=16, seed=1)  # held out
    m = get_mitigation(name)().fit(x, y)
    assert l2m(*m.transform(xt, yt)) < l2m(xt, yt)


@pytest.mark.parametrize("name", SCORE_LEVEL)
def test_score_level_keeps_embeddings(name):
    """Score-level methods re-score; their transforms only normalise."""
    x, y = _data()
    m = get_mitigation(name)().fit(x, y)
    np.testing.assert_allclose(m.transform_image(x), x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(m.transform_text(y), y / np.linalg.norm(y, axis=1, keepdims=True), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_similarity_contract(name):
    x, y = _data()
    xt, yt = _data(seed=1)
    m = get_mitigation(name)().fit(x, y)
    s = m.similarity(yt[:7], xt, query_modality="text", gallery_modality="image")
    assert s.shape == (7, xt.shape[0]) and s.dtype == np.float64 and np.isfinite(s).all()
    np.testing.assert_allclose(m.similarity(3.0 * yt[:7], 0.5 * xt), s, rtol=1e-10, atol=1e-12)  # scale-free
    mixed = m.similarity(xt[:3], np.vstack([xt, yt]), query_modality="image",
                         gallery_modality=["image"] * len(xt) + ["text"] * len(yt))
    assert mixed.shape == (3, len(xt) + len(yt))
    if not m.score_level:  # the default: cosine of the transformed rows
        want = m.transform_text(yt[:7]) @ m.transform_image(xt).T
        np.testing.assert_allclose(s, want, rtol=1e-12, atol=1e-12)
        want = m.transform_image(xt[:3]) @ np.vstack([m.transform_image(xt), m.transform_text(yt)]).T
        np.testing.assert_allclose(mixed, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(InputError, match=r"queries has 7 features, but .* was fitted with 8"):
        m.similarity(np.ones((2, 7)), xt)
    with pytest.raises(InputError, match=r"query_modality must be 'image' or 'text', got 'audio'"):
        m.similarity(yt, xt, query_modality="audio")
    with pytest.raises(InputError, match=r"gallery_modality must be 'image', 'text' or 60 such names"):
        m.similarity(yt, xt, gallery_modality=["text"] * 3)
    with pytest.raises(NotFittedError):
        get_mitigation(name)().similarity(yt, xt)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_save_load_roundtrip_exact(name, suffix, tmp_path):
    x, y = _data()
    m = get_mitigation(name)().fit(x, y)
    path = m.save(tmp_path / f"state{suffix}")
    m2 = load_mitigation(path)
    assert type(m2) is type(m) and m2.get_params() == m.get_params()
    assert type(m).load(path).get_params() == m.get_params()
    np.testing.assert_array_equal(m2.transform_image(x), m.transform_image(x))
    np.testing.assert_array_equal(m2.transform_text(y), m.transform_text(y))
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:  # readable without pickle
            assert "__header__" in z.files


@pytest.mark.parametrize("name", NAMES)
def test_save_before_fit(name, tmp_path):
    with pytest.raises(NotFittedError):
        get_mitigation(name)().save(tmp_path / "s.npz")


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_mitigation(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.ones(3))
    with pytest.raises(InputError, match="not a gaplab mitigation file"):
        load_mitigation(tmp_path / "other.npz")
    (tmp_path / "x.txt").write_text("{}")
    with pytest.raises(InputError, match=r"must end in .npz or .json"):
        load_mitigation(tmp_path / "x.txt")
    m = get_mitigation("center")().fit(*_data())
    with pytest.raises(InputError, match=r"must end in .npz or .json"):
        m.save(tmp_path / "s.pkl")
    p = m.save(tmp_path / "c.npz")
    with pytest.raises(InputError, match="holds a Center, not a Procrustes"):
        get_mitigation("procrustes").load(p)


@pytest.mark.parametrize("name", NAMES)
def test_is_a_mitigation_with_docs(name):
    cls = get_mitigation(name)
    assert issubclass(cls, Mitigation) and cls.name == name
    doc = cls.__doc__ or ""
    assert ".. math::" in doc and "References" in doc and "When it helps" in doc and ">>>" in doc
    assert cls.paper


def test_import_does_not_load_torch():
    code = "import gaplab.mitigate, gaplab.metrics.functional.diagnostics, gaplab.io.arrays, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_torch_like_input_accepted():
    """Anything with .detach().cpu().numpy() goes through to_numpy (no torch import needed)."""

    class FakeTensor:
        def __init__(self, a):
            self.a = a

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.a

    x, y = _data()
    m = get_mitigation("center")().fit(FakeTensor(x), FakeTensor(y))
    np.testing.assert_array_equal(m.transform_image(FakeTensor(x)), m.transform_image(x))


def test_failed_fit_leaves_no_half_fitted_state():
    m = create_mitigation("gap-shift", alpha="half")
    with pytest.raises(ConfigError):
        m.fit(*_data())
    assert not m.is_fitted() and set(vars(m)) == set(m.get_params())
    with pytest.raises(NotFittedError):
        m.transform_image(np.ones((2, 8)))
