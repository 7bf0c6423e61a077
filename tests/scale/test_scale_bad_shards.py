"""Every bad shard names its file and stops, or is skipped and reported: never a silent total."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from _shards import make_pairs, write_clip, write_npz, write_parquet
from click.testing import CliRunner

from gaplab.cli import main
from gaplab.metrics import measure
from gaplab.scale import BadShardError, measure_shards


def _break(kind, root, pairs):
    """Damage shard 2 of a clip-retrieval dump in one way; returns (file named, message regex)."""
    img = root / "img_emb" / "img_emb_2.npy"
    txt = root / "text_emb" / "text_emb_2.npy"
    x, y = pairs[2]
    if kind == "rows":
        np.save(txt, y[:-1])
        return txt, r"image and text differ in rows: 150 image rows vs 149 text rows"
    if kind == "dim":
        np.save(img, x[:, :6])
        np.save(txt, y[:, :6])
        return img, r"has d=6, the other shards have d=8"
    if kind == "truncated":
        data = img.read_bytes()
        img.write_bytes(data[: len(data) - 100])
        return img, r"truncated \.npy: header promises \(150, 8\) float16"
    if kind == "corrupt":
        data = bytearray(img.read_bytes())
        data[:10] = b"garbage!!!"
        img.write_bytes(bytes(data))
        return img, r"img_emb_2\.npy: not a valid \.npy file \(no NumPy header: the file starts with b'garbag'"
    if kind == "missing_text":
        txt.unlink()
        return txt, r"missing text shard for image shard .*img_emb_2\.npy"
    if kind == "missing_image":
        img.unlink()
        return img, r"missing image shard for text shard .*text_emb_2\.npy"
    if kind == "nan":
        x = x.copy()
        x[37, 5] = np.nan
        np.save(img, x)
        return img, r"image row 37, column 5 is NaN"
    if kind == "inf":
        y = y.copy()
        y[140, 0] = np.inf
        np.save(txt, y)
        return txt, r"text row 140, column 0 is inf"
    if kind == "zero_row":
        y = y.copy()
        y[3] = 0
        np.save(txt, y)
        return txt, r"text row 3 is all zeros"
    if kind == "not_float":
        np.save(img, (x * 10).astype(np.int32))
        return img, r"embeddings must be float16/32/64, got dtype int32"
    if kind == "wrong_rank":
        np.save(img, x[None])
        return img, r"expected an array of shape \(N, d\), got \(1, 150, 8\)"
    raise AssertionError(kind)


KINDS = ["rows", "dim", "truncated", "corrupt", "missing_text", "missing_image", "nan", "inf",
         "zero_row", "not_float", "wrong_rank"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_shard_stops_and_names_file(tmp_path, kind):
    pairs = make_pairs(0)
    root = write_clip(tmp_path / "dump", pairs)
    path, msg = _break(kind, root, pairs)
    with pytest.raises(BadShardError, match=msg) as e:
        measure_shards(root, sample=0, workers=2, block_rows=16)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_shard_skipped_and_reported(tmp_path, kind):
    pairs = make_pairs(0)
    root = write_clip(tmp_path / "dump", pairs)
    path, msg = _break(kind, root, pairs)
    r = measure_shards(root, sample=0, workers=2, skip_bad_shards=True, block_rows=16)
    assert len(r["skipped_shards"]) == 1
    skipped = r["skipped_shards"][0]
    assert skipped["shard"].endswith("_emb_2.npy") and str(path) in skipped["reason"]
    good = [p for i, p in enumerate(pairs) if i != 2]
    ref = measure(np.concatenate([p[0] for p in good]), np.concatenate([p[1] for p in good]),
                  include_pairwise=False)
    assert r["n"] == ref["n"] == sum(len(p[0]) for p in good)
    assert r["n_shards"] == len(good)
    assert r["l2m"] == pytest.approx(ref["l2m"], abs=1e-9)


def test_bad_shard_dask(tmp_path):
    pairs = make_pairs(0)
    root = write_clip(tmp_path / "dump", pairs)
    path, msg = _break("nan", root, pairs)
    with pytest.raises(BadShardError, match=msg):
        measure_shards(root, sample=0, workers=2, engine="dask")
    r = measure_shards(root, sample=0, workers=2, engine="dask", skip_bad_shards=True)
    assert [s["shard"] for s in r["skipped_shards"]] == ["img_emb/img_emb_2.npy"]


def test_skipped_shard_drops_its_sample_rows(tmp_path):
    pairs = make_pairs(0)
    root = write_clip(tmp_path / "dump", pairs)
    _break("nan", root, pairs)  # found while reading: its sampled rows are dropped, not replaced
    from gaplab.scale import reduce_shards

    full = reduce_shards(write_clip(tmp_path / "ok", make_pairs(0)), sample=200, seed=0)
    part = reduce_shards(root, sample=200, seed=0, skip_bad_shards=True)
    assert 0 < part.sample_x.shape[0] < full.sample_x.shape[0]


def test_bad_npz_and_parquet(tmp_path):
    pairs = make_pairs(0)
    root = write_npz(tmp_path / "npz", pairs)
    bad = root / "part-001.npz"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(BadShardError, match=r"part-001\.npz: not a valid \.npz file \(not a zip archive, or a truncated one\)"):
        measure_shards(root, sample=0)
    np.savez(bad, image=pairs[1][0], caption=pairs[1][1])
    with pytest.raises(BadShardError, match=r"part-001\.npz: no key 'text'; keys: image, caption \(choose with --image-key"):
        measure_shards(root, sample=0)
    np.savez(bad, image=pairs[1][0], text=pairs[1][1], image_index=np.arange(len(pairs[1][0])))
    with pytest.raises(BadShardError, match="needs row-paired shards"):
        measure_shards(root, sample=0)
    pq_root = write_parquet(tmp_path / "pq", [(x.astype(np.float32), y.astype(np.float32)) for x, y in pairs])
    (pq_root / "shard_3.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(BadShardError, match=r"shard_3\.parquet: not a valid \.parquet file \(ArrowInvalid"):
        measure_shards(pq_root, sample=0)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"image": [[1.0, 2.0]], "caption": [[1.0, 2.0]]}), pq_root / "shard_3.parquet")
    with pytest.raises(BadShardError, match=r"shard_3\.parquet: no key 'text'; keys: image, caption \(choose with"):
        measure_shards(pq_root, sample=0)


def test_no_usable_shards(tmp_path):
    pairs = make_pairs(0, sizes=[10])
    root = write_clip(tmp_path / "dump", pairs)
    (root / "text_emb" / "text_emb_0.npy").unlink()
    with pytest.raises(Exception, match="no usable shards"):
        measure_shards(root, sample=0, skip_bad_shards=True)


# ---- CLI ---------------------------------------------------------------------------------


def test_cli_bad_shard_exit_2(tmp_path):
    pairs = make_pairs(0)
    root = write_clip(tmp_path / "dump", pairs)
    path, _ = _break("rows", root, pairs)
    res = CliRunner().invoke(main, ["measure", str(root), "--fast", "--json"])
    assert res.exit_code == 2
    assert res.stderr.startswith("gaplab: error: ") and str(path) in res.stderr


def test_cli_skip_bad_shards_json(tmp_path):
    pairs = make_pairs(0)
    root = write_clip(tmp_path / "dump", pairs)
    path, _ = _break("truncated", root, pairs)
    res = CliRunner().invoke(main, ["measure", str(root), "--fast", "--json", "--skip-bad-shards"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_shards"] == 4 and len(out["skipped_shards"]) == 1
    assert str(path) in out["skipped_shards"][0]["reason"]


def test_cli_corrupt_zip_is_named(tmp_path):
    root = write_npz(tmp_path / "npz", make_pairs(0))
    with zipfile.ZipFile(root / "part-004.npz", "w") as zf:
        zf.writestr("image.npy", b"\x93NUMPY nonsense")
        zf.writestr("text.npy", b"\x93NUMPY nonsense")
    res = CliRunner().invoke(main, ["measure", str(root), "--fast"])
    assert res.exit_code == 2 and "part-004.npz" in res.stderr


# ---- parquet shards: every row's length is checked, nulls and non-numeric columns named --


def _parquet_dump(tmp_path, change):
    """A parquet dump whose shard 2 (150 rows, d = 8) gets ``change(image_rows, text_rows)``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pairs = [(x.astype(np.float32), y.astype(np.float32)) for x, y in make_pairs(0)]
    root = write_parquet(tmp_path / "pq", pairs)
    x, y = pairs[2]
    image, text = [list(map(float, r)) for r in x], [list(map(float, r)) for r in y]
    change(image, text)
    path = root / "shard_2.parquet"
    pq.write_table(pa.table({"image": image, "text": text}), path, row_group_size=50)
    return root, path, pairs


