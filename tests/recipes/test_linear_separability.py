"""linear-separability (001 §4.2): asserted from the measurement at quick scale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaplab.recipes import reproduce
from gaplab.recipes.linear_separability import SEPARATED, floored_fraction
from gaplab.runs import decide, t_interval

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


def test_floor():
    assert floored_fraction(0.001, 1797, 25) == pytest.approx(25 / 1797)
    assert floored_fraction(0.001, 300_000, 25) == 0.001  # COCO scale: no floor needed
    assert floored_fraction(0.5, 10, 25) == pytest.approx(0.9)  # one pair always tests


def test_pairs_file_trained_dump(fixture_path, tmp_path):
    r = reproduce("linear-separability", quick=True, out=tmp_path, pairs=fixture_path("clasp_pairs.npy"),
                  verbose=False, progress=False)
    (name, s), = r.measured["sets"].items()
    assert s["n_pairs"] == 99
    a = s["at_paper_fraction"]
    assert a["train_pairs"] == 25
    assert a["mean"] == 1.0  # the paper's 100 %, on a real trained contrastive model
    assert len(r.claims) == 1 and r.claims[0].held
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["figures"] == ["linear_separability.png"]


def test_default_run(tmp_path):
    pytest.importorskip("gaplab.models.builtin")
    pytest.importorskip("gaplab.train.trainer")
    r = reproduce("linear-separability", quick=True, out=tmp_path, verbose=False, progress=False)
    sets = r.measured["sets"]
    rand = sets["digits two-tower, random init"]
    assert rand["at_paper_fraction"]["mean"] == 1.0  # random init: two disjoint cones
    trained = next(v for k, v in sets.items() if k.startswith("digits two-tower, trained"))
    means = [c["mean"] for c in trained["curve"]]
    assert means[-1] >= means[0] and means[-1] > 0.9  # separable given enough training pairs
    assert trained["l2m"] < rand["l2m"]  # training shrank the gap
    for c in r.claims:
        name = c.claim.split(":")[0]
        per_split = sets[name]["at_paper_fraction"]["per_seed"]
        assert c.per_seed == pytest.approx(per_split)
        assert c.verdict == decide(t_interval(per_split)[1], null=SEPARATED)
        assert f"{sets[name]['at_paper_fraction']['fraction_used']:.1%} of the pairs" in c.claim
    assert np.isfinite(r.measured["learned_temperature"])
