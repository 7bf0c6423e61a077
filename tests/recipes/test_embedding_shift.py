"""embedding-shift (000 §4.1, Fig. 10): the real CLIP dump and our model in their own rows, claims re-derived."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

from gaplab import InputError
from gaplab.io import make_example_pairs
from gaplab.recipes import reproduce
from gaplab.recipes.embedding_shift import (
    LOSS_MARGIN,
    N_FOLDS,
    TAGS,
    TOL_LAMBDA,
    ZS_MARGIN,
    batch_losses,
    crossfit_gain,
    refine_argmin,
)
from gaplab.runs import decide, t_interval

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


def _check_sweep(s, original_gap):
    lam = np.array(s["lambda"])
    i0, ic = int(np.argmin(np.abs(lam))), int(np.argmin(np.abs(lam - 0.5)))
    assert s["gap_signed"][i0] == pytest.approx(original_gap, rel=1e-6)
    assert abs(s["gap_signed"][ic]) < 0.1 * original_gap  # λ = 0.5 closes the gap
    assert np.all(np.diff(s["gap_signed"]) < 0)  # the gap shrinks monotonically with λ
    assert np.all(np.isfinite(s["loss"]))
    return i0, ic


def _claims_of(r, key):
    return {c.claim[len(TAGS[key]) + 2:]: c for c in r.claims if c.claim.startswith(TAGS[key] + ": ")}


def _check_claims(claims, src, *, n):
    """Each claim's per-replicate values are what the source measured, its verdict decide() of their interval."""
    expect = {"closing the gap": ("loss_increase", 0.0, LOSS_MARGIN, ">"),
              "the contrastive loss is minimal": ("lambda_at_min_abs", TOL_LAMBDA, 0.0, "<"),
              "a small shift": ("zs_gain", 0.0, ZS_MARGIN, ">")}
    seen = 0
    for start, (key, null, margin, side) in expect.items():
        match = [c for text, c in claims.items() if text.startswith(start)]
        if key not in src:
            assert not match
            continue
        (c,) = match
        values = src[key]
        assert c.per_seed == pytest.approx(values) and c.n_seeds == len(values) == (N_FOLDS if key == "zs_gain"
                                                                                     and src["unit"] == "batch" else n)
        assert (c.null, c.margin, c.side) == (null, margin, side)
        assert c.verdict == decide(t_interval(values)[1], null=null, margin=margin, side=side) == c.rederive()
        seen += 1
    assert seen == len(claims)


@pytest.fixture(scope="module")
def quick(quick_run):
    pytest.importorskip("gaplab.models.builtin")
    pytest.importorskip("gaplab.train.trainer")
    return quick_run("embedding-shift")


def test_default_reports_real_clip_beside_our_model(quick):
    m = quick.measured
    assert set(m["sources"]) == {"clip_coco", "ours"}
    assert len(_claims_of(quick, "clip_coco")) == 2 and len(_claims_of(quick, "ours")) == 3
    assert len(quick.claims) == 5
    check_record(json.loads((quick.out / "run.json").read_text()))
    assert (quick.out / "embedding_shift.png").stat().st_size > 10_000


def test_real_clip_dump(quick):
    src = quick.measured["sources"]["clip_coco"]
    assert src["n_batches"] == 500 // 64 and src["temperature"] == 0.01
    i0, ic = _check_sweep(src["sweep"], src["original_gap"])
    lb = np.array(src["loss_batches"])  # (batch, λ)
    assert lb.shape == (7, len(src["sweep"]["lambda"]))
    assert np.allclose(lb.mean(0), src["sweep"]["loss"])
    assert src["loss_increase"] == pytest.approx(list(lb[:, ic] - lb[:, i0]))
    lam = np.array(src["sweep"]["lambda"])
    assert src["lambda_at_min_abs"] == pytest.approx([abs(refine_argmin(lam, row)) for row in lb])
    _check_claims(_claims_of(quick, "clip_coco"), src, n=7)
    # the paper's own model and data: closing the gap costs loss, the minimum sits at the original gap
    assert all(c.verdict == "held" for c in _claims_of(quick, "clip_coco").values())


def test_our_model_over_seeds(quick):
    src = quick.measured["sources"]["ours"]
    assert [r["seed"] for r in src["runs"]] == [0, 1]
    for r in src["runs"]:
        i0, ic = _check_sweep(r["sweep"], r["original_gap"])
        assert r["sweep"]["zero_shot"][i0] > 0.5  # the trained model classifies digits zero-shot
        assert 0.005 < r["temperature"] < 0.2
        assert r["loss_increase"] == pytest.approx(r["sweep"]["loss"][ic] - r["sweep"]["loss"][i0])
        assert r["zs_gain"] == pytest.approx(np.mean(r["zs_fold_gains"]))  # 450 images: equal folds
    assert src["loss_increase"] == [r["loss_increase"] for r in src["runs"]]
    _check_claims(_claims_of(quick, "ours"), src, n=2)


