"""``build_report``: one self-contained HTML file (or Markdown + PNGs) from pairs files and runs.

An input is a pairs file (anything :func:`gaplab.load_pairs` reads) or a run folder written
by ``train``, ``reproduce`` or ``demo``. Of a run folder the report reads only its run record
``run.json`` (:class:`gaplab.runs.RunRecord`): summary, headline, claims with verdicts and
intervals, final metrics, ``measured["tables"]``, training history, the figures and pairs
files it lists; then the ``run.json`` of each sub-folder (sub-runs, e.g. the demo's two
training runs, whose curves are also drawn together). Several inputs are also compared side
by side in one metric table.

Everything the report shows that it did not write itself (titles, file names, JSON values) is
escaped for the output format, and figures are read only from inside the run folder.
"""

from __future__ import annotations

import base64
import html
import io
import math
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._fs import atomic_write
from ..io import load_pairs
from ..metrics import MEASURE_KEYS, MetricSuite, measure, zero_shot_accuracy
from ..runs import RUN_FILE, Claim, RunRecord
from . import plots

__all__ = ["build_report", "Report", "Section", "Strong"]

#: file signatures of the figures a report embeds
_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"GIF87a": "image/gif", b"GIF89a": "image/gif"}


@dataclass(frozen=True)
class Strong:
    """Bold text inside a paragraph (escaped like any other text)."""

    text: str


#: a paragraph: plain text, or a sequence of plain-text and :class:`Strong` pieces
Paragraph = str | Strong | tuple | list


@dataclass
class Figure:
    name: str
    png: bytes
    caption: str = ""
    wide: bool = False  #: full page width (multi-panel figures such as training curves)


@dataclass
class Section:
    """A titled block: paragraphs, tables (header + rows), figures and notes.

    All text is plain text: the renderers escape it (HTML, Markdown), so a section never carries
    markup of its own. Bold pieces of a paragraph are :class:`Strong`.
    """

    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[Any]]]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    level: int = 2
    headline: str | None = None  #: a plain-text summary shown first, highlighted
    notes: list[str] = field(default_factory=list)  #: what the report skipped, and why


