"""``gaplab measure DIR``: shard mode, same keys as one file, options, single-file unchanged."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from _shards import make_pairs, write_clip
from click.testing import CliRunner

from gaplab.cli import main
from gaplab.io import save_pairs
from gaplab.metrics import FAST_KEYS, MEASURE_KEYS


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("cli") / "dump", make_pairs(0))


def run(*args):
    return CliRunner().invoke(main, ["measure", *map(str, args)])


def test_dir_json_keys(dump, tmp_path):
    res = run(dump, "--json", "--sample", 100, "--workers", 2)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    pairs = make_pairs(0)
    x = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    save_pairs(tmp_path / "all.npz", x, y)
    assert set(MEASURE_KEYS) <= set(out)  # measure()'s own extras: test_scale_exact
    single = json.loads(run(tmp_path / "all.npz", "--json", "--fast").stdout)
    assert out["n_shards"] == 5 and out["sampled_pairs"] == 100
    assert out["l2m"] == pytest.approx(single["l2m"], abs=1e-9)
    assert out["n"] == single["n"]
    assert set(out["ci95"]) >= {"uniformity_image", "i2t_r1", "linear_separability"}


def test_dir_table_and_glob(dump):
    res = run(dump, "--fast")
    assert res.exit_code == 0, res.output
    assert "n_shards" in res.stdout and "l2m" in res.stdout
    res = run(str(dump / "img_emb" / "img_emb_[0-1].npy"), "--fast", "--json")
    assert json.loads(res.stdout)["n"] == 120 + 97


def test_dir_dask_engine(dump):
    res = run(dump, "--fast", "--json", "--engine", "dask", "--workers", 2)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["engine"] == "dask" and out["sampled_pairs"] == 0
    # --fast: exactly the exact O(N·d) keys of the catalogue, nothing sampled
    assert set(MEASURE_KEYS) - set(out) == set(MEASURE_KEYS) - set(FAST_KEYS)
    assert set(FAST_KEYS) <= set(out) and "uniformity_image" not in out


def test_dask_missing(dump, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    res = run(dump, "--fast", "--engine", "dask")
    assert res.exit_code == 2
    assert "pip install 'gaplab[dask]'" in res.stderr


def test_unreachable_scheduler(dump):
    from gaplab._errors import ConfigError
    from gaplab.scale import ShardTask, discover_shards, plan_shards, run_dask

    (s, h), *_ = plan_shards(discover_shards(dump))[0]
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'"):
        run_dask([ShardTask(s, h, np.empty(0, dtype=np.int64))], scheduler="tcp://127.0.0.1:1",
                 connect_timeout="0.5s")


def test_single_file_unchanged(tmp_path):
    x, y = make_pairs(0, sizes=[40], dtype=np.float32)[0]
    save_pairs(tmp_path / "p.npz", x, y)
    out = json.loads(run(tmp_path / "p.npz", "--json", "--fast").stdout)
    assert "n_shards" not in out and "sampled_pairs" not in out
    res = run(tmp_path / "p.npz", "--engine", "dask")
    assert res.exit_code == 2 and "--engine only apply to a shard directory or glob" in res.output
    res = run(tmp_path / "p.npz", "--skip-bad-shards", "--sample", 10)
    assert res.exit_code == 2 and "--sample, --skip-bad-shards only apply" in res.output


def test_dir_with_image_text_is_usage_error(dump, tmp_path):
    res = run(dump, "--image", tmp_path / "a.npy", "--text", tmp_path / "b.npy")
    assert res.exit_code == 2 and "cannot be combined with a shard directory" in res.output


def test_scheduler_needs_dask(dump):
    res = run(dump, "--fast", "--engine", "local", "--scheduler", "tcp://127.0.0.1:1")
    assert res.exit_code == 2 and "needs engine='dask' (--engine dask)" in res.stderr
