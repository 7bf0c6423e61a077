"""caption-presence-bias (004 Fig. 3c): quick run, the claims that hold at quick scale."""

from __future__ import annotations

import json

import pytest
from _contract import check_record

from gaplab.recipes import reproduce

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("presence")
    return reproduce("caption-presence-bias", quick=True, out=out, seed=0, verbose=False, progress=False)


def test_outputs_written(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "caption-presence-bias" and data["config"]["quick"] is True
    assert (run.out / "caption_presence_bias.png").stat().st_size > 10_000
    assert len(data["claims"]) == 3
    check_record(data)
    assert run.measured["factors"] == ["thickness", "scale", "colour"]


def test_always_present_factor_is_favoured(run):
    table = run.measured["table"]
    for f in run.measured["factors"]:
        others = [table["matching_score"][r][f] for r in run.measured["factors"] if r != f]
        assert table["matching_score"][f][f] > max(others), f
    assert all(v > 0 for v in run.measured["bias"]["matching_score"].values())


def test_always_present_factor_is_recognised_better(run):
    assert all(v > 0 for v in run.measured["bias"]["zero_shot"].values())
    assert run.measured["table"]["zero_shot"]["colour"]["colour"] > 0.5  # 7 colours, chance 1/7
