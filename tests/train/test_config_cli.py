"""Config files (YAML/TOML/JSON), their errors, and ``gaplab train``."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
click_testing = pytest.importorskip("click.testing")

from gaplab import ConfigError, UnknownNameError  # noqa: E402
from gaplab.train.config import TrainConfig, load_config, run_config  # noqa: E402

SPHERE_YAML = """
model: {kind: free, n: 100, dim: 3, init: polar}
loss: clip
temperature: 0.07
lr: 0.01
batch_size: 10
steps: 200
eval_every: 100
metrics: [l2m, mean_cos_paired]
"""


def cli(*args):
    from gaplab.cli import main

    return click_testing.CliRunner().invoke(main, [str(a) for a in args])


def test_yaml_toml_json_are_equivalent(tmp_path):
    (tmp_path / "a.yaml").write_text(SPHERE_YAML)
    (tmp_path / "a.toml").write_text(
        'loss = "clip"\ntemperature = 0.07\nlr = 0.01\nbatch_size = 10\nsteps = 200\neval_every = 100\n'
        'metrics = ["l2m", "mean_cos_paired"]\n[model]\nkind = "free"\nn = 100\ndim = 3\ninit = "polar"\n'
    )
    (tmp_path / "a.json").write_text(json.dumps(load_config(tmp_path / "a.yaml").to_dict()))
    cfgs = [load_config(tmp_path / f"a.{s}") for s in ("yaml", "toml", "json")]
    assert cfgs[0] == cfgs[1] == cfgs[2]


@pytest.mark.parametrize("engine", ["fast", "torch"])
def test_cli_train_writes_outputs_and_engines_agree(tmp_path, engine):
    (tmp_path / "s.yaml").write_text(SPHERE_YAML)
    r = cli("train", tmp_path / "s.yaml", "--out", tmp_path / engine, "--engine", engine, "--json")
    assert r.exit_code == 0, r.output
    final = json.loads(r.output)
    assert final["engine"] == engine and final["step"] == 200
    hist = json.loads((tmp_path / engine / "history.json").read_text())["records"]
    assert [h["step"] for h in hist] == [0, 100, 200]
    assert (tmp_path / engine / "final_metrics.json").is_file()
    assert (tmp_path / engine / ("checkpoint.npz" if engine == "fast" else "checkpoint.pt")).is_file()
    (tmp_path / f"{engine}.l2m").write_text(repr(hist[-1]["l2m"]))
    other = tmp_path / ("torch.l2m" if engine == "fast" else "fast.l2m")
    if other.exists():  # float32 torch vs float64 fast: same trajectory to float tolerance
        assert float(other.read_text()) == pytest.approx(hist[-1]["l2m"], abs=1e-3)


def test_cli_train_two_tower_with_resume(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({
        "model": {"kind": "mlp", "embed_dim": 8, "hidden": 16},
        "data": {"kind": "clusters", "n": 128, "val_fraction": 0.25},
        "loss": "cuaxu", "temperature": "learnable", "optimizer": "adamw", "lr": {"name": "cosine",
        "init_value": 0.003, "end_value": 0.0003}, "batch_size": 16, "steps": 40, "eval_every": 20,
        "swap": "hard", "swap_p": 0.1,
    }))
    r = cli("train", tmp_path / "c.json", "--out", tmp_path / "o", "--steps", "20")
    assert r.exit_code == 0, r.output
    r = cli("train", tmp_path / "c.json", "--out", tmp_path / "o", "--resume", "--json")
    assert r.exit_code == 0, r.output
    hist = json.loads((tmp_path / "o" / "history.json").read_text())["records"]
    assert [h["step"] for h in hist] == [0, 20, 40]


@pytest.mark.parametrize("cfg, match", [
    ({"steps": 10, "los": "clip"}, r"unknown config key\(s\) 'los' \(did you mean 'loss'\?\); valid: model, data, loss"),
    ({"steps": 10, "loss": "infonce"}, "unknown loss 'infonce'; valid: clip, cua, cuaxu"),
    ({"steps": 10, "temperature": {"name": "cosine"}}, "unknown temperature 'cosine'; valid: fixed"),
    ({"steps": 10, "lr": {"name": "cosin", "init_value": 1, "end_value": 0}}, "unknown schedule 'cosin'; valid: constant, cosine"),
    ({"steps": 10, "model": {"kind": "transformer"}}, "unknown model kind 'transformer'; valid: free, mlp, cnn"),
    ({"steps": 10, "model": {"kind": "free", "points": 3}}, r"model kind 'free' got unknown key\(s\) \['points'\]; valid: base, dim"),
    ({"steps": 10, "model": {"kind": "mlp"}}, "needs data"),
    ({"steps": 10, "engine": "jax"}, "unknown engine 'jax'; valid: auto, torch, fast"),
    ({}, "give exactly one of steps and epochs"),
    ({"steps": 10, "metrics": ["gap"]}, "unknown metric"),
    ({"steps": 10, "loss_kwargs": {"weight": 2}}, r"loss 'clip' got unknown option\(s\) \['weight'\]; valid: normalize"),
])
def test_bad_configs_rejected(cfg, match):
    with pytest.raises((ConfigError, UnknownNameError), match=match):
        TrainConfig.from_dict(cfg)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("steps: 10\nloss: clipp\n")
    r = cli("train", tmp_path / "bad.yaml", "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert "gaplab: error: unknown loss 'clipp'; valid: clip" in r.output
    (tmp_path / "bad.ini").write_text("x")
    r = cli("train", tmp_path / "bad.ini", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "unknown format '.ini'" in r.output
    (tmp_path / "f.yaml").write_text("steps: 10\nswap: hard\nswap_p: 0.5\nengine: fast\n")
    with pytest.raises(ConfigError, match="engine 'fast' cannot run this config: modality swapping is torch-only"):
        run_config(load_config(tmp_path / "f.yaml"), tmp_path / "o")
    (tmp_path / "broken.yaml").write_text("steps: [10\n")
    r = cli("train", tmp_path / "broken.yaml", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "could not be parsed" in r.output