def _zigzag(image, text):
    """Rows 60.. alternate 7 and 9 values: row 0 and the total (N·d) look right, 90 rows don't."""
    for i in range(60, 150, 2):
        image[i + 1] = image[i + 1] + image[i][-1:]
        image[i] = image[i][:-1]


def test_ragged_parquet_rows_stop_and_name_the_row(tmp_path):
    root, path, _ = _parquet_dump(tmp_path, _zigzag)
    msg = r"shard_2\.parquet: column 'image' has rows of different lengths: row 60 has 7 values, row 0 has 8$"
    with pytest.raises(BadShardError, match=msg) as e:
        measure_shards(root, sample=0, workers=2)
    assert str(path) in str(e.value)


def test_ragged_rows_numbered_across_record_batches(tmp_path):
    from gaplab.scale import discover_shards, iter_blocks, read_header

    _, path, _ = _parquet_dump(tmp_path, _zigzag)
    (shard,) = discover_shards(path)
    header = read_header(shard)
    blocks = iter_blocks(shard, header, block_rows=25)  # rows 50..74 are the third batch
    assert next(blocks)[0].shape == (25, 8) and next(blocks)[0].shape == (25, 8)
    with pytest.raises(BadShardError, match="row 60 has 7 values, row 0 has 8"):
        list(blocks)


