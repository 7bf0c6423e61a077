"""neighbourhoods (004 Table 1, §3): quick run on a MAD model, claims asserted from the measurement."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _contract import check_record

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')


@pytest.fixture(scope="module")
def run(quick_run):
    return quick_run("neighbourhoods")


def test_outputs_written(run):
    data = json.loads((run.out / "run.json").read_text())
    assert data["kind"] == "recipe" and data["name"] == "neighbourhoods" and data["config"]["quick"] is True
    assert (run.out / "neighbourhoods.png").stat().st_size > 10_000
    assert len(data["claims"]) == 3
    check_record(data)


def test_neighbourhood_orderings_differ_across_modalities(run):
    ktd = run.measured["ktd"]
    assert set(ktd) == {"digit", "colour"}
    assert all(0.0 <= v <= 1.0 for v in ktd.values())
    assert ktd["digit"] >= 0.25


def test_gap_correction_raises_ideal_word_image_cosine(run):
    m = run.measured
    assert len(m["ideal_values"]) == 16  # every attribute value of MAD
    assert m["cos_corrected_mean"] > m["cos_raw_mean"] + 0.1
    assert m["gap_norm"] > 0 and np.all(np.array(m["cos_corrected"]) > np.array(m["cos_raw"]))
