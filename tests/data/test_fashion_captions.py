"""Captions composed from measured attributes of Fashion-MNIST images (gaplab.data.fashion_captions)."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError
from gaplab.data.fashion_captions import (
    FASHION_ATTRIBUTES,
    FASHION_SYNONYMS,
    compose_fashion_captions,
    fashion_class_prompts,
    load_fashion_captions,
    measure_fashion_attributes,
)
from gaplab.data.fashion_mnist import fashion_mnist_path
from tests.helpers import write_fake_fashion


@pytest.fixture
def fake_fashion(tmp_path):
    return write_fake_fashion(tmp_path)


def _boxes():
    """Four images: a tall box left, a wide box right, a dim tall box, a striped wide box."""
    img = np.zeros((4, 28, 28), np.float32)
    img[0, 4:24, 3:9] = 1.0
    img[1, 10:16, 8:26] = 1.0
    img[2, 4:24, 10:16] = 0.3
    img[3, 10:18, 2:26] = 1.0
    img[3, 10:18:4, 2:26] = 0.2  # stripes of period 4 (2 bright rows, 2 dim)
    img[3, 11:18:4, 2:26] = 0.2
    return img


def test_measurements_follow_the_pixels():
    m = measure_fashion_attributes(_boxes())
    assert set(m) == set(FASHION_ATTRIBUTES)
    assert m["shape"][1] > 1 > m["shape"][0]  # wide vs tall
    assert m["horizontal"][0] < 0 < m["horizontal"][1]  # left vs right of centre
    assert m["brightness"][2] < m["brightness"][0]
    assert m["texture"][3] > m["texture"][1]  # stripes have more edges
    assert m["size"][3] > m["size"][1]
    np.testing.assert_allclose(m["size"][0], 20 * 6 / 784)
    u8 = measure_fashion_attributes((_boxes() * 255).astype(np.uint8))
    np.testing.assert_allclose(u8["shape"], m["shape"])


def test_captions_are_unique_seeded_and_name_the_class():
    rng = np.random.default_rng(1)
    imgs = rng.random((300, 28, 28)).astype(np.float32) * (rng.random((300, 1, 1)) > 0.2)
    labels = np.arange(300) % 10
    a = compose_fashion_captions(imgs, labels, seed=3)
    assert len(a) == 300 and len(set(a)) == 300
    assert a == compose_fashion_captions(imgs, labels, seed=3)
    assert a != compose_fashion_captions(imgs, labels, seed=4)
    for cap, lab in zip(a, labels, strict=True):
        assert any(s in cap for s in FASHION_SYNONYMS[lab]) and cap.endswith(".")


def test_captions_say_what_was_measured():
    imgs = _boxes()
    th = {k: (-1e9, 1e9) for k in FASHION_ATTRIBUTES}  # every value in the middle bin ...
    th["shape"] = (0.5, 2.0)  # ... but shape: tall < 0.5 <= square-ish < 2 <= wide
    caps = compose_fashion_captions(imgs, np.array([1, 8, 1, 8]), seed=0, min_attributes=9, max_attributes=9,
                                    thresholds=th)
    wide = FASHION_ATTRIBUTES["shape"][1][2]
    tall = FASHION_ATTRIBUTES["shape"][1][0]
    assert any(w in caps[1] for w in wide) and any(w in caps[0] for w in tall)
    none = compose_fashion_captions(imgs, np.zeros(4, int), seed=0, min_attributes=0, max_attributes=0, unique=False)
    assert all(len(c.split()) <= 7 for c in none)  # the class and an opener only


def test_bad_input_is_one_line():
    with pytest.raises(InputError, match=r"need images \(N, H, W\) and labels \(N,\)"):
        compose_fashion_captions(np.zeros((2, 28, 28)), np.zeros(3, int))
    with pytest.raises(InputError, match="labels must lie in 0..9"):
        compose_fashion_captions(np.zeros((2, 28, 28)), np.array([0, 10]))
    with pytest.raises(InputError, match="min_attributes <= max_attributes"):
        compose_fashion_captions(np.zeros((2, 28, 28)), np.zeros(2, int), min_attributes=4, max_attributes=3)
    with pytest.raises(InputError, match="images must be"):
        measure_fashion_attributes(np.zeros((28, 28)))


def test_class_prompts():
    p = fashion_class_prompts()
    assert len(p) == 10 and p[0][0] == "a photo of a t-shirt." and p[9][0] == "a photo of an ankle boot."
    assert len(fashion_class_prompts(synonyms=True)[0]) > len(p[0])


def test_load_from_a_folder_and_missing_data(fake_fashion, tmp_path):
    ds = load_fashion_captions(path=fake_fashion, seed=0)
    assert len(ds) == 50 and len(set(ds.captions)) == 50 and ds.images.shape == (50, 28, 28)
    test = load_fashion_captions(split="test", path=fake_fashion, seed=0)
    assert test.captions == ds.captions[30:] and test.ids[0] == "fashion-mnist/test/00000"
    assert set(ds.meta["thresholds"]) == set(FASHION_ATTRIBUTES)
    with pytest.raises(InputError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_captions(path=tmp_path / "nowhere")


@pytest.mark.skipif(fashion_mnist_path() is None, reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_has_70000_distinct_captions():
    ds = load_fashion_captions(split="all", seed=0)
    assert len(ds) == 70_000 and len(set(ds.captions)) == 70_000
