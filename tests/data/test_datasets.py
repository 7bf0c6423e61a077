"""Built-in paired datasets: shapes, captions, splits, determinism by seed, the registry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gaplab import ConfigError, InputError, UnknownNameError
from gaplab.data import (
    DATASETS,
    FASHION_CLASSES,
    PairedDataset,
    class_prompts,
    create_dataset,
    fashion_mnist_path,
    fill_template,
    list_datasets,
    load_digits_pairs,
    load_fashion_mnist_pairs,
    make_captions,
    read_idx,
    register_dataset,
    split_indices,
)
from tests.helpers import write_fake_fashion

needs_fashion = pytest.mark.skipif(
    fashion_mnist_path() is None, reason="dataset-fashion-mnist not installed"
)


def _same(a: PairedDataset, b: PairedDataset) -> None:
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.image_index, b.image_index)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.captions == b.captions


def test_import_loads_no_torch_or_pil():
    code = "import gaplab, gaplab.data, sys; print('torch' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_digits_shapes_and_captions():
    ds = load_digits_pairs(split="all", captions_per_image=3, seed=0)
    assert ds.images.shape == (1797, 8, 8) and ds.images.dtype == np.float32
    assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
    assert ds.n_captions == 3 * 1797
    np.testing.assert_array_equal(ds.image_index, np.repeat(np.arange(1797), 3))
    # each caption names its image's class, and the three templates differ
    for k in range(0, 60, 3):
        name = ds.class_names[ds.labels[ds.image_index[k]]]
        assert all(name in c for c in ds.captions[k : k + 3])
        assert len(set(ds.captions[k : k + 3])) == 3
    np.testing.assert_array_equal(ds.caption_labels, ds.labels[ds.image_index])


def test_digits_split_is_disjoint_stratified_and_seeded():
    tr, te = load_digits_pairs(split="train", seed=3), load_digits_pairs(split="test", seed=3)
    assert len(tr) + len(te) == 1797 and not set(tr.ids) & set(te.ids)
    assert abs(len(te) / 1797 - 0.25) < 0.01
    counts = np.bincount(te.labels, minlength=10)
    assert counts.min() >= 40  # every class is in the test split
    _same(tr, load_digits_pairs(split="train", seed=3))
    other = load_digits_pairs(split="train", seed=4)
    assert set(other.ids) != set(tr.ids)


def test_same_seed_same_captions_different_seed_different():
    a = load_digits_pairs(split="test", captions_per_image=2, seed=0)
    _same(a, create_dataset("digits", split="test", captions_per_image=2, seed=0))
    b = load_digits_pairs(split="test", captions_per_image=2, seed=1)
    assert a.captions != b.captions


def test_limit_subsamples_deterministically():
    a = load_digits_pairs(split="train", limit=50, seed=5)
    assert len(a) == 50 and a.n_captions == 50
    _same(a, load_digits_pairs(split="train", limit=50, seed=5))
    assert list(a.ids) == sorted(a.ids)


def test_subset_and_train_test_split_keep_captions_with_their_images():
    ds = load_digits_pairs(split="all", captions_per_image=2, limit=40, seed=0)
    sub = ds.subset([7, 3, 11])
    assert list(sub.ids) == [ds.ids[7], ds.ids[3], ds.ids[11]]
    assert sub.image_index.tolist() == [0, 0, 1, 1, 2, 2]
    assert sub.captions[:2] == ds.captions[14:16]
    tr, te = ds.train_test_split(test_size=0.25, seed=0)
    assert len(tr) + len(te) == 40 and tr.split == "train" and te.split == "test"
    assert sub.first_captions().tolist() == [0, 2, 4]


def test_split_indices_unstratified_and_errors():
    tr, te = split_indices(10, test_size=0.3, seed=0)
    assert len(te) == 3 and sorted([*tr, *te]) == list(range(10))
    with pytest.raises(InputError, match=r"split: test_size must be in \(0, 1\), got 1.5"):
        split_indices(10, test_size=1.5)


def test_templates_and_articles():
    assert fill_template("a photo of {a} {}.", "ankle boot") == "a photo of an ankle boot."
    assert fill_template("{c}!", "bag") == "bag!"
    assert class_prompts(["sandal"], ["a photo of {a} {}."]) == [["a photo of a sandal."]]
    with pytest.raises(InputError, match="needs {} or {c}"):
        make_captions(np.array([0]), ["x"], templates=["no placeholder"])
    with pytest.raises(InputError, match=r"captions_per_image must lie in \[1, 2\]"):
        make_captions(np.array([0]), ["x"], templates=["{}", "a {}"], captions_per_image=3)
    with pytest.raises(InputError, match=r"labels must lie in \[0, 1\)"):
        make_captions(np.array([1]), ["x"], templates=["{}"])


def test_bad_split_and_unknown_dataset():
    with pytest.raises(InputError, match="split must be one of train, test, all; got 'val'"):
        load_digits_pairs(split="val")
    with pytest.raises(UnknownNameError, match="unknown dataset 'digit'.*Did you mean 'digits'"):
        create_dataset("digit")


def test_registry_accepts_new_datasets():
    assert {"digits", "fashion-mnist", "folder"} <= set(list_datasets())

    @register_dataset("tiny-test-set")
    def tiny(*, split="all", seed=0):
        return load_digits_pairs(split=split, seed=seed, limit=4)

    try:
        assert create_dataset("tiny-test-set", split="test").n_images == 4
        assert "tiny-test-set" in list_datasets("tiny-*")
    finally:
        DATASETS._items.pop("tiny-test-set")


@pytest.fixture
def fake_fashion(tmp_path):
    return write_fake_fashion(tmp_path, gz_test=False)


def test_fashion_mnist_from_a_given_folder(fake_fashion):
    ds = load_fashion_mnist_pairs(split="train", path=fake_fashion, captions_per_image=2, seed=0)
    assert ds.images.shape == (30, 28, 28) and ds.images.dtype == np.float32
    assert ds.class_names == FASHION_CLASSES and ds.n_captions == 60
    raw = read_idx(fake_fashion / "train-images-idx3-ubyte.gz")
    np.testing.assert_allclose(ds.images, raw / 255.0, rtol=1e-6)
    both = load_fashion_mnist_pairs(split="all", path=fake_fashion)
    assert len(both) == 50 and both.ids[-1] == "fashion-mnist/test/00019"
    _same(ds, load_fashion_mnist_pairs(split="train", path=fake_fashion, captions_per_image=2, seed=0))


def test_fashion_mnist_missing_or_corrupt(tmp_path, fake_fashion):
    with pytest.raises(InputError, match="Fashion-MNIST not found in .*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist_pairs(path=tmp_path / "nowhere")
    bad = fake_fashion / "t10k-images-idx3-ubyte"
    bad.write_bytes(bad.read_bytes()[:-5])
    with pytest.raises(InputError, match="truncated download"):
        load_fashion_mnist_pairs(split="test", path=fake_fashion)
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello world")
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(junk)


@needs_fashion
def test_real_fashion_mnist_is_deterministic():
    a = load_fashion_mnist_pairs(split="test", limit=200, captions_per_image=2, seed=7)
    assert a.images.shape == (200, 28, 28) and a.labels.max() <= 9
    assert any("sandal" in c or "ankle boot" in c for c in a.captions)
    _same(a, create_dataset("fashion-mnist", split="test", limit=200, captions_per_image=2, seed=7))
    full = load_fashion_mnist_pairs(split="test")
    assert len(full) == 10_000 and np.bincount(full.labels).tolist() == [1000] * 10


def test_create_dataset_rejects_options_the_loader_does_not_take():
    with pytest.raises(ConfigError, match="dataset 'digits' has no parameter 'path'; valid: split, test_size"):
        create_dataset("digits", path="/tmp")
    create_dataset("digits", path=None, limit=3)  # None means "default" and is dropped

