"""init-gap (000 Fig. 1c): a random-init two-tower already has a gap, asserted from the measurement."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def run(quick_run):
    return quick_run("init-gap")


def test_outputs_written(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "init-gap"
    assert (run.out / "init_gap.png").stat().st_size > 10_000
    assert len(data["claims"]) == len(run.measured["models"])


def test_gap_at_init_beats_shuffled_labels(run):
    models = run.measured["models"]
    assert "random-mlp" in models
    for name, st in models.items():
        assert st["l2m"] > 0.5, name
        assert st["l2m"] > 2 * st["null_l2m_max"], name
        assert st["separability"] > 0.95, name  # two disjoint cones
    assert all(c.held for c in run.claims)


def test_builtin_model_when_available(run):
    pytest.importorskip("gaplab.models.builtin")
    st = run.measured["models"]["builtin"]
    assert 0.5 < st["l2m"] < 2.0
