"""The two MOADs: the per-sample form of paper 004's text and MOAD_img of the ICLR 2025 version."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab._errors import InputError
from gaplab.metrics.functional.neighbourhood import moad, moad_iclr
from tests.reference import naive


@pytest.mark.parametrize("n,d,n_obj,n_factors", [(6, 3, 2, 1), (23, 5, 4, 2), (60, 8, 10, 5)])
def test_moad_iclr_matches_the_loop_reference(n, d, n_obj, n_factors):
    rng = np.random.default_rng(n)
    e = rng.normal(size=(n, d))
    objects = rng.integers(0, n_obj, n)
    attributes = rng.integers(0, 3, (n, n_factors))
    e = e + 0.8 * np.eye(d)[objects % d]  # some object structure, so the value is not ~0
    got = moad_iclr(e, objects, attributes)
    assert got == pytest.approx(naive.moad_iclr(e, objects, attributes), abs=1e-12)


def test_moad_iclr_hand_case():
    # two objects on two orthogonal axes, one attribute cutting across both:
    # objects: s+ = 1, s- = 0 -> (1 + 1) / (2 * 2) = 0.5
    # attributes: s+ = cos(e0, e2) = 0, s- = mean(1, 0, 0, 1) = 0.5 -> (-0.5 - 0.5) / (2 * 2) = -0.25
    e = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    assert moad_iclr(e, [0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.75)
    # the roles swapped: the same magnitude, attribute bias
    assert moad_iclr(e, [0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(-0.75)
    # scale of the rows does not matter (rows are normalised)
    assert moad_iclr(np.array(e) * [[3.0], [0.5], [2.0], [7.0]], [0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.75)


def test_moad_iclr_is_zero_when_objects_and_attributes_are_alike():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(40, 6))
    lab = rng.integers(0, 4, 40)
    assert moad_iclr(e, lab, lab) == pytest.approx(0.0, abs=1e-12)
    # a 1-D attribute array and the same as one column agree; string labels work
    a = rng.integers(0, 3, 40)
    assert moad_iclr(e, lab, a) == pytest.approx(moad_iclr(e, lab, a[:, None]))
    assert moad_iclr(e, lab.astype(str), a) == pytest.approx(moad_iclr(e, lab, a))


def test_moad_iclr_skips_singleton_concepts():
    # object 2 has one sample: no within-pair, left out (the reference does the same)
    rng = np.random.default_rng(1)
    e = rng.normal(size=(9, 4))
    objects = np.array([0, 0, 0, 1, 1, 1, 1, 0, 2])
    attributes = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0])
    assert moad_iclr(e, objects, attributes) == pytest.approx(naive.moad_iclr(e, objects, attributes), abs=1e-12)


@pytest.mark.parametrize("objects,attributes,match", [
    ([0, 0, 1], [0, 1, 0], "object_labels must have shape"),
    ([0, 0, 1, 1], [[0, 1], [1, 0]], "attribute_labels must have shape"),
    ([0, 1, 2, 3], [0, 1, 0, 1], "no object is shown by at least 2"),
    ([0, 0, 1, 1], [0, 0, 0, 0], "no attribute is shown by at least 2"),
    ([0, 0, 1, 1], [0.0, np.nan, 1.0, 1.0], "finite integer or string"),
])
def test_moad_iclr_bad_labels(objects, attributes, match):
    e = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]
    with pytest.raises(InputError, match=match):
        moad_iclr(e, objects, attributes)


def test_moad_iclr_bad_embeddings():
    with pytest.raises(InputError, match="moad_iclr: emb: must be 2-D"):
        moad_iclr([1.0, 2.0, 3.0], [0, 0, 1], [0, 1, 0])


def test_the_two_moads_are_different_quantities():
    # per-sample MOAD compares images with texts; MOAD_img never looks at texts
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 5))
    objects, attributes = rng.integers(0, 3, 30), rng.integers(0, 3, 30)
    t_obj, t_att = np.eye(5)[objects], np.eye(5)[attributes + 2]
    assert moad(x, t_obj, t_att) == pytest.approx(naive.moad(x, t_obj, t_att), abs=1e-12)
    assert moad_iclr(x, objects, attributes) == pytest.approx(naive.moad_iclr(x, objects, attributes), abs=1e-12)
    assert moad(x, t_obj, t_att) != pytest.approx(moad_iclr(x, objects, attributes), abs=1e-3)
