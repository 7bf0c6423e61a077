"""A report never runs what a run folder says, never embeds files from outside it, and turns
bad inputs into one ``gaplab: error:`` line."""

from __future__ import annotations

import base64
import html
import json
import re
import warnings
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner

from gaplab import InputError
from gaplab.cli import main
from gaplab.io import save_pairs
from gaplab.report import build_report

XSS = "<script>alert(1)</script>"
XSS_NAME = XSS.replace("/", "_")  #: as a file name
IMG = "<img src=x onerror=alert(2)>"
LINK = "[click](https://evil.example/)"
#: a real 1x1 PNG, with a marker after IEND so its bytes are unique
SECRET = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
) + b"TOP-SECRET"

#: every tag and attribute the renderer writes itself
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "h4", "p", "b", "div", "table",
        "tr", "th", "td", "figure", "img", "figcaption", "label", "input"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _assert_no_markup_from_data(text: str) -> None:
    assert "<script" not in text.lower()
    parser = _Tags()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert tag in TAGS, tag
        assert set(attrs) <= {"charset", "class", "alt", "src", "type"}, (tag, attrs)
        if "type" in attrs or tag == "input":  # the click-to-enlarge toggle, nothing else
            assert tag == "input" and attrs == {"type": "checkbox"}, (tag, attrs)
        if tag == "img":
            assert re.fullmatch(r"data:image/(png|gif);base64,[A-Za-z0-9+/=]+", attrs["src"] or "")


def _embedded(text: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r"src='data:image/(?:png|gif);base64,([A-Za-z0-9+/=]+)'", text)]


@pytest.fixture
def evil_run(tmp_path):
    """A run folder whose every piece of text is markup, with figures that point outside it."""
    (tmp_path / "secret.png").write_bytes(SECRET)
    run = tmp_path / f"run{IMG}"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "kind": "recipe", "name": XSS, "paper": IMG, "seed": XSS, "wall_time_s": 1.5, "config": {XSS: IMG},
        "engine": XSS,
        "figures": [str(tmp_path / "secret.png"), "../secret.png", "/etc/passwd.png", "inside_link.png",
                    "linked.png", f"{XSS}.png"],
        "measured": {XSS: 0.5, "gap": 0.3, "headline": f"{XSS} {LINK}",
                     "tables": {"stages": [{f"{XSS}col": f"{IMG} | x", "l2m": 0.1}]}},
        "final_metrics": {XSS: 1.0, "note": IMG},
        "pairs": [f"{XSS_NAME}.npz", "../outside.npz"],
        "claims": [{"claim": f"{XSS} {LINK} `code` a|b", "paper_value": IMG, "measured": 0.3, "verdict": "held",
                    "criterion": XSS},
                   {"claim": "ok", "paper_value": 1.0, "measured": XSS, "verdict": "not held", "note": IMG}],
    }))
    (run / "inside_link.png").symlink_to(tmp_path / "secret.png")  # a link that leaves the folder
    (run / "linked.png").symlink_to("../secret.png")
    rng = np.random.default_rng(0)
    save_pairs(run / f"{XSS_NAME}.npz", rng.normal(size=(40, 4)), rng.normal(size=(40, 4)))
    sub = run / XSS_NAME
    sub.mkdir()
    (sub / "run.json").write_text(json.dumps({"kind": "train", "name": XSS, "config": {}, "seed": 0,
                                              "final_metrics": {"l2m": 0.2},
                                              "history": {"records": [{"step": 0, XSS: 1.0}, {"step": 5, XSS: 0.5}]}}))
    return run


