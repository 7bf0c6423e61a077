"""A user's folder of images + CSV/JSONL captions, and every bad input it can have."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaplab import InputError
from gaplab.data import create_dataset, load_image_folder, read_captions_file
from gaplab.data.images import to_float_array, to_pil_images

PIL = pytest.importorskip("PIL.Image")


def make_folder(root, n=4, size=(12, 10)):
    folder = root / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
        PIL.fromarray(arr).save(folder / f"img{i}.png")
    return folder


def write_csv(path, rows, header="image,caption"):
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


def test_csv_with_several_captions_per_image(tmp_path):
    folder = make_folder(tmp_path)
    rows = [("img1.png", "a red square"), ("img0", "noise"), ("img1", "another"), ("img2.png", "x"), ("img3.png", "y")]
    ds = load_image_folder(folder, write_csv(tmp_path / "c.csv", rows))
    assert list(ds.ids) == ["img0.png", "img1.png", "img2.png", "img3.png"]
    assert ds.image_index.tolist() == [0, 1, 1, 2, 3]
    assert ds.captions == ["noise", "a red square", "another", "x", "y"]
    assert ds.labels is None and ds.image_paths[0].name == "img0.png"
    x = to_float_array(ds.images[:2], size=(8, 8), channels=3)
    assert x.shape == (2, 3, 8, 8) and x.dtype == np.float32 and x.max() <= 1.0


def test_jsonl_with_labels(tmp_path):
    folder = make_folder(tmp_path, n=3)
    lines = [
        {"file": "img0.png", "text": "a cat", "label": "cat"},
        {"file": "img1.png", "text": "a dog", "label": "dog"},
        {"file": "img2.png", "text": "another cat", "label": "cat"},
    ]
    cap = tmp_path / "c.jsonl"
    cap.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    ds = create_dataset("folder", images=folder, captions=cap)
    assert ds.class_names == ["cat", "dog"] and ds.labels.tolist() == [0, 1, 0]


def test_caption_naming_a_missing_image(tmp_path):
    folder = make_folder(tmp_path, n=2)
    cap = write_csv(tmp_path / "c.csv", [("img0.png", "a"), ("img1.png", "b"), ("img9.png", "c")])
    with pytest.raises(InputError, match=r"1 caption\(s\) name images that are not in .*img9.png"):
        load_image_folder(folder, cap)


def test_image_without_caption(tmp_path):
    folder = make_folder(tmp_path, n=3)
    cap = write_csv(tmp_path / "c.csv", [("img0.png", "a"), ("img1.png", "b")])
    with pytest.raises(InputError, match=r"1 image\(s\) in .* have no caption: img2.png"):
        load_image_folder(folder, cap)


def test_empty_folder_and_missing_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    cap = write_csv(tmp_path / "c.csv", [("a.png", "a")])
    with pytest.raises(InputError, match="folder has no image files"):
        load_image_folder(tmp_path / "empty", cap)
    with pytest.raises(InputError, match="no such image folder"):
        load_image_folder(tmp_path / "nope", cap)
    with pytest.raises(InputError, match="is not a folder"):
        load_image_folder(cap, cap)


def test_undecodable_image(tmp_path):
    folder = make_folder(tmp_path, n=2)
    (folder / "img1.png").write_bytes(b"not a png at all")
    cap = write_csv(tmp_path / "c.csv", [("img0.png", "a"), ("img1.png", "b")])
    with pytest.raises(InputError, match=r"img1.png: cannot decode image"):
        load_image_folder(folder, cap)


def test_bad_caption_files(tmp_path):
    with pytest.raises(InputError, match="no such caption file"):
        read_captions_file(tmp_path / "none.csv")
    p = write_csv(tmp_path / "a.csv", [("x", "y")], header="foo,bar")
    with pytest.raises(InputError, match="needs an image column .* found foo, bar"):
        read_captions_file(p)
    j = tmp_path / "b.jsonl"
    j.write_text('{"image": "a", "caption": "b"}\nnot json\n')
    with pytest.raises(InputError, match=r"b.jsonl:2: not a JSON object per line"):
        read_captions_file(j)
    e = tmp_path / "c.csv"
    e.write_text("image,caption\n")
    with pytest.raises(InputError, match="caption file has no rows"):
        read_captions_file(e)
    x = tmp_path / "d.xlsx"
    x.write_text("...")
    with pytest.raises(InputError, match="must be .csv, .tsv or .jsonl"):
        read_captions_file(x)


def test_array_conversions():
    gray = np.random.default_rng(0).random((2, 8, 8)).astype(np.float32)
    pil = to_pil_images(gray)
    assert pil[0].size == (8, 8) and pil[0].mode == "RGB"
    np.testing.assert_allclose(to_float_array(gray), gray[:, None])
    up = to_float_array(gray, size=(16, 16), channels=3)
    assert up.shape == (2, 3, 16, 16)
    hwc = (np.random.default_rng(1).random((2, 5, 6, 3)) * 255).astype(np.uint8)
    assert to_float_array(hwc, channels=3).shape == (2, 3, 5, 6)
    with pytest.raises(InputError, match="must be"):
        to_float_array(np.zeros(5))
