"""information-imbalance (004 Fig. 1b): quick run, the claims that hold at quick scale."""

from __future__ import annotations

import json

import pytest
from _contract import check_record

from gaplab.recipes import reproduce

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("infoimb")
    return reproduce("information-imbalance", quick=True, out=out, seed=0, verbose=False, progress=False)


def test_outputs_written(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "information-imbalance" and data["config"]["quick"] is True
    assert (run.out / "information_imbalance.png").stat().st_size > 10_000
    assert len(data["claims"]) == 7
    check_record(data)
    assert run.measured["attributes"] == [1, 3, 5]


def test_gap_falls_with_caption_information(run):
    m = run.measured["mean"]
    assert m["l2m"][0] > m["l2m"][-1] + 0.1
    assert m["rmg"][0] > m["rmg"][-1] + 0.1
    assert run.measured["spearman_vs_k"]["l2m"] < 0
    claims = {c.claim.split(" (")[0]: c.held for c in run.claims}
    assert claims["Modality gap"] is True


def test_training_reduces_the_gap_below_init_with_full_captions(run):
    assert run.measured["mean"]["l2m"][-1] < run.measured["l2m_at_init"]


def test_attribute_accuracy_above_chance(run):
    # 16 attribute values over 5 factors: mean chance level is mean(1/2, 1/2, 1/2, 1/3, 1/7) ≈ 0.40
    assert run.measured["mean"]["zs_attributes"][-1] > 0.45


def test_mad_training_is_seeded():
    import torch

    from gaplab.recipes import _mad

    cfg = _mad.scaled_config(True, n_train=256, n_test=64, epochs=1, n_attributes=2)
    a, ha = _mad.train_mad(cfg)
    b, hb = _mad.train_mad(cfg)
    assert ha["loss"] == hb["loss"]
    for (na, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), na
    c, hc = _mad.train_mad(_mad.scaled_config(True, n_train=256, n_test=64, epochs=1, n_attributes=2, seed=1))
    assert hc["loss"] != ha["loss"]
