"""``build_report``: one self-contained HTML file (or Markdown + PNGs) from pairs files and runs.

An input is a pairs file (anything :func:`gaplab.load_pairs` reads) or a run folder written
by ``train``, ``reproduce`` or ``demo``. In a folder the report uses what it finds:
``results.json`` (a recipe: claim table and its figures), ``history.json`` (training curves),
``final_metrics.json`` / ``metrics.json`` (a metric table), ``*.png`` figures, and pairs
files (``*.npz``), and looks one level into sub-folders. Several inputs are also compared side
by side in one metric table.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._fs import atomic_write
from ..io import load_pairs
from ..metrics import MEASURE_KEYS, MetricSuite, measure, zero_shot_accuracy
from . import plots

__all__ = ["build_report", "Report", "Section"]

PAIR_SUFFIXES = (".npz", ".npy", ".pt", ".pth", ".safetensors", ".parquet")
#: JSON files in a run folder that hold a flat metric dict
METRIC_FILES = ("final_metrics.json", "metrics.json", "summary.json")


@dataclass
class Figure:
    name: str
    png: bytes
    caption: str = ""
    wide: bool = False  #: full page width (multi-panel figures such as training curves)


@dataclass
class Section:
    """A titled block: paragraphs, tables (header + rows) and figures."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[Any]]]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    level: int = 2
    headline: str | None = None  #: a plain-text summary shown first, highlighted


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)
    compare: dict[str, dict[str, Any]] = field(default_factory=dict)  # input label → metrics


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "—" if not np.isfinite(v) else f"{v:.4g}"
    if isinstance(v, list) and v and isinstance(v[0], dict) and "dim" in v[0]:
        return ", ".join(f"{d['dim']} ({d['diff']:+.3f})" for d in v[:5])
    if v is None:
        return "—"
    s = str(v)
    return s if len(s) < 80 else s[:77] + "..."


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
    exact = MetricSuite().update(x, y, image_index=idx).compute()
    gap = exact.pop("gap_vector")
    sample = np.sort(np.random.default_rng(seed).choice(n_pairs, min(n_pairs, max_rows * 2), replace=False))
    m = measure(xs[sample], ys[sample], seed=seed)
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
    sec.figures.append(Figure("pca", _png(plots.embedding_2d(xs, ys, method="pca", max_rows=max_rows, seed=seed)),
                              "PCA of both modalities; grey lines join matched pairs."))
    if umap:
        sec.figures.append(Figure("umap", _png(plots.embedding_2d(xs, ys, method="umap", max_rows=max_rows, seed=seed)),
                                  "UMAP of both modalities."))
    sec.figures.append(Figure("dims", _png(plots.dimension_bars(gap)),
                              "Per-dimension mean difference: a few dimensions carry the gap (Schrodi et al. 2025, Fig. 3a)."))
    return sec, m


def _record_tables(d: dict[str, Any]) -> list[tuple[list[str], list[list[Any]]]]:
    """Lists of flat records inside a JSON dict (e.g. a demo's ``stages``) as tables."""
    out = []
    for v in d.values():
        recs = v.get("rows") if isinstance(v, dict) else v
        if isinstance(recs, list) and recs and all(isinstance(r, dict) for r in recs):
            cols: list[str] = []
            for r in recs:
                cols += [k for k, u in r.items() if k not in cols and not isinstance(u, (dict, list))]
            out.append((cols, [[_fmt(r.get(c)) for c in cols] for r in recs]))
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read JSON ({e})") from None


def _history_records(obj: Any) -> list[dict[str, Any]]:
    """history.json as a list of {step, metric...} records (list, dict of lists, or under a key)."""
    for key in ("records", "history"):
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
    if isinstance(obj, list):
        return [r for r in obj if isinstance(r, dict)]
    if isinstance(obj, dict) and obj and all(isinstance(v, list) for v in obj.values()):
        n = max(len(v) for v in obj.values())
        return [{k: v[i] for k, v in obj.items() if i < len(v)} for i in range(n)]
    return []


def _folder_sections(folder: Path, label: str, *, seed: int, umap: bool, max_rows: int,
                     depth: int = 0) -> tuple[list[Section], dict[str, Any]]:
    sections: list[Section] = []
    metrics: dict[str, Any] = {}
    sec = Section(f"Run: {label}", level=2 + depth)
    used_png: set[str] = set()
    res = folder / "results.json"
    if res.exists():
        r = _read_json(res)
        sec.paragraphs.append(
            f"Recipe <b>{html.escape(str(r.get('recipe', '?')))}</b> (paper {html.escape(str(r.get('paper', '?')))}), "
            f"seed {r.get('seed')}, {float(r.get('wall_time_s') or 0):.1f} s."
        )
        claims = r.get("claims") or []
        if claims:
            sec.tables.append((["held", "claim", "paper", "measured"],
                               [["held" if c.get("held") else "NOT HELD", c.get("claim"), _fmt(c.get("paper_value")),
                                 _fmt(c.get("measured"))] for c in claims]))
        for name in r.get("figures") or []:
            f = folder / name
            if f.suffix.lower() in (".png", ".gif") and f.exists():
                sec.figures.append(Figure(f.stem, f.read_bytes(), name))
                used_png.add(f.name)
        flat = {k: v for k, v in (r.get("measured") or {}).items() if isinstance(v, (int, float))}
        metrics.update(flat)
    hist = folder / "history.json"
    if hist.exists():
        recs = _history_records(_read_json(hist))
        if recs:
            sec.figures.append(Figure("history", _png(plots.training_curves({label: recs})), "Metrics over training.",
                                      wide=True))
    for mf in METRIC_FILES:
        if (folder / mf).exists():
            d = _read_json(folder / mf)
            if isinstance(d, dict):
                flat = {k: v for k, v in d.items()
                        if (isinstance(v, (int, float, str, bool)) or k == "top_dims") and k != "headline"}
                sec.tables.append(_metric_table(flat))
                metrics.update({k: v for k, v in flat.items() if isinstance(v, (int, float))})
                sec.tables.extend(_record_tables(d))
                if isinstance(d.get("headline"), str):
                    sec.headline = d["headline"]
    for f in sorted(folder.glob("*.png")):
        if f.name not in used_png:
            sec.figures.append(Figure(f.stem, f.read_bytes(), f.name))
    if sec.paragraphs or sec.tables or sec.figures or sec.headline:
        sections.append(sec)
    if depth == 0:
        subs = sorted(p for p in folder.iterdir() if p.is_dir())
        runs = {sub.name: _history_records(_read_json(sub / "history.json"))
                for sub in subs if (sub / "history.json").exists()}
        runs = {k: v for k, v in runs.items() if v}
        if len(runs) > 1:  # several training runs side by side
            both = Section(f"Training runs compared: {label}")
            both.figures.append(Figure("runs", _png(plots.training_curves(runs)), "Metrics over training, one line per run.",
                                       wide=True))
            sections.append(both)
        for sub in subs:
            s, _ = _folder_sections(sub, f"{label}/{sub.name}", seed=seed, umap=umap, max_rows=max_rows, depth=1)
            sections.extend(s)
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in PAIR_SUFFIXES:
            try:
                s, m = _pairs_section(f, f"{label}/{f.name}", seed=seed, umap=umap, max_rows=max_rows)
            except InputError:
                continue  # not a pairs file (e.g. a checkpoint)
            s.level = 2 + depth
            sections.append(s)
            metrics = metrics or m
    return sections, metrics


