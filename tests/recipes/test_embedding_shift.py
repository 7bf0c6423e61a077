"""embedding-shift (000 §4.1, Fig. 10): asserted from the measurement at quick scale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaplab.io import make_example_pairs
from gaplab.recipes import reproduce


def _check_sweep(m):
    s = m["sweep"]
    lam = np.array(s["lambda"])
    i0, ic = int(np.argmin(np.abs(lam))), int(np.argmin(np.abs(lam - 0.5)))
    assert s["gap_signed"][i0] == pytest.approx(m["original_gap"], rel=1e-6)
    assert abs(s["gap_signed"][ic]) < 0.1 * m["original_gap"]  # λ = 0.5 closes the gap
    assert np.all(np.diff(s["gap_signed"]) < 0)  # the gap shrinks monotonically with λ
    assert np.all(np.isfinite(s["loss"]))
    return s, i0, ic


def test_fixture_pairs_without_labels(fixture_path, tmp_path):
    r = reproduce("embedding-shift", quick=True, out=tmp_path, pairs=fixture_path("videoclip_pairs.npy"),
                  verbose=False, progress=False)
    m = r.measured
    assert m["zero_shot"].startswith("skipped")
    assert "zero_shot" not in m["sweep"]
    s, i0, ic = _check_sweep(m)
    # trained VideoCLIP: closing the gap costs a lot of loss
    assert s["loss"][ic] > s["loss"][i0] + 0.5
    claims = {c.claim: c for c in r.claims}
    assert len(claims) == 2
    closing = next(c for c in r.claims if c.claim.startswith("closing the gap"))
    assert closing.held
    assert (tmp_path / "embedding_shift.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "results.json").read_text())["config"]["pairs"].endswith("videoclip_pairs.npy")


def test_pairs_with_labels_gets_zero_shot(tmp_path):
    path = make_example_pairs(tmp_path / "ex.npz", n=300, dim=16)
    r = reproduce("embedding-shift", quick=True, out=tmp_path / "out", pairs=path, verbose=False, progress=False)
    s, i0, _ = _check_sweep(r.measured)
    assert len(s["zero_shot"]) == len(s["lambda"])
    assert r.measured["zero_shot"].startswith("class text embedding")
    assert len(r.claims) == 3


def test_trained_digits_model(tmp_path):
    pytest.importorskip("gaplab.models.builtin")
    pytest.importorskip("gaplab.train.trainer")
    r = reproduce("embedding-shift", quick=True, out=tmp_path, verbose=False, progress=False)
    m = r.measured
    s, i0, ic = _check_sweep(m)
    assert s["zero_shot"][i0] > 0.5  # the trained model classifies digits zero-shot
    assert 0.005 < m["temperature"] < 0.2
    closing = next(c for c in r.claims if c.claim.startswith("closing the gap"))
    assert closing.held == (s["loss"][ic] > s["loss"][i0])