@dataclass
class Report:
    """A whole report: its title, its sections in order and each input's metrics for the comparison table."""

    title: str
    sections: list[Section] = field(default_factory=list)
    compare: dict[str, dict[str, Any]] = field(default_factory=dict)  # input label → metrics


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fmt(v: Any, width: int = 80) -> str:
    """A value as short plain text (still to be escaped by the renderer)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "—" if not np.isfinite(v) else f"{v:.4g}"
    if isinstance(v, list) and v and all(isinstance(d, dict) and "dim" in d for d in v):
        try:
            return ", ".join(f"{d['dim']} ({d['diff']:+.3f})" for d in v[:5])
        except (KeyError, TypeError, ValueError):
            pass  # not gaplab's top_dims: shown as it is
    if v is None:
        return "—"
    s = str(v)
    return s if len(s) < width else s[:width - 3] + "..."


#: meanings of report rows that gaplab.measure does not produce
EXTRA_MEANINGS = {"zero_shot": "zero-shot top-1 accuracy with the file's class prompts (class_text)"}


def _metric_table(metrics: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = [[k, _fmt(metrics[k]), MEASURE_KEYS.get(k, EXTRA_MEANINGS.get(k, ""))] for k in metrics if not isinstance(metrics[k], (dict,))]
    return ["metric", "value", "meaning"], rows


def _pairs_section(path: Path, label: str, *, seed: int, umap: bool, max_rows: int) -> tuple[Section, dict[str, Any]]:
    p = load_pairs(path)
    x, y, idx = p.image, p.text, p.image_index
    sec = Section(f"Embeddings: {label}")
    if idx is not None:  # one caption per image for the pairwise views
        first = np.unique(idx, return_index=True)[1]
        xs, ys = np.asarray(x)[idx[first]], np.asarray(y)[first]
    else:
        xs, ys = np.asarray(x), np.asarray(y)
    n_pairs = xs.shape[0]
    # exact O(N·d) metrics on everything; the O(N²) ones on a seeded sample
    exact = MetricSuite().update(x, y, image_index=idx, where=f"report: {path}").compute()
    gap = exact.pop("gap_vector")
    sample = np.sort(np.random.default_rng(seed).choice(n_pairs, min(n_pairs, max_rows * 2), replace=False))
    m = measure(xs[sample], ys[sample], seed=seed)
    sec.notes.extend(m.pop("warnings", []))  # a collapsed modality: said, not hidden in a table
    m.update({k: v for k, v in exact.items() if k in MEASURE_KEYS or k in ("n_images", "n_texts")})
    order = np.argsort(-np.abs(gap))[:10]
    m["top_dims"] = [{"dim": int(j), "diff": float(gap[j])} for j in order]
    labels, class_text = p.meta.get("labels"), p.meta.get("class_text")
    if labels is not None and class_text is not None and np.ndim(class_text) == 2:
        m["zero_shot"] = zero_shot_accuracy(x, class_text, np.asarray(labels))  # every image
    if sample.size < n_pairs:
        sec.paragraphs.append(
            f"Exact O(N·d) metrics over all {exact['n']} pairs; uniformity, retrieval, entropy and "
            f"separability on a seeded sample of {sample.size} pairs."
        )
    sec.tables.append(_metric_table(m))
    sec.figures.append(Figure("cosines", _png(plots.cosine_histograms(xs, ys, max_rows=max_rows, seed=seed)),
                              "Cosine similarity within and across modalities (Liang et al. 2022, Fig. 2a style)."))
    if xs.shape[1] < 2:  # a 2-D view of 1-D embeddings is not a projection
        views = "PCA and UMAP views" if umap else "PCA view"
        sec.notes.append(f"{views} skipped: a 2-D projection needs embeddings with at least 2 dimensions, "
                         f"these have d = {xs.shape[1]}.")
    else:
        sec.figures.append(Figure("pca", _png(plots.embedding_2d(xs, ys, method="pca", max_rows=max_rows, seed=seed)),
                                  "PCA of both modalities; grey lines join matched pairs."))
        if umap:
            sec.figures.append(Figure("umap", _png(plots.embedding_2d(xs, ys, method="umap", max_rows=max_rows,
                                                                      seed=seed)),
                                      "UMAP of both modalities."))
    sec.figures.append(Figure("dims", _png(plots.dimension_bars(gap)),
                              "Per-dimension mean difference: a few dimensions carry the gap (Schrodi et al. 2025, Fig. 3a)."))
    return sec, m


def _record_tables(d: Any) -> list[tuple[list[str], list[list[Any]]]]:
    """Lists of flat records inside a JSON dict (e.g. a demo's ``stages``) as tables."""
    out = []
    for v in (d.values() if isinstance(d, dict) else []):
        recs = v.get("rows") if isinstance(v, dict) else v
        if isinstance(recs, list) and recs and all(isinstance(r, dict) for r in recs):
            cols: list[str] = []
            for r in recs:
                cols += [k for k, u in r.items() if k not in cols and not isinstance(u, (dict, list))]
            out.append((cols, [[_fmt(r.get(c)) for c in cols] for r in recs]))
    return out


def _read_figure(path: Path, root: Path) -> tuple[bytes | None, str]:
    """The bytes of a PNG or GIF that lies inside ``root`` (symlinks resolved), or None and why not."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop
        return None, f"cannot be resolved ({e})"
    if not real.is_relative_to(root):
        return None, "lies outside the run folder"
    try:
        data = real.read_bytes()
    except FileNotFoundError:
        return None, "does not exist"
    except OSError as e:
        return None, f"cannot be read ({e.strerror or e})"
    if not any(data.startswith(m) for m in _IMAGE_MAGIC):
        return None, "is not a PNG or GIF image"
    return data, ""


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _verdict_cell(c: Claim) -> str:
    tag = "held" if c.verdict == "held" else c.verdict.upper()
    return f"{tag} (sanity)" if c.kind == "sanity" else tag


def _effect_cell(c: Claim) -> str:
    if c.effect is None:
        return "—"
    ci = f" [{c.ci95[0]:.3g}, {c.ci95[1]:.3g}]" if c.ci95 else ""
    return f"{_fmt(c.effect)}{ci}, {c.n_seeds} seed(s)"


def _claims_table(claims: list[Claim]) -> tuple[list[str], list[list[Any]]]:
    return (["verdict", "claim", "criterion", "effect (95% CI)", "paper", "ours"],
            [[_verdict_cell(c), _fmt(c.claim, 500), _fmt(c.criterion, 500), _effect_cell(c),
              _fmt(c.paper_value), _fmt(c.measured)] for c in claims])


def _history(rec: RunRecord) -> list[dict[str, Any]]:
    recs = rec.history.get("records") if isinstance(rec.history, dict) else None
    return [r for r in recs if isinstance(r, dict)] if isinstance(recs, list) else []


def _run_section(rec: RunRecord, folder: Path, label: str, root: Path, *, seed: int, umap: bool, max_rows: int,
                 depth: int) -> tuple[list[Section], dict[str, Any]]:
    """A run folder's sections, from its run record only."""
    sec = Section(f"Run: {label}", level=2 + depth)
    wall = _number(rec.wall_time_s)
    what = f"{rec.kind} " if rec.kind != "recipe" else "Recipe "
    sec.paragraphs.append((
        what.capitalize(), Strong(_fmt(rec.name)), f" (paper {_fmt(rec.paper or '—')}), seed {_fmt(rec.seed)}"
        + (f", engine {_fmt(rec.engine)}" if rec.engine else "") + ", "
        + ("? s." if wall is None or not math.isfinite(wall) else f"{wall:.1f} s."),
    ))
    measured = rec.measured if isinstance(rec.measured, dict) else {}
    if isinstance(measured.get("headline"), str):
        sec.headline = measured["headline"]
    if rec.claims:
        sec.tables.append(_claims_table(rec.claims))
    if isinstance(rec.final_metrics, dict) and rec.final_metrics:
        flat = {str(k): v for k, v in rec.final_metrics.items() if isinstance(v, (int, float, str, bool))}
        sec.tables.append(_metric_table(flat))
    sec.tables.extend(_record_tables(measured.get("tables")))
    history = _history(rec)
    if history:
        sec.figures.append(Figure("history", _png(plots.training_curves({label: history})), "Metrics over training.",
                                  wide=True))
    for name in rec.figures if isinstance(rec.figures, list) else []:
        if not isinstance(name, str) or not name:
            sec.notes.append(f"{RUN_FILE} lists a figure that is not a file name: {_fmt(name)}; skipped.")
            continue
        f = folder / name
        if f.suffix.lower() not in (".png", ".gif"):
            continue  # other outputs (data files, PDFs) are not embedded
        data, why = _read_figure(f, root)
        if data is None:
            sec.notes.append(f"Figure {name!r} from {RUN_FILE} {why}; skipped.")
            continue
        sec.figures.append(Figure(f.stem, data, name))
    metrics = {str(k): v for k, v in {**measured, **(rec.final_metrics or {})}.items() if _number(v) is not None}
    sections = [sec]
    for name in rec.pairs if isinstance(rec.pairs, list) else []:
        f = folder / str(name)
        if not f.resolve().is_relative_to(root):
            sec.notes.append(f"Pairs file {str(name)!r} from {RUN_FILE} lies outside the run folder; skipped.")
            continue
        s, m = _pairs_section(f, f"{label}/{name}", seed=seed, umap=umap, max_rows=max_rows)
        s.level = 3 + depth
        sections.append(s)
        metrics = metrics or m
    return sections, metrics


def _folder_sections(folder: Path, label: str, *, seed: int, umap: bool, max_rows: int,
                     depth: int = 0, root: Path | None = None) -> tuple[list[Section], dict[str, Any]]:
    """Sections of a run folder: its run.json, then the run.json of each sub-folder (sub-runs)."""
    root = root or folder.resolve()  # figures and pairs are read only from inside the input folder
    rec = RunRecord.read(folder)
    sections, metrics = _run_section(rec, folder, label, root, seed=seed, umap=umap, max_rows=max_rows, depth=depth)
    if depth:
        return sections, metrics
    subs: dict[str, RunRecord] = {}
    for p in sorted(p for p in folder.iterdir() if p.is_dir() and (p / RUN_FILE).is_file()):
        if p.resolve().is_relative_to(root) and p.resolve() != root:
            subs[p.name] = RunRecord.read(p)
        else:
            sections[0].notes.append(f"Sub-folder {p.name!r} is a link outside the run folder; skipped.")
    runs = {k: _history(r) for k, r in subs.items() if _history(r)}
    if len(runs) > 1:  # several training runs side by side
        both = Section(f"Training runs compared: {label}")
        both.figures.append(Figure("runs", _png(plots.training_curves(runs)), "Metrics over training, one line per run.",
                                   wide=True))
        sections.append(both)
    for name in subs:
        s, _ = _folder_sections(folder / name, f"{label}/{name}", seed=seed, umap=umap, max_rows=max_rows, depth=1,
                                root=root)
        sections.extend(s)
    return sections, metrics


def collect(inputs: list[str | Path], *, seed: int = 0, umap: bool | None = None, max_rows: int = 2000,
            title: str | None = None) -> Report:
    """Gather sections and comparison metrics from every input."""
    if not inputs:
        raise InputError("report: give at least one pairs file or run folder")
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 2:
        raise InputError(f"report: max_rows must be an integer >= 2 (rows sampled for plots), got {max_rows!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"report: seed must be a non-negative integer, got {seed!r}")
    max_rows, seed = int(max_rows), int(seed)
    if umap is None:
        try:
            import umap as _  # noqa: F401

            umap = True
        except ImportError:
            umap = False
    rep = Report(title or "gaplab report")
    for inp in inputs:
        p = Path(inp)
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
        label = p.name or str(p)
        if p.is_dir():
            if not (p / RUN_FILE).is_file():
                raise InputError(f"{p}: not a run folder (no {RUN_FILE}); give pairs files, or the folder of a "
                                 "gaplab train / reproduce / demo run")
            secs, m = _folder_sections(p, label, seed=seed, umap=umap, max_rows=max_rows)
        else:
            sec, m = _pairs_section(p, label, seed=seed, umap=umap, max_rows=max_rows)
            secs = [sec]
        rep.sections.extend(secs)
        rep.compare[label] = m
    return rep


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:3px solid #d95f02;padding-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.9em} td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.held td:first-child{color:#1b7e3f;font-weight:600} tr.nothel td:first-child{color:#b00020;font-weight:600}
tr.incon td:first-child{color:#8a5a00;font-weight:600}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:520px} figure img{max-width:100%}
figure.wide{display:block;max-width:100%}
figcaption{font-size:.8em;color:#555} .muted{color:#777;font-size:.85em} .scroll{overflow-x:auto}
p.headline{font-size:1.05em;background:#fdf3ea;border-left:4px solid #d95f02;padding:.6em 1em}
p.note{font-size:.85em;color:#8a5a00;background:#fff8e1;border-left:3px solid #f0b400;padding:.3em .8em}
"""


def _inline_pieces(p: Paragraph) -> list[str | Strong]:
    return [p] if isinstance(p, (str, Strong)) else list(p)


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _html_text(p: Paragraph) -> str:
    return "".join(f"<b>{_esc(x.text)}</b>" if isinstance(x, Strong) else _esc(x) for x in _inline_pieces(p))


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["<div class='scroll'><table><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        cls = ""
        if header and header[0] == "verdict":
            cls = {"held": ' class="held"', "INCONCLUSIVE": ' class="incon"'}.get(r[0], ' class="nothel"')
        cells = []
        for v in r:
            s = str(v)
            num = s.replace(".", "", 1).replace("-", "", 1).replace("e", "", 1).isdigit()
            cells.append(f'<td{" class=num" if num else ""}>{_esc(s)}</td>')
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    return "\n".join(out) + "</table></div>"


def _compare_rows(rep: Report) -> tuple[list[str], list[list[Any]]] | None:
    if len(rep.compare) < 2:
        return None
    labels = list(rep.compare)
    keys = [k for k in MEASURE_KEYS if any(isinstance(m.get(k), (int, float)) for m in rep.compare.values())]
    keys += sorted({k for m in rep.compare.values() for k, v in m.items()
                    if isinstance(v, (int, float)) and k not in keys})
    return ["metric", *labels], [[k, *(_fmt(rep.compare[lab].get(k)) for lab in labels)] for k in keys]


def _level(s: Section) -> int:
    return min(max(int(s.level), 1), 6)


def render_html(rep: Report) -> str:
    """The report as one HTML page; every piece of text is escaped, every figure embedded."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(rep.title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{_esc(rep.title)}</h1>"]
    cmp_rows = _compare_rows(rep)
    if cmp_rows:
        parts.append("<h2>Side by side</h2>" + _html_table(*cmp_rows))
    for s in rep.sections:
        h = _level(s)
        parts.append(f"<h{h}>{_esc(s.title)}</h{h}>")
        if s.headline:
            parts.append(f"<p class='headline'>{_esc(s.headline)}</p>")
        parts += [f"<p>{_html_text(p)}</p>" for p in s.paragraphs]
        parts += [f"<p class='note'>Note: {_esc(n)}</p>" for n in s.notes]
        parts += [_html_table(h, r) for h, r in s.tables]
        for f in s.figures:
            mime = _image_mime(f.png)
            if mime is None:
                parts.append(f"<p class='note'>Note: figure {_esc(f.name)} is not a PNG or GIF image; skipped.</p>")
                continue
            b64 = base64.b64encode(f.png).decode()
            parts.append(f"<figure{' class=wide' if f.wide else ''}><img alt='{_esc(f.name)}' src='data:{mime};base64,{b64}'>"
                         f"<figcaption>{_esc(f.caption)}</figcaption></figure>")
    parts.append("<p class='muted'>Generated by gaplab. Figures are embedded; this file needs no network.</p></body></html>")
    return "\n".join(parts)


def _image_mime(data: bytes) -> str | None:
    return next((mime for magic, mime in _IMAGE_MAGIC.items() if data.startswith(magic)), None)


#: Markdown punctuation that a backslash escapes (CommonMark: any ASCII punctuation may be)
_MD_BACKSLASH = set("\\`*[]#|~")
#: characters that are markup in Markdown *and* HTML: written as entities, which every renderer reads
_MD_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def md_escape(v: Any, *, line_start: bool = False) -> str:
    r"""``v`` as Markdown text that renders literally: no HTML, links, code spans, emphasis or cell breaks.

    ``&``, ``<``, ``>`` become entities; ``\ ` * [ ] # | ~`` and word-boundary ``_`` get a backslash;
    line breaks become spaces (one value stays on one line: a heading, a table cell). With
    ``line_start`` a leading ``-``, ``+``, ``=`` or ``1.`` cannot start a list or an underline.
    """
    s = str(v)
    out = []
    for i, c in enumerate(s):
        if c in _MD_ENTITY:
            out.append(_MD_ENTITY[c])
        elif c in _MD_BACKSLASH:
            out.append("\\" + c)
        elif c == "_" and not (0 < i < len(s) - 1 and s[i - 1].isalnum() and s[i + 1].isalnum()):
            out.append("\\_")  # intraword underscores (metric_names) are never emphasis
        elif c in "\r\n\t\v\f":
            out.append(" ")
        else:
            out.append(c)
    text = "".join(out)
    if line_start:
        stripped = text.lstrip(" ")
        if stripped[:1] in ("-", "+", "="):
            text = text[: len(text) - len(stripped)] + "\\" + stripped
        else:
            digits = len(stripped) - len(stripped.lstrip("0123456789"))
            if digits and stripped[digits:digits + 1] in (".", ")"):
                k = len(text) - len(stripped) + digits
                text = text[:k] + "\\" + text[k:]
    return text


def _md_text(p: Paragraph) -> str:
    return "".join(f"**{md_escape(x.text)}**" if isinstance(x, Strong) else md_escape(x, line_start=i == 0)
                   for i, x in enumerate(_inline_pieces(p)))


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_escape(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def _writer(data: bytes) -> Callable[[str], object]:
    """An :func:`~gaplab._fs.atomic_write` callback writing ``data``."""
    return lambda tmp: Path(tmp).write_bytes(data)


def render_markdown(rep: Report, fig_dir: Path, rel: str) -> str:
    """The report as Markdown, its figures written as PNG/GIF files into ``fig_dir`` (linked as ``rel/…``)."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    out = [f"# {md_escape(rep.title)}", ""]
    cmp_rows = _compare_rows(rep)
    if cmp_rows:
        out += ["## Side by side", "", _md_table(*cmp_rows), ""]
    used: set[str] = set()
    link = urllib.parse.quote(rel)
    for s in rep.sections:
        out += ["#" * _level(s) + " " + md_escape(s.title), ""]
        if s.headline:
            out += [f"> {md_escape(s.headline, line_start=True)}", ""]
        out += [_md_text(p) + "\n" for p in s.paragraphs]
        out += [f"> **Note:** {md_escape(n)}\n" for n in s.notes]
        out += [_md_table(h, r) + "\n" for h, r in s.tables]
        for f in s.figures:
            mime = _image_mime(f.png)
            if mime is None:
                out += [f"> **Note:** figure {md_escape(f.name)} is not a PNG or GIF image; skipped.", ""]
                continue
            ext = ".gif" if mime == "image/gif" else ".png"
            stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{s.title}_{f.name}")[:80]
            name = stem + ext
            k = 1
            while name in used:
                k += 1
                name = f"{stem}_{k}{ext}"
            used.add(name)
            atomic_write(fig_dir / name, _writer(f.png))
            out += [f"![{md_escape(f.caption or f.name)}]({link}/{urllib.parse.quote(name)})", ""]
    return "\n".join(out)


def build_report(
    inputs: list[str | Path],
    out: str | Path,
    *,
    format: str = "html",
    title: str | None = None,
    seed: int = 0,
    umap: bool | None = None,
    max_rows: int = 2000,
) -> Path:
    """Write the report for ``inputs`` to ``out`` (HTML, or Markdown with PNGs beside it)."""
    if format not in ("html", "md"):
        raise InputError(f"report: format must be 'html' or 'md', got {format!r}")
    outp = Path(out)
    if outp.is_dir():
        raise InputError(f"report: out must be a file path, got the folder {outp} (try {outp / ('report.' + format)})")
    rep = collect(inputs, seed=seed, umap=umap, max_rows=max_rows, title=title)
    try:
        outp.parent.mkdir(parents=True, exist_ok=True)
        if format == "html":
            text = render_html(rep)
        else:
            fig_dir = outp.parent / f"{outp.stem}_figures"
            text = render_markdown(rep, fig_dir, fig_dir.name)
        return atomic_write(outp, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    except OSError as e:
        raise InputError(f"report: cannot write {outp} ({e.strerror or e})") from None
