"""Config values: numeric strings, wrong types and ranges, and what a failed run leaves behind."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
click_testing = pytest.importorskip("click.testing")

from gaplab import ConfigError  # noqa: E402
from gaplab.runs import RunRecord  # noqa: E402
from gaplab.train import TrainSpec, load_spec, run_spec  # noqa: E402
from tests.helpers import cli, one_line_error  # noqa: E402


def test_yaml_exponent_numbers_are_numbers(tmp_path):
    """Before: PyYAML read `lr: 1e-3` as the string '1e-3' and the config was rejected."""
    (tmp_path / "c.yaml").write_text("model: {kind: free, n: 40, dim: 3}\nlr: 1e-3\ntemperature: 7e-2\n"
                                     "steps: 1e2\nweight_decay: 0\n")
    cfg = load_spec(tmp_path / "c.yaml")
    assert cfg.lr == 0.001 and cfg.temperature == 0.07 and cfg.steps == 100 and isinstance(cfg.steps, int)
    (tmp_path / "q.yaml").write_text("model: {kind: free}\nsteps: 10\ntemperature: learnable\n"
                                     "lr: {name: cosine, init_value: 1e-2, end_value: 1e-4}\n")
    cfg = load_spec(tmp_path / "q.yaml")
    assert cfg.lr == {"name": "cosine", "init_value": 0.01, "end_value": 0.0001}
    assert cfg.temperature == "learnable"


def test_numeric_strings_are_accepted_in_numeric_fields():
    cfg = TrainSpec.from_dict({"steps": "100", "lr": "1e-3", "seed": "3", "momentum": "0.9",
                                 "temperature": "0.05", "batch_size": 16.0})
    assert (cfg.steps, cfg.lr, cfg.seed, cfg.momentum, cfg.temperature, cfg.batch_size) == \
        (100, 0.001, 3, 0.9, 0.05, 16)


@pytest.mark.parametrize("d, match", [
    ({"steps": "abc"}, r"steps must be a positive integer, got 'abc'"),
    ({"steps": 0}, r"steps must be a positive integer, got 0"),
    ({"steps": 2.5}, r"steps must be a positive integer, got 2.5"),
    ({"steps": True}, r"steps must be a positive integer, got True"),
    ({"steps": 10, "seed": -1}, r"seed must be an integer >= 0, got -1"),
    ({"steps": 10, "batch_size": 1}, r"batch_size must be an integer >= 2, got 1"),
    ({"steps": 10, "eval_every": "often"}, r"eval_every must be a positive integer, got 'often'"),
    ({"steps": 10, "lr": "fast"}, r"lr must be a number > 0 or a schedule dict, got 'fast'"),
    ({"steps": 10, "momentum": "x"}, r"momentum must be a number in \[0, 1\], got 'x'"),
    ({"steps": 10, "loss": 3}, r"loss must be a name \(a string\), got 3"),
    ({"steps": 10, "metrics": "l2m"}, r"metrics must be a list of metric names"),
    ({"steps": 10, "progress": "yes"}, r"progress must be true or false, got 'yes'"),
    ({"steps": 10, "loss_kwargs": [1]}, r"loss_kwargs must be a mapping of options, got \[1\]"),
])
def test_bad_values_rejected(d, match):
    with pytest.raises(ConfigError, match=match):
        TrainSpec.from_dict(d)


@pytest.mark.parametrize("text, args, match", [
    ("steps: abc\n", (), r"steps must be a positive integer, got 'abc'"),
    ("- steps: 10\n- lr: 0.1\n", (), r"must be a mapping of keys to values .*got a list"),
    ("steps: 10\n", ("--seed", "-1"), r"seed must be an integer >= 0, got -1"),
])
def test_cli_bad_configs_are_one_line(tmp_path, text, args, match):
    """Before: tracebacks (TypeError for `steps: abc`, ValueError for a top-level list or --seed -1)."""
    (tmp_path / "c.yaml").write_text(text)
    one_line_error(cli("train", tmp_path / "c.yaml", "--out", tmp_path / "o", *args), match)


def test_nan_guard_writes_the_history_so_far(tmp_path):
    """Before: training stopped with a clean error but no history was written."""
    (tmp_path / "c.yaml").write_text("model: {kind: free, n: 40, dim: 3}\nengine: torch\nlr: 1e38\n"
                                     "temperature: 0.01\nsteps: 50\neval_every: 1000\nmetrics: [l2m]\n")
    r = cli("train", tmp_path / "c.yaml", "--out", tmp_path / "o")
    one_line_error(r, r"loss is nan at step \d+ .*; the history up to then is in .*run.json")
    run = RunRecord.read(tmp_path / "o")
    assert [h["step"] for h in run.history["records"]] == [0]
    assert run.config["lr"] == 1e38 and "loss is nan" in run.final_metrics["error"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["run.json"]


@pytest.mark.parametrize("engine", ["torch", "numba"])
def test_nan_loss_names_the_step_on_both_engines(tmp_path, engine):
    if engine == "numba":
        pytest.importorskip("numba")
    cfg = TrainSpec.from_dict({"model": {"kind": "free", "n": 40, "dim": 3}, "engine": engine, "lr": 1e308,
                               "temperature": 0.01, "steps": 50, "metrics": ["l2m"], "dtype": "float64"})
    from gaplab.train import NonFiniteLossError

    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 5 \(temperature 0.01, lr 1e\+308, loss 'clip'\)"):
        run_spec(cfg, tmp_path / "o")
    assert RunRecord.read(tmp_path / "o").engine == engine


def test_nan_embeddings_at_an_evaluation_stop_cleanly(tmp_path):
    from gaplab.train import NonFiniteLossError

    cfg = TrainSpec.from_dict({"model": {"kind": "free", "n": 40, "dim": 3}, "engine": "torch", "lr": 1e38,
                                 "temperature": 0.01, "steps": 50, "eval_every": 2, "metrics": ["l2m"]})
    with pytest.raises(NonFiniteLossError, match=r"the embeddings became NaN/inf by step 2"):
        run_spec(cfg, tmp_path / "o")
    assert RunRecord.read(tmp_path / "o").history["records"][0]["step"] == 0


def test_a_binary_or_unknown_config_file_is_one_line(tmp_path):
    (tmp_path / "c.yaml").write_bytes(b"\x93NUMPY\x01\x00")
    one_line_error(cli("train", tmp_path / "c.yaml", "--out", tmp_path / "o"), r"c\.yaml' cannot be read as text")
    (tmp_path / "c.npy").write_bytes(b"\x93NUMPY")
    one_line_error(cli("train", tmp_path / "c.npy", "--out", tmp_path / "o"), r"unknown format '\.npy'")
