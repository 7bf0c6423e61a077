"""run_mitigation / write_mitigated / resolve_mitigations: what ``gaplab mitigate`` does, as calls."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaplab import ConfigError, InputError, UnknownNameError
from gaplab.io import Pairs, load_pairs, save_pairs
from gaplab.metrics import l2i, l2m, linear_separability, residual_gap, rmg
from gaplab.metrics.functional.distance import sliced_wasserstein
from gaplab.mitigate import (
    GAP_KEYS,
    ROW_KEYS,
    Center,
    GapShift,
    MultiMean,
    compare,
    list_mitigations,
    resolve_mitigations,
    run_mitigation,
    split_pairs,
    write_mitigated,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def make_pairs(n=60, d=8, n_classes=3, seed=0, captions=1):
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(n_classes, d)) * 2
    labels = np.arange(n) % n_classes
    z = protos[labels] + 0.5 * rng.normal(size=(n, d))
    shift = np.zeros(d)
    shift[0] = 2.0
    idx = np.repeat(np.arange(n), captions)
    y = z[idx] - shift + 0.2 * rng.normal(size=(idx.size, d))
    return Pairs(z + shift, y, None if captions == 1 else idx,
                 {"labels": labels, "class_text": protos - shift, "ids": np.arange(n)})


# -- resolve_mitigations ------------------------------------------------------------------------
def test_resolve_names_all_and_duplicates():
    assert list(resolve_mitigations("all")) == list_mitigations()
    assert list(resolve_mitigations(["center, noise", "center"])) == ["center", "noise"]
    assert list(resolve_mitigations(["gap-shift", "all"])) == ["gap-shift", *[n for n in list_mitigations() if n != "gap-shift"]]
    with pytest.raises(UnknownNameError, match="unknown mitigation 'centre'.*Did you mean 'center'"):
        resolve_mitigations("centre")


def test_resolve_params_route_to_every_taker_and_targeted_wins():
    todo = resolve_mitigations(["center", "noise"], {"renormalize": False, "noise.std": 0.2})
    assert todo["center(renormalize=False)"].get_params() == {"renormalize": False}
    assert todo["noise(renormalize=False,std=0.2)"].std == 0.2
    # METHOD.NAME beats NAME for that method, in either order
    for params in ({"center.renormalize": True, "renormalize": False}, {"renormalize": False, "center.renormalize": True}):
        todo = resolve_mitigations(["center", "gap-shift"], params)
        by_name = {m.name: m for m in todo.values()}
        assert by_name["center"].renormalize is True and by_name["gap-shift"].renormalize is False


@pytest.mark.parametrize(
    ("args", "kw", "exc", "msg"),
    [(("center",), {"params": {"bogus": 1}}, ConfigError, "no parameter 'bogus' in center; valid: renormalize"),
     (("center",), {"params": {"noise.std": 1}}, ConfigError, "method 'noise' is not among center"),
     (("center,noise",), {"sweep": ("std", [0, 1])}, ConfigError, "a sweep needs exactly one method, got 2"),
     (("center",), {"sweep": ("alpha", [1])}, ConfigError, "mitigation 'center' has no parameter 'alpha'"),
     (({"a": "center"},), {"params": {"renormalize": False}}, ConfigError, "not to a mapping"),
     (([Center()],), {"params": {"renormalize": False}}, ConfigError, "not to Mitigation objects"),
     (([3],), {}, InputError, "a method must be a name or a Mitigation, got int"),
     ((3,), {}, InputError, "method must be a name, a Mitigation or a list of them, got int"),
     (({"a": 3},), {}, InputError, "a method must be a name or a Mitigation, got int")],
)
def test_resolve_errors(args, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        resolve_mitigations(*args, **kw)


def test_resolve_sweep_and_objects_are_clones():
    todo = resolve_mitigations("gap-shift", {"renormalize": False}, sweep=("alpha", [0, 0.5, "auto"]))
    assert list(todo) == ["gap-shift(alpha=0)", "gap-shift(alpha=0.5)", "gap-shift(alpha=auto)"]
    assert [m.alpha for m in todo.values()] == [0, 0.5, "auto"]
    assert all(m.renormalize is False for m in todo.values())
    mine = GapShift(alpha=0.5).fit(np.eye(3) + 1, np.eye(3) - 1)
    got = resolve_mitigations({"half": mine, "c": "center"})
    assert list(got) == ["half", "c"]
    assert got["half"] is not mine and got["half"].alpha == 0.5 and not got["half"].is_fitted()


# -- run_mitigation: in-sample ------------------------------------------------------------------
def test_in_sample_rows_are_the_metrics_of_the_fitted_transform():
    p = make_pairs()
    res = run_mitigation(p, ["center", "multi-mean"], seed=3)
    t = res.table
    assert t["protocol"].startswith("in-sample") and t["skipped"] == ["task metrics: run with --eval"]
    assert [r["method"] for r in t["rows"]] == ["none", "center", "multi-mean"]
    assert list(t["meanings"]) == ["method", *GAP_KEYS] and t["meanings"]["l2m"] == ROW_KEYS["l2m"]
    assert res.split is None and res.class_text is p.meta["class_text"]
    m = Center().fit(p.image, p.text)
    xa, ya = m.transform(p.image, p.text)
    row = t["rows"][1]
    assert row == {"method": "center", "params": {"renormalize": True}, "l2m": l2m(xa, ya), "rmg": rmg(xa, ya),
                   "residual_gap": residual_gap(xa, ya), "l2i": l2i(xa, ya), "sw": sliced_wasserstein(xa, ya, seed=3),
                   "linear_separability": linear_separability(xa, ya, seed=3)}
    assert t["rows"][0]["l2m"] == l2m(p.image, p.text)
    # the fitted objects: fit on all pairs; multi-mean took the class prompts as query text
    np.testing.assert_array_equal(res.fitted["center"].mean_text_, m.mean_text_)
    assert res.fitted["multi-mean"].n_query_ == 3
    assert set(res.fitted) == {"center", "multi-mean"}


def test_in_sample_with_several_captions_and_a_path(tmp_path):
    p = make_pairs(n=30, captions=3)
    path = tmp_path / "p.npz"
    save_pairs(path, p.image, p.text, image_index=p.image_index, **p.meta)
    res = run_mitigation(path, "gap-shift")
    assert res.table["n_texts"] == 90
    assert res.table["rows"][1]["l2m"] < 0.2 * res.table["rows"][0]["l2m"]
    with pytest.raises(InputError, match="pairs must be a gaplab.io.Pairs or a pairs file path, got int"):
        run_mitigation(3)


# -- run_mitigation: held out -------------------------------------------------------------------
def test_eval_is_compare_and_returns_the_train_split_fit():
    p = make_pairs()
    res = run_mitigation(p, ["procrustes", "multi-mean"], eval=True, test_fraction=0.3, seed=2)
    want = compare(p.image, p.text, ["procrustes", "multi-mean"], labels=p.meta["labels"],
                   class_text=p.meta["class_text"], test_fraction=0.3, seed=2)
    assert res.table == {**want, "protocol": "fit on the train split, every metric on the held-out test split"}
    s = split_pairs(60, test_fraction=0.3, seed=2)
    np.testing.assert_array_equal(res.split.test_images, s.test_images)
    ref = MultiMean().fit(p.image[s.train_images], p.text[s.train_texts], query_text=p.meta["class_text"])
    np.testing.assert_array_equal(res.fitted["multi-mean"].mean_query_, ref.mean_query_)
    np.testing.assert_array_equal(res.fitted["multi-mean"].mean_image_, ref.mean_image_)
    assert res.fitted["procrustes"].is_fitted()


def test_labels_and_class_text_arguments():
    p = make_pairs()
    with pytest.raises(InputError, match=r"labels must hold one class id per image \(60\), got shape \(3,\)"):
        run_mitigation(p, labels=np.zeros(3, dtype=int))
    with pytest.raises(InputError, match=r"labels must hold one class id per image \(60\)"):
        run_mitigation(Pairs(p.image, p.text, meta={"labels": np.zeros((60, 2))}))
    with pytest.raises(InputError, match="class_text must be a \\(C, d\\) array or 'train-captions', got 'prompts'"):
        run_mitigation(p, class_text="prompts")
    res = run_mitigation(p, "multi-mean", eval=True, class_text="train-captions")
    assert res.class_text == "train-captions" and "train-split caption" in res.table["notes"][0]
    # labels given override the file's: all one class -> probes and k-means skipped
    res = run_mitigation(p, "center", eval=True, labels=np.zeros(60, dtype=int))
    assert any("single class" in s for s in res.table["skipped"])


# -- write_mitigated ----------------------------------------------------------------------------
def test_write_mitigated_round_trip(tmp_path):
    p = make_pairs(captions=2)
    res = run_mitigation(p, "multi-mean", eval=True)
    m = res.fitted["multi-mean"]
    out = load_pairs(write_mitigated(p, m, tmp_path / "fixed.npz", class_text=res.class_text, split=res.split))
    np.testing.assert_array_equal(out.image, m.transform_image(p.image))
    np.testing.assert_array_equal(out.text, m.transform_text(p.text))
    np.testing.assert_array_equal(out.image_index, p.image_index)
    np.testing.assert_array_equal(out.meta["class_text"], m.transform_query(p.meta["class_text"]))
    assert not np.allclose(out.meta["class_text"], m.transform_text(p.meta["class_text"]))  # the query side
    np.testing.assert_array_equal(out.meta["labels"], p.meta["labels"])
    np.testing.assert_array_equal(out.meta["ids"], p.meta["ids"])
    is_test = np.zeros(60, dtype=np.int8)
    is_test[res.split.test_images] = 1
    np.testing.assert_array_equal(out.meta["is_test"], is_test)
    assert json.loads(str(out.meta["mitigation"])) == {"method": "multi-mean", "params": {"renormalize": True}}


def test_write_mitigated_class_text_choices(tmp_path):
    p = make_pairs()
    m = Center().fit(p.image, p.text)
    # default: the pairs file's class prompts, transformed; no split -> no is_test
    out = load_pairs(write_mitigated(p, m, tmp_path / "a.npz"))
    np.testing.assert_array_equal(out.meta["class_text"], m.transform_text(p.meta["class_text"]))
    assert "is_test" not in out.meta
    # prompts built from the captions: none to write (the file's entry is not carried either)
    out = load_pairs(write_mitigated(p, m, tmp_path / "b.npz", class_text="train-captions"))
    assert "class_text" not in out.meta
    other = np.ones((2, 8))
    out = load_pairs(write_mitigated(p, m, tmp_path / "c.npz", class_text=other))
    np.testing.assert_array_equal(out.meta["class_text"], m.transform_text(other))
    with pytest.raises(InputError, match="must end in .npz"):
        write_mitigated(p, m, tmp_path / "d.npy")


def test_write_mitigated_needs_a_fitted_mitigation(tmp_path):
    from gaplab import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet"):
        write_mitigated(make_pairs(), Center(), tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_in_sample_notes_score_level_methods():
    res = run_mitigation(make_pairs(), ["center", "qb-norm"])
    none, _, qb = res.table["rows"]
    assert qb["l2m"] == pytest.approx(none["l2m"], rel=1e-6)  # re-scoring leaves the embeddings
    assert any(s.startswith("qb-norm: score-level") and "--eval" in s for s in res.table["skipped"])
