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


# --- a report worth reading (issue 19) -------------------------------------------------------------

def _pairs_file(path, n=60, d=8, *, distinct_texts=None, seed=0):
    from gaplab.io import save_pairs

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 1.0
    y = rng.normal(size=(n, d)) - 1.0
    if distinct_texts is not None:  # captions repeat: identical text rows
        y = y[np.arange(n) % distinct_texts]
    save_pairs(path, x, y)
    return path


def test_pairs_report_states_its_settings_and_reads_retrieval_with_duplicates(tmp_path):
    text = build_report([_pairs_file(tmp_path / "dup.npz", 100, distinct_texts=10)], tmp_path / "r.html",
                        umap=False).read_text()
    assert "<td>temperature</td>" not in text and "<td>seed</td>" not in text  # settings, not results
    assert "evaluation temperature 0.01" in text and "not the model&#x27;s" in text
    assert re.search(r"<td>top_dims_share</td><td[^>]*>[^<]*</td><td>[^<]*k = 8", text)  # min(10, d)
    assert "10 distinct among 100 texts" in text and "text→image R@1 cannot exceed 10/100 = 0.10" in text
    plain = build_report([_pairs_file(tmp_path / "p.npz", 100)], tmp_path / "r2.html", umap=False).read_text()
    assert "duplicate captions" not in plain


def _wide_rows(n_methods=7):
    keys = ["l2m", "rmg", "l2i", "sw", "linear_separability", "i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5",
            "t2i_r10", "zero_shot", "probe_image", "probe_cross", "kmeans_ari", "kmeans_vmeasure",
            "kmeans_modality_ari", "mixed_same_modality", "mixed_same_modality_img", "mixed_pair_r1"]
    return [{"method": f"m{i}", "params": {"a": 1}, **{k: 0.5 + i / 100 for k in keys}} for i in range(n_methods)]


def test_wide_record_tables_are_split_transposed_and_explained(tmp_path):
    from gaplab.report.builder import MAX_COLUMNS, collect

    run = tmp_path / "run"
    RunRecord(kind="recipe", name="wide", config={}, seed=0,
              measured={"tables": {"posthoc": {"rows": _wide_rows(), "caption": "Post-hoc fixes"},
                                   "long": _wide_rows(20)}}).write(run)
    rep = collect([run], umap=False)
    tables = rep.sections[0].tables
    captions = [t.caption for t in tables]
    assert "Post-hoc fixes: gap metrics (one column per method)" in captions
    assert "Post-hoc fixes: task metrics (one column per method)" in captions
    gap = tables[captions.index("Post-hoc fixes: gap metrics (one column per method)")]
    assert gap.header == ["metric", *(f"m{i}" for i in range(7)), "meaning"]
    assert [r[0] for r in gap.rows] == ["l2m", "rmg", "l2i", "sw", "linear_separability"]
    assert all(r[-1] for r in gap.rows)  # every metric row has its meaning (from the catalogue)
    long = [t for t in tables if t.caption.startswith("long")]
    assert len(long) > 1 and all(len(t.header) <= MAX_COLUMNS and t.header[0] == "method" for t in long)
    assert all(dict(t.legend).keys() >= set(t.header[1:]) for t in long)  # a legend for each column
    text = build_report([run], tmp_path / "r.html", umap=False).read_text()
    assert "<b>Table 1.</b> Post-hoc fixes: gap metrics" in text


def test_separability_below_chance_is_explained(tmp_path):
    run = tmp_path / "run"
    RunRecord(kind="train", name="t", config={}, seed=0, final_metrics={"linear_separability": 0.37, "l2m": 0.1}
              ).write(run)
    text = build_report([run], tmp_path / "r.html", umap=False).read_text()
    assert "Linear separability below chance (0.37; chance 0.50)" in text
    RunRecord(kind="train", name="t", config={}, seed=0, final_metrics={"linear_separability": 0.52}).write(run)
    assert "below chance" not in build_report([run], tmp_path / "r.html", umap=False).read_text()


def test_recorded_duplicate_captions_reach_the_tables_and_curves(tmp_path):
    run = tmp_path / "run"
    hist = {"records": [{"step": s, "i2t_r1": 0.1 * s, "loss": 1.0} for s in range(3)]}
    RunRecord(kind="recipe", name="r", config={}, seed=0, measured={"captions": {"n": 450, "distinct": 60}},
              final_metrics={"i2t_r1": 0.15, "zero_shot": 0.98}).write(run)
    for name in ("a", "b"):
        RunRecord(kind="train", name=name, config={}, seed=0, history=hist,
                  measured={"captions": {"n": 450, "distinct": 60}}).write(run / name)
    text = build_report([run], tmp_path / "r.html", umap=False).read_text()
    assert text.count("Identical captions have identical embeddings") == 1  # in full once, then short
    compared = text.split("Training runs compared")[1].split("<h")[0]
    assert "held down by duplicate captions (60 distinct among 450" in compared  # the curves show i2t_r1


