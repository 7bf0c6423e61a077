"""Every registered recipe meets the run-record contract at --quick (a new recipe is covered with
no new test code, as timm's tests parametrise over list_models())."""

from __future__ import annotations

import json

import pytest
from _contract import check_record

from gaplab.recipes import get_recipe, list_recipes
from gaplab.runs import RunRecord

pytestmark = pytest.mark.slow  # runs every recipe (see the fast tier: pytest -m 'not slow')


@pytest.mark.parametrize("name", list_recipes())
def test_run_record_contract(name, quick_run):
    record = quick_run(name)
    recipe = get_recipe(name)
    assert recipe.paper and recipe.summary
    on_disk = json.loads((record.out / "run.json").read_text())
    check_record(on_disk)  # schema; every verdict re-derived from its own numbers
    assert RunRecord.read(record.out).to_dict() == record.to_dict()  # what was returned is what was written
    assert on_disk["name"] == name and on_disk["kind"] == "recipe" and on_disk["config"]["quick"] is True
    for fig in record.figures:
        assert (record.out / fig).is_file(), fig
    for pairs in record.pairs:
        assert (record.out / pairs).is_file(), pairs
    # seeds: interval claims rest on at least two seeds at --quick
    for c in record.claims:
        if c.interval.startswith("Student-t"):
            assert c.n_seeds >= 2, c.claim
