"""information-imbalance on the Fashion-MNIST CLIP (``model=gaplab-clip-fashion``): tiny models on fake data.

The ``tiny_fashion`` fixture (conftest) stands in for the real data and the cached weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from gaplab.recipes import _fashion, reproduce  # noqa: E402
from gaplab.recipes.information_imbalance import (  # noqa: E402
    FASHION_KEYS,
    FASHION_KS,
    FASHION_QUICK_KS,
    TREND_RHO,
    _trend,
)
from gaplab.runs import decide, t_interval  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}


def test_image_attribute_bins_are_those_of_attribute_bins(tiny_fashion):
    a, b = _fashion.image_attribute_bins(), _fashion.attribute_bins(0, True)
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_load_run_with_sets_the_caption_richness(tiny_fashion):
    run = _fashion.load_run_with(0, True, min_attributes=3, max_attributes=3)
    assert run.config.min_attributes == run.config.max_attributes == 3 and run.config.width == 16  # conftest TINY_FASHION
    emb = _fashion.held_out_of(run)
    assert emb.image.shape[0] == emb.text.shape[0] == len(emb.captions) == 20
    assert all(len(_fashion.parse_fashion_caption(c)[0]) == 3 for c in emb.captions)


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick-one-seed", "two-seeds"])
def test_runs_end_to_end_on_fake_fashion(tiny_fashion, tmp_path, quick):
    params = {**FASHION, **({} if quick else {"seeds": 2})}
    rec = reproduce("information-imbalance", quick=quick, out=tmp_path / "run", seed=0, params=params,
                    verbose=False, progress=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    check_record(data)
    assert data["config"]["params"]["model"] == "gaplab-clip-fashion"
    assert len(data["claims"]) == 7
    assert {c["verdict"] for c in data["claims"]} <= {"held", "not held", "inconclusive"}
    m = rec.measured
    ks = list(FASHION_QUICK_KS if quick else FASHION_KS)
    assert m["attributes"] == ks and m["seeds"] == ([0] if quick else [0, 1])
    assert m["model"]["name"] == "gaplab-clip-fashion"
    assert len(m["runs"]) == len(ks) * len(m["seeds"])
    for key in FASHION_KEYS:
        assert np.shape(m["per_seed"][key]) == (len(m["seeds"]), len(ks))
    for r in m["runs"]:  # each model is trained with its own k, its held-out captions too
        assert len(_fashion.parse_fashion_caption(r["example_caption"])[0]) == r["k"]
        assert -2 <= r["moad_img"] <= 2 and 0 <= r["zero_shot"] <= 1
    gap = next(c for c in rec.claims if c.claim.startswith("Modality gap (L2M)"))
    rho = [_trend(ks, v) for v in m["per_seed"]["l2m"]]
    assert gap.per_seed == pytest.approx(rho)
    learned = next(c for c in rec.claims if c.kind == "sanity")
    assert learned.per_seed == pytest.approx(list(np.min(m["per_seed"]["zero_shot"], axis=1) - 0.1))
    if quick:  # one seed: no interval
        assert all(c.verdict == "inconclusive" for c in rec.claims)
    elif learned.verdict == "held":
        assert gap.verdict == decide(t_interval(rho)[1], null=-TREND_RHO, side="<")
    assert (tmp_path / "run" / "information_imbalance.png").stat().st_size > 10_000
