"""Recipe ``contrastive-gap`` (paper 003): quick run on digits, claims that hold at quick scale."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

from gaplab.recipes.contrastive_gap import LOSSES, SHRINK_MARGIN, TwoViews, _augment
from gaplab.runs import decide, t_interval

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def quick(quick_run):
    r = quick_run("contrastive-gap")
    return r, r.out


def test_outputs_exist(quick):
    res, out = quick
    data = json.loads((out / "run.json").read_text())
    assert data["measured"]["dataset"] == "digits"
    assert set(data["measured"]["results"]) == {"3", "32", "128"}
    for d in data["measured"]["results"].values():
        assert set(d) == set(LOSSES)
        for m in d.values():
            assert set(m) >= {"l2m", "uniformity", "alignment", "linear_separability", "probe_acc", "proto_acc"}
    assert (out / "contrastive_gap.png").stat().st_size > 0


def test_uniformity_terms_make_embeddings_more_uniform(quick):
    r = quick[0].measured["results"]
    for dim in ("32", "128"):
        assert r[dim]["cua"]["uniformity"] < r[dim]["clip"]["uniformity"]
        assert r[dim]["cuaxu"]["uniformity"] < r[dim]["clip"]["uniformity"]


def test_clip_leaves_a_gap_and_towers_learn(quick):
    r = quick[0].measured["results"]["128"]
    assert r["clip"]["l2m"] > 0.05  # not closed although both towers see the same images
    assert r["clip"]["probe_acc"] > 0.5  # the towers learned something (10 classes)


def test_claims_follow_measurements(quick):
    res, out = quick
    check_record(json.loads((out / "run.json").read_text()))
    ps = res.measured["per_seed"]["128"]
    by = {c.claim: c for c in res.claims}
    for loss in ("cua", "cuaxu"):
        c = by[f"{loss.upper()} shrinks the gap below CLIP's (128 d)"]
        d = [a["l2m"] - b["l2m"] for a, b in zip(ps["clip"], ps[loss], strict=True)]
        assert c.per_seed == pytest.approx(d) and c.n_seeds == 2
        assert c.verdict == decide(t_interval(d)[1], margin=SHRINK_MARGIN)
        assert by[f"{loss.upper()} makes the embeddings more uniform than CLIP (128 d)"].kind == "sanity"
    helps = by["closing the gap helps downstream accuracy (CUA vs CLIP, other-tower prototypes, 128 d)"]
    if by["CUA shrinks the gap below CLIP's (128 d)"].verdict != "held":
        assert helps.verdict == "inconclusive"


def test_augment_and_views_seeded():
    imgs = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    a = _augment(imgs, np.random.default_rng(1), 1, 0.0)
    b = _augment(imgs, np.random.default_rng(1), 1, 0.0)
    assert a.shape == (5, 64) and np.array_equal(a, b)
    # a zero shift and no noise is the identity
    assert np.array_equal(_augment(imgs, np.random.default_rng(1), 0, 0.0), imgs.reshape(5, 64))
    v1 = [x.numpy() for x, _ in TwoViews(imgs, batch_size=2, seed=3, shift=1, noise=0.1)]
    v2 = [x.numpy() for x, _ in TwoViews(imgs, batch_size=2, seed=3, shift=1, noise=0.1)]
    assert len(v1) == 2 and all(np.array_equal(p, q) for p, q in zip(v1, v2, strict=True))
