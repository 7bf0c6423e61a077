"""Config files (YAML/TOML/JSON) → TrainSpec, their errors, and ``gaplab train`` (run.json, resume on both engines)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
click_testing = pytest.importorskip("click.testing")

from gaplab import ConfigError, UnknownNameError  # noqa: E402
from gaplab.runs import RunRecord  # noqa: E402
from gaplab.train import TrainSpec, load_spec, run_spec  # noqa: E402
from tests.helpers import cli  # noqa: E402

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




def test_yaml_toml_json_are_equivalent(tmp_path):
    (tmp_path / "a.yaml").write_text(SPHERE_YAML)
    (tmp_path / "a.toml").write_text(
        'loss = "clip"\ntemperature = 0.07\nlr = 0.01\nbatch_size = 10\nsteps = 200\neval_every = 100\n'
        'metrics = ["l2m", "mean_cos_paired"]\n[model]\nkind = "free"\nn = 100\ndim = 3\ninit = "polar"\n'
    )
    (tmp_path / "a.json").write_text(json.dumps(load_spec(tmp_path / "a.yaml").to_dict()))
    cfgs = [load_spec(tmp_path / f"a.{s}") for s in ("yaml", "toml", "json")]
    assert cfgs[0] == cfgs[1] == cfgs[2]


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_cli_train_writes_outputs_and_engines_agree(tmp_path, engine):
    if engine == "numba":
        pytest.importorskip("numba")
    (tmp_path / "s.yaml").write_text(SPHERE_YAML)
    r = cli("train", tmp_path / "s.yaml", "--out", tmp_path / engine, "--engine", engine, "--json")
    assert r.exit_code == 0, r.output
    final = json.loads(r.output)
    assert final["engine"] == engine and final["step"] == 200
    run = RunRecord.read(tmp_path / engine)
    assert (run.kind, run.name, run.engine, run.seed) == ("train", "train", engine, 0)
    assert run.config == load_spec(tmp_path / "s.yaml", {"engine": engine}).to_dict()
    hist = run.history["records"]
    assert [h["step"] for h in hist] == [0, 100, 200]
    assert run.final_metrics["step"] == 200 and run.final_metrics["l2m"] == final["l2m"]
    assert sorted(p.name for p in (tmp_path / engine).iterdir()) == ["checkpoint.pt", "run.json"]
    (tmp_path / f"{engine}.l2m").write_text(repr(hist[-1]["l2m"]))
    other = tmp_path / ("torch.l2m" if engine == "numba" else "numba.l2m")
    if other.exists():  # float32 torch vs float64 numba: same trajectory to float tolerance
        assert float(other.read_text()) == pytest.approx(hist[-1]["l2m"], abs=1e-3)


def test_cli_numba_engine_is_chosen_and_resumes_bit_identically(tmp_path):
    """Done-when: 1,000 steps, then --resume to 2,000, equals a straight 2,000-step run bit for bit."""
    pytest.importorskip("numba")
    (tmp_path / "s.yaml").write_text(
        "model: {kind: free, n: 200, dim: 3, init: nearby}\nloss: slip\ntemperature: learnable\nlr: 0.02\n"
        "batch_size: 10\nsteps: 2000\neval_every: 250\nmismatch: 0.1\nseed: 3\nmetrics: [l2m, uniformity]\n")
    assert cli("train", tmp_path / "s.yaml", "--out", tmp_path / "straight").exit_code == 0
    r = cli("train", tmp_path / "s.yaml", "--out", tmp_path / "split", "--steps", "1000")
    assert r.exit_code == 0, r.output
    assert RunRecord.read(tmp_path / "split").history["records"][-1]["step"] == 1000
    r = cli("train", tmp_path / "s.yaml", "--out", tmp_path / "split", "--resume", "--steps", "2000")
    assert r.exit_code == 0, r.output
    a, b = RunRecord.read(tmp_path / "straight"), RunRecord.read(tmp_path / "split")
    assert a.engine == b.engine == "numba"  # chosen by engine: auto
    assert [h["step"] for h in a.history["records"]] == [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000]
    assert a.history == b.history  # every record, bit for bit
    from gaplab.train._state import load_state

    ca, cb = (load_state(tmp_path / d / "checkpoint.pt", kind="checkpoint") for d in ("straight", "split"))
    assert ca["engine"] == cb["engine"] == "numba" and ca["step"] == cb["step"] == 2000
    for k in ("x", "y"):
        assert ca["model"][k].dtype == torch.float64 and torch.equal(ca["model"][k], cb["model"][k])
    assert torch.equal(ca["temperature"]["nu"], cb["temperature"]["nu"])
    assert a.final_metrics["l2m"] == b.final_metrics["l2m"]
    # the torch engine refuses the numba engine's checkpoint instead of continuing it inexactly
    r = cli("train", tmp_path / "s.yaml", "--out", tmp_path / "split", "--resume", "--steps", "3000",
            "--engine", "torch")
    assert r.exit_code == 2
    assert "was written by the numba engine, but this run uses the torch engine; resume with engine 'numba'" in r.output


def test_cli_torch_engine_resumes_bit_identically(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "model: {kind: free, n: 60, dim: 3}\nengine: torch\ndtype: float64\nloss: siglip\n"
        "temperature: learnable\noptimizer: adamw\nlr: 0.01\nbatch_size: 12\nsteps: 200\neval_every: 50\n"
        "swap: soft\nswap_p: 0.2\nsiglip_bias: -5\nmetrics: [l2m]\n")
    assert cli("train", tmp_path / "s.yaml", "--out", tmp_path / "straight").exit_code == 0
    assert cli("train", tmp_path / "s.yaml", "--out", tmp_path / "split", "--steps", "100").exit_code == 0
    assert cli("train", tmp_path / "s.yaml", "--out", tmp_path / "split", "--resume").exit_code == 0
    a, b = RunRecord.read(tmp_path / "straight"), RunRecord.read(tmp_path / "split")
    assert a.engine == b.engine == "torch" and a.history == b.history
    assert a.config["siglip_bias"] == -5.0


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
    hist = RunRecord.read(tmp_path / "o").history["records"]
    assert [h["step"] for h in hist] == [0, 20, 40]


@pytest.mark.parametrize("cfg, match", [
    ({"steps": 10, "los": "clip"}, r"unknown config key\(s\) 'los' \(did you mean 'loss'\?\); valid: model, data, loss"),
    ({"steps": 10, "loss": "infonce"}, "unknown loss 'infonce'; valid: clip, cua, cuaxu"),
    ({"steps": 10, "temperature": {"name": "cosine"}}, "unknown temperature 'cosine'; valid: fixed"),
    ({"steps": 10, "lr": {"name": "cosin", "init_value": 1, "end_value": 0}}, "unknown schedule 'cosin'; valid: constant, cosine"),
    ({"steps": 10, "model": {"kind": "transformer"}}, "unknown model kind 'transformer'; valid: free, mlp, cnn"),
    ({"steps": 10, "model": {"kind": "free", "points": 3}}, r"model kind 'free' got unknown key\(s\) \['points'\]; valid: base, dim"),
    ({"steps": 10, "model": {"kind": "mlp"}}, "needs data"),
    ({"steps": 10, "engine": "jax"}, "unknown engine 'jax'; valid: auto, torch, numba"),
    ({}, "give exactly one of steps and epochs, got neither"),
    ({"steps": 10, "epochs": 2}, r"give exactly one of steps and epochs, got both \(steps=10, epochs=2\)"),
    ({"steps": 10, "drop_last": "no"}, "drop_last must be true or false, got 'no'"),
    ({"steps": 10, "siglip_bias": "low"}, r"siglip_bias must be a number in \[-inf, inf\], got 'low'"),
    ({"steps": 10, "dtype": "float16"}, "unknown dtype 'float16'; valid: float32, float64"),
    ({"steps": 10, "metrics": ["gap"]}, "unknown metric"),
    ({"steps": 10, "loss_kwargs": {"weight": 2}}, "loss 'clip' has no parameter 'weight'; valid: normalize"),
])
def test_bad_configs_rejected(cfg, match):
    with pytest.raises((ConfigError, UnknownNameError), match=match):
        TrainSpec.from_dict(cfg)


def test_cli_errors_are_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("steps: 10\nloss: clipp\n")
    r = cli("train", tmp_path / "bad.yaml", "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert "gaplab: error: unknown loss 'clipp'; valid: clip" in r.output
    (tmp_path / "bad.ini").write_text("x")
    r = cli("train", tmp_path / "bad.ini", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "unknown format '.ini'" in r.output
    (tmp_path / "f.yaml").write_text("steps: 10\nswap: hard\nswap_p: 0.5\nengine: fast\n")  # fast: the old name
    with pytest.raises(ConfigError, match="engine 'numba' cannot run this config: modality swapping is torch-only"):
        run_spec(load_spec(tmp_path / "f.yaml"), tmp_path / "o")
    (tmp_path / "broken.yaml").write_text("steps: [10\n")
    r = cli("train", tmp_path / "broken.yaml", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "could not be parsed" in r.output
