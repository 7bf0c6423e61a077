"""One run per output folder, and one clean line when the folder cannot be written.

`gaplab train`, `reproduce` and `demo` refuse an --out that holds another run unless
--overwrite (which removes the old run's files first) and refuse a folder another run is
writing right now; an unwritable --out is `gaplab: error: cannot write <path>: <reason>`.
"""

from __future__ import annotations

import errno
import json
import os

import pytest

from gaplab._fs import run_folder
from gaplab.recipes import _base, register_recipe
from tests.helpers import cli, one_line_error

SPHERE = {"model": {"kind": "free", "n": 40, "dim": 3, "init": "polar"}, "lr": 0.01, "batch_size": 10,
          "steps": 20, "eval_every": 10, "metrics": ["l2m"]}






def _toy(name, figure, *, chatty=False):
    if name not in _base.RECIPES:

        @register_recipe(name, paper="test", summary="a toy recipe for the tests", steps=None, scale=1.0)
        def _fn(ctx):
            import matplotlib.pyplot as plt

            if chatty:
                print(f"{name}: 3 runs ...", flush=True)  # a progress line on stdout, as the sphere prints
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, ctx.param("scale")])
            ctx.savefig(fig, figure)
            ctx.claim("always", 1, 1, True)
            return {"value": float(ctx.param("scale"))}

    return name


@pytest.fixture
def recipes():
    return _toy("_toy-run-a", "a_fig"), _toy("_toy-run-b", "b_fig"), _toy("_toy-run-chatty", "c_fig", chatty=True)


@pytest.fixture
def sphere_cfg(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(SPHERE))
    return p


# -- train -----------------------------------------------------------------------------------

def torch_load_state(path):
    from gaplab.train._state import load_state

    return load_state(path, kind="checkpoint")


@pytest.mark.parametrize("engine", ["torch", "numba"])
def test_train_refuses_a_folder_with_another_run(tmp_path, sphere_cfg, engine):
    pytest.importorskip("torch")
    pytest.importorskip("numba")
    out = tmp_path / "o"
    assert cli("train", sphere_cfg, "--out", out, "--engine", engine).exit_code == 0
    before = (out / "run.json").read_bytes()
    # before: the second run exited 0 and silently replaced the first one's files
    one_line_error(cli("train", sphere_cfg, "--out", out, "--engine", engine),
                   r"o already holds a run \(run.json, .*\); give another --out, or --overwrite to replace it")
    assert (out / "run.json").read_bytes() == before
    other = "numba" if engine == "torch" else "torch"
    r = cli("train", sphere_cfg, "--out", out, "--engine", other, "--overwrite")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "run.json").read_text())["engine"] == other  # the new run's record
    ck = torch_load_state(out / "checkpoint.pt")
    assert ck["engine"] == other  # the old run's checkpoint went
    assert sorted(p for p in os.listdir(out) if p.startswith(".")) == []  # no temporaries or lock left


def test_train_refuses_a_folder_in_use(tmp_path, sphere_cfg):
    """Before: two trainings on one --out shared `checkpoint.pt.tmp` and one crashed (FileNotFoundError)."""
    pytest.importorskip("torch")
    out = tmp_path / "busy"
    with run_folder(out):  # another run holds the folder
        one_line_error(cli("train", sphere_cfg, "--out", out), r"another gaplab run is writing to .*busy right now")
        one_line_error(cli("train", sphere_cfg, "--out", out, "--resume"), r"another gaplab run is writing")
    assert cli("train", sphere_cfg, "--out", out).exit_code == 0


