"""Zero-shot helpers with hand-made encoders whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError
from gaplab.data import DIGIT_NAMES, load_digits_pairs, zero_shot_classifier, zero_shot_eval


class OracleEncoder:
    """Text → one-hot of the digit name it contains; image → one-hot of its true label."""

    def __init__(self, labels_of_images):
        self.lookup = {img.tobytes(): lab for img, lab in labels_of_images}

    def encode_text(self, texts):
        out = np.full((len(texts), 10), 0.01)
        for i, t in enumerate(texts):
            for c, name in enumerate(DIGIT_NAMES):
                if f" {name}" in f" {t}".replace(".", " ").replace(",", " "):
                    out[i, c] = 1.0
        return out

    def encode_image(self, images):
        out = np.full((len(images), 10), 0.01)
        for i, img in enumerate(images):
            out[i, self.lookup[img.tobytes()]] = 1.0
        return out


def test_oracle_gets_everything_right():
    ds = load_digits_pairs(split="test", limit=60, seed=0)
    enc = OracleEncoder(zip(ds.images, ds.labels, strict=True))
    res = zero_shot_eval(enc, ds, ks=(1, 3), batch_size=16)
    assert res == {"top1": 1.0, "top3": 1.0, "n_images": 60, "n_classes": 10}


def test_classifier_averages_normalised_prompts():
    enc = lambda texts: np.array([[1.0, 0.0] if "a" in t else [0.0, 2.0] for t in texts])  # noqa: E731
    c = zero_shot_classifier(enc, ["a", "b"], templates=["{}", "x{}"])
    np.testing.assert_allclose(c, [[1, 0], [0, 1]])


def test_precomputed_image_embeddings_and_errors():
    ds = load_digits_pairs(split="test", limit=20, seed=0)
    enc = OracleEncoder(zip(ds.images, ds.labels, strict=True))
    emb = np.eye(10)[ds.labels] + 0.01
    assert zero_shot_eval(enc.encode_text, ds, image_emb=emb)["top1"] == 1.0
    with pytest.raises(InputError, match="has no encode_image; pass image_emb="):
        zero_shot_eval(enc.encode_text, ds)
    with pytest.raises(InputError, match="must return one row per input"):
        zero_shot_classifier(lambda t: np.zeros((1, 3)) + 1, ["a", "b"], templates=["{}"])
    with pytest.raises(InputError, match="class_names is empty"):
        zero_shot_classifier(enc, [])
