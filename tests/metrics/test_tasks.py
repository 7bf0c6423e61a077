"""Task metrics of the held-out protocol: sliced Wasserstein, mixed-modality retrieval, k-means, probes."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError
from gaplab.metrics.functional.distance import sliced_wasserstein
from gaplab.metrics.functional.tasks import (
    check_labels,
    kmeans_agreement,
    linear_probe,
    mixed_modality_retrieval,
)
from tests.helpers import labelled

pytestmark = pytest.mark.usefixtures("one_thread")




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
    assert r == {"mixed_same_modality": 0.0, "mixed_same_modality_img": 0.0,
                 "mixed_same_modality_txt": 0.0, "mixed_pair_r1": 1.0}


def test_mixed_retrieval_gap_finds_own_modality():
    x, y, _, _ = labelled(gap=10.0)
    assert mixed_modality_retrieval(x, y)["mixed_same_modality"] == 1.0


def test_kmeans_and_probe():
    x, y, labels, _ = labelled(gap=0.0)
    km = kmeans_agreement(x, y, labels, labels)
    assert km["kmeans_ari"] > 0.9 and km["kmeans_vmeasure"] > 0.9 and km["kmeans_modality_ari"] < 0.1
    assert linear_probe(x[:60], labels[:60], x[60:], labels[60:]) > 0.9
    with pytest.raises(InputError, match="single class"):
        linear_probe(x[:10], np.zeros(10, dtype=int), x[10:], labels[10:])


def test_mixed_retrieval_split_by_query_modality():
    x = np.eye(4)[:, :3] + 0.01  # 4 images
    y = np.repeat([[0.0, 0.0, 1.0]], 4, axis=0) + np.arange(4)[:, None] * 1e-3  # near-duplicate texts
    r = mixed_modality_retrieval(x, y)
    assert r["mixed_same_modality_txt"] == 1.0
    assert r["mixed_same_modality"] == pytest.approx(
        (4 * r["mixed_same_modality_img"] + 4 * r["mixed_same_modality_txt"]) / 8)




# -- mixed-modality retrieval against a naive reference ----------------------------------------
def naive_mixed(x, y, idx=None, tol=1e-9):
    """Query by query, candidate by candidate: the definition in the docstring, ties included."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    idx = np.arange(len(y)) if idx is None else np.asarray(idx)
    z = np.vstack([x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)])
    n, k = len(x), len(y)
    mod = [0] * n + [1] * k
    owner = list(range(n)) + list(idx)
    same, pair = [], []
    for q in range(n + k):
        s = [float(z[q] @ z[j]) for j in range(n + k)]
        own = max([s[j] for j in range(n + k) if j != q and mod[j] == mod[q]], default=-np.inf)
        other = max(s[j] for j in range(n + k) if mod[j] != mod[q])
        same.append(own - other > tol * max(1.0, abs(other)))
        pairs = [j for j in range(n + k) if mod[j] != mod[q] and owner[j] == owner[q]]
        if not pairs:
            pair.append(False)
            continue
        best = max(s[j] for j in pairs)
        rest = [s[j] for j in range(n + k) if j != q and j not in pairs]
        pair.append(not any(r - best > tol * max(1.0, abs(best)) for r in rest))
    same = np.array(same)
    return {"mixed_same_modality": same.mean(), "mixed_same_modality_img": same[:n].mean(),
            "mixed_same_modality_txt": same[n:].mean(), "mixed_pair_r1": np.mean(pair)}


@pytest.mark.parametrize("block_rows", [None, 1, 7])
def test_mixed_retrieval_matches_naive_with_captions_and_duplicates(block_rows):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 5)) + 0.5
    idx = np.r_[np.repeat(np.arange(10), 2), [3, 3]]  # images 10, 11 have no caption; 3 has four
    y = x[idx] + 0.4 * rng.normal(size=(idx.size, 5))
    y[5] = y[4]  # two captions of image 2 that are exact duplicates
    y[7] = y[0]  # a caption of image 3 that duplicates one of image 0
    got = mixed_modality_retrieval(x, y, image_index=idx, block_rows=block_rows)
    want = naive_mixed(x, y, idx)
    assert got == pytest.approx(want, abs=0)
    assert 0 < got["mixed_pair_r1"] < 1 and 0 < got["mixed_same_modality"] < 1