def test_train_resume_reuses_its_own_folder(tmp_path, sphere_cfg):
    pytest.importorskip("torch")
    out = tmp_path / "o"
    assert cli("train", sphere_cfg, "--out", out, "--engine", "torch").exit_code == 0
    r = cli("train", sphere_cfg, "--out", out, "--engine", "torch", "--resume", "--steps", "30", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["step"] == 30


def test_unwritable_out_is_one_line(tmp_path, sphere_cfg, monkeypatch):
    """Before: tracebacks (FileExistsError / NotADirectoryError / OSError ENOSPC)."""
    pytest.importorskip("torch")
    (tmp_path / "file").write_text("x")
    one_line_error(cli("train", sphere_cfg, "--out", tmp_path / "file" / "sub"),
                   r"cannot write .*file/sub: Not a directory")
    one_line_error(cli("train", sphere_cfg, "--out", tmp_path / "file"), r"cannot write .*file: it is a file")
    real = os.replace

    def full(src, dst):
        if str(dst).endswith("run.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    one_line_error(cli("train", sphere_cfg, "--out", tmp_path / "full"),
                   r"cannot write .*full/run.json: No space left on device")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_out_is_one_line(tmp_path, sphere_cfg):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        one_line_error(cli("train", sphere_cfg, "--out", ro), r"cannot write .*ro: Permission denied")
    finally:
        ro.chmod(0o700)


def test_os_errors_from_commands_become_one_line(tmp_path, sphere_cfg, monkeypatch):
    pytest.importorskip("torch")
    import gaplab.train.run as run

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system", "/mnt/ro/history.json")

    monkeypatch.setattr(run, "run_spec", read_only)
    one_line_error(cli("train", sphere_cfg, "--out", tmp_path / "o"),
                   r"^gaplab: error: cannot write /mnt/ro/history.json: Read-only file system$")

    def bug(*a, **k):
        raise OSError("no file, no errno: a bug")

    monkeypatch.setattr(run, "run_spec", bug)
    r = cli("train", sphere_cfg, "--out", tmp_path / "o")
    assert r.exit_code == 1 and isinstance(r.exception, OSError)  # bugs keep their traceback


# -- reproduce ----------------------------------------------------------------------------------

def test_two_recipes_one_folder(tmp_path, recipes):
    """Before: both exited 0; the first run record was lost and the report mixed both figures."""
    a, b, _ = recipes
    out = tmp_path / "r"
    assert cli("reproduce", a, "--out", out).exit_code == 0
    one_line_error(cli("reproduce", b, "--out", out), r"already holds a run \(run.json\)")
    assert json.loads((out / "run.json").read_text())["name"] == a
    r = cli("reproduce", b, "--out", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "run.json").read_text())["name"] == b
    assert sorted(os.listdir(out)) == ["b_fig.png", "run.json"]  # a's figure went with a's results


def test_reproduce_json_stdout_is_only_json(tmp_path, recipes):
    """Before: a recipe's progress line came first on stdout and `| jq` failed."""
    _, _, chatty = recipes
    r = cli("reproduce", chatty, "--quick", "--json", "--out", tmp_path / "c")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["name"] == chatty
    assert f"{chatty}: 3 runs" in r.stderr


@pytest.mark.parametrize("args, match", [
    (("--seed", "-1"), r"seed must be an integer >= 0, got -1"),
    (("--threads", "0"), r"threads must be an integer >= 1, got 0"),
    (("--param", "steps=-1"), r"recipe 'sphere': parameter steps must be a positive integer, got -1"),
    (("--param", "steps=abc"), r"parameter steps must be a positive integer, got 'abc'"),
    (("--param", "batch_size=0"), r"parameter batch_size must be a positive integer, got 0"),
    (("--param", "lr=fast"), r"parameter lr must be a number, got 'fast'"),
])
def test_reproduce_bad_options_are_one_line(tmp_path, args, match):
    """Before: tracebacks (ValueError from numpy's seeding, RuntimeError from torch, math domain error)."""
    one_line_error(cli("reproduce", "sphere", "--quick", "--out", tmp_path / "s", *args), match)
    assert not (tmp_path / "s").exists()


def test_reproduce_params_accept_integral_floats(tmp_path, recipes):
    a, _, _ = recipes
    r = cli("reproduce", a, "--out", tmp_path / "a", "--param", "steps=1e2", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["config"]["params"]["steps"] == 100


# -- demo -------------------------------------------------------------------------------------------

def test_demo_refuses_a_folder_with_another_run(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    one_line_error(cli("demo", "--quick", "--out", out), r"already holds a run \(summary.json\)")
    one_line_error(cli("demo", "--quick", "--out", out, "--seed", "-1"), r"seed must be an integer >= 0")


def test_demo_overwrite_removes_the_previous_demo(tmp_path):
    from gaplab.recipes._base import _previous_outputs
    from gaplab.runs import RunRecord

    out = tmp_path / "d"
    RunRecord(kind="train", name="clip_flt", config={}, seed=0).write(out / "clip_flt")
    RunRecord(kind="recipe", name="demo", config={}, seed=0, pairs=["clip_flt.npz"], figures=["f.png"]).write(out)
    for name in ("clip_flt.npz", "f.png", "report.html"):
        (out / name).write_text("x")
    (out / "mine.txt").write_text("keep")
    with run_folder(out, overwrite=True, stale=_previous_outputs):
        pass
    assert sorted(os.listdir(out)) == ["mine.txt"]
