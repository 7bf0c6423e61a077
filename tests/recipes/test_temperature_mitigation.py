"""Recipe ``temperature-mitigation`` (paper 002 §5): quick run, claims that hold at quick scale."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

from gaplab import ConfigError
from gaplab.recipes import reproduce, summary_verdict
from gaplab.recipes.temperature_mitigation import (
    BASELINE,
    GAP_MARGIN,
    R1_MARGIN,
    VARIANTS,
    latent_pairs,
)
from gaplab.runs import decide, t_interval

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def quick(quick_run):
    r = quick_run("temperature-mitigation")
    return r, r.out


def test_outputs_exist(quick):
    res, out = quick
    data = json.loads((out / "run.json").read_text())
    assert set(data["measured"]["table"]) == set(VARIANTS)
    assert len(data["claims"]) == 2 * (len(VARIANTS) - 1) + 2
    assert (out / "mitigations.png").stat().st_size > 0


def test_increasing_temperature_schedules_close_gap_and_help_retrieval(quick):
    table = quick[0].measured["table"]
    base = table[BASELINE]
    for v in ("ts (linear)", "schedule:cosine", "schedule:exponential"):
        assert table[v]["gap_mean"] < 0.5 * base["gap_mean"]
        assert table[v]["r1_mean"] > base["r1_mean"]
        assert table[v]["tau_end_mean"] == pytest.approx(1.0)


def test_hard_swap_lowers_gap(quick):
    table = quick[0].measured["table"]
    assert table["hard_swap"]["gap_mean"] < table[BASELINE]["gap_mean"]


def test_claims_follow_measurements(quick):
    res, out = quick
    check_record(json.loads((out / "run.json").read_text()))
    runs = res.measured["runs"]
    seen = 0
    for c in res.claims:
        if ": gap below" in c.claim or ": R@1 not worse" in c.claim:
            name = c.claim.split(": ")[0]
            if ": gap below" in c.claim:
                d, null, margin = [b["gap"] - r["gap"] for b, r in zip(runs[BASELINE], runs[name], strict=True)], 0.0, GAP_MARGIN
            else:
                d, null, margin = [r["r1"] - b["r1"] for b, r in zip(runs[BASELINE], runs[name], strict=True)], -R1_MARGIN, 0.0
            assert c.per_seed == pytest.approx(d) and c.n_seeds == len(d) == 2
            assert c.verdict == decide(t_interval(d)[1], null=null, margin=margin)
            seen += 1
    assert seen == 2 * (len(VARIANTS) - 1)
    summary = [c for c in res.claims if c.claim.startswith(("every mitigation", "no mitigation"))]
    assert [c.verdict for c in summary] == [
        summary_verdict([c for c in res.claims if ": gap below" in c.claim]),
        summary_verdict([c for c in res.claims if ": R@1 not worse" in c.claim])]


def test_seeded_identical():
    kw = dict(quick=True, verbose=False, progress=False,
              params={"variants": "fixed,hard_swap", "steps": 20, "seeds": 2, "n_train": 600, "n_test": 200})
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        r1 = reproduce("temperature-mitigation", out=d, seed=3, **kw).measured["runs"]
        r2 = reproduce("temperature-mitigation", out=d, seed=3, **kw).measured["runs"]
        r3 = reproduce("temperature-mitigation", out=d, seed=4, **kw).measured["runs"]
    assert r1 == r2
    assert r1 != r3


def test_unknown_variant_rejected(tmp_path):
    with pytest.raises(ConfigError, match="unknown variant"):
        reproduce("temperature-mitigation", quick=True, out=tmp_path, verbose=False, progress=False,
                  params={"variants": "nope"})


def test_latent_pairs_deterministic_and_imbalanced():
    x1, y1, z1 = latent_pairs(50, 0)
    x2, y2, z2 = latent_pairs(50, 0)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    x3, _, _ = latent_pairs(50, 1)
    assert not np.array_equal(x1, x3)
    # with text_factors the caption side ignores the other latent factors
    _, ya, za = latent_pairs(200, 0, text_factors=2, sigma=0.0)
    assert np.allclose(ya, np.tanh(za[:, :2] @ (np.linalg.lstsq(za[:, :2], np.arctanh(np.clip(ya, -0.999999, 0.999999)),
                                                                  rcond=None)[0])), atol=1e-3)
