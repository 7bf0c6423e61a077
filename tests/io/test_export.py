"""gaplab.io.export: CLIP_benchmark JSON and the embedding-viewer parquet (and its CLI)."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab import InputError, measure
from gaplab.cli import main
from gaplab.io import clip_benchmark_json, export_viewer, save_pairs, viewer_table
from gaplab.metrics import retrieval_recall


def _pairs(n=40, d=6, seed=0, gap=2.0):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    c = np.zeros(d)
    c[0] = gap
    return z + c + 0.2 * rng.normal(size=(n, d)), z - c + 0.2 * rng.normal(size=(n, d))


# ---- CLIP_benchmark -----------------------------------------------------------------------


def _naive_clip_benchmark(x, y, k, image_index=None):
    """CLIP_benchmark's definitions, written out: image_retrieval = a text queries the images."""
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    idx = np.arange(len(y)) if image_index is None else np.asarray(image_index)
    scores = y @ x.T  # texts × images, as in clip_benchmark/metrics/zeroshot_retrieval.py
    top_images = np.argsort(-scores, axis=1)[:, :k]
    image_retrieval = np.mean([idx[t] in top_images[t] for t in range(len(y))])
    top_texts = np.argsort(-scores.T, axis=1)[:, :k]
    text_retrieval = np.mean([np.any(idx[top_texts[i]] == i) for i in range(len(x))])
    return image_retrieval, text_retrieval


@pytest.mark.parametrize("many", [False, True])
def test_clip_benchmark_keys_match_their_definitions(many):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 8))
    y = x + 1.5 * rng.normal(size=(30, 8))  # noisy pairs: the two directions differ
    idx = None
    if many:  # 2 captions per image, as COCO's 5
        idx = np.repeat(np.arange(15), 2)
        x = x[:15]
    r = retrieval_recall(x, y, ks=(1, 5), image_index=idx)
    out = clip_benchmark_json(r, dataset="mscoco_captions", model="ViT-B-32", pretrained="openai")
    assert set(out) == {"dataset", "model", "pretrained", "task", "metrics", "language"}
    assert out["task"] == "zeroshot_retrieval" and out["language"] == "en"
    differ = False
    for k in (1, 5):
        ir, tr = _naive_clip_benchmark(x, y, k, idx)
        assert out["metrics"][f"image_retrieval_recall@{k}"] == pytest.approx(ir)
        assert out["metrics"][f"text_retrieval_recall@{k}"] == pytest.approx(tr)
        differ |= ir != tr
    assert differ  # the two directions differ on this data, so a swapped mapping fails above
    json.dumps(out)


def test_clip_benchmark_from_measure_carries_the_gap_separately():
    x, y = _pairs()
    res = measure(x, y)
    out = clip_benchmark_json(res, dataset="d", model="m", pretrained="p", language="fr")
    assert sorted(out["metrics"]) == sorted(
        f"{kind}_retrieval_recall@{k}" for kind in ("image", "text") for k in (1, 5, 10))
    assert out["metrics"]["text_retrieval_recall@5"] == res["i2t_r5"]
    assert out["metrics"]["image_retrieval_recall@5"] == res["t2i_r5"]
    assert out["gaplab"]["l2m"] == res["l2m"] and out["gaplab"]["rmg"] == res["rmg"]
    assert out["language"] == "fr"
    assert "gaplab" not in clip_benchmark_json(res, dataset="d", model="m", pretrained="p", include_gap=False)
    # round-trips through the JSON `gaplab measure --json` prints
    again = clip_benchmark_json(json.loads(json.dumps(res, default=float)), dataset="d", model="m", pretrained="p",
                                language="fr")
    assert again["metrics"] == out["metrics"]


def test_clip_benchmark_errors():
    x, y = _pairs()
    fast = measure(x, y, include_pairwise=False)
    with pytest.raises(InputError, match=r"^clip_benchmark_json: result has no retrieval recalls"):
        clip_benchmark_json(fast, dataset="d", model="m", pretrained="p")
    with pytest.raises(InputError, match=r"i2t_r1 must be a recall in \[0, 1\], got 1.5"):
        clip_benchmark_json({"i2t_r1": 1.5}, dataset="d", model="m", pretrained="p")
    with pytest.raises(InputError, match="model must be a non-empty string"):
        clip_benchmark_json({"i2t_r1": 0.5}, dataset="d", model="", pretrained="p")
    with pytest.raises(InputError, match="result must be a dict"):
        clip_benchmark_json([0.5], dataset="d", model="m", pretrained="p")  # type: ignore[arg-type]


# ---- embedding viewer ----------------------------------------------------------------------