def test_html_report_escapes_run_data(tmp_path, evil_run):
    out = build_report([evil_run, evil_run / f"{XSS_NAME}.npz"], tmp_path / "r.html", umap=False, title=XSS)
    text = out.read_text()
    _assert_no_markup_from_data(text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # shown, as text
    assert "seed &lt;script&gt;" in text and "Recipe <b>&lt;script&gt;" in text
    assert "Pairs file &#x27;../outside.npz&#x27; from run.json lies outside the run folder; skipped." in text
    assert "Side by side" in text


def test_figures_from_outside_the_run_folder_are_not_embedded(tmp_path, evil_run):
    text = build_report([evil_run], tmp_path / "r.html", umap=False).read_text()
    assert SECRET not in _embedded(text)
    assert base64.b64encode(SECRET).decode()[:40] not in text
    for name in ("../secret.png", "inside_link.png", "linked.png", "/etc/passwd.png"):
        pattern = rf"Note: Figure {re.escape(html.escape(repr(name)))}[^<]*lies outside the run folder; skipped"
        assert len(re.findall(pattern, text)) == 1, name


def test_markdown_report_escapes_run_data(tmp_path, evil_run):
    out = build_report([evil_run, evil_run / f"{XSS_NAME}.npz"], tmp_path / "r.md", format="md", umap=False,
                       title=f"{XSS} {LINK}")
    text = out.read_text()
    for line in text.split("\n"):  # no HTML: < and > only as entities (a leading > quotes a line)
        assert "<" not in line and ">" not in line.removeprefix("> "), line
    assert "&lt;script&gt;" in text
    # the only links are the report's own figures; no code spans from the data
    unescaped = re.compile(r"(?<!\\)\[")
    for m in unescaped.finditer(text):
        assert text[m.start() - 1] == "!", text[m.start() - 20:m.end() + 20]
    assert re.findall(r"(?<!\\)\]\(([^)]*)\)", text) == re.findall(r"\]\((r_figures/[^)]+\.png)\)", text)
    assert not re.search(r"(?<!\\)`", text)
    # a cell's | does not split it: every table row has as many cells as its header
    for block in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.M):
        counts = {len(re.findall(r"(?<!\\)\|", row)) for row in block.strip().split("\n")}
        assert len(counts) == 1, block


def test_markdown_report_copies_no_figure_from_outside(tmp_path, evil_run):
    text = build_report([evil_run], tmp_path / "r.md", format="md", umap=False).read_text()
    figs = list((tmp_path / "r_figures").iterdir())
    assert figs and all(p.read_bytes() != SECRET for p in figs)
    assert "Figure '../secret.png' from run.json lies outside the run folder; skipped." in text


def test_md_escape():
    from gaplab.report.builder import md_escape

    assert md_escape("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert md_escape("[x](y) `z` a|b *s* _e_ #h ~t~") == r"\[x\](y) \`z\` a\|b \*s\* \_e\_ \#h \~t\~"
    assert md_escape("uniformity_image") == "uniformity_image"  # intraword: never emphasis
    assert md_escape("two\nlines") == "two lines"
    assert md_escape("- item", line_start=True) == r"\- item"
    assert md_escape("12. item", line_start=True) == r"12\. item"


def test_figures_inside_the_run_folder_are_still_embedded(tmp_path):
    run = tmp_path / "run"
    (run / "figs").mkdir(parents=True)
    (run / "figs" / "a.png").write_bytes(SECRET)
    (run / "b.png").symlink_to("figs/a.png")  # a link that stays inside
    (run / "fake.png").write_text("<svg onload=alert(1)>")
    (run / "run.json").write_text(json.dumps({"kind": "recipe", "name": "r", "config": {}, "seed": 0,
                                              "figures": ["figs/a.png", "figs/../figs/a.png", "b.png", "fake.png"]}))
    text = build_report([run], tmp_path / "r.html", umap=False).read_text()
    assert _embedded(text).count(SECRET) == 3  # the three listed names that are images inside the folder
    assert "Note: Figure &#x27;fake.png&#x27; from run.json is not a PNG or GIF image; skipped." in text
    assert "svg" not in text


def test_run_json_fields_of_the_wrong_type_are_shown_not_fatal(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"kind": "recipe", "name": "r", "config": {}, "seed": None,
                                              "wall_time_s": "slow", "figures": [7, None, {"a": 1}],
                                              "measured": [1, 2], "final_metrics": {"top_dims": [{"dim": "x"}],
                                                                                      "l2m": 0.5}}))
    text = build_report([run], tmp_path / "r.html", umap=False).read_text()
    assert "seed —, ? s." in text and "<td>l2m</td>" in text
    assert text.count("run.json lists a figure that is not a file name") == 3


def _one_error_line(res, match: str) -> None:
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)
    assert res.stderr.startswith("gaplab: error:") and res.stderr.count("\n") == 1, res.stderr
    assert re.search(match, res.stderr), res.stderr


@pytest.fixture
def pairs(tmp_path):
    def make(n: int, d: int):
        path = tmp_path / f"p{n}x{d}.npz"
        rng = np.random.default_rng(0)
        save_pairs(path, rng.normal(size=(n, d)), rng.normal(size=(n, d)))
        return path

    return make


