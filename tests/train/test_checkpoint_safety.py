"""Checkpoints and the MAD model cache hold tensors + JSON: planted pickles never run, bad
files give one-line errors, and resuming refuses other settings, sizes and step counts."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
click_testing = pytest.importorskip("click.testing")

from gaplab import ConfigError, InputError  # noqa: E402
from gaplab.models import FreeEmbeddings  # noqa: E402
from gaplab.train import Trainer  # noqa: E402
from gaplab.train._state import load_state, save_state  # noqa: E402
from tests.helpers import cli, one_line_error  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src" / "gaplab"


class _Planted:
    """Unpickling this writes a marker file: proof that code in the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


def plant(path: Path, marker: Path, *, via_torch: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model": _Planted(marker), "history": {"loss": []}, "step": 1}
    if via_torch:
        torch.save(payload, path)
    else:
        with open(path, "wb") as fh:
            pickle.dump(payload, fh)






def make(steps=20, n=30, seed=0, lr=0.01, **kw):
    return Trainer(FreeEmbeddings(n, 3, init="polar", seed=0), lr=lr, batch_size=10, steps=steps,
                   eval_every=10, seed=seed, **kw)


SPHERE = {"model": {"kind": "free", "n": 40, "dim": 3, "init": "polar"}, "engine": "torch", "lr": 0.01,
          "batch_size": 10, "steps": 20, "eval_every": 10, "metrics": ["l2m"]}


def test_no_unsafe_loading_left_in_src():
    """No call in src/ passes weights_only=False or allow_pickle=True, or calls pickle.load(s)."""
    import ast

    hits = []
    for p in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if isinstance(kw.value, ast.Constant) and (kw.arg, kw.value.value) in (
                        ("weights_only", False), ("allow_pickle", True)):
                    hits.append(f"{p.relative_to(SRC)}:{node.lineno}")
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr in ("load", "loads", "Unpickler") and \
                    isinstance(f.value, ast.Name) and f.value.id in ("pickle", "cPickle", "dill", "joblib"):
                hits.append(f"{p.relative_to(SRC)}:{node.lineno}")
    assert hits == []


def test_state_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(3)
    obj = {"a": torch.randn(3, 2, dtype=torch.float64), "arr": np.arange(5), "t": (1, 2.5, "x"),
           "ints": {0: {"buf": torch.ones(2)}, 1: None}, "big": rng.bit_generator.state,
           "f": [0.1, 1e-300, float("inf")], "flag": True, "sd": FreeEmbeddings(4, 2).state_dict()}
    save_state(tmp_path / "s.pt", obj, kind="test")
    back = load_state(tmp_path / "s.pt", kind="test")
    assert torch.equal(back["a"], obj["a"]) and back["a"].dtype == torch.float64
    assert isinstance(back["arr"], np.ndarray) and back["arr"].tolist() == [0, 1, 2, 3, 4]
    assert back["t"] == (1, 2.5, "x") and back["big"] == obj["big"] and back["f"] == obj["f"]
    assert list(back["ints"]) == [0, 1] and torch.equal(back["ints"][0]["buf"], torch.ones(2))
    assert back["sd"]._metadata == obj["sd"]._metadata
    raw = torch.load(tmp_path / "s.pt", weights_only=True)  # plain tensors only
    assert all(isinstance(v, torch.Tensor) for v in raw.values())
    with pytest.raises(InputError, match="it is a 'test' file"):
        load_state(tmp_path / "s.pt", kind="checkpoint")


@pytest.mark.parametrize("via_torch", [True, False])
def test_planted_checkpoint_never_runs(tmp_path, via_torch):
    """Before: torch.load(weights_only=False) ran the planted object's code on --resume."""
    marker = tmp_path / "PWNED"
    ck = tmp_path / "ck.pt"
    plant(ck, marker, via_torch=via_torch)
    with pytest.raises(InputError, match="is not a readable gaplab checkpoint file: .*nothing in it was run"):
        make().fit(resume_from=ck)
    assert not marker.exists()
    cfg = tmp_path / "s.json"
    cfg.write_text(json.dumps(SPHERE))
    plant(tmp_path / "out" / "checkpoint.pt", marker, via_torch=via_torch)
    r = cli("train", cfg, "--out", tmp_path / "out", "--resume")
    one_line_error(r, r"checkpoint '.*checkpoint.pt' is not a readable gaplab checkpoint file")
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"garbage\n", bytes(range(256)) * 3, "truncate"])
def test_corrupt_checkpoint_is_one_line(tmp_path, content):
    cfg = tmp_path / "s.json"
    cfg.write_text(json.dumps(SPHERE))
    out = tmp_path / "out"
    assert cli("train", cfg, "--out", out).exit_code == 0
    ck = out / "checkpoint.pt"
    ck.write_bytes(ck.read_bytes()[:300] if content == "truncate" else content)
    r = cli("train", cfg, "--out", out, "--resume", "--steps", "30")
    one_line_error(r, r"checkpoint '.*' is not a readable gaplab checkpoint file: ")


