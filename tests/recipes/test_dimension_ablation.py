"""dimension-ablation (004 Fig. 2b, 2c, 3a): quick run on the MAD model and on a published pairs dump."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

from gaplab.metrics import l2m
from gaplab.recipes import reproduce
from gaplab.recipes.dimension_ablation import greedy_ablation

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def mad_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dimabl")
    return reproduce("dimension-ablation", quick=True, out=out, seed=0, verbose=False, progress=False)


@pytest.fixture(scope="module")
def pairs_run(tmp_path_factory, fixture_path):
    out = tmp_path_factory.mktemp("dimabl_pairs")
    return reproduce("dimension-ablation", quick=True, out=out, seed=0, verbose=False, progress=False,
                     pairs=fixture_path("videoclip_pairs.npy"))


@pytest.fixture(scope="module")
def fixture_path():
    """Module-scoped twin of the conftest fixture (the module-scoped run fixture needs it)."""
    from gaplab.data.published import PUBLISHED, published_file

    by_file = {f: n for n, (f, _) in PUBLISHED.items()}
    return lambda name: published_file(by_file[name])


def test_outputs_written(mad_run):
    data = json.loads((mad_run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "dimension-ablation" and data["config"]["quick"] is True
    assert (mad_run.out / "dimension_ablation.png").stat().st_size > 10_000
    assert len(data["claims"]) == 4
    check_record(data)


def test_two_dimensions_separate_the_modalities(mad_run, pairs_run):
    for run in (mad_run, pairs_run):
        assert run.measured["dimension_gap"]["best_pair_accuracy"] >= 0.98
        assert run.measured["dimension_gap"]["share_top"] >= 0.25  # a few dimensions carry the gap


def test_greedy_removal_lowers_the_gap(mad_run, pairs_run):
    for run in (mad_run, pairs_run):
        gaps = run.measured["ablation"]["l2m"]
        assert gaps[0] > 0.5 and min(gaps) < 0.9 * gaps[0]
        assert len(run.measured["ablation"]["performance"]) == len(gaps)
        assert len(set(run.measured["ablation"]["order"])) == len(run.measured["ablation"]["order"])
    assert pairs_run.measured["performance_name"].startswith("image")


def test_greedy_step_is_the_best_single_removal():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6)) + [3, 0, 0, 0, 0, 0]
    y = rng.normal(size=(60, 6)) + [0, -2, 0, 0, 0, 0]
    out = greedy_ablation(x, y, max_removed=1)
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    brute = []
    for j in range(6):
        keep = np.ones(6, bool)
        keep[j] = False
        brute.append(l2m(xn * keep, yn * keep))
    assert out["order"] == [int(np.argmin(brute))]
    assert out["l2m"][1] == pytest.approx(min(brute))


def test_seeded(tmp_path, fixture_path):
    a = reproduce("dimension-ablation", quick=True, out=tmp_path / "a", seed=3, verbose=False, progress=False,
                  pairs=fixture_path("clasp_pairs.npy"))
    b = reproduce("dimension-ablation", quick=True, out=tmp_path / "b", seed=3, verbose=False, progress=False,
                  pairs=fixture_path("clasp_pairs.npy"))
    assert a.measured["ablation"] == b.measured["ablation"]
    assert a.measured["dimension_gap"]["best_pair"] == b.measured["dimension_gap"]["best_pair"]
