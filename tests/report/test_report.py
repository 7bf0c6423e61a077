"""The report as a user sees it: every figure embedded, every number present and finite."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab import InputError
from gaplab.cli import main
from gaplab.io import make_example_pairs
from gaplab.metrics import l2m
from gaplab.report import build_report
from gaplab.runs import Claim, RunRecord


def _imgs(text):
    return re.findall(r"src='data:image/(png|gif);base64,([A-Za-z0-9+/=]+)'", text)


def test_pairs_report_embeds_figures_and_finite_numbers(tmp_path, fixture_path):
    out = build_report([fixture_path("clasp_pairs.npy")], tmp_path / "r.html", umap=False)
    text = out.read_text()
    imgs = _imgs(text)
    assert len(imgs) == 3  # cosine histograms, PCA, per-dimension bars
    for _, b64 in imgs:
        assert base64.b64decode(b64)[:4] == b"\x89PNG"
    assert "http://" not in text and "https://" not in text  # opens offline
    table = re.findall(r"<tr><td>(\w+)</td><td[^>]*>([^<]*)</td>", text)
    values = dict(table)
    for key in ("l2m", "rmg", "uniformity_image", "i2t_r1", "linear_separability"):
        assert key in values
        assert np.isfinite(float(values[key])), key
    # the number shown is the metric (4 significant digits)
    from gaplab.io import load_pairs

    p = load_pairs(fixture_path("clasp_pairs.npy"))
    assert float(values["l2m"]) == pytest.approx(l2m(p.image, p.text), rel=1e-3)


def test_run_folder_and_side_by_side(tmp_path, fixture_path):
    run = tmp_path / "run"
    run.mkdir()
    make_example_pairs(run / "emb.npz", n=120, dim=8)
    RunRecord(
        kind="recipe", name="toy", paper="000", config={}, seed=0, wall_time_s=1.0, measured={"gap": 0.3},
        history={"records": [{"step": s, "loss": 1.0 / (s + 1), "l2m": 0.5 + s / 100} for s in range(0, 50, 10)]},
        claims=[Claim("gap > 0", 0.8, 0.3, "held"), Claim("gap > 1", 1.2, 0.3, "not held"),
                Claim("gap > 0.2", 0.8, 0.3, "inconclusive", criterion="gap − 0.2 > 0", effect=0.1,
                      ci95=[-0.05, 0.25], n_seeds=3, per_seed=[0.0, 0.1, 0.2])],
        pairs=["emb.npz"],
    ).write(run)
    out = build_report([run, fixture_path("videoclip_pairs.npy")], tmp_path / "r.html", umap=False)
    text = out.read_text()
    assert "Side by side" in text
    assert text.count("NOT HELD") == 1 and "<tr class=\"held\">" in text
    assert "<tr class=\"incon\"><td>INCONCLUSIVE</td>" in text and "0.1 [-0.05, 0.25], 3 seed(s)" in text
    assert len(_imgs(text)) == 1 + 3 + 3  # history + pairs in the run + the fixture


def test_markdown_format(tmp_path, fixture_path):
    out = build_report([fixture_path("clasp_pairs.npy")], tmp_path / "r.md", format="md", umap=False)
    text = out.read_text()
    pngs = re.findall(r"\]\((r_figures/[^)]+\.png)\)", text)
    assert len(pngs) == 3 and all((tmp_path / p).exists() for p in pngs)
    assert "| l2m |" in text


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        build_report([tmp_path / "nope"], tmp_path / "r.html")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: not a run folder \(no run.json\)"):
        build_report([tmp_path / "empty"], tmp_path / "r.html")
    res = CliRunner().invoke(main, ["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and res.stderr.startswith("gaplab: error:")


def test_zero_shot_row_when_the_file_has_class_prompts(tmp_path):
    from gaplab.io import save_pairs
    from gaplab.metrics import zero_shot_accuracy

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)
    centres = rng.normal(size=(3, 8))
    x = centres[labels] + 0.3 * rng.normal(size=(60, 8))
    y = centres[labels] + 0.3 * rng.normal(size=(60, 8))
    save_pairs(tmp_path / "p.npz", x, y, labels=labels, class_text=centres)
    text = build_report([tmp_path / "p.npz"], tmp_path / "r.html", umap=False).read_text()
    shown = float(re.search(r"<td>zero_shot</td><td[^>]*>([^<]*)</td>", text).group(1))
    assert shown == pytest.approx(zero_shot_accuracy(x, centres, labels), abs=1e-3)
