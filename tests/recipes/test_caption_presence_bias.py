"""caption-presence-bias (004 Fig. 3c): quick run over seeds; factors at the floor or the ceiling are not evidence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

from gaplab.data.mad import FACTOR_NAMES, FACTORS
from gaplab.recipes import reproduce
from gaplab.recipes.caption_presence_bias import CEILING_ACC, LEARN_MARGIN

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')

MATCH = "A factor always present in captions gets a higher matching score (bias towards it, Fig. 3c left)"
ACC = "A factor always present in captions gets higher zero-shot accuracy (Fig. 3c right)"
ENC = "The caption presence bias is larger for the image encoder than for the text encoder"


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
    assert run.measured["factors"] == list(FACTOR_NAMES)  # quick covers the same factors as the full run
    assert run.measured["seeds"] == [0, 1]  # >= 2 seeds at --quick
    assert all(c.n_seeds == 2 for c in run.claims if c.per_seed)


def test_floor_and_ceiling_follow_the_stated_rules(run):
    m = run.measured
    factors, tables = m["factors"], m["tables"]
    ref = {f: np.mean([r[f] for r in m["reference_zero_shot"]]) for f in factors}
    floor = [f for f in factors if ref[f] - 1 / len(FACTORS[f]) <= LEARN_MARGIN]
    rare = {f: np.mean([t["zero_shot"][r][f] for t in tables for r in factors if r != f]) for f in factors}
    ceiling = [f for f in factors if f not in floor and rare[f] >= CEILING_ACC]
    assert m["at_floor"] == floor and m["at_ceiling"] == ceiling
    assert m["counted"] == [f for f in factors if f not in floor]
    assert m["counted_accuracy"] == [f for f in m["counted"] if f not in ceiling]
    # the quick reference model does not learn the digit, so the digit is not evidence there
    assert "digit" in m["at_floor"]


def test_per_seed_values_are_recomputed_from_the_tables(run):
    m = run.measured
    factors = m["factors"]
    claims = {c.claim: c for c in run.claims}

    def bias(t, key, f):
        return t[key][f][f] - np.mean([t[key][r][f] for r in factors if r != f])

    for s, t in enumerate(m["tables"]):
        for key in ("matching_score", "zero_shot", "matching_score_text"):
            for f in factors:
                assert m["bias_per_seed"][s][key][f] == pytest.approx(bias(t, key, f))
    ms = [min(bias(t, "matching_score", f) for f in m["counted"]) for t in m["tables"]]
    assert claims[MATCH].per_seed == pytest.approx(ms)
    if m["counted_accuracy"]:
        zs = [min(bias(t, "zero_shot", f) for f in m["counted_accuracy"]) for t in m["tables"]]
        assert claims[ACC].per_seed == pytest.approx(zs)
    else:  # nothing left to count: no evidence either way
        assert claims[ACC].per_seed == [] and claims[ACC].verdict == "inconclusive"
    enc = [np.mean([bias(t, "matching_score", f) - bias(t, "matching_score_text", f) for f in m["counted"]])
           for t in m["tables"]]
    assert claims[ENC].per_seed == pytest.approx(enc)
    assert all(c.null == 0.0 and c.side == ">" for c in run.claims)


def test_always_present_factor_is_favoured(run):
    # measured: on the factors the quick models learn, the always-present run scores highest
    m = run.measured
    for f in m["counted"]:
        for t in m["tables"]:
            others = [t["matching_score"][r][f] for r in m["factors"] if r != f]
            assert t["matching_score"][f][f] > max(others), f
    assert np.mean([t["zero_shot"]["colour"]["colour"] for t in m["tables"]]) > 0.5  # 7 colours, chance 1/7