@pytest.mark.parametrize(("args", "match"), [
    (["--max-rows", "-1"], r"max_rows must be an integer >= 2 .*got -1"),
    (["--max-rows", "1"], r"max_rows must be an integer >= 2 .*got 1"),
    (["--seed", "-1"], r"seed must be a non-negative integer, got -1"),
])
def test_cli_bad_options_are_one_line(tmp_path, pairs, args, match):
    res = CliRunner().invoke(main, ["report", str(pairs(30, 4)), "--out", str(tmp_path / "r.html"), "--no-umap", *args])
    _one_error_line(res, match)


def test_cli_out_is_a_folder(tmp_path, pairs):
    res = CliRunner().invoke(main, ["report", str(pairs(30, 4)), "--out", str(tmp_path), "--no-umap"])
    _one_error_line(res, r"out must be a file path, got the folder")


def test_bad_max_rows_in_python():
    with pytest.raises(InputError, match=r"max_rows must be an integer >= 2"):
        build_report(["x"], "r.html", max_rows=0)
    with pytest.raises(InputError, match=r"seed must be a non-negative integer"):
        build_report(["x"], "r.html", seed=-3)


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "{not json", "\xff\xfe", '{"kind": "x"}',
                                     '{"kind": "recipe", "name": "r", "config": {}, "seed": 0, "claims": "none"}',
                                     '{"kind": "recipe", "name": "r", "config": {}, "seed": 0, "claims": [{"held": 1}]}'])
def test_cli_run_json_that_is_not_a_run_record(tmp_path, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_bytes(content.encode("latin-1"))
    res = CliRunner().invoke(main, ["report", str(run), "--out", str(tmp_path / "r.html")])
    _one_error_line(res, r"run\.json: (a run record must be a JSON object|cannot read the run record|"
                         r"not a gaplab run record|'claims' must be a list|malformed run record)")


def test_one_dimensional_embeddings_skip_the_2d_views(tmp_path, pairs):
    res = CliRunner().invoke(main, ["report", str(pairs(50, 1)), "--out", str(tmp_path / "r.html"), "--no-umap"])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "r.html").read_text()
    assert "PCA view skipped: a 2-D projection needs embeddings with at least 2 dimensions, these have d = 1." in text
    assert len(_embedded(text)) == 2  # cosine histograms and per-dimension bars
    assert re.search(r"<td>l2m</td><td[^>]*>[0-9.]+</td>", text)


def test_two_pairs_of_two_dimensions(tmp_path, pairs):
    res = CliRunner().invoke(main, ["report", str(pairs(2, 2)), "--out", str(tmp_path / "r.html"), "--no-umap"])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "r.html").read_text()
    assert len(_embedded(text)) == 3
    values = dict(re.findall(r"<tr><td>(\w+)</td><td[^>]*>([^<]*)</td>", text))
    assert float(values["n"]) == 2 and np.isfinite(float(values["l2m"]))


def test_cosine_histograms_of_identical_rows_warn_nothing():
    from gaplab.report.plots import cosine_histograms

    x = np.ones((20, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cosine_histograms(x, x)


def test_plots_reject_what_they_cannot_draw():
    from gaplab.report.plots import embedding_2d, subsample_pairs

    x = np.random.default_rng(0).normal(size=(10, 1))
    with pytest.raises(InputError, match=r"2-D PCA view needs at least 2 rows and 2 dimensions, got 10 rows of dimension 1"):
        embedding_2d(x, x)
    with pytest.raises(InputError, match=r"rows to plot must be a positive integer, got -1"):
        subsample_pairs(x, x, -1)


def test_training_curves_skip_records_without_a_numeric_step():
    from gaplab.report.plots import training_curves

    fig = training_curves({"run": [{"step": "a", "loss": 1.0}, {"step": 1, "loss": True}, {"step": 2, "loss": 0.5}]})
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_xdata()) == [2]


def test_markdown_figure_links_survive_a_space_in_the_file_name(tmp_path, pairs):
    from urllib.parse import unquote

    text = build_report([pairs(30, 4)], tmp_path / "my report.md", format="md", umap=False).read_text()
    links = re.findall(r"\]\(([^)]+\.png)\)", text)
    assert len(links) == 3 and all(" " not in p and (tmp_path / unquote(p)).exists() for p in links)


def test_bad_rows_in_a_pairs_file_name_the_file(tmp_path):
    x = np.ones((20, 4))
    x[3, 1] = np.nan
    save_pairs(tmp_path / "bad.npz", x, np.eye(20, 4) + 1)
    res = CliRunner().invoke(main, ["report", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "r.html")])
    _one_error_line(res, r"^gaplab: error: report: .*bad\.npz: image embeddings \(x\): non-finite value, first NaN at row 3")
