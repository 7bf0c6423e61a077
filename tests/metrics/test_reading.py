"""reading: each rule fires past its stated threshold and stays quiet before it."""

from __future__ import annotations

import numpy as np

from gaplab.metrics import measure, reading
from gaplab.metrics.reading import (
    CENTROID_SHARE_HIGH,
    CENTROID_SHARE_LOW,
    CONE_HIGH,
    GAP_LARGE,
    GAP_SMALL,
    HUBNESS_HIGH,
    RETRIEVAL_NEAR_CHANCE,
    SEPARABILITY_HIGH,
    SEPARABILITY_NEAR_CHANCE,
)


def one(result, start):
    hits = [s for s in reading(result) if s.startswith(start)]
    return hits[0] if len(hits) == 1 else None


def test_empty_result_reads_nothing():
    assert reading({}) == []


def test_centroid_gap_rules():
    # alignment = l2m² + residual: a share of 0.64/0.8 = 80 % is the centroid's
    assert "gaplab mitigate center" in one({"l2m": 0.8, "alignment": 0.8, "residual_gap": 0.16}, "centroid gap large")
    share_high = GAP_LARGE**2 / CENTROID_SHARE_HIGH  # alignment at which the share is exactly the threshold
    assert one({"l2m": GAP_LARGE + 0.01, "alignment": share_high, "residual_gap": 0.1}, "centroid gap large")
    assert not one({"l2m": GAP_LARGE, "alignment": share_high * 0.9, "residual_gap": 0.1}, "centroid gap large")
    low = one({"l2m": 0.2, "alignment": 0.04 / CENTROID_SHARE_LOW * 1.1, "residual_gap": 0.2}, "the centroid gap carries")
    assert low and "centering will not close much" in low
    assert one({"l2m": GAP_SMALL * 0.9}, "the modality means nearly coincide")
    assert not one({"l2m": GAP_SMALL}, "the modality means nearly coincide")


def test_separability_rules_use_the_chance_level():
    assert one({"linear_separability": 0.5 + SEPARABILITY_NEAR_CHANCE}, "separability near chance")
    assert not one({"linear_separability": 0.5 + SEPARABILITY_NEAR_CHANCE + 0.01}, "separability near chance")
    # with image_index the chance level is the larger modality's share
    assert not one({"linear_separability": 0.6, "chance": {"linear_separability": 0.5}}, "separability near chance")
    assert one({"linear_separability": 0.6, "chance": {"linear_separability": 0.6}}, "separability near chance")
    assert one({"linear_separability": SEPARABILITY_HIGH + 0.01}, "a linear classifier tells image from text")
    assert not reading({"linear_separability": SEPARABILITY_HIGH})


def test_hubness_cone_retrieval_and_collapse_rules():
    assert "CSLS" in one({"hubness_text": HUBNESS_HIGH + 0.1}, "hubness high")
    assert not reading({"hubness_text": HUBNESS_HIGH, "hubness_image": 0.0})
    assert one({"mean_cos_text": CONE_HIGH + 0.01}, "cone effect")
    assert not reading({"mean_cos_text": CONE_HIGH})
    chance = {"i2t_r1": 0.01, "t2i_r1": 0.01}
    below = RETRIEVAL_NEAR_CHANCE * 0.01 * 0.9
    assert one({"i2t_r1": below, "t2i_r1": below, "chance": chance}, "retrieval is near chance")
    assert not one({"i2t_r1": below, "t2i_r1": 0.5, "chance": chance}, "retrieval is near chance")
    first = reading({"warnings": ["text embeddings are nearly all identical (1 distinct ...)"], "l2m": 0.8})[0]
    assert first.startswith("a modality looks collapsed")


def test_mutual_knn_inside_its_null():
    null = {"mutual_knn": {"observed": 0.1, "range95": [0.08, 0.12]}}
    assert one({"null": null}, "mutual kNN (0.100) is inside its permutation null")
    assert not reading({"null": {"mutual_knn": {"observed": 0.2, "range95": [0.08, 0.12]}}})


def test_measure_gives_a_reading_of_a_shifted_gap():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)) * 0.3 + np.r_[3.0, np.zeros(7)]
    y = x + rng.normal(size=(200, 8)) * 0.05 - np.r_[0, 3.0, np.zeros(6)] * 1.0
    out = measure(x, y, include_pairwise=False)
    assert out["reading"] == reading(out) and any(s.startswith("centroid gap large") for s in out["reading"])
