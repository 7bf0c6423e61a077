"""Several captions per image (``image_index``): every mitigation, through the API and the CLI.

A 5-captions-per-image file (image (N, d), text (5N, d), image_index (5N,)) is valid input to
every registered method, with and without ``--eval``, and with ``--out``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab import InputError
from gaplab.cli import main
from gaplab.io import load_pairs, save_pairs
from gaplab.metrics import l2m
from gaplab.mitigate import compare, create_mitigation, get_mitigation, list_mitigations

NAMES = list_mitigations()
CAPTIONS = 5


def gap_fell(method, after, before):
    """Embedding methods lower the gap; score-level ones re-score and leave it exactly as it was."""
    if get_mitigation(method.split("(")[0]).score_level:
        return after == pytest.approx(before, rel=1e-12)
    return after < before

pytestmark = pytest.mark.usefixtures("one_thread")


def five_captions(n=40, d=10, n_classes=3, seed=0):
    """Images (n, d), texts (5n, d) (caption k belongs to image k // 5), labels, class prompts."""
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(n_classes, d)) * 2
    labels = np.arange(n) % n_classes
    z = protos[labels] + 0.5 * rng.normal(size=(n, d))
    shift = np.zeros(d)
    shift[0] = 2.0
    idx = np.repeat(np.arange(n), CAPTIONS)
    x = z + shift
    y = z[idx] - shift + 0.2 * rng.normal(size=(idx.size, d))
    return x, y, idx, labels, protos - shift


@pytest.fixture
def cap5_file(tmp_path):
    x, y, idx, labels, ct = five_captions()
    path = tmp_path / "cap5.npz"
    save_pairs(path, x, y, image_index=idx, labels=labels, class_text=ct)
    return path


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


# -- API -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_fit_accepts_image_index(name):
    x, y, idx, _, _ = five_captions()
    m = get_mitigation(name)().fit(x, y, image_index=idx)
    xo, yo = m.transform(x, y)
    assert xo.shape == x.shape and yo.shape == y.shape
    assert gap_fell(name, l2m(xo, yo, image_index=idx), l2m(x, y, image_index=idx))
    a = get_mitigation(name)().fit_transform(x, y, image_index=idx)
    np.testing.assert_array_equal(a[1], yo)


@pytest.mark.parametrize("name", NAMES)
def test_fit_passes_image_index_to_the_method(name, monkeypatch):
    """The validated index reaches ``_fit`` (it used to be dropped for unpaired methods)."""
    x, y, idx, _, _ = five_captions()
    cls = get_mitigation(name)
    seen = []
    original = cls._fit

    def spy(self, xx, yy, image_index, **extra):
        seen.append(image_index)
        return original(self, xx, yy, image_index, **extra)

    monkeypatch.setattr(cls, "_fit", spy)
    cls().fit(x, y, image_index=idx.tolist())
    assert isinstance(seen[0], np.ndarray) and seen[0].dtype == np.int64
    np.testing.assert_array_equal(seen[0], idx)


@pytest.mark.parametrize("name", NAMES)
def test_bad_image_index_rejected(name):
    x, y, idx, _, _ = five_captions()
    with pytest.raises(InputError, match=rf"{name}\.fit: image_index must be 1-D with one entry per text row \(200\)"):
        get_mitigation(name)().fit(x, y, image_index=idx[:-1])
    with pytest.raises(InputError, match=rf"{name}\.fit: image_index values must lie in \[0, 40\)"):
        get_mitigation(name)().fit(x, y, image_index=idx + 1)


@pytest.mark.parametrize("name", ["gap-shift", "remove-dims"])
def test_gap_methods_use_the_centroid_of_all_captions(name):
    x, y, idx, _, _ = five_captions()
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    delta = unit(x).mean(axis=0) - unit(y).mean(axis=0)
    m = get_mitigation(name)().fit(x, y, image_index=idx)
    if name == "gap-shift":
        np.testing.assert_allclose(m.gap_vector_, delta, rtol=1e-10, atol=1e-12)
    else:
        assert set(m.dims_.tolist()) == set(np.argsort(-np.abs(delta))[: m.k].tolist())


def test_gap_shift_auto_with_image_index_and_unpaired():
    x, y, idx, _, _ = five_captions()
    m = create_mitigation("gap-shift", alpha="auto").fit(x, y, image_index=idx)
    assert 0.0 < m.alpha_ <= 2.0
    assert l2m(*m.transform(x, y), image_index=idx) < 0.05
    # unpaired sets of different size (no index) work too, as for center
    m2 = create_mitigation("gap-shift", alpha="auto").fit(x, y[::3])
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(m2.gap_vector_, unit(x).mean(0) - unit(y[::3]).mean(0), rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_compare_splits_by_image_with_image_index(name):
    x, y, idx, labels, ct = five_captions(n=60)
    r = compare(x, y, [name], labels=labels, class_text=ct, image_index=idx, seed=1)
    s = r["split"]
    assert s["n_test_texts"] == CAPTIONS * s["n_test_images"]
    assert s["n_train_texts"] == CAPTIONS * s["n_train_images"]
    assert gap_fell(name, r["rows"][1]["l2m"], r["rows"][0]["l2m"])


def test_compare_fits_on_whole_train_images_only():
    """The mitigation sees every caption of each train image and none of a test image."""
    x, y, idx, labels, ct = five_captions(n=60)
    cls = get_mitigation("gap-shift")
    seen = {}

    class Spy(cls):
        def _fit(self, xx, yy, image_index, **extra):
            seen.update(n=xx.shape[0], k=yy.shape[0], idx=image_index)
            super()._fit(xx, yy, image_index, **extra)

    Spy.name = "spy"
    compare(x, y, [Spy()], labels=labels, image_index=idx, test=np.arange(0, 60, 3))
    assert seen["n"] == 40 and seen["k"] == 200
    np.testing.assert_array_equal(np.bincount(seen["idx"], minlength=40), np.full(40, CAPTIONS))


# -- CLI -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*NAMES, "all"])
def test_cli_in_sample(cap5_file, name):
    r = run("mitigate", cap5_file, "--method", name, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["n_images"] == 40 and out["n_texts"] == 200
    before = out["rows"][0]["l2m"]
    assert len(out["rows"]) == (1 + len(NAMES) if name == "all" else 2)
    assert all(gap_fell(row["method"], row["l2m"], before) for row in out["rows"][1:])


@pytest.mark.parametrize("name", [*NAMES, "all"])
def test_cli_eval(cap5_file, name):
    r = run("mitigate", cap5_file, "--method", name, "--eval", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    s = out["split"]
    assert s["n_test_texts"] == CAPTIONS * s["n_test_images"] == 100
    assert out["skipped"] == []
    assert all(row["zero_shot"] is not None for row in out["rows"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("do_eval", [False, True])
def test_cli_out_keeps_image_index(cap5_file, tmp_path, name, do_eval):
    out = tmp_path / "fixed.npz"
    state = tmp_path / "state.npz"
    args = ["mitigate", cap5_file, "--method", name, "--out", out, "--save-state", state, "--json"]
    r = run(*args, *(["--eval"] if do_eval else []))
    assert r.exit_code == 0, r.output
    p = load_pairs(out)
    x, y, idx, _, _ = five_captions()
    assert p.image.shape == x.shape and p.text.shape == y.shape
    np.testing.assert_array_equal(p.image_index, idx)
    assert gap_fell(name, l2m(p.image, p.text, image_index=p.image_index), l2m(x, y, image_index=idx))
    if do_eval:
        assert int(p.meta["is_test"].sum()) == 20
    else:
        assert "is_test" not in p.meta