def test_run_folder_reads_in_story_order(tmp_path):
    run = tmp_path / "demo"
    hist = {"records": [{"step": s, "loss": 1.0 / (s + 1)} for s in range(3)]}
    RunRecord(kind="recipe", name="demo", config={}, seed=0, pairs=["init.npz", "b.npz"],
              measured={"tables": {"stages": [{"stage": "init", "l2m": 1.0}], "posthoc": [{"method": "x", "l2m": 0.1}]}}
              ).write(run)
    for name in ("b", "c"):
        RunRecord(kind="train", name=name, config={}, seed=0, history=hist).write(run / name)
    _pairs_file(run / "init.npz")
    _pairs_file(run / "b.npz", seed=1)
    text = build_report([run], tmp_path / "r.html", umap=False).read_text()
    titles = re.findall(r"<h([2-6])>([^<]*)</h\d>", text)
    assert [t for _, t in titles] == ["Run: demo", "Embeddings: demo/init.npz", "Training runs compared: demo",
                                      "Run: demo/b", "Embeddings: demo/b.npz", "Run: demo/c", "Details: demo"]
    assert len(_imgs(text)) == 1 + 3 + 3  # the curves once (compared), not again per run


def test_recipe_folders_show_full_width_figures_and_no_meaningless_side_by_side(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folders = []
    for name in ("r1", "r2"):
        run = tmp_path / name
        run.mkdir()
        fig, _ = plt.subplots(1, 4)
        fig.savefig(run / "panels.png")
        plt.close(fig)
        RunRecord(kind="recipe", name=name, config={}, seed=0, figures=["panels.png"],
                  measured={"n_seeds": 3, f"{name}_effect": 0.4}).write(run)
        folders.append(run)
    text = build_report(folders, tmp_path / "r.html", umap=False).read_text()
    assert "Side by side" not in text  # two recipes' own numbers are not one metric
    assert text.count("<figure class=wide><label class='zoom'><input type='checkbox'><img") == 2


def test_side_by_side_keeps_shared_catalogue_metrics(tmp_path):
    a = _pairs_file(tmp_path / "a.npz")
    run = tmp_path / "run"
    RunRecord(kind="train", name="t", config={}, seed=0, final_metrics={"l2m": 0.4, "loss": 2.0}).write(run)
    text = build_report([a, run], tmp_path / "r.html", umap=False).read_text()
    side = text.split("<h2>Side by side</h2>")[1].split("</table>")[0]
    assert "<td>l2m</td>" in side and "<td>loss</td>" not in side and "distance between modality means" in side


def test_progress_goes_to_stderr(tmp_path, capsys):
    build_report([_pairs_file(tmp_path / "a.npz")], tmp_path / "r.html", umap=False, progress=True)
    err = capsys.readouterr().err
    assert "a.npz: gap metrics (60 pairs)" in err and "writing" in err
    build_report([_pairs_file(tmp_path / "a.npz")], tmp_path / "r.html", umap=False)
    assert capsys.readouterr().err == ""


def test_multi_modality_measure_is_drawn_as_a_matrix(tmp_path):
    from gaplab.metrics import measure_modalities

    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 6))
    mods = {"image": base + 1, "text": base - 1, "audio": base + rng.normal(size=(40, 6))}
    res = measure_modalities(mods, include_pairwise=False)
    run = tmp_path / "run"
    RunRecord(kind="recipe", name="three", config={}, seed=0, measured={"modalities": res}).write(run)
    text = build_report([run], tmp_path / "r.html", umap=False).read_text()
    assert "<h3>Modalities: run (modalities)</h3>" in text
    assert "<td>image vs audio</td>" in text and "distance to the joint centre" in text
    assert len(_imgs(text)) == 1
    want = l2m(mods["image"], mods["text"])
    assert re.search(rf"<td>image vs text</td><td class=num>{want:.4g}</td>", text)


def test_modality_matrix_plot():
    from gaplab.report.plots import modality_matrix

    res = {"modalities": ["a", "b$", "c"], "pairs": {"a|b$": {"l2m": 0.8}, "b$|c": {"l2m": "x"}}}
    fig = modality_matrix(res)
    mat = fig.axes[0].images[0].get_array()
    assert float(mat[0, 1]) == pytest.approx(0.8) and float(mat[1, 0]) == pytest.approx(0.8)
    assert bool(mat.mask[1, 2]) and float(mat[2, 2]) == 0.0  # not a number: masked; the diagonal of a distance
    with pytest.raises(InputError, match="needs 'modalities'"):
        modality_matrix({"modalities": ["a"], "pairs": {}})
