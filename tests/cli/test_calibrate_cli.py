"""``gaplab calibrate PAIRS`` (= ``calibrate fit``) and ``gaplab calibrate apply CAL SCORES``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaplab.data.published import load_published
from gaplab.mitigate.calibrate import calibrate_pairs, load_calibrator
from tests.helpers import cli, one_line_error

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """200 CLIP-COCO pairs as a (2, N, d) .npy."""
    x, y = load_published("clip_coco")
    path = tmp_path_factory.mktemp("cal") / "pairs.npy"
    np.save(path, np.stack([x[:200], y[:200]]))
    return path, x[:200], y[:200]


def test_default_form_equals_fit_and_the_library(pairs):
    path, x, y = pairs
    r = cli("calibrate", path, "--json", "--seed", "1")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    again = cli("calibrate", "fit", path, "--json", "--seed", "1")
    assert json.loads(again.stdout) == got  # the same command; same seed, same numbers
    ref = calibrate_pairs(x, y, seed=1).summary
    assert got["auc"] == pytest.approx(ref["auc"]) and got["ece_test"] == pytest.approx(ref["ece_test"])
    assert {"auc", "auc_se", "ece_test", "methods", "thresholds", "split", "prior"} <= set(got)
    assert [(t["target"], t["value"]) for t in got["thresholds"]] == [
        ("precision", 0.9), ("precision", 0.95), ("precision", 0.99), ("recall", 0.9)]
    other = json.loads(cli("calibrate", path, "--json", "--seed", "2").stdout)
    assert other["split"] == got["split"] and other["ece_test"] != got["ece_test"]  # the seed moves the split


def test_table_out_figure_then_apply(pairs, tmp_path):
    path, _, _ = pairs
    cal, fig = tmp_path / "cal.json", tmp_path / "rel.png"
    r = cli("calibrate", path, "--method", "platt", "--prior", "0.2", "--out", cal, "--figure", fig)
    assert r.exit_code == 0, r.output
    assert "auc" in r.stdout and "ece_test" in r.stdout and "precision >= 0.99" in r.stdout
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_calibrator(cal)
    assert loaded.method == "platt" and loaded.prior == 0.2

    scores = np.array([[0.1, 0.2, 0.25], [0.3, 0.35, 0.4]])
    np.save(tmp_path / "s.npy", scores)
    r = cli("calibrate", "apply", cal, tmp_path / "s.npy")
    assert r.exit_code == 0, r.output
    printed = np.array([[float(v) for v in line.split()] for line in r.stdout.strip().splitlines()])
    assert np.array_equal(printed, loaded.predict_proba(scores))  # exact (repr), shape kept

    for suffix in (".npy", ".csv", ".txt"):
        out = tmp_path / f"p{suffix}"
        r = cli("calibrate", "apply", cal, tmp_path / "s.npy", "--out", out)
        assert r.exit_code == 0, r.output
        back = np.load(out) if suffix == ".npy" else np.loadtxt(out, delimiter="," if suffix == ".csv" else None)
        assert np.array_equal(back, loaded.predict_proba(scores))

    (tmp_path / "s.txt").write_text("0.1\n0.3\n")
    r = cli("calibrate", "apply", cal, tmp_path / "s.txt")
    assert [float(v) for v in r.stdout.split()] == loaded.predict_proba([0.1, 0.3]).tolist()


def test_siglip_logit_reports_the_models_ece(pairs):
    path, _, _ = pairs
    r = cli("calibrate", path, "--logit-scale", "100", "--logit-bias", "-25", "--json")
    got = json.loads(r.stdout)
    assert got["score"] == "logit" and got["model_ece_test"] is not None
    assert "model" in cli("calibrate", path, "--logit-scale", "100").stdout


def test_help_and_listing():
    assert "calibrate" in cli("--help").stdout
    r = cli("calibrate", "--help")
    assert r.exit_code == 0 and "apply" in r.stdout and "fit" in r.stdout
    assert "Usage" in cli("calibrate").output  # no arguments: the group's help


@pytest.mark.parametrize("args, pattern", [
    (["--prior", "1.5"], r"prior must be a number in \(0, 1\), got 1.5"),
    (["--prior", "0"], r"prior must be a number in \(0, 1\)"),
    (["--logit-bias", "3"], "logit_bias needs logit_scale"),
    (["--logit-scale", "-2"], "logit_scale must be > 0"),
    (["--max-negatives", "0"], "max_negatives must be a positive integer"),
    (["--figure", "x.gif"], r"--figure x.gif must end in .png, .pdf, .svg"),
    (["--out", "cal.npz"], r"--out cal.npz must end in .json"),
    (["--test-fraction", "1"], r"test_fraction must be in \(0, 1\)"),
])
def test_bad_options_are_one_line(pairs, args, pattern):
    one_line_error(cli("calibrate", pairs[0], *args), pattern)


def test_bad_files_are_one_line(tmp_path, pairs):
    one_line_error(cli("calibrate", tmp_path / "missing.npy"), "no such file")
    x, y = load_published("clip_coco")
    np.save(tmp_path / "three.npy", np.stack([x[:3], y[:3]]))
    one_line_error(cli("calibrate", tmp_path / "three.npy"), "fewer than 2 images")
    cal = tmp_path / "cal.json"
    assert cli("calibrate", pairs[0], "--out", cal).exit_code == 0
    np.save(tmp_path / "nan.npy", np.array([0.1, np.nan]))
    one_line_error(cli("calibrate", "apply", cal, tmp_path / "nan.npy"), r"nan.npy: .*non-finite value")
    np.save(tmp_path / "empty.npy", np.zeros(0))
    one_line_error(cli("calibrate", "apply", cal, tmp_path / "empty.npy"), "non-empty vector or matrix")
    one_line_error(cli("calibrate", "apply", tmp_path / "nope.json", tmp_path / "nan.npy"), "nope.json: no such file")
    (tmp_path / "other.json").write_text('{"format": "gaplab.mitigation/1"}')
    one_line_error(cli("calibrate", "apply", tmp_path / "other.json", tmp_path / "nan.npy"),
                   "not a gaplab calibrator file")
    one_line_error(cli("calibrate", "apply", cal, tmp_path / "nan.npy", "--out", tmp_path / "p.json"),
                   r"must end in .npy, .txt or .csv")


def test_one_file_per_modality(pairs, tmp_path):
    path, x, y = pairs
    np.save(tmp_path / "img.npy", x)
    np.save(tmp_path / "txt.npy", y)
    two = json.loads(cli("calibrate", "--image", tmp_path / "img.npy", "--text", tmp_path / "txt.npy", "--json").stdout)
    assert two == json.loads(cli("calibrate", path, "--json").stdout)
