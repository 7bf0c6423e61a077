"""embedding-shift, linear-separability and dimension-ablation on the Fashion-MNIST CLIP (``model=gaplab-clip-fashion``).

A tiny model on fake data (the ``tiny_fashion`` fixture), so the tests need neither the real
data nor the cached weights.
"""

from __future__ import annotations

import json

import pytest
from _contract import check_record

pytest.importorskip("torch")

from gaplab import ConfigError  # noqa: E402
from gaplab.recipes import reproduce  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}


@pytest.mark.parametrize(("name", "param", "valid"), [
    ("embedding-shift", {"steps": 10}, "gaplab-minilm-digits, gaplab-clip-fashion"),
    ("linear-separability", {"steps": 10}, "gaplab-minilm-digits, gaplab-clip-fashion"),
    ("dimension-ablation", {"n_attributes": 2}, "mad-clip, gaplab-clip-fashion"),
])
def test_model_choice_and_parameters_of_the_other_model_are_one_line_errors(tmp_path, name, param, valid):
    with pytest.raises(ConfigError, match=f"unknown model 'clip'; valid: {valid}") as e:
        reproduce(name, out=tmp_path / "a", params={"model": "clip"}, verbose=False, progress=False)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=f"{next(iter(param))}.* appl(y|ies) to model") as e:
        reproduce(name, out=tmp_path / "b", params={**FASHION, **param}, verbose=False, progress=False)
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
