"""Reader round-trips for every format, and every bad file."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab import InputError, load_pairs
from gaplab.io import load_embeddings, make_example_pairs, save_pairs

rng = np.random.default_rng(0)
X = rng.normal(size=(12, 5)).astype(np.float32)
Y = rng.normal(size=(12, 5)).astype(np.float32)


def _same(p, x=X, y=Y):
    np.testing.assert_array_equal(np.asarray(p.image), x)
    np.testing.assert_array_equal(np.asarray(p.text), y)


def test_npy_stacked_and_per_modality(tmp_path):
    np.save(tmp_path / "pairs.npy", np.stack([X, Y]))
    _same(load_pairs(tmp_path / "pairs.npy"))
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", Y)
    _same(load_pairs(image=tmp_path / "a.npy", text=tmp_path / "b.npy"))


def test_npy_is_memory_mapped_and_float16_kept(tmp_path):
    np.save(tmp_path / "h.npy", np.stack([X, Y]).astype(np.float16))
    p = load_pairs(tmp_path / "h.npy")
    assert p.image.dtype == np.float16
    base = p.image
    while not isinstance(base, np.memmap) and getattr(base, "base", None) is not None:
        base = base.base
    assert isinstance(base, (np.memmap, __import__("mmap").mmap))


def test_npz_keys_and_extras(tmp_path):
    idx = np.arange(12) // 2
    save_pairs(tmp_path / "p.npz", X[:6], Y, image_index=idx, labels=np.arange(6), model="m")
    p = load_pairs(tmp_path / "p.npz")
    _same(p, X[:6], Y)
    np.testing.assert_array_equal(p.image_index, idx)
    assert p.meta["model"] == "m"
    np.savez(tmp_path / "k.npz", img=X, txt=Y)
    _same(load_pairs(tmp_path / "k.npz", image_key="img", text_key="txt"))
    with pytest.raises(InputError, match="no key 'image'; keys: img, txt"):
        load_pairs(tmp_path / "k.npz")


def test_pt(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"image": torch.from_numpy(X), "text": torch.from_numpy(Y)}, tmp_path / "p.pt")
    _same(load_pairs(tmp_path / "p.pt"))
    torch.save(torch.from_numpy(np.stack([X, Y])), tmp_path / "s.pt")
    _same(load_pairs(tmp_path / "s.pt"))


def test_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"image": X, "text": Y}, str(tmp_path / "p.safetensors"))
    _same(load_pairs(tmp_path / "p.safetensors"))


def test_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"image": list(X), "text": list(Y)}), tmp_path / "p.parquet")
    _same(load_pairs(tmp_path / "p.parquet"))
    pq.write_table(pa.table({"embedding": list(X)}), tmp_path / "a.parquet")
    np.testing.assert_array_equal(load_embeddings(tmp_path / "a.parquet"), X)


def test_example_file_has_a_gap(tmp_path):
    from gaplab.metrics import l2m

    p = load_pairs(make_example_pairs(tmp_path / "ex.npz", n=200, dim=16))
    assert l2m(p.image, p.text) > 0.5


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_pairs(tmp_path / "missing.npy")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(InputError, match="file is empty"):
        load_pairs(tmp_path / "empty.npy")
    (tmp_path / "junk.npy").write_bytes(b"not a numpy file at all")
    with pytest.raises(InputError, match="cannot read .npy file"):
        load_pairs(tmp_path / "junk.npy")
    np.save(tmp_path / "t.npy", np.stack([X, Y]))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read .npy file"):
        load_pairs(tmp_path / "trunc.npy")
    np.save(tmp_path / "flat.npy", X)
    with pytest.raises(InputError, match=r"shape \(2, N, d\).*got \(12, 5\)"):
        load_pairs(tmp_path / "flat.npy")
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", Y[:7])
    with pytest.raises(InputError, match="differ in N"):
        load_pairs(image=tmp_path / "a.npy", text=tmp_path / "b.npy")
    np.save(tmp_path / "c.npy", Y[:, :3])
    with pytest.raises(InputError, match="differ in d"):
        load_pairs(image=tmp_path / "a.npy", text=tmp_path / "c.npy")
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(InputError, match="unknown file type '.csv'"):
        load_pairs(tmp_path / "x.csv")
    with pytest.raises(InputError, match="is a directory"):
        load_pairs(tmp_path)
    with pytest.raises(InputError, match="both image= and text="):
        load_pairs(image=tmp_path / "a.npy")