def test_viewer_table_pca_separates_the_modalities():
    x, y = _pairs(50, 6, gap=3.0)
    t = viewer_table(x, y)
    assert list(t) == ["x", "y", "modality", "pair_id", "index", "caption"]
    assert len(t["x"]) == 100 and t["x"].dtype == np.float32
    assert (t["modality"][:50] == "image").all() and (t["modality"][50:] == "text").all()
    assert t["pair_id"].tolist() == list(range(50)) * 2
    # PC1 carries the gap: the two clouds sit on opposite sides
    assert np.sign(t["x"][:50].mean()) == -np.sign(t["x"][50:].mean())
    assert all(c is None for c in t["caption"])
    # PCA of the normalised joint set, checked against sklearn up to sign
    from sklearn.decomposition import PCA

    joint = np.vstack([x, y])
    joint /= np.linalg.norm(joint, axis=1, keepdims=True)
    ref = PCA(n_components=2).fit_transform(joint)
    for j, col in enumerate(("x", "y")):
        assert abs(np.corrcoef(ref[:, j], t[col])[0, 1]) == pytest.approx(1.0, abs=1e-5)
    again = viewer_table(x, y)
    np.testing.assert_array_equal(again["x"], t["x"])  # deterministic signs


def test_viewer_table_many_captions_per_image():
    x, y = _pairs(12, 4)
    idx = np.repeat(np.arange(6), 2)
    caps = [f"cap {k}" for k in range(12)]
    t = viewer_table(x[:6], y, image_index=idx, captions=caps)
    assert t["pair_id"].tolist() == list(range(6)) + idx.tolist()
    assert list(t["caption"][:6]) == [f"cap {2 * i}" for i in range(6)]  # an image shows its first caption
    assert list(t["caption"][6:]) == caps


def test_viewer_table_errors():
    x, y = _pairs(10, 4)
    with pytest.raises(InputError, match=r"^export-viewer: method must be one of pca, umap, got 'tsne'$"):
        viewer_table(x, y, method="tsne")
    with pytest.raises(InputError, match="3 captions for 10 text rows"):
        viewer_table(x, y, captions=["a", "b", "c"])
    with pytest.raises(InputError, match="export-viewer"):
        viewer_table(x, y[:9])
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError):
        viewer_table(bad, y)


def test_umap_missing_is_one_line(monkeypatch):
    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap":
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    x, y = _pairs(10, 4)
    with pytest.raises(InputError, match=r"^export-viewer: --method umap needs umap-learn: pip install 'gaplab\[umap\]'$"):
        viewer_table(x, y, method="umap")


def test_export_viewer_writes_a_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    x, y = _pairs(20, 5)
    p = export_viewer(tmp_path / "v.parquet", x, y, captions=[f"c{i}" for i in range(20)])
    table = pq.read_table(p)
    assert table.column_names == ["x", "y", "modality", "pair_id", "index", "caption"]
    assert table.num_rows == 40
    assert table.column("caption").to_pylist()[20:] == [f"c{i}" for i in range(20)]
    assert str(table.schema.field("x").type) == "float"
    with pytest.raises(InputError, match="must end in .parquet"):
        export_viewer(tmp_path / "v.csv", x, y)


def test_cli_export_viewer_reads_captions_from_an_embed_file(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    x, y = _pairs(15, 4)
    src = save_pairs(tmp_path / "p.npz", x, y, captions=np.array([f"caption {i}" for i in range(15)]))
    out = tmp_path / "view.parquet"
    res = CliRunner().invoke(main, ["export-viewer", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "30 rows (15 image, 15 text; pca, with captions)" in res.output
    assert pq.read_table(out).column("caption").to_pylist()[15] == "caption 0"
    # --captions overrides, one per line
    lines = tmp_path / "caps.txt"
    lines.write_text("\n".join(f"line {i}" for i in range(15)) + "\n")
    res = CliRunner().invoke(main, ["export-viewer", str(src), "--out", str(out), "--captions", str(lines)])
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).column("caption").to_pylist()[16] == "line 1"


def test_cli_export_viewer_on_a_clip_retrieval_dump(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    root = tmp_path / "dump"
    for sub in ("img_emb", "text_emb", "metadata"):
        (root / sub).mkdir(parents=True)
    x, y = _pairs(9, 4)
    for k, rows in enumerate((slice(0, 4), slice(4, 9))):
        np.save(root / "img_emb" / f"img_emb_{k:02d}.npy", x[rows].astype(np.float16))
        np.save(root / "text_emb" / f"text_emb_{k:02d}.npy", y[rows].astype(np.float16))
        pq.write_table(pa.table({"caption": [f"m{i}" for i in range(9)[rows]]}),
                       root / "metadata" / f"metadata_{k:02d}.parquet")
    out = tmp_path / "v.parquet"
    res = CliRunner().invoke(main, ["export-viewer", str(root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).column("caption").to_pylist()[9:] == [f"m{i}" for i in range(9)]


def test_cli_export_viewer_bad_input_is_one_line(tmp_path):
    x, y = _pairs(10, 4)
    src = save_pairs(tmp_path / "p.npz", x, y)
    caps = tmp_path / "caps.txt"
    caps.write_text("a\nb\n")
    res = CliRunner().invoke(main, ["export-viewer", str(src), "--out", str(tmp_path / "v.parquet"),
                                    "--captions", str(caps)])
    assert res.exit_code == 2
    assert res.stderr.strip() == "gaplab: error: export-viewer: 2 captions for 10 text rows; give one caption per text row"
    res = CliRunner().invoke(main, ["export-viewer", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "v.parquet")])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