def collect(inputs: list[str | Path], *, seed: int = 0, umap: bool | None = None, max_rows: int = 2000,
            title: str | None = None) -> Report:
    """Gather sections and comparison metrics from every input."""
    if not inputs:
        raise InputError("report: give at least one pairs file or run folder")
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
            secs, m = _folder_sections(p, label, seed=seed, umap=umap, max_rows=max_rows)
            if not secs:
                raise InputError(f"{p}: no results.json, history.json, metrics or pairs files found")
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
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:520px} figure img{max-width:100%}
figure.wide{display:block;max-width:100%}
figcaption{font-size:.8em;color:#555} .muted{color:#777;font-size:.85em} .scroll{overflow-x:auto}
p.headline{font-size:1.05em;background:#fdf3ea;border-left:4px solid #d95f02;padding:.6em 1em}
"""


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["<div class='scroll'><table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for r in rows:
        cls = ""
        if header and header[0] == "held":
            cls = ' class="held"' if r[0] == "held" else ' class="nothel"'
        cells = []
        for v in r:
            s = str(v)
            num = s.replace(".", "", 1).replace("-", "", 1).replace("e", "", 1).isdigit()
            cells.append(f'<td{" class=num" if num else ""}>{html.escape(s)}</td>')
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


def render_html(rep: Report) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(rep.title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(rep.title)}</h1>"]
    cmp_rows = _compare_rows(rep)
    if cmp_rows:
        parts.append("<h2>Side by side</h2>" + _html_table(*cmp_rows))
    for s in rep.sections:
        parts.append(f"<h{s.level}>{html.escape(s.title)}</h{s.level}>")
        if s.headline:
            parts.append(f"<p class='headline'>{html.escape(s.headline)}</p>")
        parts += [f"<p>{p}</p>" for p in s.paragraphs]
        parts += [_html_table(h, r) for h, r in s.tables]
        for f in s.figures:
            mime = "image/gif" if f.png[:3] == b"GIF" else "image/png"
            b64 = base64.b64encode(f.png).decode()
            parts.append(f"<figure{' class=wide' if f.wide else ''}><img alt='{html.escape(f.name)}' src='data:{mime};base64,{b64}'>"
                         f"<figcaption>{html.escape(f.caption)}</figcaption></figure>")
    parts.append("<p class='muted'>Generated by gaplab. Figures are embedded; this file needs no network.</p></body></html>")
    return "\n".join(parts)


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    esc = [str(h).replace("|", "\\|") for h in header]
    lines = ["| " + " | ".join(esc) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(rep: Report, fig_dir: Path, rel: str) -> str:
    fig_dir.mkdir(parents=True, exist_ok=True)
    out = [f"# {rep.title}", ""]
    cmp_rows = _compare_rows(rep)
    if cmp_rows:
        out += ["## Side by side", "", _md_table(*cmp_rows), ""]
    used: set[str] = set()
    for s in rep.sections:
        out += ["#" * s.level + " " + s.title, ""]
        if s.headline:
            out += [f"> {s.headline}", ""]
        out += [p.replace("<b>", "**").replace("</b>", "**") + "\n" for p in s.paragraphs]
        out += [_md_table(h, r) + "\n" for h, r in s.tables]
        for f in s.figures:
            ext = ".gif" if f.png[:3] == b"GIF" else ".png"
            stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{s.title}_{f.name}")[:80]
            name = stem + ext
            k = 1
            while name in used:
                k += 1
                name = f"{stem}_{k}{ext}"
            used.add(name)
            (fig_dir / name).write_bytes(f.png)
            out += [f"![{f.caption or f.name}]({rel}/{name})", ""]
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
    rep = collect(inputs, seed=seed, umap=umap, max_rows=max_rows, title=title)
    outp = Path(out)
    outp.parent.mkdir(parents=True, exist_ok=True)
    if format == "html":
        text = render_html(rep)
    else:
        fig_dir = outp.parent / f"{outp.stem}_figures"
        text = render_markdown(rep, fig_dir, fig_dir.name)
    return atomic_write(outp, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
