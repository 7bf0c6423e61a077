"""The recipe system itself: registry, run.json contract, CLI, errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gaplab import ConfigError, UnknownNameError
from gaplab.cli import main
from gaplab.recipes import _base, list_recipes, register_recipe, reproduce


@pytest.fixture
def toy_recipe():
    name = "_toy-test-recipe"
    if name not in _base.RECIPES:

        @register_recipe(name, paper="test", summary="a toy recipe for the tests", accepts_pairs=False, scale=1.0)
        def _toy(ctx):
            import matplotlib.pyplot as plt

            value = float(ctx.rng.normal()) * ctx.param("scale")
            fig, ax = plt.subplots()
            ax.plot([0, 1], [0, value])
            ctx.savefig(fig, "toy")
            ctx.claim("value is finite", "any", value, value == value)
            return {"value": value}

    return name


def test_reproduce_writes_results_and_figures(toy_recipe, tmp_path):
    r = reproduce(toy_recipe, out=tmp_path, seed=3, verbose=False)
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["seed"] == 3 and data["kind"] == "recipe" and data["name"] == toy_recipe
    assert data["claims"][0]["held"] is True
    assert (tmp_path / "toy.png").stat().st_size > 0
    assert data["figures"] == ["toy.png"]
    # same seed, same numbers
    r2 = reproduce(toy_recipe, out=tmp_path / "again", seed=3, verbose=False)
    assert r.measured == r2.measured


def test_unknown_recipe_and_param(toy_recipe, tmp_path):
    with pytest.raises(UnknownNameError, match="unknown recipe 'no-such'"):
        reproduce("no-such", out=tmp_path)
    with pytest.raises(ConfigError, match="unknown parameter"):
        reproduce(toy_recipe, out=tmp_path, params={"bogus": 1})
    with pytest.raises(ConfigError, match="does not take --pairs"):
        reproduce(toy_recipe, out=tmp_path, pairs=tmp_path / "x.npz")


def test_cli_list_and_unknown(toy_recipe):
    res = CliRunner().invoke(main, ["reproduce", "--list"])
    assert res.exit_code == 0
    for name in list_recipes():
        assert name in res.output
    res = CliRunner().invoke(main, ["reproduce", "no-such-recipe"])
    assert res.exit_code == 2
    assert "unknown recipe" in res.output


def test_reproduce_api_checks_seed_threads_params_and_folder(toy_recipe, tmp_path):
    with pytest.raises(ConfigError, match="seed must be an integer >= 0, got -1"):
        reproduce(toy_recipe, out=tmp_path / "a", seed=-1, verbose=False)
    with pytest.raises(ConfigError, match="threads must be an integer >= 1, got 0"):
        reproduce(toy_recipe, out=tmp_path / "a", threads=0, verbose=False)
    with pytest.raises(ConfigError, match="parameter scale must be a number, got 'big'"):
        reproduce(toy_recipe, out=tmp_path / "a", params={"scale": "big"}, verbose=False)
    reproduce(toy_recipe, out=tmp_path / "a", verbose=False)
    with pytest.raises(ConfigError, match=r"already holds a run \(run.json\)"):
        reproduce(toy_recipe, out=tmp_path / "a", verbose=False, overwrite=False)
    reproduce(toy_recipe, out=tmp_path / "a", verbose=False)  # the Python default replaces the run
