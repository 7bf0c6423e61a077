"""sphere: 001 eq. 2's alignment and uniformity terms on all pairs, their curves, and the tension claim."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gaplab.recipes.sphere import _tension, eq2_terms

TENSION = ("CLIP (polar init): the gap phase trades alignment for uniformity (eq. 2): from the middle of the "
           "two-rings phase to the final closed state L_alignment falls and L_uniformity rises")


def test_eq2_terms_hand_case():
    # x = (e1, e2), y = (e2, e3), tau = 0.5: logits [[0, 0], [2, 0]]
    x = np.array([[1.0, 0, 0], [0, 1, 0]])
    y = np.array([[0.0, 1, 0], [0, 0, 1]])
    a, u = eq2_terms(x, y, 0.5)
    assert a == pytest.approx(0.0, abs=1e-15)  # both pairs orthogonal
    # rows: log 2, log(1 + e^2); columns: log(1 + e^2), log 2
    assert u == pytest.approx(0.5 * (math.log(2) + math.log(1 + math.e**2)), rel=1e-13)
    # identical pairs, tau = 1: alignment -1, uniformity log(1 + e)
    a, u = eq2_terms(np.eye(2, 3), np.eye(2, 3), 1.0)
    assert (a, u) == (pytest.approx(-1.0), pytest.approx(math.log(1 + math.e)))


def test_eq2_terms_stable_at_tiny_temperature():
    from scipy.special import logsumexp

    # a row whose own logits lie 1,000 below the largest one: the shared shift would underflow
    x = np.array([[1.0, 0, 0], [0, 1, 0]])
    y = np.array([[1.0, 0, 0], [0, -1, 0]])
    tau = 1e-3
    a, u = eq2_terms(x, y, tau)
    logits = x @ y.T / tau
    want = 0.5 * (logsumexp(logits, axis=1).mean() + logsumexp(logits, axis=0).mean())
    assert math.isfinite(u) and u == pytest.approx(want, rel=1e-12)
    assert a == pytest.approx(0.0, abs=1e-9)  # -(1000 - 1000) / 2


@pytest.mark.parametrize("tau", [0.03, 0.07, 1.0])
def test_sum_is_the_full_batch_clip_loss(tau):
    import torch

    from gaplab.train.losses import clip_loss

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = x + 0.5 * rng.normal(size=(300, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    a, u = eq2_terms(x, y, tau)
    loss, parts = clip_loss(torch.from_numpy(x), torch.from_numpy(y), tau)
    assert a + u == pytest.approx(float(loss), rel=1e-12)
    assert a == pytest.approx(float(parts["alignment"]), rel=1e-12)
    assert u == pytest.approx(float(parts["uniformity"]), rel=1e-12)
    assert u >= -a  # each log-sum holds its own pair: the loss is >= 0


def test_tension_reading_on_a_made_up_curve():
    record = [0, 10, 100, 1_000, 10_000, 100_000]
    flags = [False, True, True, True, False, False]
    curve = {"l2i": [1.5, 1.4, 1.3, 1.2, 0.5, 0.01],
             "loss_alignment": [0.0, -1.0, -2.0, -3.0, -10.0, -14.0],
             "loss_uniformity": [5.0, 6.0, 7.0, 8.0, 12.0, 16.0]}
    t = _tension(record, flags, curve, 0.05)
    assert (t["ring_first"], t["ring_last"], t["ring_middle"]) == (10, 1_000, 100)  # sqrt(10 * 1000)
    assert t["d_uniformity"] == 9.0 and t["d_alignment"] == -12.0 and t["effect"] == 9.0 and not t["reason"]
    # uniformity falling on the way to the closed state: a negative effect
    falls = _tension(record, flags, {**curve, "loss_uniformity": [5.0, 6.0, 20.0, 8.0, 12.0, 16.0]}, 0.05)
    assert falls["effect"] == -4.0
    # not closed at the end / no rings: no value, with a reason
    open_ = _tension(record, flags, {**curve, "l2i": [1.5] * 6}, 0.05)
    assert math.isnan(open_["effect"]) and "not closed" in open_["reason"]
    none = _tension(record, [False] * 6, curve, 0.05)
    assert math.isnan(none["effect"]) and "no two rings" in none["reason"] and none["ring_middle"] is None


@pytest.mark.slow
def test_quick_run_records_the_two_terms(quick_run):
    run = quick_run("sphere")
    data = json.loads((run.out / "run.json").read_text())
    m = data["measured"]
    n_steps = len(m["record_steps"])
    for k, c in m["curves"].items():
        assert len(c["loss_alignment"]) == len(c["loss_uniformity"]) == len(c["loss_clip"]) == n_steps, k
        np.testing.assert_allclose(np.add(c["loss_alignment"], c["loss_uniformity"]), c["loss_clip"], rtol=1e-12)
        tau = float(k.split("tau=")[1].split("/")[0])
        assert all(-1 / tau - 1e-9 <= v <= 1 / tau + 1e-9 for v in c["loss_alignment"]), k
        assert all(lc >= -1e-9 for lc in c["loss_clip"]), k
    assert "sphere_tension.png" in data["figures"] and (run.out / "sphere_tension.png").stat().st_size > 10_000
    assert set(m["tension"]) == {f"clip/polar/tau=0.07/seed={sd}" for sd in m["seeds"]}
    by = {c["claim"]: c for c in data["claims"]}
    c = by[TENSION]
    assert c["verdict"] in ("held", "not held", "inconclusive")
    # quick: CLIP-polar forms rings but never closes within 100k steps -> no value, inconclusive
    assert not any(m["tension"][k]["closed_at_end"] for k in m["tension"])
    assert c["verdict"] == "inconclusive" and "not closed" in c["note"]
