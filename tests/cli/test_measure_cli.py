"""`gaplab measure` as a user runs it: JSON keys, table, exit code 2 with one line on bad input."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab.cli import main

KEYS = ["n", "dim", "l2m", "l2i", "rmg", "mean_cos_image", "mean_cos_text", "mean_cos_paired",
        "mean_cos_cross", "alignment", "uniformity_image", "uniformity_text", "linear_separability",
        "logit_entropy_i2t", "logit_entropy_t2i", "i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5",
        "t2i_r10", "top_dims"]


def test_json_has_every_key(fixture_path):
    res = CliRunner().invoke(main, ["measure", str(fixture_path("clasp_pairs.npy")), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    for k in KEYS:
        assert k in data, k
    assert data["n"] == 99 and data["dim"] == 768
    assert all(math.isfinite(v) for v in data.values() if isinstance(v, float))
    assert {"dim", "diff"} <= set(data["top_dims"][0])


def test_table_and_two_files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.normal(size=(30, 4)))
    np.save(tmp_path / "b.npy", rng.normal(size=(30, 4)))
    res = CliRunner().invoke(main, ["measure", "--image", str(tmp_path / "a.npy"), "--text", str(tmp_path / "b.npy")])
    assert res.exit_code == 0 and "rmg" in res.stdout
    res = CliRunner().invoke(main, ["measure", "--image", str(tmp_path / "a.npy"), "--text", str(tmp_path / "b.npy"),
                                    "--temperature", "0.5", "--json"])
    assert json.loads(res.stdout)["temperature"] == 0.5


@pytest.mark.parametrize("case,needle", [
    ("missing", "no such file"),
    ("nan", "non-finite"),
    ("zero", "all-zero row"),
    ("shape", "shape (2, N, d)"),
    ("n", "differ in N"),
    ("key", "no key 'image'"),
    ("one", "at least 2 rows"),
    ("f16", "float16 overflow"),
])
def test_bad_input_one_line_exit_2(tmp_path, case, needle):
    rng = np.random.default_rng(0)
    good = rng.normal(size=(2, 10, 4)).astype(np.float32)
    path = tmp_path / "p.npy"
    args = ["measure", str(path)]
    if case == "nan":
        good[0, 1, 1] = np.nan
    if case == "zero":
        good[1, 2] = 0
    if case == "shape":
        good = good[0]
    if case == "one":
        good = good[:, :1]
    if case == "f16":
        with np.errstate(over="ignore"):
            good = (good * 1e5).astype(np.float16)
    if case == "n":
        np.save(tmp_path / "a.npy", good[0])
        np.save(tmp_path / "b.npy", good[1][:5])
        args = ["measure", "--image", str(tmp_path / "a.npy"), "--text", str(tmp_path / "b.npy")]
    elif case == "key":
        path = tmp_path / "p.npz"
        np.savez(path, foo=good[0], bar=good[1])
        args = ["measure", str(path)]
    elif case != "missing":
        np.save(path, good)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("gaplab: error:"), res.stderr
    assert needle in res.stderr
    assert "Traceback" not in res.output


def test_importing_metrics_loads_no_torch_or_dask():
    code = ("import sys, gaplab, gaplab.metrics, gaplab.io; "
            "bad = [m for m in ('torch', 'dask', 'gaplab.train', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_console_script_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gaplab.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "measure" in r.stdout


@pytest.mark.parametrize(("args", "match"), [
    (["--dim", "0"], r"dim must be an integer >= 1, got 0"),
    (["--n", "-5"], r"n must be an integer >= 2, got -5"),
    (["--n", "1"], r"n must be an integer >= 2, got 1"),
    (["--seed", "-1"], r"seed must be an integer >= 0, got -1"),
])
def test_example_bad_sizes_are_one_line(tmp_path, args, match):
    res = CliRunner().invoke(main, ["example", str(tmp_path / "e.npz"), *args])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert re.search(match, res.stderr) and not (tmp_path / "e.npz").exists()


def test_a_collapsed_text_modality_warns_loudly(tmp_path):
    from gaplab.io import save_pairs

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    y = np.tile(rng.normal(size=16), (200, 1))  # every caption embedded the same (an empty tokenizer)
    save_pairs(tmp_path / "c.npz", x, y)
    res = CliRunner().invoke(main, ["measure", str(tmp_path / "c.npz"), "--json", "--fast"])
    assert res.exit_code == 0, res.output
    assert "gaplab: warning: text embeddings are nearly all identical" in res.stderr
    assert json.loads(res.stdout)["warnings"][0].startswith("text embeddings are nearly all identical")


def test_bad_rows_name_the_file(tmp_path):
    from gaplab.io import save_pairs

    x = np.ones((10, 4))
    x[3] = 0
    save_pairs(tmp_path / "z.npz", x, np.eye(10, 4) + 1)
    res = CliRunner().invoke(main, ["measure", str(tmp_path / "z.npz")])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert re.search(r"z\.npz: measure: image embeddings \(x\): all-zero row \(row 3\)", res.stderr)


def test_ci_table_shows_intervals_chance_and_reading(fixture_path):
    res = CliRunner().invoke(main, ["measure", str(fixture_path("clasp_pairs.npy")), "--ci", "--ci-resamples", "20"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split()[:4] == ["metric", "value", "[95%", "CI]"] and "chance" in lines[0]
    row = next(line for line in lines if line.startswith("l2m "))
    value, lo, hi = (float(v) for v in re.findall(r"-?\d+\.\d+", row)[:3])
    assert lo <= value <= hi
    sep = next(line for line in lines if line.startswith("linear_separability "))
    assert re.search(r"\]\s+0\.5\s+held-out", sep)  # the chance column
    assert "intervals: bootstrap, 20 resamples over pairs, seed 0" in res.stdout
    assert "null of mutual_knn (texts re-paired at random)" in res.stdout
    assert "\nreading:\n- " in res.stdout


def test_ci_json_and_same_seed_same_numbers(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "p.npy", np.stack([rng.normal(size=(60, 6)) + 1, rng.normal(size=(60, 6))]))
    args = ["measure", str(tmp_path / "p.npy"), "--json", "--fast", "--ci", "--ci-resamples", "30", "--seed", "5"]
    a, b = (json.loads(CliRunner().invoke(main, args).stdout) for _ in range(2))
    assert a["ci95"] == b["ci95"] and a["ci"]["resamples"] == 30 and a["ci"]["seed"] == 5
    assert set(a["ci95"]) >= {"l2m", "rmg", "residual_gap"} and isinstance(a["reading"], list)
    plain = json.loads(CliRunner().invoke(main, args[:4]).stdout)
    assert "ci95" not in plain and plain["chance"] == {} and "reading" in plain


def test_ci_with_shards_is_a_usage_error(tmp_path):
    d = tmp_path / "shards"
    d.mkdir()
    res = CliRunner().invoke(main, ["measure", str(d), "--ci"])
    assert res.exit_code == 2 and "--ci applies to one pairs file" in res.output


def test_format_clip_benchmark(fixture_path):
    path = fixture_path("clip_coco_pairs.npy")
    # CLIP_benchmark's keys: image_retrieval = a text queries the images (our t2i)
    r = CliRunner().invoke(main, ["measure", str(path), "--format", "clip-benchmark",
                                  "--meta", "model=ViT-B-32", "--meta", "pretrained=openai"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    ref = json.loads(CliRunner().invoke(main, ["measure", str(path), "--json"]).stdout)
    assert (out["model"], out["pretrained"], out["task"]) == ("ViT-B-32", "openai", "zeroshot_retrieval")
    assert out["dataset"] == path.stem
    for k in (1, 5, 10):
        assert out["metrics"][f"image_retrieval_recall@{k}"] == ref[f"t2i_r{k}"]
        assert out["metrics"][f"text_retrieval_recall@{k}"] == ref[f"i2t_r{k}"]
    assert out["gaplab"]["l2m"] == ref["l2m"]
    bad = CliRunner().invoke(main, ["measure", str(path), "--format", "clip-benchmark", "--meta", "x=1"])
    assert bad.exit_code == 2 and "--meta takes KEY=VALUE" in bad.output
    fast = CliRunner().invoke(main, ["measure", str(path), "--fast", "--format", "clip-benchmark"])
    assert fast.exit_code == 2 and "no retrieval recalls" in fast.output
