"""Merged shard statistics equal the one-shot metrics; merge is associative and order-free."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from _shards import make_pairs, write_clip, write_npy_pairs, write_npz, write_parquet

from gaplab.metrics import MEASURE_KEYS, measure, retrieval_recall, uniformity
from gaplab.scale import (
    discover_shards,
    measure_shards,
    merge_results,
    plan_shards,
    process_shard,
    reduce_shards,
    tree_reduce,
)

EXACT = ["n", "n_images", "n_texts", "dim", "l2m", "l2i", "rmg", "mean_cos_image", "mean_cos_text",
         "mean_cos_paired", "mean_cos_cross", "alignment"]


def one_shot(pairs):
    x = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    return x, y, measure(x, y, include_pairwise=False)


def assert_exact(result, ref, tol=1e-9):
    for k in EXACT:
        assert result[k] == pytest.approx(ref[k], abs=tol, rel=tol), k
    assert [d["dim"] for d in result["top_dims"]] == [d["dim"] for d in ref["top_dims"]]
    np.testing.assert_allclose([d["diff"] for d in result["top_dims"]],
                               [d["diff"] for d in ref["top_dims"]], atol=tol)


WRITERS = {
    "clip": lambda root, p: write_clip(root, p, metadata=True),
    "npz": write_npz,
    "npz-compressed": lambda root, p: write_npz(root, p, compressed=True),
    "parquet": write_parquet,
    "parquet-fixed": lambda root, p: write_parquet(root, p, fixed=True),
    "npy-pairs": write_npy_pairs,
}


@pytest.mark.parametrize("layout", sorted(WRITERS))
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_local_equals_one_shot(tmp_path, layout, dtype):
    pairs = make_pairs(1, dtype=dtype)
    if layout.startswith("parquet"):
        pairs = [(x.astype(np.float32), y.astype(np.float32)) for x, y in pairs]
    root = WRITERS[layout](tmp_path / "dump", pairs)
    _, _, ref = one_shot(pairs)
    for workers in (1, 3):
        r = measure_shards(root, sample=0, workers=workers, block_rows=16)
        assert_exact(r, ref)
        assert r["n_shards"] == len(pairs) and r["sampled_pairs"] == 0


def test_dask_equals_local_and_one_shot(clip_dir, pairs16):
    _, _, ref = one_shot(pairs16)
    dask = measure_shards(clip_dir, sample=0, workers=2, engine="dask", block_rows=16)
    assert_exact(dask, ref)
    assert dask["engine"] == "dask" and dask["n_shards"] == len(pairs16)
    # same tree, same sample: bit-identical to the thread pool, so every sampled metric is too
    local = reduce_shards(clip_dir, sample=200, workers=3, seed=3)
    remote = reduce_shards(clip_dir, sample=200, workers=2, seed=3, engine="dask")
    for f in ("sum_x", "sum_y", "sum_xhat", "sum_yhat", "sum_cos", "sum_dist", "sum_dist_alpha"):
        np.testing.assert_array_equal(getattr(remote.stats, f), getattr(local.stats, f))
    np.testing.assert_array_equal(remote.sample_x, local.sample_x)
    np.testing.assert_array_equal(remote.sample_y, local.sample_y)


def test_glob_and_list_sources(clip_dir, pairs16):
    _, _, ref = one_shot(pairs16[:2])
    r = measure_shards(str(clip_dir / "img_emb" / "img_emb_[01].npy"), sample=0)
    assert_exact(r, ref)
    names = [s.name for s in discover_shards(str(clip_dir / "text_emb" / "*.npy"))]
    assert names == [f"img_emb/img_emb_{k}.npy" for k in range(len(pairs16))]


def test_natural_order(tmp_path):
    pairs = make_pairs(2, sizes=[5] * 12)
    write_clip(tmp_path / "d", pairs)
    assert [s.name for s in discover_shards(tmp_path / "d")][:3] == [
        "img_emb/img_emb_0.npy", "img_emb/img_emb_1.npy", "img_emb/img_emb_2.npy"]


def _results(root, sample_rows=None):
    good, _ = plan_shards(discover_shards(root))
    return [process_shard(s, h, None if sample_rows is None else sample_rows[i], block_rows=32)
            for i, (s, h) in enumerate(good)]


def _close(a, b, tol=1e-12):
    sa, sb = a.stats, b.stats
    assert (sa.n_x, sa.n_y, sa.n_pairs) == (sb.n_x, sb.n_y, sb.n_pairs)
    for f in ("sum_x", "sum_y", "sum_xhat", "sum_yhat", "sum_cos", "sum_dist", "sum_dist_alpha"):
        np.testing.assert_allclose(getattr(sa, f), getattr(sb, f), rtol=tol, atol=tol, err_msg=f)


def test_merge_associative(clip_dir):
    a, b, c, *_ = _results(clip_dir)
    _close(merge_results(merge_results(a, b), c), merge_results(a, merge_results(b, c)))


def test_merge_order_independent(clip_dir):
    parts = _results(clip_dir)
    ref = tree_reduce(parts, merge_results)
    rng = np.random.default_rng(0)
    for _ in range(6):
        perm = rng.permutation(len(parts))
        _close(tree_reduce([parts[i] for i in perm], merge_results), ref)
    for perm in itertools.islice(itertools.permutations(range(len(parts))), 0, 120, 17):
        left_fold = parts[perm[0]]
        for i in perm[1:]:
            left_fold = merge_results(left_fold, parts[i])
        _close(left_fold, ref)


def test_merge_is_pure(clip_dir):
    a, b, *_ = _results(clip_dir)
    before = a.stats.sum_x.copy()
    merge_results(a, b)
    np.testing.assert_array_equal(a.stats.sum_x, before)


def test_sample_is_uniform_seeded_and_engine_free(clip_dir, pairs16):
    x = np.concatenate([p[0] for p in pairs16])
    y = np.concatenate([p[1] for p in pairs16])
    r1 = reduce_shards(clip_dir, sample=100, seed=7, workers=3)
    r2 = reduce_shards(clip_dir, sample=100, seed=7, workers=1)
    np.testing.assert_array_equal(r1.sample_x, r2.sample_x)
    assert r1.sample_x.dtype == np.float16  # upcast only blockwise, later
    # the sample is a set of whole pairs, drawn without replacement, in global order
    rows = [int(np.flatnonzero((x == r).all(axis=1) & (y == s).all(axis=1))[0])
            for r, s in zip(r1.sample_x, r1.sample_y, strict=True)]
    assert rows == sorted(set(rows)) and len(rows) == 100
    other = reduce_shards(clip_dir, sample=100, seed=8)
    assert not np.array_equal(other.sample_x, r1.sample_x)
    everything = reduce_shards(clip_dir, sample=10**6)  # more than N: every pair, once
    np.testing.assert_array_equal(everything.sample_x, x)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """One sampled measurement shared by the tests below (the fitted metrics take seconds)."""
    root = write_clip(tmp_path_factory.mktemp("scale") / "dump", make_pairs(0))
    return root, measure_shards(root, sample=150, seed=1)


def test_sampled_metrics_are_the_samples_metrics(measured):
    clip_dir, r = measured
    res = reduce_shards(clip_dir, sample=150, seed=1)
    assert r["sampled_pairs"] == 150
    assert r["uniformity_image"] == pytest.approx(uniformity(res.sample_x), abs=1e-12)
    rec = retrieval_recall(res.sample_x, res.sample_y)
    for k, v in rec.items():
        assert r[k] == pytest.approx(v)
        lo, hi = r["ci95"][k]
        assert 0.0 <= lo <= v <= hi <= 1.0
    for k in ("uniformity_image", "uniformity_text", "linear_separability", "logit_entropy_i2t",
              "logit_entropy_t2i"):
        lo, hi = r["ci95"][k]
        assert lo <= r[k] <= hi, k


def test_sample_covers_the_whole_dump(clip_dir, pairs16):
    # full sample == one-shot on the concatenation, for the O(N^2) metrics too
    x, y, _ = one_shot(pairs16)
    ref = measure(x, y)
    r = measure_shards(clip_dir, sample=10**6)
    for k in ("uniformity_image", "uniformity_text", "i2t_r1", "t2i_r5", "logit_entropy_i2t",
              "logit_entropy_t2i", "linear_separability", "top_dims_share"):
        assert r[k] == pytest.approx(ref[k], abs=1e-9), k


def test_same_json_keys_as_measure(measured, pairs16):
    x, y, _ = one_shot(pairs16)
    single = measure(x[:60], y[:60])
    r = measured[1]
    assert set(single) <= set(r)
    assert list(r)[: len(MEASURE_KEYS)] == [k for k in MEASURE_KEYS if k in r]
    assert {"n_shards", "sampled_pairs", "ci95", "skipped_shards"} <= set(r)


def test_bad_arguments(clip_dir):
    from gaplab import InputError
    from gaplab._errors import ConfigError

    with pytest.raises(InputError, match="sample must be 0"):
        measure_shards(clip_dir, sample=5)
    with pytest.raises(ConfigError, match="unknown engine 'spark'; engines: local, dask"):
        measure_shards(clip_dir, sample=0, engine="spark")
    with pytest.raises(InputError, match="no such file, directory or glob match"):
        measure_shards(clip_dir / "nope", sample=0)
    with pytest.raises(InputError, match="the glob matches no files"):
        measure_shards(str(clip_dir / "*.zzz"), sample=0)


def test_dask_not_imported_until_used():
    code = ("import sys, gaplab.scale, gaplab.cli.measure; "
            "bad = [m for m in ('dask', 'distributed') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dask_missing_says_how_to_install(clip_dir, monkeypatch):
    from gaplab._errors import ConfigError

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ConfigError, match=r"pip install 'gaplab\[dask\]'"):
        measure_shards(clip_dir, sample=0, engine="dask")


def test_dask_existing_client_left_open(clip_dir, pairs16):
    from distributed import Client, LocalCluster

    _, _, ref = one_shot(pairs16)
    with LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            r = measure_shards(clip_dir, sample=0, engine="dask", scheduler=client)
            assert_exact(r, ref)
            assert client.submit(sum, [1, 2]).result() == 3  # still open


def test_progress_bar_over_shards(clip_dir, capsys):
    measure_shards(clip_dir, sample=0, workers=2, progress=True)
    err = capsys.readouterr().err
    assert "shards" in err and "5/5" in err
