"""The held-out protocol (gaplab.mitigate.compare / evaluate): split discipline, rows, skips."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError
from gaplab.metrics import MEASURE_KEYS, zero_shot_accuracy
from gaplab.mitigate import (
    GAP_KEYS,
    ROW_KEYS,
    Center,
    MultiMean,
    compare,
    evaluate,
    get_mitigation,
    list_mitigations,
    split_pairs,
)
from tests.helpers import labelled

pytestmark = pytest.mark.usefixtures("one_thread")




# -- split -----------------------------------------------------------------------------------
def test_split_disjoint_and_covering():
    s = split_pairs(50, test_fraction=0.4, seed=3)
    assert np.intersect1d(s.train_images, s.test_images).size == 0
    assert np.union1d(s.train_images, s.test_images).size == 50
    assert s.test_images.size == 20
    np.testing.assert_array_equal(s.train_texts, s.train_images)


def test_split_by_image_keeps_captions_together():
    idx = np.repeat(np.arange(10), 3)
    s = split_pairs(10, image_index=idx, test_fraction=0.3, seed=0)
    assert set(idx[s.test_texts]) == set(s.test_images.tolist())
    assert set(idx[s.train_texts]) == set(s.train_images.tolist())


def test_split_overlap_rejected():
    with pytest.raises(InputError, match=r"train and test share 2 image\(s\) \(first: 3\)"):
        split_pairs(10, train=[0, 1, 2, 3, 4], test=[3, 4, 5])


@pytest.mark.parametrize(
    ("kw", "msg"),
    [({"test_fraction": 0.0}, "test_fraction must be in"), ({"train": np.arange(10)}, "both be non-empty"),
     ({"test": [11]}, r"indices must lie in \[0, 10\)"), ({"test": [1, 1]}, "repeated"),
     ({"test": np.ones(3, dtype=bool)}, r"mask must have shape \(10,\)")],
)
def test_split_bad(kw, msg):
    with pytest.raises(InputError, match=msg):
        split_pairs(10, **kw)


def test_split_mask_and_complement():
    mask = np.zeros(10, dtype=bool)
    mask[[1, 5]] = True
    s = split_pairs(10, test=mask)
    assert s.test_images.tolist() == [1, 5] and s.train_images.size == 8


class Spy(Center):
    """Records every row ``fit`` sees (class-level, since evaluate fits a clone)."""

    seen: list[np.ndarray] = []

    def _fit(self, x, y, image_index, **extra):
        Spy.seen.append(np.vstack([x, y]))
        super()._fit(x, y, image_index)


def test_mitigation_is_fit_on_train_rows_only():
    x, y, labels, ct = labelled()
    Spy.seen = []
    Spy.name = "spy"
    test = np.arange(0, 120, 4)
    r = compare(x, y, [Spy()], labels=labels, class_text=ct, test=test)
    assert r["split"]["n_test_images"] == test.size
    fitted = np.vstack(Spy.seen)
    assert fitted.shape[0] == 2 * (120 - test.size)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    held_out = np.vstack([unit(x[test]), unit(y[test])])
    # no held-out row appears among the rows the mitigation was fit on
    dists = np.abs(fitted[:, None, :] - held_out[None, :, :]).max(axis=2)
    assert dists.min() > 1e-9


def test_prefitted_mitigation_is_refit_on_train():
    x, y, labels, _ = labelled()
    m = Center().fit(x, y)  # fit on everything, test rows included
    before = m.mean_image_.copy()
    r = evaluate(x, y, m, labels=labels)
    np.testing.assert_array_equal(m.mean_image_, before)  # the user's object is untouched
    assert r["after"]["method"] == "center"


# -- compare / evaluate ----------------------------------------------------------------------
def test_compare_all_rows_and_keys():
    x, y, labels, ct = labelled()
    r = compare(x, y, ["all"], labels=labels, class_text=ct)
    assert [row["method"] for row in r["rows"]] == ["none", *list_mitigations()]
    for row in r["rows"]:
        assert set(ROW_KEYS) <= set(row)
        for k in ROW_KEYS:
            if k != "method":
                assert row[k] is not None, k
    assert r["skipped"] == []
    before = r["rows"][0]
    for row in r["rows"][1:]:
        if get_mitigation(row["method"]).score_level:  # re-scores: the embeddings stay
            assert row["l2m"] == before["l2m"], row["method"]
            # ... but they rank differently: here they lift retrieval and mixed search
            assert row["t2i_r1"] > before["t2i_r1"] and row["mixed_own_share10"] < before["mixed_own_share10"]
        else:
            assert row["l2m"] < before["l2m"], row["method"]
    assert before["mixed_same_modality"] > 0.9
    centre = r["rows"][list_mitigations().index("center") + 1]
    assert centre["mixed_same_modality"] < before["mixed_same_modality"]


def test_skips_without_labels_or_prompts():
    x, y, labels, _ = labelled()
    r = compare(x, y, ["center"])
    assert any("no class labels" in s for s in r["skipped"])
    row = r["rows"][1]
    assert row["zero_shot"] is None and row["probe_image"] is None and row["kmeans_ari"] is None
    assert row["i2t_r1"] is not None and row["mixed_pair_r1"] is not None
    r = compare(x, y, ["center"], labels=labels)
    assert any(s.startswith("zero_shot: no class prompt") for s in r["skipped"])
    assert r["rows"][1]["probe_cross"] is not None and r["rows"][1]["zero_shot"] is None


def test_zero_shot_uses_query_side_for_multi_mean():
    x, y, labels, ct = labelled()
    rng = np.random.default_rng(7)
    x = x + 3.0 * rng.normal(size=x.shape)  # noisy images: zero-shot well below 1
    r = compare(x, y, ["multi-mean"], labels=labels, class_text=ct)
    assert r["rows"][1]["params"] == {"renormalize": True}
    assert r["rows"][1]["fitted"]["n_query_"] == 3  # fit with the class prompts as query_text
    s = split_pairs(120)
    m = MultiMean().fit(x[s.train_images], y[s.train_texts], query_text=ct)
    want = zero_shot_accuracy(m.transform_image(x[s.test_images]), m.transform_query(ct), labels[s.test_images])
    assert r["rows"][1]["zero_shot"] == want
    assert 0.0 < want < 1.0


def test_row_keys_are_the_metric_names():
    # one name per quantity: a row key that gaplab.measure also reports means the same there
    shared = [k for k in ROW_KEYS if k in MEASURE_KEYS]
    assert "linear_separability" in shared and "modality_sep" not in ROW_KEYS
    assert len(shared) == 15  # l2m, rmg, residual_gap, l2i, linear_separability, six recalls, four hubness
    for k in shared:
        assert ROW_KEYS[k] == MEASURE_KEYS[k], k
    assert set(GAP_KEYS) <= set(ROW_KEYS)
    x, y, _, _ = labelled(n=40)
    r = compare(x, y, ["center"])
    assert r["gap_keys"] == list(GAP_KEYS) and list(r["meanings"]) == list(ROW_KEYS)
    assert set(ROW_KEYS) <= set(r["rows"][1])
    r["meanings"]["l2m"] = "changed"  # the result is the caller's: the module table stays
    assert ROW_KEYS["l2m"] == MEASURE_KEYS["l2m"]


def test_evaluate_before_after():
    x, y, labels, ct = labelled()
    r = evaluate(x, y, "gap-shift", labels=labels, class_text=ct, seed=1)
    assert r["before"]["method"] == "none" and r["after"]["method"] == "gap-shift"
    assert r["after"]["l2m"] < r["before"]["l2m"]
    assert evaluate(x, y)["after"] is None


def test_several_captions_per_image():
    x, y, labels, ct = labelled(n=60)
    idx = np.repeat(np.arange(60), 2)
    y2 = np.vstack([y, y + 0.05])[np.argsort(np.r_[np.arange(60), np.arange(60)], kind="stable")]
    r = compare(x, y2, ["procrustes", "center"], labels=labels, class_text=ct, image_index=idx)
    assert r["split"]["n_test_texts"] == 2 * r["split"]["n_test_images"]
    assert r["rows"][1]["l2m"] < r["rows"][0]["l2m"]


@pytest.mark.parametrize(
    ("kw", "msg"),
    [({"labels": np.zeros(5, dtype=int)}, "labels must be 1-D with 120 entries"),
     ({"labels": np.full(120, 0.5)}, "integer class ids"),
     ({"class_text": np.ones((3, 7))}, "class_text has d = 7"),
     ({"labels": np.arange(120) % 5, "class_text": np.ones((3, 12))}, "only 3 rows"),
     ({"test": np.arange(3)}, "test split has 3 images")],
)
def test_evaluate_bad_input(kw, msg):
    x, y, _, _ = labelled()
    with pytest.raises(InputError, match=msg):
        compare(x, y, ["center"], **kw)


def test_unknown_mitigation_in_compare():
    x, y, _, _ = labelled()
    with pytest.raises(LookupError, match="unknown mitigation 'centre'"):
        compare(x, y, ["centre"])
    with pytest.raises(InputError, match="must be a name or a Mitigation"):
        compare(x, y, [42])


def test_on_real_fixture_every_method_lowers_the_gap(fixture_path):
    a = np.load(fixture_path("videoclip_pairs.npy"))
    r = compare(a[0], a[1], ["all"], n_projections=32)
    before = r["rows"][0]
    for row in r["rows"][1:]:
        if get_mitigation(row["method"]).score_level:  # re-scores only: the (float32) embeddings stay
            assert row["l2m"] == pytest.approx(before["l2m"], rel=1e-6), row["method"]
        else:
            assert row["l2m"] < before["l2m"], row["method"]


# -- class prompts, fitted state -------------------------------------------------------------
def test_class_prompts_from_train_captions():
    x, y, labels, _ = labelled()
    r = compare(x, y, ["multi-mean"], labels=labels, class_text="train-captions", test=np.arange(0, 120, 4))
    assert r["skipped"] == [] and "train-split caption" in r["notes"][0]
    assert r["rows"][0]["zero_shot"] > 0.8
    with pytest.raises(InputError, match="class_text must be a \\(C, d\\) array or 'train-captions'"):
        compare(x, y, labels=labels, class_text="prompts")
    lab = labels.copy()
    lab[lab == 2] = 3  # class 2 absent everywhere
    with pytest.raises(InputError, match="class 2 has no train caption"):
        compare(x, y, labels=lab, class_text="train-captions")


def test_rows_report_fitted_state():
    x, y, labels, _ = labelled()
    r = compare(x, y, {"shift": "gap-shift", "dims": "remove-dims"})
    assert [row["method"] for row in r["rows"]] == ["none", "shift", "dims"]
    assert r["rows"][0]["fitted"] == {}
    assert r["rows"][1]["fitted"] == {"alpha_": 1.0}
    assert len(r["rows"][2]["fitted"]["dims_"]) == 2