def test_mixed_retrieval_exact_ties_go_to_the_pair():
    # both images' captions are the same text: each image query ties between its own caption and
    # the other image's; the tie goes to the query, so both images find their pair
    x = np.array([[1.0, 0.0, 0.1], [1.0, 0.0, -0.1]])
    y = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    for block_rows in (None, 1, 3):
        r = mixed_modality_retrieval(x, y, block_rows=block_rows)
        assert r == {"mixed_same_modality": 0.5, "mixed_same_modality_img": 0.0,
                     "mixed_same_modality_txt": 1.0, "mixed_pair_r1": 0.5}
    # float32 input, a duplicate in a different block: still a tie
    r32 = mixed_modality_retrieval(x.astype(np.float32), y.astype(np.float32), block_rows=1)
    assert r32["mixed_pair_r1"] == 0.5


def test_mixed_retrieval_own_and_other_modality_tie_is_not_same_modality():
    # image query 0: the other image and its caption score exactly the same -> not "own modality"
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    r = mixed_modality_retrieval(x, y)
    assert r["mixed_same_modality_img"] == 0.0
    assert r == pytest.approx(naive_mixed(x, y), abs=0)


def test_mixed_retrieval_image_without_caption_never_finds_a_pair():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    r = mixed_modality_retrieval(x, x[:2], image_index=[0, 1])
    # images 0, 1 and both texts find their pair (an exact copy); image 2 has none
    assert r["mixed_pair_r1"] == pytest.approx(4 / 5)


@pytest.mark.parametrize("block_rows", [0, -2, 1.5, True])
def test_mixed_retrieval_bad_block_rows(block_rows):
    with pytest.raises(InputError, match="mixed_modality_retrieval: block_rows must be a positive integer"):
        mixed_modality_retrieval(np.eye(3), np.eye(3), block_rows=block_rows)


def test_mixed_retrieval_bad_pairs():
    with pytest.raises(InputError, match="mixed_modality_retrieval: .*same number of rows"):
        mixed_modality_retrieval(np.eye(3), np.eye(3)[:2])


# -- k-means, probes, labels -------------------------------------------------------------------
def test_kmeans_clusters_split_by_modality_under_a_large_gap():
    x, y, labels, _ = labelled(gap=20.0)
    km = kmeans_agreement(x, y, labels, labels, n_clusters=2)
    assert km["kmeans_modality_ari"] == pytest.approx(1.0)
    assert km == kmeans_agreement(x, y, labels, labels, n_clusters=2)  # seeded


@pytest.mark.parametrize(
    ("kw", "msg"),
    [({"n_clusters": 1}, r"need 2 <= n_clusters <= 240, got 1"),
     ({"n_clusters": 241}, r"need 2 <= n_clusters <= 240, got 241"),
     ({"labels_y": np.zeros(3, dtype=int)}, "labels_y must be 1-D with 120 entries"),
     ({"y": np.ones((120, 5))}, r"x \(120, 12\) and y \(120, 5\) differ in d")],
)
def test_kmeans_bad_input(kw, msg):
    x, y, labels, _ = labelled()
    args = {"x": x, "y": y, "labels_x": labels, "labels_y": labels, **kw}
    with pytest.raises(InputError, match=msg):
        kmeans_agreement(args.pop("x"), args.pop("y"), args.pop("labels_x"), args.pop("labels_y"), **args)


def test_linear_probe_trains_on_one_set_only_and_checks_input():
    x, y, labels, _ = labelled()
    # train labels permuted: a probe that learnt from the train rows must now be wrong on the test rows
    flipped = (labels[:60] + 1) % 3
    assert linear_probe(x[:60], flipped, x[60:], labels[60:]) < 0.1
    assert linear_probe(x[:60], flipped, x[60:], (labels[60:] + 1) % 3) > 0.9
    with pytest.raises(InputError, match="linear_probe: C must be a positive finite number, got 0"):
        linear_probe(x[:60], labels[:60], x[60:], labels[60:], C=0)
    with pytest.raises(InputError, match=r"train_x \(60, 12\) and test_x \(60, 5\) differ in d"):
        linear_probe(x[:60], labels[:60], x[60:, :5], labels[60:])
    with pytest.raises(InputError, match="test_labels must be 1-D with 60 entries"):
        linear_probe(x[:60], labels[:60], x[60:], labels[:3])


def test_check_labels():
    assert check_labels([0.0, 2.0, 1.0], 3, "f").tolist() == [0, 2, 1]
    assert check_labels(np.array([1, 0], dtype=np.int8), 2, "f").dtype == np.int64
    with pytest.raises(InputError, match=r"f: labels must be 1-D with 3 entries, got shape \(2,\)"):
        check_labels([0, 1], 3, "f")
    with pytest.raises(InputError, match="f: tags must hold integer class ids, got dtype float64"):
        check_labels([0.5, 1.0], 2, "f", "tags")
    with pytest.raises(InputError, match="integer class ids"):
        check_labels([np.nan, 1.0], 2, "f")