def test_fixture_pairs_without_labels(fixture_path, tmp_path):
    r = reproduce("embedding-shift", quick=True, out=tmp_path, pairs=fixture_path("videoclip_pairs.npy"),
                  verbose=False, progress=False)
    m = r.measured
    assert m["zero_shot"].startswith("skipped") and set(m["sources"]) == {"pairs"}
    src = m["sources"]["pairs"]
    assert "zero_shot" not in src["sweep"] and "zs_gain" not in src
    i0, ic = _check_sweep(src["sweep"], src["original_gap"])
    assert src["sweep"]["loss"][ic] > src["sweep"]["loss"][i0] + 0.5  # trained VideoCLIP: closing costs a lot
    claims = _claims_of(r, "pairs")
    assert len(claims) == len(r.claims) == 2
    _check_claims(claims, src, n=src["n_batches"])
    check_record(json.loads((tmp_path / "run.json").read_text()))
    assert json.loads((tmp_path / "run.json").read_text())["config"]["pairs"].endswith("videoclip_pairs.npy")


def test_pairs_with_labels_gets_zero_shot(tmp_path):
    path = make_example_pairs(tmp_path / "ex.npz", n=300, dim=16)
    r = reproduce("embedding-shift", quick=True, out=tmp_path / "out", pairs=path, verbose=False, progress=False)
    src = r.measured["sources"]["pairs"]
    _check_sweep(src["sweep"], src["original_gap"])
    assert len(src["sweep"]["zero_shot"]) == len(src["sweep"]["lambda"])
    assert r.measured["zero_shot"].startswith("class text embedding")
    claims = _claims_of(r, "pairs")
    assert len(claims) == 3
    _check_claims(claims, src, n=src["n_batches"])


def test_batch_losses_match_the_engine_loss():
    torch = pytest.importorskip("torch")
    from gaplab.train.losses import clip_loss

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 16))
    y = x + rng.normal(size=(200, 16))
    perm = np.random.default_rng([7, 3]).permutation(200)
    ref = [float(clip_loss(torch.from_numpy(x[perm[i:i + 64]]), torch.from_numpy(y[perm[i:i + 64]]), 0.05)[0])
           for i in range(0, 192, 64)]
    assert batch_losses(x, y, 0.05, 64, 7) == pytest.approx(ref, abs=1e-12)


def test_refine_argmin_is_grid_independent():
    for step in (0.05, 0.125, 0.25):
        lam = np.round(np.arange(-1.0, 1.5 + 1e-9, step), 4)
        assert refine_argmin(lam, (lam - 0.07) ** 2 + 1.0) == pytest.approx(0.07)
    lam = np.arange(0.0, 1.01, 0.25)
    assert refine_argmin(lam, lam) == 0.0  # minimum at the end of the grid: the grid point


def test_crossfit_removes_the_selection_bias_of_the_maximum():
    """On pure noise (no λ helps) the best of 11 shifts beats λ = 0; the cross-fitted gain does not."""
    lam = np.round(np.arange(-0.25, 0.26, 0.05), 4)
    rng = np.random.default_rng(0)
    best_minus_zero, crossfit = [], []
    for k in range(200):
        correct = rng.random((len(lam), 450)) < 0.9  # every λ equally accurate in truth
        acc = correct.mean(1)
        best_minus_zero.append(acc.max() - acc[5])
        gains, _ = crossfit_gain(correct, lam, seed=k)
        crossfit.append(np.mean(gains))
    assert np.mean(best_minus_zero) > ZS_MARGIN  # the former criterion: "held" on noise
    assert abs(np.mean(crossfit)) < 0.004  # unbiased: ~0 on average
    # a real gain is found: λ = 0.1 correct on 5 % more of the images
    correct = rng.random((len(lam), 450)) < 0.85
    correct[7] |= rng.random(450) < 0.4
    gains, sizes = crossfit_gain(correct, lam, seed=0)
    assert sizes == [90] * N_FOLDS and np.mean(gains) > ZS_MARGIN


def test_crossfit_needs_zero_on_the_grid():
    with pytest.raises(InputError, match="must contain 0"):
        crossfit_gain(np.ones((2, 10), dtype=bool), np.array([0.1, 0.2]), seed=0)


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
