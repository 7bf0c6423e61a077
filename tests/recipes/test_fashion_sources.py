"""embedding-shift, linear-separability and dimension-ablation on the Fashion-MNIST CLIP (``model=gaplab-clip-fashion``).

A tiny model on fake data (the ``tiny_fashion`` fixture), so the tests need neither the real
data nor the cached weights.
"""

from __future__ import annotations

import json
import sys

import pytest
from _contract import check_record

pytest.importorskip("torch")

from gaplab import ConfigError  # noqa: E402
from gaplab.recipes import get_recipe, list_recipes, reproduce  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}
#: every recipe with a ``model`` parameter, and its choices (the module's ``MODELS``)
MODEL_CHOICES = {name: sys.modules[get_recipe(name).fn.__module__].MODELS for name in list_recipes()
                 if "model" in get_recipe(name).defaults}


def test_the_recipes_that_take_the_fashion_clip():
    assert sorted(MODEL_CHOICES) == sorted([
        "contrastive-gap", "dimension-ablation", "embedding-shift", "information-imbalance", "init-vs-optimization",
        "linear-separability", "logit-entropy", "neighbourhoods", "temperature"])
    for name, models in MODEL_CHOICES.items():
        assert models[1:] == ("gaplab-clip-fashion",) and get_recipe(name).defaults["model"] == models[0], name


@pytest.mark.parametrize("name", sorted(MODEL_CHOICES))
def test_unknown_model_is_a_one_line_config_error(tmp_path, name):
    valid = ", ".join(MODEL_CHOICES[name])
    with pytest.raises(ConfigError, match=f"recipe '{name}': unknown model 'clip'; valid: {valid}$") as e:
        reproduce(name, out=tmp_path / "a", params={"model": "clip"}, verbose=False, progress=False)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(("name", "params", "message"), [
    ("embedding-shift", {"steps": 10}, r"parameter steps applies to model gaplab-minilm-digits only"),
    ("linear-separability", {"steps": 10}, r"parameter steps applies to model gaplab-minilm-digits only"),
    ("dimension-ablation", {"n_attributes": 2}, r"parameter\(s\) n_attributes apply to model mad-clip only"),
    ("temperature", {"pretrain_steps": 10}, r"pretrain_steps applies to model gaplab-minilm-digits only"),
    ("contrastive-gap", {"hidden": 8, "dataset": "digits"}, r"parameter\(s\) dataset, hidden apply to model image-mlp only"),
    ("information-imbalance", {"attributes": [1, 2, 3], "epochs": 2},
     r"parameter\(s\) attributes, epochs apply to model mad-clip only"),
    ("init-vs-optimization", {"epochs": 2, "width": 8}, r"parameter\(s\) epochs, width apply to model digits-mlp only"),
    ("logit-entropy", {"steps": 10, "tau": 0.1}, r"parameter\(s\) steps, tau apply to model latent-mlp only"),
])
def test_parameters_of_the_other_model_are_one_line_errors(tmp_path, name, params, message):
    with pytest.raises(ConfigError, match=message) as e:
        reproduce(name, out=tmp_path / "b", params={**FASHION, **params}, verbose=False, progress=False)
    assert "\n" not in str(e.value)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "tag"), [
    ("embedding-shift", "Fashion-MNIST CLIP (ours)"),
    ("linear-separability", "Fashion-MNIST CLIP (seed 0)"),
    ("dimension-ablation", "[fashion]"),
])
def test_runs_on_the_fashion_clip(tiny_fashion, tmp_path, name, tag):
    reproduce(name, quick=True, out=tmp_path / "run", seed=0, params=FASHION, verbose=False, progress=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    check_record(data)
    assert data["config"]["params"]["model"] == "gaplab-clip-fashion"
    ours = [c for c in data["claims"] if c["claim"].startswith(tag)]
    assert ours and {c["verdict"] for c in ours} <= {"held", "not held", "inconclusive"}
    assert not any("digits" in c["claim"] or "[mad]" in c["claim"] for c in data["claims"])