def test_ragged_parquet_shard_skipped(tmp_path):
    root, _, pairs = _parquet_dump(tmp_path, _zigzag)
    r = measure_shards(root, sample=0, workers=2, skip_bad_shards=True)
    assert [s["shard"] for s in r["skipped_shards"]] == ["shard_2.parquet"]
    good = [p for i, p in enumerate(pairs) if i != 2]
    assert r["n"] == sum(len(p[0]) for p in good)


@pytest.mark.parametrize("row,where", [(0, "headers"), (77, "rows")])
def test_null_parquet_row(tmp_path, row, where):
    def null(image, text):
        text[row] = None

    root, path, _ = _parquet_dump(tmp_path, null)
    with pytest.raises(BadShardError, match=rf"shard_2\.parquet: column 'text' row {row} is null"):
        measure_shards(root, sample=0)


def _strings(image, text):
    for i, r in enumerate(image):
        image[i] = [f"{v:.3f}" for v in r]


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_string_list_column(tmp_path, engine):
    root, path, pairs = _parquet_dump(tmp_path, _strings)
    msg = r"shard_2\.parquet: column 'image' is not a list-of-floats embedding column \(list<element: string>\)"
    with pytest.raises(BadShardError, match=msg):
        measure_shards(root, sample=0, workers=2, engine=engine)
    r = measure_shards(root, sample=0, workers=2, engine=engine, skip_bad_shards=True)
    assert [s["shard"] for s in r["skipped_shards"]] == ["shard_2.parquet"]
    assert r["n_shards"] == len(pairs) - 1


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_cli_string_list_column(tmp_path, engine):
    root, path, _ = _parquet_dump(tmp_path, _strings)
    args = ["measure", str(root), "--fast", "--engine", engine, "--workers", "2"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"gaplab: error: {path}: column 'image'")
    res = CliRunner().invoke(main, [*args, "--json", "--skip-bad-shards"])
    assert res.exit_code == 0, res.output
    assert [s["shard"] for s in json.loads(res.stdout)["skipped_shards"]] == ["shard_2.parquet"]


def _stderr_of_cli(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "gaplab.cli", "measure", *map(str, args)],
                          capture_output=True, text=True, timeout=180)


def test_dask_strict_prints_one_line_only(tmp_path):
    # a bad shard found while reading (not in its headers) stops the Dask run; the
    # scheduler used to log two AssertionError tracebacks from client.cancel() first
    root, path, _ = _parquet_dump(tmp_path, _zigzag)
    r = _stderr_of_cli(root, "--fast", "--engine", "dask", "--workers", "2")
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"gaplab: error: {path}: column 'image' has rows of different lengths: row 60 has 7 " \
                       "values, row 0 has 8\n"
    r = _stderr_of_cli(root, "--fast", "--engine", "dask", "--workers", "2", "--skip-bad-shards", "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert json.loads(r.stdout)["skipped_shards"][0]["shard"] == "shard_2.parquet"


def test_empty_npz_shard_holds_no_arrays(tmp_path):
    root = write_npz(tmp_path / "npz", make_pairs(0))
    np.savez(root / "part-002.npz")
    with pytest.raises(BadShardError, match=r"part-002\.npz: holds no arrays \(an empty \.npz file\)"):
        measure_shards(root, sample=0)


def test_text_file_named_npy_shard(tmp_path):
    root = write_npz(tmp_path / "npz", make_pairs(0, sizes=[10, 10]))
    (root / "part-009.npy").write_text("not numpy\n")
    with pytest.raises(BadShardError, match=r"part-009\.npy: not a valid \.npy file \(no NumPy header") as e:
        measure_shards(root, sample=0)
    assert "pickle" not in str(e.value)