def test_resume_refuses_another_model_size(tmp_path):
    small = make(n=30)
    small.fit()
    small.save_checkpoint(tmp_path / "ck.pt")
    with pytest.raises(ConfigError, match=r"holds a model of another size: x has shape \(30, 3\) there, \(40, 3\) here"):
        make(steps=40, n=40).fit(resume_from=tmp_path / "ck.pt")
    cfg = tmp_path / "s.json"
    cfg.write_text(json.dumps(SPHERE))
    out = tmp_path / "out"
    assert cli("train", cfg, "--out", out).exit_code == 0
    cfg.write_text(json.dumps({**SPHERE, "model": {**SPHERE["model"], "n": 50}}))
    one_line_error(cli("train", cfg, "--out", out, "--resume", "--steps", "40"),
                   r"was written with model=.*'n': 40.*this run has model=.*'n': 50")


def test_resume_refuses_another_model_or_a_foreign_state(tmp_path):
    from gaplab.models import MLPEncoder, TwoTower

    tr = make()
    tr.fit()
    tr.save_checkpoint(tmp_path / "ck.pt")
    torch.manual_seed(0)
    tower = TwoTower(MLPEncoder(4, 8), MLPEncoder(4, 8), image_dim=8, text_dim=8, embed_dim=4)
    other = Trainer(tower, lr=0.01, batch_size=10, steps=40, seed=0)
    with pytest.raises(ConfigError, match=r"holds another model: parameters \[.*\] missing, \['x', 'y'\] unexpected"):
        other.fit((torch.randn(30, 4), torch.randn(30, 4)), resume_from=tmp_path / "ck.pt")
    save_state(tmp_path / "other.pt", {"weights": torch.ones(3)}, kind="checkpoint")
    with pytest.raises(InputError, match=r"is not a trainer checkpoint \(keys \['weights'\]\)"):
        make(steps=40).fit(resume_from=tmp_path / "other.pt")
    state = load_state(tmp_path / "ck.pt", kind="checkpoint")
    state["batches"]["rng"] = "not a generator state"
    save_state(tmp_path / "bad.pt", state, kind="checkpoint")
    with pytest.raises(InputError, match=r"checkpoint '.*bad.pt' could not be restored: "):
        make(steps=40).fit(resume_from=tmp_path / "bad.pt")


def test_resume_refuses_the_other_engine(tmp_path):
    """Before: the fast engine could not resume at all; now each engine resumes its own checkpoints only."""
    pytest.importorskip("numba")
    cfg = tmp_path / "s.json"
    cfg.write_text(json.dumps(SPHERE))
    out = tmp_path / "out"
    assert cli("train", cfg, "--out", out).exit_code == 0  # torch engine: checkpoint.pt
    one_line_error(cli("train", cfg, "--out", out, "--resume", "--engine", "numba", "--steps", "40"),
                   r"was written by the torch engine, but this run uses the numba engine; resume with engine "
                   r"'torch' \(--engine torch\)")
    assert load_state(out / "checkpoint.pt", kind="checkpoint")["engine"] == "torch"


def test_callback_state_is_checkpointed_generically(tmp_path):
    """Before: the trainer special-cased MetricsCallback; other callbacks' state was lost on resume."""
    from gaplab.train import Callback

    class Count(Callback):
        def __init__(self):
            self.n = 0

        def on_logs(self, state, logs):
            self.n += len(logs["loss"])

        def next_call(self, step, total):
            return None

        def state_dict(self):
            return {"n": self.n}

        def load_state_dict(self, state):
            self.n = state["n"]

    half = make(steps=40, callbacks=[Count()])
    half.total_steps = 20
    half.fit()
    half.save_checkpoint(tmp_path / "ck.pt")
    saved = load_state(tmp_path / "ck.pt", kind="checkpoint")["callbacks"]
    assert saved["Count"] == {"n": 20} and set(saved["MetricsCallback"]) == {"sum", "n"}
    resumed = make(steps=40, callbacks=[Count()])
    resumed.fit(resume_from=tmp_path / "ck.pt")
    assert resumed.callbacks[1].n == 40


@pytest.mark.parametrize("change, named", [
    (dict(seed=1), r"seed=0; this run has seed=1"),
    (dict(lr=0.02), r"lr=0.01; this run has lr=0.02"),
    (dict(seed=2, lr=0.5), r"seed=0, lr=0.01; this run has seed=2, lr=0.5"),
])
def test_resume_refuses_changed_settings(tmp_path, change, named):
    """Before: a changed seed or lr was silently ignored on resume."""
    tr = make()
    tr.fit()
    tr.save_checkpoint(tmp_path / "ck.pt")
    with pytest.raises(ConfigError, match=named):
        make(steps=40, **change).fit(resume_from=tmp_path / "ck.pt")
    make(steps=40).fit(resume_from=tmp_path / "ck.pt")  # the same settings resume


