"""Downstream evaluation: split discipline, each task on hand cases, skips, the distance."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError
from gaplab.evaluate import (
    ROW_KEYS,
    compare,
    evaluate,
    kmeans_agreement,
    linear_probe,
    mixed_modality_retrieval,
    sliced_wasserstein,
    split_pairs,
)
from gaplab.mitigate import Center, list_mitigations

pytestmark = pytest.mark.usefixtures("one_thread")


def labelled(n=120, d=12, n_classes=3, seed=0, gap=2.0):
    rng = np.random.default_rng(seed)
    protos = rng.normal(size=(n_classes, d)) * 2
    labels = np.arange(n) % n_classes
    z = protos[labels] + 0.5 * rng.normal(size=(n, d))
    c = np.zeros(d)
    c[0] = gap
    x = z + c + 0.2 * rng.normal(size=(n, d))
    y = z - c + 0.2 * rng.normal(size=(n, d))
    class_text = protos - c
    return x, y, labels, class_text


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
    r = compare(x, y, ["multi-mean"], labels=labels, class_text=ct)
    assert r["rows"][1]["params"] == {"renormalize": True}
    assert 0.0 <= r["rows"][1]["zero_shot"] <= 1.0


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
        assert row["l2m"] < before["l2m"], row["method"]


# -- sliced Wasserstein ----------------------------------------------------------------------
def test_sw_known_1d_value():
    # d = 1: every projection is ±1, W2 between {1, 2} and {3, 4} is 2
    assert sliced_wasserstein([[1.0], [2.0]], [[3.0], [4.0]], center=False, normalize=False) == pytest.approx(2.0)
    assert sliced_wasserstein([[1.0], [2.0]], [[3.0], [4.0]], normalize=False) == pytest.approx(0.0)


def test_sw_properties():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 8)), 2.0 * rng.normal(size=(150, 8))  # unequal N is fine
    assert sliced_wasserstein(x, x) == 0.0
    a = sliced_wasserstein(x, y, normalize=False)
    assert a == sliced_wasserstein(x, y, normalize=False)  # seeded
    assert a == pytest.approx(sliced_wasserstein(y, x, normalize=False))
    assert a == pytest.approx(sliced_wasserstein(x + 5.0, y - 3.0, normalize=False))  # centred
    assert a > 5 * sliced_wasserstein(x, rng.normal(size=(150, 8)), normalize=False)
    assert a != sliced_wasserstein(x, y, normalize=False, seed=1)


def test_sw_matches_exact_w2_in_1d_with_unequal_n():
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    y = np.array([[1.0], [3.0]])
    # optimal coupling 1->1, 2->1, 3->3, 4->3: W2^2 = (0 + 1 + 0 + 1) / 4
    assert sliced_wasserstein(x, y, center=False, normalize=False) == pytest.approx(np.sqrt(0.5))
    y3 = np.array([[1.0], [2.0], [6.0]])
    # N=4 vs K=3: breakpoints 1/4, 1/3, 1/2, 2/3, 3/4, 1 -> exact integral of the step quantiles
    exact = (0.25 * 0 + (1 / 12) * 1 + (1 / 6) * 0 + (1 / 6) * 1 + (1 / 12) * 9 + 0.25 * 4)
    assert sliced_wasserstein(x, y3, center=False, normalize=False) == pytest.approx(np.sqrt(exact))


@pytest.mark.parametrize("p", [0, -1, 2.5, True])
def test_sw_bad_projections(p):
    with pytest.raises(InputError, match="n_projections must be a positive integer"):
        sliced_wasserstein(np.ones((3, 2)), np.ones((3, 2)), n_projections=p)


def test_sw_dimension_mismatch():
    with pytest.raises(InputError, match="same dimension d"):
        sliced_wasserstein(np.ones((3, 2)), np.ones((3, 3)))


# -- tasks -----------------------------------------------------------------------------------
def test_mixed_retrieval_identical_modalities_find_pairs():
    x = np.random.default_rng(0).normal(size=(30, 5))
    r = mixed_modality_retrieval(x, x)
    assert r == {"same_modality_top1": 0.0, "same_modality_top1_image_queries": 0.0,
                 "same_modality_top1_text_queries": 0.0, "pair_r1": 1.0}


def test_mixed_retrieval_gap_finds_own_modality():
    x, y, _, _ = labelled(gap=10.0)
    assert mixed_modality_retrieval(x, y)["same_modality_top1"] == 1.0


def test_kmeans_and_probe():
    x, y, labels, _ = labelled(gap=0.0)
    km = kmeans_agreement(x, y, labels, labels)
    assert km["ari"] > 0.9 and km["v_measure"] > 0.9 and km["modality_ari"] < 0.1
    assert linear_probe(x[:60], labels[:60], x[60:], labels[60:]) > 0.9
    with pytest.raises(InputError, match="single class"):
        linear_probe(x[:10], np.zeros(10, dtype=int), x[10:], labels[10:])


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


def test_mixed_retrieval_split_by_query_modality():
    x = np.eye(4)[:, :3] + 0.01  # 4 images
    y = np.repeat([[0.0, 0.0, 1.0]], 4, axis=0) + np.arange(4)[:, None] * 1e-3  # near-duplicate texts
    r = mixed_modality_retrieval(x, y)
    assert r["same_modality_top1_text_queries"] == 1.0
    assert r["same_modality_top1"] == pytest.approx(
        (4 * r["same_modality_top1_image_queries"] + 4 * r["same_modality_top1_text_queries"]) / 8)


def test_rows_report_fitted_state():
    x, y, labels, _ = labelled()
    r = compare(x, y, {"shift": "gap-shift", "dims": "remove-dims"})
    assert [row["method"] for row in r["rows"]] == ["none", "shift", "dims"]
    assert r["rows"][0]["fitted"] == {}
    assert r["rows"][1]["fitted"] == {"alpha_": 1.0}
    assert len(r["rows"][2]["fitted"]["dims_"]) == 2
