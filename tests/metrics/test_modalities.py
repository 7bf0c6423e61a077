"""measure_modalities: every pair measured as measure does, centroid distances by hand, clear errors; the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab._errors import InputError
from gaplab.cli import main
from gaplab.metrics import measure, measure_modalities


def three(n=30, d=5):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n, d))
    return {"image": base + 1, "text": base + rng.normal(size=(n, d)), "audio": base - 1}


def test_every_pair_in_order_is_measure():
    m = three()
    r = measure_modalities(m, include_pairwise=False, seed=2)
    assert r["modalities"] == ["image", "text", "audio"]
    assert list(r["pairs"]) == ["image|text", "image|audio", "text|audio"]
    assert r["pairs"]["text|audio"] == measure(m["text"], m["audio"], include_pairwise=False, seed=2)


def test_centroid_distance_by_hand():
    e = np.eye(2)
    # centroids (1, 0), (0, 1), (1/√2, 1/√2)·… : rows are unit already
    r = measure_modalities({"a": np.array([[1.0, 0.0]] * 3), "b": np.array([[0.0, 2.0]] * 3),
                            "c": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])}, include_pairwise=False)
    joint = (np.array([1.0, 0.0]) + np.array([0.0, 1.0]) + np.array([2 / 3, 1 / 3])) / 3
    for name, mu in (("a", e[0]), ("b", e[1]), ("c", np.array([2 / 3, 1 / 3]))):
        assert r["centroid_distance"][name] == pytest.approx(np.linalg.norm(mu - joint))


def test_two_modalities_sit_half_the_gap_from_the_centre():
    m = three()
    r = measure_modalities({"image": m["image"], "text": m["text"]}, include_pairwise=False)
    half = r["pairs"]["image|text"]["l2m"] / 2
    assert r["centroid_distance"] == pytest.approx({"image": half, "text": half})


@pytest.mark.parametrize(("arg", "kwargs", "match"), [
    ({"image": np.ones((3, 2))}, {}, r"need at least 2 modalities, got 1 \(\['image'\]\)"),
    ({"image": np.eye(3), "text": np.eye(4, 3) + 1}, {}, r"every modality needs the same \(N, d\) \(one row per item\), got 'image' \(3, 3\), 'text' \(4, 3\)"),
    ({"a": np.eye(3), "b": np.eye(3)[::-1] * [1, 0, 1]}, {}, r"measure_modalities: 'b'.*all-zero row \(row 1\)"),
    ({"a|b": np.eye(3), "c": np.eye(3)}, {}, r"a modality name must be a non-empty string without '\|', got 'a\|b'"),
    ({"a": np.eye(3), "b": np.eye(3)}, {"image_index": [0, 1, 2]}, r"image_index is not supported"),
    ([np.eye(3), np.eye(3)], {}, r"need a mapping name -> array, got list"),
])
def test_bad_input(arg, kwargs, match):
    with pytest.raises(InputError, match=match):
        measure_modalities(arg, **kwargs)


def test_cli_three_modalities(tmp_path):
    files = []
    for name, a in three().items():
        np.save(tmp_path / f"{name}.npy", a)
        files += ["--modality", f"{name}={tmp_path / f'{name}.npy'}"]
    res = CliRunner().invoke(main, ["measure", *files, "--json", "--fast"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert list(data["pairs"]) == ["image|text", "image|audio", "text|audio"] and set(data["centroid_distance"]) == {
        "image", "text", "audio"}
    table = CliRunner().invoke(main, ["measure", *files, "--fast"])
    assert "== image (image side) vs audio (text side) ==" in table.stdout and "joint centre" in table.stdout


def test_cli_modality_errors_name_the_file(tmp_path):
    np.save(tmp_path / "a.npy", np.random.default_rng(0).normal(size=(10, 4)))
    np.save(tmp_path / "b.npy", np.random.default_rng(1).normal(size=(9, 4)))
    bad = np.random.default_rng(2).normal(size=(10, 4))
    bad[3] = np.nan
    np.save(tmp_path / "c.npy", bad)
    a, b, c = (f"{n}={tmp_path / (n + '.npy')}" for n in "abc")
    runner = CliRunner()
    res = runner.invoke(main, ["measure", "--modality", a, "--modality", b])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    assert "b.npy (b): 9 rows" in res.stderr and "a.npy (a): 10 rows" in res.stderr
    res = runner.invoke(main, ["measure", "--modality", a, "--modality", c])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "c.npy (c)" in res.stderr, res.output
    res = runner.invoke(main, ["measure", "--modality", a, "--modality", f"d={tmp_path / 'none.npy'}"])
    assert res.exit_code == 2 and "none.npy" in res.stderr
    res = runner.invoke(main, ["measure", "--modality", "nofile"])
    assert res.exit_code == 2 and "--modality expects NAME=FILE" in res.stderr
    res = runner.invoke(main, ["measure", str(tmp_path / "a.npy"), "--modality", a])
    assert res.exit_code == 2 and "--modality cannot be combined" in res.output