def test_cli_resume_refuses_changed_seed_lr_and_fewer_steps(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("model: {kind: free, n: 40, dim: 3}\nengine: torch\nlr: 0.01\nsteps: 30\neval_every: 10\n"
                   "metrics: [l2m]\n")
    out = tmp_path / "out"
    assert cli("train", cfg, "--out", out).exit_code == 0
    one_line_error(cli("train", cfg, "--out", out, "--resume", "--seed", "5", "--steps", "60"),
                   r"written with seed=0; this run has seed=5")
    cfg.write_text(cfg.read_text().replace("lr: 0.01", "lr: {name: cosine, init_value: 0.01, end_value: 0.001}"))
    one_line_error(cli("train", cfg, "--out", out, "--resume", "--steps", "60"),
                   r"written with lr=0.01; this run has lr=\{'name': 'cosine'")
    cfg.write_text(cfg.read_text().replace("lr: {name: cosine, init_value: 0.01, end_value: 0.001}", "lr: 0.01"))
    # before: --resume --steps 20 on a step-30 checkpoint exited 0 and reported step 30
    one_line_error(cli("train", cfg, "--out", out, "--resume", "--steps", "20"),
                   r"is at step 30, past the 20 steps asked for")
    r = cli("train", cfg, "--out", out, "--resume", "--steps", "50", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["step"] == 50


def test_concurrent_checkpoints_to_one_path(tmp_path):
    """Before: every save used `<path>.tmp`, so two writers removed each other's file (FileNotFoundError)."""
    import threading

    trainers = [make(), make(seed=1)]
    for t in trainers:
        t.fit()
    errors = []

    def save(tr):
        try:
            for _ in range(30):
                tr.save_checkpoint(tmp_path / "ck.pt")
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=save, args=(t,)) for t in trainers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(tmp_path) == ["ck.pt"]
    make(steps=30, seed=load_state(tmp_path / "ck.pt", kind="checkpoint")["config"]["seed"]).fit(
        resume_from=tmp_path / "ck.pt")


# -- the MAD model cache ----------------------------------------------------------------------

def _tiny_mad():
    from gaplab.recipes import _mad

    return _mad, _mad.scaled_config(True, n_train=128, n_test=32, epochs=1, n_attributes=2, batch_size=64)


def test_mad_cache_lives_in_the_user_cache(tmp_path, monkeypatch):
    """Before: <out>/../.mad_cache, a folder next to the outputs that anyone sharing it could plant in."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _mad, cfg = _tiny_mad()
    d = _mad.cache_dir(tmp_path / "runs" / "information-imbalance")
    assert d == tmp_path / "xdg" / "gaplab" / "mad"
    assert (os.stat(tmp_path / "xdg" / "gaplab").st_mode & 0o777) == 0o700
    import dataclasses

    import gaplab

    key = cfg.key()
    assert key != dataclasses.replace(cfg, seed=1).key()  # keyed by the config
    monkeypatch.setattr(gaplab, "__version__", gaplab.__version__ + ".dev1")
    assert cfg.key() != key  # and by the code version


def test_planted_mad_cache_never_runs_and_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _mad, cfg = _tiny_mad()
    marker = tmp_path / "PWNED"
    run = tmp_path / "runs" / "neighbourhoods"
    d = _mad.cache_dir(run)
    # the old location (a predictable name next to the run folder) and the new one
    for folder in (run.parent / ".mad_cache", d):
        plant(folder / f"mad_model_{cfg.key()}.pt", marker, via_torch=True)
    with pytest.warns(RuntimeWarning, match="ignoring the MAD model cache and retraining: MAD model cache"):
        model, hist = _mad.train_mad(cfg, cache_dir=d)
    assert not marker.exists()
    assert len(hist["loss"]) == 2
    again, hist2 = _mad.train_mad(cfg, cache_dir=d)  # the rebuilt cache is used now
    assert hist2 == hist
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    fresh, hist3 = _mad.train_mad(cfg)  # no cache: the same numbers
    assert hist3 == hist


def test_unwritable_mad_cache_only_warns(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    _mad, _ = _tiny_mad()
    with pytest.warns(RuntimeWarning, match=r"MAD models are not cached: cannot write .*file: it is a file"):
        assert _mad.cache_dir(tmp_path / "run") is None


def test_corrupt_mad_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    _mad, cfg = _tiny_mad()
    d = _mad.cache_dir(None)
    path = d / f"mad_model_{cfg.key()}.pt"
    path.write_bytes(b"\x80\x04not a real file")
    with pytest.warns(RuntimeWarning, match="corrupt, truncated or not a tensors-only file"):
        _, hist = _mad.train_mad(cfg, cache_dir=d)
    assert load_state(path, kind="mad-model")["history"] == hist
