"""``gaplab mitigate`` through click's CliRunner: tables, JSON, files, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab.cli import main
from gaplab.io import load_pairs, save_pairs
from gaplab.mitigate import ROW_KEYS, get_mitigation, list_mitigations, load_mitigation

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def pairs_file(tmp_path):
    rng = np.random.default_rng(0)
    n, d, c = 80, 10, 3
    protos = rng.normal(size=(c, d)) * 2
    labels = np.arange(n) % c
    z = protos[labels] + 0.5 * rng.normal(size=(n, d))
    shift = np.zeros(d)
    shift[0] = 2.0
    path = tmp_path / "pairs.npz"
    save_pairs(path, z + shift, z - shift + 0.1 * rng.normal(size=(n, d)), labels=labels,
               class_text=protos - shift)
    return path


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


def test_all_eval_json(pairs_file):
    r = run("mitigate", pairs_file, "--method", "all", "--eval", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [row["method"] for row in out["rows"]] == ["none", *list_mitigations()]
    assert out["skipped"] == [] and out["split"]["n_test_images"] == 40
    assert all(row["zero_shot"] is not None for row in out["rows"])
    for row in out["rows"][1:]:  # score-level methods re-score and keep the embeddings
        if get_mitigation(row["method"]).score_level:
            assert row["l2m"] == out["rows"][0]["l2m"] and row["hubness_image"] != out["rows"][0]["hubness_image"]
        else:
            assert row["l2m"] < out["rows"][0]["l2m"], row["method"]


def test_table_output_and_in_sample_mode(pairs_file):
    r = run("mitigate", pairs_file, "--method", "center", "--eval")
    assert r.exit_code == 0, r.output
    assert "held-out test split" in r.output and "method" in r.output and "zs" in r.output
    r = run("mitigate", pairs_file, "--method", "center")
    assert r.exit_code == 0, r.output
    assert "in-sample" in r.output and "skipped: task metrics: run with --eval" in r.output


def test_params_and_sweep(pairs_file):
    r = run("mitigate", pairs_file, "--method", "remove-dims", "--param", "k=3", "--json")
    assert json.loads(r.output)["rows"][1]["params"] == {"k": 3, "renormalize": True}
    r = run("mitigate", pairs_file, "--method", "gap-shift", "--sweep", "alpha=0,0.5,auto", "--json")
    rows = json.loads(r.output)["rows"]
    assert [row["method"] for row in rows] == ["none", "gap-shift(alpha=0)", "gap-shift(alpha=0.5)",
                                               "gap-shift(alpha=auto)"]
    r = run("mitigate", pairs_file, "--method", "center", "--method", "noise", "--param", "noise.std=0.2",
            "--param", "renormalize=false", "--json")
    rows = json.loads(r.output)["rows"]
    assert rows[2]["params"]["std"] == 0.2 and rows[1]["params"] == {"renormalize": False}


def test_labels_file_and_skips(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 6)) + 1
    path = tmp_path / "p.npz"
    save_pairs(path, x, x - 2 + 0.1 * rng.normal(size=x.shape))
    r = run("mitigate", path, "--eval", "--json")
    assert any("no class labels" in s for s in json.loads(r.output)["skipped"])
    np.save(tmp_path / "labels.npy", np.arange(40) % 2)
    r = run("mitigate", path, "--eval", "--json", "--labels", tmp_path / "labels.npy")
    out = json.loads(r.output)
    assert out["rows"][1]["probe_image"] is not None
    assert any(s.startswith("zero_shot: no class prompt") for s in out["skipped"])
    r = run("mitigate", path, "--eval", "--labels", tmp_path / "labels.npy")
    assert "skipped: zero_shot" in r.output


def test_out_and_save_state(pairs_file, tmp_path):
    out, state = tmp_path / "fixed.npz", tmp_path / "state.json"
    r = run("mitigate", pairs_file, "--method", "procrustes", "--eval", "--out", out, "--save-state", state)
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.output
    fixed = load_pairs(out)
    orig = load_pairs(pairs_file)
    m = load_mitigation(state)
    np.testing.assert_allclose(fixed.text, m.transform_text(orig.text))
    np.testing.assert_allclose(fixed.meta["class_text"], m.transform_text(orig.meta["class_text"]))
    assert fixed.meta["is_test"].sum() == 40
    assert json.loads(str(fixed.meta["mitigation"]))["method"] == "procrustes"
    np.testing.assert_array_equal(fixed.meta["labels"], orig.meta["labels"])


@pytest.mark.parametrize(
    ("args", "msg"),
    [(["--method", "centre"], "unknown mitigation 'centre'; valid: c3, center"),
     (["--method", "center", "--param", "bogus=1"], "no parameter 'bogus' in center; valid: renormalize"),
     (["--method", "center", "--param", "k"], "--param expects NAME=VALUE"),
     (["--method", "center", "--param", "noise.std=1"], "method 'noise' is not among center"),
     (["--method", "all", "--out", "x.npz"], "--out and --save-state need a single method"),
     (["--method", "center", "--method", "noise", "--sweep", "std=0,1"], "--sweep needs exactly one --method"),
     (["--method", "gap-shift", "--param", "alpha=big"], "alpha must be a number or 'auto'"),
     (["--eval", "--test-fraction", "1.5"], "test_fraction must be in (0, 1)")],
)
def test_one_line_errors(pairs_file, args, msg):
    r = run("mitigate", pairs_file, *args)
    assert r.exit_code == 2, r.output
    assert r.output.startswith("gaplab: error: ") and msg in r.output
    assert "Traceback" not in r.output


def test_missing_file_and_bad_labels(tmp_path, pairs_file):
    r = run("mitigate", tmp_path / "nope.npz")
    assert r.exit_code == 2 and "no such file" in r.output
    np.save(tmp_path / "l.npy", np.zeros(3, dtype=int))
    r = run("mitigate", pairs_file, "--eval", "--labels", tmp_path / "l.npy")
    assert r.exit_code == 2 and "one class id per image (80)" in r.output


def test_class_text_from_train_captions(tmp_path):
    rng = np.random.default_rng(2)
    labels = np.arange(60) % 3
    protos = rng.normal(size=(3, 8)) * 2
    x = protos[labels] + 0.3 * rng.normal(size=(60, 8)) + 1
    path = tmp_path / "p.npz"
    save_pairs(path, x, protos[labels] - 1, labels=labels)
    r = run("mitigate", path, "--eval", "--class-text", "train-captions")
    assert r.exit_code == 0, r.output
    assert "note: zero_shot: class prompts" in r.output and " zs " in r.output


def test_rows_use_the_metric_names(pairs_file):
    for extra in ([], ["--eval"]):
        out = json.loads(run("mitigate", pairs_file, "--method", "center", "--json", *extra).output)
        for row in out["rows"]:
            assert "linear_separability" in row and "modality_sep" not in row
            assert 0.5 <= row["linear_separability"] <= 1.0
        assert out["meanings"]["linear_separability"] == ROW_KEYS["linear_separability"]
    r = run("mitigate", pairs_file, "--method", "center")
    assert "  sep       " + ROW_KEYS["linear_separability"] in r.output


def test_labels_and_class_text_from_text_files(pairs_file, tmp_path):
    orig = load_pairs(pairs_file)
    np.savetxt(tmp_path / "labels.txt", orig.meta["labels"], fmt="%d")
    np.savetxt(tmp_path / "labels.csv", orig.meta["labels"][None, :], fmt="%d", delimiter=",")
    np.savetxt(tmp_path / "ct.csv", orig.meta["class_text"], delimiter=",")
    want = json.loads(run("mitigate", pairs_file, "--method", "multi-mean", "--eval", "--json").output)
    for labels in ("labels.txt", "labels.csv"):
        r = run("mitigate", pairs_file, "--method", "multi-mean", "--eval", "--json",
                "--labels", tmp_path / labels, "--class-text", tmp_path / "ct.csv")
        assert r.exit_code == 0, r.output
        got = json.loads(r.output)
        assert [row["zero_shot"] for row in got["rows"]] == [row["zero_shot"] for row in want["rows"]]
        assert got["rows"][1]["probe_cross"] == want["rows"][1]["probe_cross"]


def test_unreadable_labels_files(pairs_file, tmp_path):
    r = run("mitigate", pairs_file, "--eval", "--labels", tmp_path / "nope.txt")
    assert r.exit_code == 2 and f"gaplab: error: {tmp_path / 'nope.txt'}: no such file" in r.output
    (tmp_path / "bad.csv").write_text("0,1\nzero,one\n")
    r = run("mitigate", pairs_file, "--eval", "--labels", tmp_path / "bad.csv")
    assert r.exit_code == 2 and "bad.csv: cannot read labels (ValueError" in r.output
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    r = run("mitigate", pairs_file, "--eval", "--class-text", tmp_path / "bad.npy")
    assert r.exit_code == 2 and "bad.npy: cannot read class prompt embeddings" in r.output


def test_saved_state_is_the_evaluated_fit(pairs_file, tmp_path):
    # with --class-text train-captions the saved multi-mean holds the train-caption class prompts
    # as its query mean: the object --eval scored, not a refit without them
    state = tmp_path / "s.json"
    r = run("mitigate", pairs_file, "--method", "multi-mean", "--eval", "--class-text", "train-captions",
            "--save-state", state, "--json")
    assert r.exit_code == 0, r.output
    from gaplab.mitigate import run_mitigation

    res = run_mitigation(load_pairs(pairs_file), "multi-mean", eval=True, class_text="train-captions")
    saved = load_mitigation(state)
    assert saved.n_query_ == 3
    np.testing.assert_array_equal(saved.mean_query_, res.fitted["multi-mean"].mean_query_)


def test_param_parser():
    from gaplab import ConfigError
    from gaplab.cli._common import parse_params, parse_value

    assert parse_params(["k=3", "noise.std=0.2", "renormalize=False", "alpha=auto", "k=4"]) == {
        "k": 4, "noise.std": 0.2, "renormalize": False, "alpha": "auto"}
    assert parse_value("TRUE") is True and parse_value("[1, 2]") == [1, 2] and parse_value("null") is None
    assert parse_params(["name = a=b"]) == {"name": " a=b"}  # the first '=' splits; the value is kept as given
    for bad in ("k", "=3"):
        with pytest.raises(ConfigError, match=f"--param expects NAME=VALUE, got '{bad}'"):
            parse_params([bad])
    with pytest.raises(ConfigError, match="--set expects KEY=VALUE, got 'x'"):
        parse_params(["x"], option="--set", forms="KEY=VALUE")
