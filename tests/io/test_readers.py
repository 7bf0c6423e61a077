"""Reader round-trips for every format, and every bad file."""

from __future__ import annotations

import json

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
    with pytest.raises(InputError, match=r"junk\.npy: not a valid \.npy file \(no NumPy header"):
        load_pairs(tmp_path / "junk.npy")
    np.save(tmp_path / "t.npy", np.stack([X, Y]))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"trunc\.npy: truncated \.npy: header promises \(2, 12, 5\) float32"):
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


# ---- parquet list columns: every row's length is checked -------------------------------


def _ragged_parquet(path, lengths=(15, 17), rows=(3, 4), d=16, n=40, nulls=()):
    """An image column of n rows of d floats, except ``rows`` of ``lengths`` (total kept at n·d)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    r = np.random.default_rng(1)
    x = r.normal(size=(n, d)).astype(np.float32) + 1
    image = [list(map(float, v)) for v in x]
    for i, length in zip(rows, lengths, strict=True):
        image[i] = (image[i] + [0.5] * d)[:length]
    for i in nulls:
        image[i] = None
    pq.write_table(pa.table({"image": image, "text": list(r.normal(size=(n, d)).astype(np.float32))}), path)
    return path


def test_parquet_ragged_rows_are_named_not_reflowed(tmp_path):
    # rows of 15 and 17 values sum to 2·16: the old decoder reshaped them into (40, 16) and
    # measured shifted rows; now the file, column and first bad row are named
    p = _ragged_parquet(tmp_path / "rag.parquet")
    with pytest.raises(InputError, match=r"rag\.parquet: column 'image' has rows of different lengths: "
                                         r"row 3 has 15 values, row 0 has 16$"):
        load_pairs(p)
    p = _ragged_parquet(tmp_path / "null.parquet", lengths=(), rows=(), nulls=(7,))
    with pytest.raises(InputError, match=r"null\.parquet: column 'image' row 7 is null"):
        load_pairs(p)


def test_parquet_null_value_and_non_numeric_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    img = [[1.0, 2.0], [3.0, None], [5.0, 6.0]]
    pq.write_table(pa.table({"image": img, "text": [[1.0, 2.0]] * 3}), tmp_path / "v.parquet")
    with pytest.raises(InputError, match=r"v\.parquet: column 'image' row 1 holds a null value"):
        load_pairs(tmp_path / "v.parquet")
    pq.write_table(pa.table({"image": [["1", "2"]] * 3, "text": [[1.0, 2.0]] * 3}), tmp_path / "s.parquet")
    with pytest.raises(InputError, match=r"s\.parquet: column 'image' is not a list-of-floats embedding "
                                         r"column \(list<element: string>\)"):
        load_pairs(tmp_path / "s.parquet")
    pq.write_table(pa.table({"image": [1.0, 2.0, 3.0], "text": [[1.0, 2.0]] * 3}), tmp_path / "f.parquet")
    with pytest.raises(InputError, match=r"column 'image' is not a list-of-floats embedding column \(double\)"):
        load_pairs(tmp_path / "f.parquet")


def test_parquet_chunks_halffloat_and_ragged_extras(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    x16 = X.astype(np.float16)
    table = pa.table({"image": pa.FixedSizeListArray.from_arrays(pa.array(x16.ravel()), 5),
                      "text": list(Y), "tags": [["a"] * (i % 3) for i in range(12)]})
    pq.write_table(table, tmp_path / "h.parquet", row_group_size=5)  # 3 chunks
    p = load_pairs(tmp_path / "h.parquet")
    assert p.image.dtype == np.float16
    _same(p, x16, Y)
    assert p.meta["tags"][2] == ["a", "a"]  # ragged extras stay lists instead of crashing numpy


def test_same_decoder_and_wording_for_files_and_shards(tmp_path):
    from gaplab.scale import BadShardError, measure_shards

    d = tmp_path / "shards"
    d.mkdir()
    _ragged_parquet(d / "s0.parquet", lengths=(), rows=())
    _ragged_parquet(d / "s1.parquet", rows=(30, 31))
    with pytest.raises(InputError) as one:
        load_pairs(d / "s1.parquet")
    with pytest.raises(BadShardError) as many:
        measure_shards(d, sample=0, block_rows=8)
    assert str(many.value) == str(one.value).replace(str(d / "s1.parquet"), str((d / "s1.parquet").absolute()))
    assert "row 30 has 15 values, row 0 has 16" in str(many.value)


# ---- messages for files that are not what their suffix says ----------------------------

UNSAFE = ("allow_pickle", "pickle", "weights_only", "trusted", "arbitrary code")


def _safe_one_line(msg):
    assert "\n" not in msg, msg
    assert not any(u in msg for u in UNSAFE), msg


@pytest.mark.parametrize("suffix,needle", [
    (".npy", r"not a valid \.npy file \(no NumPy header: the file starts with b'hello,'"),
    (".npz", r"not a valid \.npz file \(not a zip archive, or a truncated one\)"),
    (".pt", r"not a valid \.pt file \(not a file written by torch\.save\)"),
    (".safetensors", r"not a valid \.safetensors file \(SafetensorError: Error while deserializing header"),
    (".parquet", r"not a valid \.parquet file \(ArrowInvalid: .*magic bytes not found"),
])
def test_text_file_with_a_data_suffix(tmp_path, suffix, needle):
    if suffix == ".pt":
        pytest.importorskip("torch")
    p = tmp_path / f"notes{suffix}"
    p.write_text("hello, this is a text file\n" * 4)
    with pytest.raises(InputError, match=needle) as e:
        load_pairs(p)
    assert str(e.value).startswith(str(p))
    _safe_one_line(str(e.value))


def test_npy_of_python_objects_is_refused_without_advice(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match=r"o\.npy: not a valid \.npy file \(it holds Python objects") as e:
        load_pairs(tmp_path / "o.npy")
    _safe_one_line(str(e.value))
    np.savez(tmp_path / "o.npz", image=X, text=np.array([None] * 12, dtype=object))
    with pytest.raises(InputError, match=r"o\.npz: array 'text': not a valid \.npy file \(it holds Python") as e:
        load_pairs(tmp_path / "o.npz")
    _safe_one_line(str(e.value))


def test_empty_npz_holds_no_arrays(tmp_path):
    np.savez(tmp_path / "e.npz")
    with pytest.raises(InputError, match=r"e\.npz: holds no arrays \(an empty \.npz file\)"):
        load_pairs(tmp_path / "e.npz")
    with pytest.raises(InputError, match="holds no arrays"):
        load_embeddings(tmp_path / "e.npz")


def test_corrupt_npz_members(tmp_path):
    np.savez(tmp_path / "p.npz", image=X, text=Y)
    data = bytearray((tmp_path / "p.npz").read_bytes())
    data[200] ^= 0xFF  # inside image.npy's data: the zip CRC catches it
    (tmp_path / "f.npz").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"f\.npz: not a valid \.npz file \(array 'image': BadZipFile: Bad CRC"):
        load_pairs(tmp_path / "f.npz")
    (tmp_path / "t.npz").write_bytes(bytes(data[: len(data) - 30]))
    with pytest.raises(InputError, match=r"t\.npz: not a valid \.npz file \(not a zip archive, or a truncated"):
        load_pairs(tmp_path / "t.npz")


def test_corrupt_pt_is_one_safe_line(tmp_path):
    torch = pytest.importorskip("torch")
    import pickle

    torch.save({"image": torch.from_numpy(X), "text": torch.from_numpy(Y)}, tmp_path / "p.pt")
    data = (tmp_path / "p.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"t\.pt: not a valid \.pt file \(RuntimeError: PytorchStreamReader "
                                         r"failed reading zip archive: failed finding central directory\)$") as e:
        load_pairs(tmp_path / "t.pt")
    _safe_one_line(str(e.value))
    (tmp_path / "raw.pt").write_bytes(pickle.dumps({"image": X, "text": Y}))  # a plain pickle
    with pytest.raises(InputError, match=r"raw\.pt: not a valid \.pt file \(not a file written by torch\.save\)") as e:
        load_pairs(tmp_path / "raw.pt")
    _safe_one_line(str(e.value))
    torch.save({"image": X, "text": Y}, tmp_path / "np.pt")  # numpy arrays: needs unpickling numpy
    with pytest.raises(InputError, match=r"np\.pt: not a valid \.pt file \(it stores Python objects other than "
                                         r"tensors.*gaplab reads tensors only") as e:
        load_pairs(tmp_path / "np.pt")
    _safe_one_line(str(e.value))


def test_bf16_safetensors_and_pt_read_as_float32(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    x = torch.from_numpy(X).bfloat16()
    y = torch.from_numpy(Y).bfloat16()
    st.save_file({"image": x, "text": y}, str(tmp_path / "b.safetensors"))
    torch.save({"image": x, "text": y}, tmp_path / "b.pt")
    want = (x.float().numpy(), y.float().numpy())
    for name in ("b.safetensors", "b.pt"):
        p = load_pairs(tmp_path / name)
        assert p.image.dtype == np.float32 and p.text.dtype == np.float32
        _same(p, *want)


def test_bf16_bits_decoder_is_exact():
    from gaplab.io._formats import bf16_bits_to_float32

    f = np.array([1.0, -2.5, 3.140625, 0.0, -0.0, np.inf, -np.inf, 1e-40, 3.0e38, 65504.0], dtype=np.float32)
    f = (f.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)  # round to bfloat16 (truncate)
    bits = (f.view(np.uint32) >> 16).astype(np.uint16)
    np.testing.assert_array_equal(bf16_bits_to_float32(bits), f)
    np.testing.assert_array_equal(bf16_bits_to_float32(bits.view(np.int16)), f)
    assert np.isnan(bf16_bits_to_float32(np.array([0x7FC0], dtype=np.uint16)))[0]


def test_unsupported_safetensors_dtype(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    if not hasattr(torch, "float8_e4m3fn"):
        pytest.skip("torch without float8")
    st.save_file({"image": torch.zeros(3, 2, dtype=torch.float8_e4m3fn), "text": torch.zeros(3, 2)},
                 str(tmp_path / "f8.safetensors"))
    with pytest.raises(InputError, match=r"f8\.safetensors: tensor 'image' has dtype F8_E4M3, which gaplab "
                                         r"cannot read; expected F16, BF16, F32 or F64"):
        load_pairs(tmp_path / "f8.safetensors")


# ---- the Python API: not a path, ragged lists ------------------------------------------


@pytest.mark.parametrize("value,got", [(123, "int 123"), (None, None), (X, "ndarray"), ([[1.0, 2.0], [3.0]], "list")])
def test_load_pairs_needs_a_path(value, got):
    if value is None:
        with pytest.raises(InputError, match="give a pairs file, or both image= and text= files"):
            load_pairs(value)
        return
    with pytest.raises(InputError, match=rf"load_pairs: path must be a file path \(str or os\.PathLike\), got {got}"):
        load_pairs(value)
    with pytest.raises(InputError, match="load_pairs: image must be a file path"):
        load_pairs(image=value, text="b.npy")
    with pytest.raises(InputError, match="load_embeddings: path must be a file path"):
        load_embeddings(value)


def test_save_pairs_refuses_ragged_and_object_arrays(tmp_path):
    ragged = [[1.0, 2.0], [3.0]]
    with pytest.raises(InputError, match=r"save_pairs: image: rows of different lengths \(a ragged nested list\)"):
        save_pairs(tmp_path / "r.npz", ragged, [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(InputError, match=r"save_pairs: text: rows of different lengths"):
        save_pairs(tmp_path / "r.npz", X, [list(v) for v in Y[:-1]] + [[1.0]])
    with pytest.raises(InputError, match=r"save_pairs: labels: rows of different lengths"):
        save_pairs(tmp_path / "r.npz", X, Y, labels=[[1], [2, 3]])
    with pytest.raises(InputError, match=r"save_pairs: meta: holds Python objects \(dtype object\)"):
        save_pairs(tmp_path / "r.npz", X, Y, meta={"a": 1})
    with pytest.raises(InputError, match="save_pairs: path must be a file path"):
        save_pairs(42, X, Y)
    assert not (tmp_path / "r.npz").exists()


# ---- the CLI: one line, exit 2 ---------------------------------------------------------


@pytest.mark.parametrize("make,needle", [
    ("text_npy", "not a valid .npy file (no NumPy header"),
    ("text_npz", "not a valid .npz file (not a zip archive"),
    ("ragged_parquet", "column 'image' has rows of different lengths: row 3 has 15 values, row 0 has 16"),
    ("numpy_in_pt", "not a valid .pt file (it stores Python objects other than tensors"),
    ("truncated_pt", "not a valid .pt file (RuntimeError: PytorchStreamReader failed reading zip archive"),
    ("empty_npz", "holds no arrays (an empty .npz file)"),
    ("bf16_safetensors", None),
])
def test_cli_unreadable_file_is_one_line(tmp_path, make, needle):
    from click.testing import CliRunner

    from gaplab.cli import main

    p = tmp_path / "a.npz"
    if make == "text_npy":
        p = tmp_path / "a.npy"
        p.write_text("x" * 100)
    elif make == "text_npz":
        p.write_text("x" * 100)
    elif make == "ragged_parquet":
        p = _ragged_parquet(tmp_path / "a.parquet")
    elif make.endswith("_pt"):
        torch = pytest.importorskip("torch")
        p = tmp_path / "a.pt"
        if make == "numpy_in_pt":  # torch.load(weights_only=True) refuses: torch's text says to drop it
            torch.save({"image": X, "text": Y}, p)
        else:
            torch.save({"image": torch.zeros(3, 2)}, tmp_path / "ok.pt")
            p.write_bytes((tmp_path / "ok.pt").read_bytes()[:300])
    elif make == "empty_npz":
        np.savez(p)
    else:
        torch = pytest.importorskip("torch")
        st = pytest.importorskip("safetensors.torch")
        p = tmp_path / "a.safetensors"
        st.save_file({"image": torch.from_numpy(X).bfloat16(), "text": torch.from_numpy(Y).bfloat16()}, str(p))
    res = CliRunner().invoke(main, ["measure", str(p), "--fast", "--json"])
    if needle is None:  # readable after all: bf16 is upcast to float32
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["n"] == 12
        return
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"gaplab: error: {p}: "), res.stderr
    assert needle in res.stderr
    _safe_one_line(res.stderr.strip())
    assert "Traceback" not in res.output


def test_npz_with_a_damaged_zip_directory(tmp_path):
    np.savez(tmp_path / "p.npz", image=X, text=Y)
    data = bytearray((tmp_path / "p.npz").read_bytes())
    end = data.rfind(b"PK\x01\x02")  # the last central-directory entry: claim zip version 17.8
    data[end + 6] = 178
    (tmp_path / "v.npz").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"v\.npz: not a valid \.npz file \(NotImplementedError: zip file version"):
        load_pairs(tmp_path / "v.npz")


def test_pt_whose_zip_claims_several_disks(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.from_numpy(np.stack([X, Y])), tmp_path / "p.pt")
    data = bytearray((tmp_path / "p.pt").read_bytes())
    locator = data.rfind(b"PK\x06\x07")  # zip64 end-of-directory locator: "2 disks"
    data[locator + 16] = 2  # zipfile.is_zipfile raises BadZipFile here instead of saying no
    (tmp_path / "d.pt").write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"d\.pt: not a valid \.pt file \(RuntimeError: PytorchStreamReader "
                                         r"failed reading zip archive: unsupported multidisk archive\)$") as e:
        load_pairs(tmp_path / "d.pt")
    _safe_one_line(str(e.value))


def test_reasons_from_other_libraries_never_carry_unsafe_advice():
    from gaplab.io._formats import not_valid

    numpy_text = ValueError("This file contains pickled (object) data. If you trust the file you can load it "
                            "unsafely using the `allow_pickle=` keyword argument or `pickle.load()`.")
    torch_text = RuntimeError("Weights only load failed. Re-running `torch.load` with `weights_only` set to "
                              "`False` will likely succeed\nbut it can result in arbitrary code execution.")
    assert not_valid("f.npy", ".npy", numpy_text) == \
        "f.npy: not a valid .npy file (ValueError: the file is not a plain array file)"
    assert not_valid("f.pt", ".pt", torch_text) == "f.pt: not a valid .pt file (RuntimeError: Weights only load failed)"


def test_one_format_table_for_files_and_shards():
    from gaplab.io import FORMATS, SHARD_SUFFIXES

    assert list(FORMATS) == [".npy", ".npz", ".pt", ".pth", ".safetensors", ".parquet"]
    assert SHARD_SUFFIXES == (".npy", ".npz", ".parquet")
    assert all(f.suffix == s and callable(f.read) for s, f in FORMATS.items())
    assert all((f.header is None) == (f.blocks is None) for f in FORMATS.values())


def test_missing_key_has_one_wording_in_files_and_shards(tmp_path):
    from gaplab.scale import BadShardError, discover_shards, read_header

    np.savez(tmp_path / "k.npz", image=X, caption=Y)
    want = r"k\.npz: no key 'text'; keys: image, caption \(choose with --image-key/--text-key\)"
    with pytest.raises(InputError, match=want):
        load_pairs(tmp_path / "k.npz")
    (shard,) = discover_shards(tmp_path / "k.npz")
    with pytest.raises(BadShardError, match=want):
        read_header(shard)
    with pytest.raises(InputError, match=r"k\.npz: no key 'txt'; keys: image, caption$"):
        load_embeddings(tmp_path / "k.npz", key="txt")


def test_is_shard_source(tmp_path):
    from gaplab.io import is_shard_source

    np.savez(tmp_path / "part-[0].npz", image=X, text=Y)
    assert is_shard_source(tmp_path)  # a directory
    assert is_shard_source(tmp_path / "part-*.npz")  # a glob
    assert not is_shard_source(tmp_path / "part-[0].npz")  # an existing file, brackets and all
    assert not is_shard_source(tmp_path / "missing.npz")  # load_pairs says it does not exist
