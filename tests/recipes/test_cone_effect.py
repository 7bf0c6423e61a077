"""cone-effect (000 Fig. 2): the claims that hold at quick scale, asserted from the measurement."""

from __future__ import annotations

import json

import pytest
from _contract import check_record

from gaplab.recipes import reproduce

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def run(quick_run):
    return quick_run("cone-effect")


def test_outputs_written(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "cone-effect" and data["config"]["quick"] is True
    for f in ("cone_histograms.png", "cone_by_depth.png", "cone_random_inits.png"):
        assert (run.out / f).stat().st_size > 10_000
        assert f in data["figures"]
    check_record(data)


def test_nonlinear_cone_grows_with_depth(run):
    curves = run.measured["mean_cosine_by_depth"]
    for data in ("gaussian", "digits"):
        assert abs(curves[data]["relu"][0]) < 0.05  # inputs are not a cone
        for act in ("relu", "leaky_relu", "sigmoid", "tanh"):
            c = curves[data][act]
            assert c[-1] > c[1] and c[-1] > 0.3, (data, act, c[-1])
            assert run.measured["spearman_depth"][data][act] > 0.8
        assert curves[data]["relu"][-1] > 0.95
        assert abs(curves[data]["none"][-1]) < 0.1  # linear: ~0


def test_random_inits_point_different_ways(run):
    inits = run.measured["inits"]
    assert inits["within_cone_cos"] > 0.5
    assert inits["between_centre_cos"] < 0.5 * inits["within_cone_cos"]
    assert inits["init_variance_share"] > 0.5


def test_fixture_dumps_are_cones(run):
    fx = run.measured["fixture_mean_cosine"]
    assert set(fx) == {"videoclip_video", "videoclip_text", "clasp_protein", "clasp_text"}
    assert min(fx.values()) > 0.3


def test_claims_match_measurement(run):
    held = {c.claim: c.held for c in run.claims}
    assert all(held.values()), [k for k, v in held.items() if not v]


def test_seeded(tmp_path):
    params = {"depth": 4, "n_inits": 3, "init_depth": 2}
    a = reproduce("cone-effect", quick=True, out=tmp_path / "a", seed=5, params=params, verbose=False, progress=False)
    b = reproduce("cone-effect", quick=True, out=tmp_path / "b", seed=5, params=params, verbose=False, progress=False)
    c = reproduce("cone-effect", quick=True, out=tmp_path / "c", seed=6, params=params, verbose=False, progress=False)
    assert a.measured == b.measured
    assert a.measured["inits"] != c.measured["inits"]
