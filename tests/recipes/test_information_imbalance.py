"""information-imbalance (004 Fig. 1b): quick run over seeds; claims are gated on the models learning the digit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

from gaplab.recipes import reproduce
from gaplab.recipes.information_imbalance import (
    CLOSE_SHARE,
    DIGIT_CHANCE,
    LEARN_MARGIN,
    TREND_RHO,
    _trend,
)

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')

PREMISE = "The trained models learned the object (premise of every claim below)"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("infoimb")
    return reproduce("information-imbalance", quick=True, out=out, seed=0, verbose=False, progress=False)


def _by_text(run):
    return {c.claim: c for c in run.claims}


def test_outputs_written(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "information-imbalance" and data["config"]["quick"] is True
    assert (run.out / "information_imbalance.png").stat().st_size > 10_000
    assert len(data["claims"]) == 11
    check_record(data)
    assert run.measured["attributes"] == [1, 3, 5]
    assert run.measured["seeds"] == [0, 1]  # >= 2 seeds at --quick
    assert len(run.measured["runs"]) == 6


def test_per_seed_values_are_the_measured_ones(run):
    m, claims = run.measured, _by_text(run)
    ks = m["attributes"]
    per_seed = {k: np.array(v) for k, v in m["per_seed"].items()}  # (seeds, settings)
    # every run's numbers land in per_seed at its (seed, k)
    for r in m["runs"]:
        s, i = m["seeds"].index(r["seed"]), ks.index(r["k"])
        assert per_seed["l2m"][s, i] == r["l2m"] and per_seed["moad_img"][s, i] == r["moad_img"]
    premise = claims[PREMISE]
    assert premise.kind == "sanity" and premise.null == LEARN_MARGIN
    assert premise.per_seed == pytest.approx(list(per_seed["zs_digit"].min(1) - DIGIT_CHANCE))
    trends = {"Modality gap (L2M)": ("l2m", "<"), "Relative modality gap (RMG)": ("rmg", "<"),
              "Object bias (MOAD_img, ICLR 2025 definition)": ("moad_img", "<"),
              "Object bias (per-sample MOAD, 004 §4 text)": ("moad", "<"),
              "Zero-shot digit accuracy": ("zs_digit", ">"), "Zero-shot attribute accuracy": ("zs_attributes", ">")}
    for prefix, (key, side) in trends.items():
        (c,) = [c for t, c in claims.items() if t.startswith(prefix + " ") and ("falls" in t or "rises" in t)]
        assert c.per_seed == pytest.approx([_trend(ks, list(v)) for v in per_seed[key]]) == m["spearman_vs_k"][key]
        assert c.side == side and c.null == (-TREND_RHO if side == "<" else TREND_RHO)
    for key, name in (("moad_img", "MOAD_img, ICLR 2025 definition"), ("moad", "per-sample MOAD, 004 §4 text")):
        bias = claims[f"Sparse captions leave an object bias ({name}: > 0 at k=1)"]
        assert bias.per_seed == pytest.approx(list(per_seed[key][:, 0])) and bias.null == 0.0
        fall = claims[f"Object bias ({name}) falls as captions carry more attributes (Fig. 1b b)"]
        assert fall.depends_on == bias.claim and bias.depends_on == PREMISE
    iw = claims["Ideal-words accuracy drops slightly in the full-information setting (Fig. 1b f)"]
    assert iw.per_seed == pytest.approx(list(per_seed["ideal_words"][:, -2] - per_seed["ideal_words"][:, -1]))
    closes = claims["With full information training closes most of the initial gap (Fig. 7)"]
    assert closes.per_seed == pytest.approx(list(1 - per_seed["l2m"][:, -1] / np.array(m["l2m_at_init"])))
    assert closes.null == CLOSE_SHARE
    assert closes.depends_on == "Modality gap (L2M) falls as captions carry more attributes (Fig. 1b a)"


def test_quick_models_do_not_learn_the_digit_so_nothing_is_judged(run):
    # the quick models stay at chance on the digit (0.1): no quick verdict may stand in for the full one
    claims = _by_text(run)
    assert np.max(run.measured["per_seed"]["zs_digit"]) < DIGIT_CHANCE + LEARN_MARGIN
    assert claims[PREMISE].verdict == "not held"
    assert {c.verdict for c in run.claims if c.kind == "evidence"} == {"inconclusive"}
    assert all("not judged" in c.note for c in run.claims if c.kind == "evidence")


def test_gap_falls_with_caption_information_at_quick_scale(run):
    # measured, not claimed (the claims are not judged at this scale): the trend is there all the same
    m = run.measured["mean"]
    assert m["l2m"][0] > m["l2m"][-1] + 0.1
    assert m["rmg"][0] > m["rmg"][-1] + 0.1
    assert all(r < 0 for r in run.measured["spearman_vs_k"]["l2m"])
    assert run.measured["mean"]["l2m"][-1] < float(np.mean(run.measured["l2m_at_init"]))


def test_attribute_accuracy_above_chance(run):
    # 16 attribute values over 5 factors: mean chance level is mean(1/3, 1/2, 1/2, 1/2, 1/7) ≈ 0.40
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
