"""mismatch-simulation (000): the claims that hold at quick scale (1,500 steps), from the measurement."""

from __future__ import annotations

import json

import pytest
from _contract import check_record

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def run(quick_run):
    return quick_run("mismatch-simulation")


def test_outputs_written(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "mismatch-simulation" and data["config"]["quick"] is True
    for f in ("mismatch_training.png", "mismatch_landscape.png"):
        assert (run.out / f).stat().st_size > 10_000
        assert f in data["figures"]
    assert len(data["claims"]) == 7
    check_record(data)


def test_mismatch_at_low_temperature_preserves_the_gap(run):
    runs = run.measured["runs"]
    mm, clean = runs["tau=0.01/mismatch=0.2"], runs["tau=0.01/mismatch=0"]
    assert mm["gap_initial"] == pytest.approx(clean["gap_initial"])  # same start
    assert mm["gap_initial"] > 1.5  # it does start with a gap
    assert mm["ratio"] >= 0.9  # kept with mismatched pairs
    assert clean["ratio"] < 0.9 and clean["l2m"][-1] < clean["l2m"][len(clean["l2m"]) // 2]  # shrinking without
    assert runs["tau=0.1/mismatch=0"]["ratio"] <= 0.5  # and closing fast at a higher temperature
    assert runs["tau=1/mismatch=0.2"]["ratio"] < mm["ratio"] - 0.3  # high tau: mismatch no longer holds it


def test_landscape_minima(run):
    argmin = run.measured["landscape_argmin_gap"]
    assert all(v <= 0.1 for v in argmin["clean"].values())  # no mismatch: optimum at zero gap
    assert argmin["mismatch"]["0.01"] > 1.0  # mismatch + low tau: optimum at a large gap
    assert argmin["mismatch"]["1"] <= 0.1  # mismatch + high tau: back at zero
    held = [c.held for c in run.claims]
    assert held[0] and held[4] and held[5] and held[6]
