"""embedding-shift (000 §4.1, Fig. 10): asserted from the measurement at quick scale."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gaplab.io import make_example_pairs
from gaplab.recipes import reproduce

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


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
    assert json.loads((tmp_path / "run.json").read_text())["config"]["pairs"].endswith("videoclip_pairs.npy")


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


def _bad_pairs(tmp_path, kind):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 8)), rng.normal(size=(100, 8))
    if kind == "zero":
        y[7] = 0.0
        path = tmp_path / "zero.npz"
        np.savez(path, image=x, text=y)
    else:  # float16 file whose value overflowed to inf when it was written
        x16 = x.astype(np.float16)
        x16[3, 2] = np.inf
        path = tmp_path / "overflow.npz"
        np.savez(path, image=x16, text=y.astype(np.float16))
    return path


@pytest.mark.parametrize(
    ("kind", "msg"),
    [("zero", r"zero\.npz: text embeddings.*all-zero row \(row 7\)"),
     ("overflow", r"overflow\.npz: image embeddings.*first inf at row 3, column 2 \(float16 overflow")],
)
def test_bad_pairs_file_names_the_real_problem(tmp_path, kind, msg):
    from click.testing import CliRunner

    from gaplab import InputError
    from gaplab.cli import main

    path = _bad_pairs(tmp_path, kind)
    with pytest.raises(InputError, match=rf"^embedding-shift: .*{msg}") as e:
        reproduce("embedding-shift", quick=True, out=tmp_path / "out", pairs=path, verbose=False, progress=False)
    assert "NaN" not in str(e.value)
    r = CliRunner().invoke(main, ["reproduce", "embedding-shift", "--quick", "--pairs", str(path),
                                  "--out", str(tmp_path / "out2")])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("gaplab: error: embedding-shift: ") and "NaN" not in lines[0]
