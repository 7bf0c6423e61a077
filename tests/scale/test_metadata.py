"""clip-retrieval metadata: gaplab.io.load_metadata and the shard reader's read_metadata."""

from __future__ import annotations

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from gaplab import InputError  # noqa: E402
from gaplab.io import Metadata, load_metadata  # noqa: E402
from gaplab.scale.sources import BadShardError, discover_shards, read_header, read_metadata  # noqa: E402


def _dump(root, sizes=(3, 12, 2), *, pad=4, columns=("key", "caption", "url")):
    """A clip-retrieval dump as clip-retrieval writes it: zero-padded K, one metadata file per shard."""
    rng = np.random.default_rng(0)
    for sub in ("img_emb", "text_emb", "metadata"):
        (root / sub).mkdir(parents=True)
    start = 0
    for k, n in enumerate(sizes):
        tag = str(k).zfill(pad)
        np.save(root / "img_emb" / f"img_emb_{tag}.npy", rng.normal(size=(n, 4)).astype(np.float16))
        np.save(root / "text_emb" / f"text_emb_{tag}.npy", rng.normal(size=(n, 4)).astype(np.float16))
        rows = range(start, start + n)
        cols = {"key": [f"{i:09d}" for i in rows], "caption": [f"caption {i}" for i in rows],
                "url": [f"http://example.org/{i}.jpg" for i in rows], "width": list(rows)}
        pq.write_table(pa.table({c: cols[c] for c in (*columns, "width")}), root / "metadata" / f"metadata_{tag}.parquet")
        start += n
    return root


def test_rows_follow_the_shard_order_of_discover_shards(tmp_path):
    root = _dump(tmp_path / "d", sizes=(3, 12, 2))
    # 12 rows in shard 1 and natural order (0, 1, 2 — never "0001" after "0010")
    m = load_metadata(root)
    assert len(m) == 17
    assert m.columns["caption"] == [f"caption {i}" for i in range(17)]
    assert list(m.columns) == ["key", "caption", "url"]  # the default columns present, width dropped
    assert [n for _, n in m.shards] == [3, 12, 2]
    # the same order the scale engine reads the pairs in
    names = [s.name for s in discover_shards(root)]
    assert names == [f"img_emb/img_emb_{k:04d}.npy" for k in range(3)]


def test_all_columns_and_describe(tmp_path):
    m = load_metadata(_dump(tmp_path / "d"), columns=None)
    assert set(m.columns) == {"key", "caption", "url", "width"}
    assert m.row(4)["width"] == 4
    assert m.describe(4) == '#4 key=000000004 "caption 4" <http://example.org/4.jpg>'
    assert m.describe(4, width=5).count("…") == 1
    with pytest.raises(InputError, match="out of range for 17 rows"):
        m.row(17)


def test_a_column_missing_from_some_files_is_none_there(tmp_path):
    root = _dump(tmp_path / "d", sizes=(2, 2))
    pq.write_table(pa.table({"caption": ["x", "y"]}), root / "metadata" / "metadata_0000.parquet")
    m = load_metadata(root)
    assert m.columns["caption"] == ["x", "y", "caption 2", "caption 3"]
    assert m.columns["url"][:2] == [None, None] and m.columns["url"][2] == "http://example.org/2.jpg"


def test_shard_reader_finds_zero_padded_metadata(tmp_path):
    root = _dump(tmp_path / "d")
    shards = discover_shards(root)
    assert all(s.metadata is not None for s in shards)  # metadata_0001.parquet for img_emb_0001.npy
    s = shards[1]
    got = read_metadata(s, read_header(s))
    assert got is not None and got["caption"][0] == "caption 3" and len(got["key"]) == 12


def test_unpadded_layout_still_works(clip_dir):
    shards = discover_shards(clip_dir)
    assert read_metadata(shards[0])["caption"][:2] == ["c0", "c1"]
    m = load_metadata(clip_dir)
    n = sum(read_header(s).n for s in shards)
    assert len(m) == n


def test_pair_shards_have_no_metadata(tmp_path):
    p = tmp_path / "p"
    p.mkdir()
    np.savez(p / "a.npz", image=np.ones((3, 2)), text=np.ones((3, 2)))
    (s,) = discover_shards(p)
    assert read_metadata(s) is None


def test_wrong_row_count_is_named(tmp_path):
    root = _dump(tmp_path / "d", sizes=(3, 4))
    bad = root / "metadata" / "metadata_0001.parquet"
    pq.write_table(pa.table({"caption": ["only one"]}), bad)
    with pytest.raises(InputError, match=r"metadata_0001\.parquet: 1 metadata rows for a shard of 4 pairs"):
        load_metadata(root)
    s = discover_shards(root)[1]
    with pytest.raises(BadShardError, match=r"metadata_0001\.parquet: 1 metadata rows"):
        read_metadata(s, read_header(s))


def test_missing_metadata_file_is_named(tmp_path):
    root = _dump(tmp_path / "d", sizes=(3, 4))
    (root / "metadata" / "metadata_0001.parquet").unlink()
    with pytest.raises(InputError, match=r"no metadata file for shard 1 \(expected metadata_1\.parquet beside img_emb_0001\.npy\)"):
        load_metadata(root)


def test_no_metadata_folder(tmp_path):
    root = _dump(tmp_path / "d")
    for f in (root / "metadata").iterdir():
        f.unlink()
    with pytest.raises(InputError, match="no metadata/metadata_K.parquet files"):
        load_metadata(root)
    with pytest.raises(InputError, match="no such folder"):
        load_metadata(tmp_path / "nope")


def test_corrupt_metadata_is_one_error(tmp_path):
    root = _dump(tmp_path / "d", sizes=(3,))
    (root / "metadata" / "metadata_0000.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"metadata_0000\.parquet"):
        load_metadata(root)


def test_metadata_is_a_small_table():
    m = Metadata({"caption": ["a", None]})
    assert len(m) == 2 and m.describe(1) == "#1"
