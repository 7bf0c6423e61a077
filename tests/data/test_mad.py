"""The MAD generator (gaplab.data.mad): determinism, caption grammar, counts, morphology."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import ConfigError, InputError
from gaplab.data.mad import (
    ATTRIBUTES,
    FACTOR_NAMES,
    FACTORS,
    VOCAB,
    MADTokenizer,
    factor_prompts,
    make_caption,
    make_mad,
    parse_caption,
    render_mad_image,
)


@pytest.fixture(scope="module")
def ds():
    return make_mad(200, seed=3, image_size=16)


@pytest.fixture(scope="module")
def digit8():
    from sklearn.datasets import load_digits

    return load_digits().images[5] / 16.0


def test_vocabulary_has_28_words_with_start_and_end():
    assert len(VOCAB) == 28 == len(set(VOCAB))
    assert "<start>" in VOCAB and "<end>" in VOCAB
    assert sum(len(FACTORS[a]) for a in ATTRIBUTES) == 16


def test_same_seed_same_data_other_seed_other_data(ds):
    again = make_mad(200, seed=3, image_size=16)
    np.testing.assert_array_equal(ds.images, again.images)
    np.testing.assert_array_equal(ds.factors, again.factors)
    assert ds.captions(n_attributes=2, rng=9) == again.captions(n_attributes=2, rng=9)
    other = make_mad(200, seed=4, image_size=16)
    assert not np.array_equal(ds.factors, other.factors)


def test_train_and_test_use_disjoint_source_digits():
    tr, te = make_mad(300, seed=0, image_size=16, split="train"), make_mad(300, seed=0, image_size=16, split="test")
    assert not set(tr.source_index) & set(te.source_index)


def test_shapes_ranges_and_factor_values(ds):
    assert ds.images.shape == (200, 3, 16, 16) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    for j, f in enumerate(FACTOR_NAMES):
        vals = ds.factors[:, j]
        assert vals.min() >= 0 and vals.max() < len(FACTORS[f])
        assert np.unique(vals).size == len(FACTORS[f])  # 200 samples hit every value


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_caption_grammar_and_attribute_count(ds, k):
    caps = ds.captions(n_attributes=k, rng=k)
    for i, c in enumerate(caps):
        parsed = parse_caption(c)  # raises on unknown words or repeats
        assert "digit" in parsed
        assert len(parsed) == k + 1
        assert c.count("-") == k
        for f, v in parsed.items():
            assert ds.factors[i, FACTOR_NAMES.index(f)] == v  # the caption tells the truth


def test_mentioned_attributes_are_redrawn_each_call_and_shuffled(ds):
    a = ds.captions(n_attributes=2)
    rng = np.random.default_rng(0)
    b, c = ds.captions(n_attributes=2, rng=rng), ds.captions(n_attributes=2, rng=rng)
    assert b != c  # a new batch, new attribute choices
    assert len(a) == len(b)
    full = ds.captions(n_attributes=5, rng=1)
    first_words = {cap.split("-")[0] for cap in full}
    assert len(first_words) > 5  # word order is shuffled, not digit-first
    every = [set(parse_caption(x)) for x in ds.captions(n_attributes=1, rng=2)]
    assert {next(iter(s - {"digit"})) for s in every} == set(ATTRIBUTES)


def test_shared_selection_uses_one_subset_per_call(ds):
    caps = ds.captions(n_attributes=2, shared_selection=True, rng=5)
    assert len({frozenset(parse_caption(c)) for c in caps}) == 1


def test_presence_probabilities(ds):
    rng = np.random.default_rng(0)
    big = make_mad(600, seed=1, image_size=12)
    caps = big.captions(presence={"colour": 1.0, "digit": 0.2, "thickness": 0.0, "swelling": 0.5,
                                  "fracture": 0.2, "scale": 0.2}, rng=rng)
    parsed = [parse_caption(c) for c in caps]
    share = {f: np.mean([f in p for p in parsed]) for f in FACTOR_NAMES}
    assert share["colour"] == 1.0 and share["thickness"] == 0.0
    assert 0.4 < share["swelling"] < 0.6 and 0.12 < share["digit"] < 0.28
    lone = ds.captions(presence={f: 0.0 if f != "scale" else 0.01 for f in FACTOR_NAMES}, rng=1)
    assert all(parse_caption(c).keys() == {"scale"} for c in lone)  # never an empty caption


def test_bad_caption_options(ds):
    with pytest.raises(ConfigError, match="n_attributes"):
        ds.captions(n_attributes=6)
    with pytest.raises(ConfigError, match="unknown factor"):
        ds.captions(presence={"texture": 1.0})
    with pytest.raises(InputError, match="unknown word"):
        parse_caption("red-purple")
    with pytest.raises(InputError, match="named twice"):
        parse_caption("red-blue")
    with pytest.raises(ConfigError, match="split"):
        make_mad(2, split="val")


@pytest.mark.parametrize(
    "factor,value",
    [("thickness", 0), ("thickness", 1), ("swelling", 0), ("fracture", 0), ("scale", 1), ("colour", 3)],
)
def test_each_attribute_changes_the_image(digit8, factor, value):
    base = [0, 2, 1, 1, 0, 0]  # no thickthinning, no swelling, no fracture, large, gray
    changed = list(base)
    changed[FACTOR_NAMES.index(factor)] = value
    a = render_mad_image(digit8, base, image_size=28, rng=0)
    b = render_mad_image(digit8, changed, image_size=28, rng=0)
    assert np.abs(a - b).mean() > 0.005, f"{factor}={FACTORS[factor][value]} left the image unchanged"


def test_morphology_goes_the_right_way(digit8):
    def ink(f):
        return float(render_mad_image(digit8, f, image_size=28, rng=0).sum())

    base = ink([0, 2, 1, 1, 0, 0])
    assert ink([0, 0, 1, 1, 0, 0]) > 1.2 * base  # thickening adds ink
    assert ink([0, 1, 1, 1, 0, 0]) < 0.8 * base  # thinning removes it
    assert ink([0, 2, 1, 0, 0, 0]) < base  # fractures cut strokes
    assert ink([0, 2, 1, 1, 1, 0]) < 0.6 * base  # small: ~0.36 of the area
    red = render_mad_image(digit8, [0, 2, 1, 1, 0, 1], image_size=28, rng=0)
    assert red[1].max() == 0 and red[2].max() == 0 and red[0].max() > 0.5


def test_tokeniser_round_trip_and_padding():
    tok = MADTokenizer()
    caps = ["yellow-swelling-thickening-9-large-fracture", "no swelling-5", "3"]
    ids = tok.encode(caps)
    assert ids.shape == (3, 8) and ids.dtype == np.int64
    assert (ids[:, 0] == tok.start_id).all()
    assert tok.decode(ids) == caps
    assert (ids[2, 2:] == tok.end_id).all()
    with pytest.raises(InputError, match="unknown word"):
        tok.encode(["purple-3"])


def test_prompts_and_single_caption():
    assert factor_prompts("colour")[0] == "gray"
    assert set(make_caption([4, 0, 0, 0, 0, 0], ["digit", "scale"], rng=0).split("-")) == {"4", "large"}


def test_registered_in_dataset_registry():
    from gaplab.data import create_dataset, list_datasets

    assert "mad" in list_datasets()
    d = create_dataset("mad", split="test", n=6, image_size=14, n_attributes=2)
    assert d.n_images == 6 and d.images.shape == (6, 3, 14, 14)
    assert all(len(parse_caption(c)) == 3 for c in d.captions)
