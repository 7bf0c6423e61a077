"""``build_report``: one self-contained HTML file (or Markdown + PNGs) from pairs files and runs.

An input is a pairs file (anything :func:`gaplab.load_pairs` reads) or a run folder written
by ``train``, ``reproduce`` or ``demo``. Of a run folder the report reads only its run record
``run.json`` (:class:`gaplab.runs.RunRecord`): summary, headline, claims with verdicts and
intervals, final metrics, ``measured["tables"]``, a multi-modality measure
(:func:`gaplab.metrics.measure_modalities`) inside ``measured``, training history, the figures
and pairs files it lists; then the ``run.json`` of each sub-folder (sub-runs, e.g. the demo's
two training runs, whose curves are drawn together). Several inputs are also compared side by
side, on the catalogue metrics they share.

The order tells the story: a run's summary, then the embeddings that belong to no sub-run
(e.g. the demo's initialisation), the training runs compared, each sub-run followed by its
embeddings, and last the run's detail tables. Every metric row and column carries its
meaning from :data:`gaplab.metrics.CATALOGUE`; wide tables are split (gap metrics, task
metrics) and transposed so that they fit a page. Retrieval beside many duplicate captions and
a separability below chance come with a note saying how to read them.

Everything the report shows that it did not write itself (titles, file names, JSON values) is
escaped for the output format, and figures are read only from inside the run folder.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import math
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputError
from .._fs import atomic_write
from ..io import load_pairs
from ..metrics import (
    CATALOGUE,
    MEASURE_KEYS,
    MetricSuite,
    count_distinct_rows,
    measure,
    zero_shot_accuracy,
)
from ..runs import RUN_FILE, Claim, RunRecord
from . import plots

__all__ = ["build_report", "Report", "Section", "Strong", "Table"]

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
    wide: bool = False  #: full page width (multi-panel figures: training curves, a recipe's figures)


@dataclass
class Table:
    """A table of plain text: header, rows, a caption above it and a legend (column → meaning) below it."""

    header: list[str]
    rows: list[list[Any]]
    caption: str = ""
    legend: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Section:
    """A titled block: paragraphs, tables, figures and notes.

    All text is plain text: the renderers escape it (HTML, Markdown), so a section never carries
    markup of its own. Bold pieces of a paragraph are :class:`Strong`. A table is a
    :class:`Table` or a ``(header, rows)`` tuple.
    """

    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    tables: list[Any] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    level: int = 2
    headline: str | None = None  #: a plain-text summary shown first, highlighted
    notes: list[str] = field(default_factory=list)  #: what the report skipped, and how to read a number


@dataclass
class Report:
    """A whole report: its title, its sections in order and each input's metrics for the comparison table."""

    title: str
    sections: list[Section] = field(default_factory=list)
    compare: dict[str, dict[str, Any]] = field(default_factory=dict)  # input label → metrics


class _Progress:
    """Stage messages on stderr (``gaplab report [ 12.3 s] …``); silent unless switched on."""

    def __init__(self, on: bool) -> None:
        self.on = bool(on)
        self.t0 = time.perf_counter()
        self.umap_started = False  #: the first UMAP of a process compiles numba

    def __call__(self, msg: str) -> None:
        if self.on:
            print(f"gaplab report [{time.perf_counter() - self.t0:6.1f} s] {msg}", file=sys.stderr, flush=True)


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

#: meanings of the keys of run records that are not metrics of the catalogue (training logs, table ids)
RUN_MEANINGS = {
    "step": "training step",
    "loss": "training loss (the logged step's batch)",
    "lr": "learning rate",
    "temperature": "the model's softmax temperature τ at that point (learned or scheduled)",
    "i2t": "image→text half of the contrastive training loss",
    "t2i": "text→image half of the contrastive training loss",
    "clip": "the CLIP term of the training loss",
    "uniformity": "uniformity term of the training loss (Wang & Isola 2020)",
    "n_images": "number of images",
    "n_texts": "number of texts (captions)",
    "method": "mitigation ('none' = the embeddings as given)",
}

#: catalogue metrics that score a task (retrieval, classification, clustering); the others measure the gap
TASK_METRICS = ("retrieval_recall", "zero_shot_accuracy", "linear_probe", "kmeans_agreement", "mixed_modality_retrieval")

#: a table with more columns than this is split (gap / task metrics) and, when short, transposed
MAX_COLUMNS = 9
#: at most this many rows: a wide table is transposed (one row per metric, one column per row)
MAX_TRANSPOSED_ROWS = 12
#: a held-out separability this far below its chance level gets a note on how to read it
SEPARABILITY_BELOW_CHANCE = 0.05
#: a text column with fewer distinct rows than this share of its rows gets the duplicate-caption caveat
DUPLICATE_CAPTIONS = 0.8


def _catalogue_keys() -> dict[str, tuple[str, str]]:
    """Every output key of the catalogue → (metric name, meaning)."""
    out: dict[str, tuple[str, str]] = {}
    for name in CATALOGUE.list():
        for k, v in CATALOGUE.get(name).keys.items():
            out.setdefault(k, (name, v))
    return out


def meaning(key: str, *, top_k: int | None = None) -> str:
    """The one-line meaning of a report row or column ``key`` ("" when none is known).

    From :data:`gaplab.metrics.MEASURE_KEYS` and the catalogue first, then :data:`RUN_MEANINGS`.
    ``top_k`` states the k of ``top_dims_share``.
    """
    text = MEASURE_KEYS.get(key) or _catalogue_keys().get(key, ("", ""))[1] or RUN_MEANINGS.get(key, "")
    if key == "top_dims_share" and top_k:
        text = f"{text} (k = {top_k}, the largest |Δ_j|)" if text else f"share of ‖Δ‖² in the top k = {top_k} dimensions"
    return text


_meaning = meaning


def _is_task(key: str) -> bool:
    return _catalogue_keys().get(key, ("", ""))[0] in TASK_METRICS


def _metric_table(metrics: dict[str, Any], caption: str = "", *, top_k: int | None = None,
                  extra: Mapping[str, str] | None = None) -> Table:
    rows = [[k, _fmt(metrics[k]), (extra or {}).get(k) or meaning(k, top_k=top_k)]
            for k in metrics if not isinstance(metrics[k], (dict,))]
    return Table(["metric", "value", "meaning"], rows, caption)


def _retrieval_shown(keys: Any) -> bool:
    return any(str(k).startswith(("i2t_r", "t2i_r")) for k in keys)


class _Caveat(str):
    """A note that, once shown, is repeated in its ``short`` form."""

    short: str = ""


@dataclass(frozen=True)
class _Captions:
    """How many texts, and how many distinct ones, retrieval was measured on."""

    n: int
    distinct: int

    @classmethod
    def of(cls, d: Any) -> _Captions | None:
        """From a record's ``measured["captions"]`` (``{"n": …, "distinct": …}``), if well formed."""
        if not isinstance(d, dict):
            return None
        n, k = d.get("n"), d.get("distinct")
        if isinstance(n, int) and isinstance(k, int) and not isinstance(n, bool) and 0 < k <= n:
            return cls(n, k)
        return None

    @property
    def many_duplicates(self) -> bool:
        return self.n >= 20 and self.distinct < DUPLICATE_CAPTIONS * self.n

    def caveat(self) -> _Caveat:
        note = _Caveat(
            f"Retrieval here is measured with many duplicate captions: {self.distinct} distinct among {self.n} texts "
            f"(each about {self.n / self.distinct:.1f} times). Identical captions have identical embeddings, so they "
            f"rank the images identically and only one of them can find its own image first: text→image R@1 cannot "
            f"exceed {self.distinct}/{self.n} = {self.distinct / self.n:.2f} for any model. Image→text R@1 is held "
            "down too, since the other captions that say the same thing rank alongside the image's own one. A low "
            "R@1 beside a high zero-shot accuracy is expected here; read zero-shot accuracy and R@10."
        )
        note.short = (f"Retrieval R@1 here is held down by duplicate captions ({self.distinct} distinct among {self.n} "
                      f"texts: text→image R@1 ≤ {self.distinct / self.n:.2f}); see the first such note above.")
        return note


def _text_captions(y: np.ndarray) -> _Captions | None:
    """Duplicate captions counted from the text embeddings themselves (rows equal up to float noise)."""
    if y.ndim != 2 or y.shape[0] == 0:
        return None
    try:
        return _Captions(int(y.shape[0]), max(count_distinct_rows(y), 1))
    except InputError:
        return None


def _separability_note(values: list[tuple[str, float]], chance: float = 0.5) -> str | None:
    """How to read a held-out separability below chance (``values``: where → accuracy)."""
    low = [(w, v) for w, v in values if v < chance - SEPARABILITY_BELOW_CHANCE]
    if not low:
        return None
    where = ", ".join(f"{w} {v:.2f}" if w else f"{v:.2f}" for w, v in low)
    return (
        f"Linear separability below chance ({where}; chance {chance:.2f}) does not mean the modalities are "
        "'anti-separable': it reads as no linear separation at all. The held-out accuracy of a classifier that "
        "finds no signal is biased below chance when the two modalities have (almost) the same mean, most of all "
        "when each was centred on these very rows: the train split's mean difference is then the opposite of the "
        "test split's (n_train·Δ_train + n_test·Δ_test ≈ 0), so what the classifier learns from noise it applies "
        "backwards. Small test splits make it worse."
    )


def _pairs_section(path: Path, label: str, *, seed: int, umap: bool, max_rows: int,
                   say: _Progress) -> tuple[Section, dict[str, Any], _Captions | None]:
    p = load_pairs(path)
    x, y, idx = p.image, p.text, p.image_index
    sec = Section(f"Embeddings: {label}")
    if idx is not None:  # one caption per image for the pairwise views
        first = np.unique(idx, return_index=True)[1]
        xs, ys = np.asarray(x)[idx[first]], np.asarray(y)[first]
    else:
        xs, ys = np.asarray(x), np.asarray(y)
    n_pairs = xs.shape[0]
    model = p.meta.get("model")
    if isinstance(model, str) and model:
        sec.paragraphs.append(("Model: ", Strong(_fmt(model, 200)), "."))
    # exact O(N·d) metrics on everything; the O(N²) ones on a seeded sample
    say(f"{label}: gap metrics ({n_pairs} pairs)")
    exact = MetricSuite().update(x, y, image_index=idx, where=f"report: {path}").compute()
    gap = exact.pop("gap_vector")
    sample = np.sort(np.random.default_rng(seed).choice(n_pairs, min(n_pairs, max_rows * 2), replace=False))
    m = measure(xs[sample], ys[sample], seed=seed)
    sec.notes.extend(m.pop("warnings", []))  # a collapsed modality: said, not hidden in a table
    temperature = m.pop("temperature", None)  # settings of the measurement, not results
    m.pop("seed", None)
    said = m.pop("reading", None)  # gaplab.metrics.reading: sentences, shown as such
    if isinstance(said, list) and said:
        sec.paragraphs.append("What the numbers say (gaplab.metrics.reading): "
                              + "; ".join(str(x) for x in said[:6]) + ".")
    m.update({k: v for k, v in exact.items() if k in MEASURE_KEYS or k in ("n_images", "n_texts")})
    order = np.argsort(-np.abs(gap))[:10]
    m["top_dims"] = [{"dim": int(j), "diff": float(gap[j])} for j in order]
    labels, class_text = p.meta.get("labels"), p.meta.get("class_text")
    if labels is not None and class_text is not None and np.ndim(class_text) == 2:
        m["zero_shot"] = zero_shot_accuracy(x, class_text, np.asarray(labels))  # every image
    settings = []
    if sample.size < n_pairs:
        settings.append(f"exact O(N·d) metrics over all {exact['n']} pairs; uniformity, retrieval, entropy and "
                        f"separability on a seeded sample of {sample.size} pairs")
    if _number(temperature) is not None:
        settings.append(f"logit entropy at the evaluation temperature {temperature:g} (a fixed setting of the "
                        "measurement, not the model's own τ)")
    settings.append(f"top-k share over the k = {len(order)} dimensions with the largest |Δ_j|; seed {seed}")
    sec.paragraphs.append("Settings: " + "; ".join(settings) + ".")
    extra = dict(EXTRA_MEANINGS)
    if _number(temperature) is not None:
        for k in ("logit_entropy_i2t", "logit_entropy_t2i"):
            extra[k] = f"{meaning(k)}; evaluation temperature {temperature:g}, not the model's τ"
    sec.tables.append(_metric_table(m, f"Gap and task metrics of {label}", top_k=len(order), extra=extra))
    caps = _text_captions(ys[sample])
    if caps is not None and caps.many_duplicates and _retrieval_shown(m):
        sec.notes.append(caps.caveat())
    if _number(m.get("linear_separability")) is not None:
        note = _separability_note([("", float(m["linear_separability"]))])
        if note:
            sec.notes.append(note)
    say(f"{label}: figures (cosine histograms, PCA{', UMAP' if umap and xs.shape[1] >= 2 else ''}, dimensions)")
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
            say(f"{label}: UMAP" + ("" if say.umap_started else " (the first one compiles numba: 20-60 s)"))
            say.umap_started = True
            sec.figures.append(Figure("umap", _png(plots.embedding_2d(xs, ys, method="umap", max_rows=max_rows,
                                                                      seed=seed)),
                                      "UMAP of both modalities."))
    sec.figures.append(Figure("dims", _png(plots.dimension_bars(gap)),
                              "Per-dimension mean difference: a few dimensions carry the gap (Schrodi et al. 2025, Fig. 3a)."))
    return sec, m, caps


def _record_tables(d: Any) -> list[list[Table]]:
    """Lists of flat records inside a JSON dict (e.g. a demo's ``stages``) as tables, laid out to fit a page.

    A value is a list of records, or ``{"rows": [...], "caption": "...", "meanings": {column: meaning}}``
    (``meanings`` explain columns the metric catalogue does not know). Columns holding dicts
    or lists (fitted parameters) are left out. One list of tables per record table (a wide
    one is split, see :func:`_layout`).
    """
    out: list[list[Table]] = []
    for name, v in (d.items() if isinstance(d, dict) else []):
        recs = v.get("rows") if isinstance(v, dict) else v
        caption = v.get("caption") if isinstance(v, dict) and isinstance(v.get("caption"), str) else ""
        given = v.get("meanings") if isinstance(v, dict) else None
        given = given if isinstance(given, dict) else {}
        if isinstance(recs, list) and recs and all(isinstance(r, dict) for r in recs):
            out.append(_layout(recs, caption or str(name).replace("_", " "),
                               {str(k): str(u) for k, u in given.items() if isinstance(u, str)}))
    return out


def _layout(recs: list[dict[str, Any]], caption: str, given: Mapping[str, str] | None = None) -> list[Table]:
    """One table of ``recs``, or several when it is wider than :data:`MAX_COLUMNS` columns.

    A wide table is split into its gap metrics, its task metrics and its other columns; each
    part is transposed (one row per metric with its meaning, one column per record) when
    there are at most :data:`MAX_TRANSPOSED_ROWS` records, else cut into column chunks of
    even width that repeat the identifying column. A column's meaning comes from the catalogue,
    else from ``given`` (the record's own).
    """

    def meaning(c: str) -> str:
        return _meaning(c) or (given or {}).get(c, "")

    cols: list[str] = []
    for r in recs:
        cols += [str(k) for k, u in r.items() if str(k) not in cols and not isinstance(u, (dict, list))]
    idcol = next((c for c in cols if all(isinstance(r.get(c), str) for r in recs)), None)

    def legend(cs: list[str]) -> list[tuple[str, str]]:
        return [(c, meaning(c)) for c in cs if meaning(c) and (c != idcol or len(cols) <= MAX_COLUMNS)]

    if len(cols) <= MAX_COLUMNS:
        return [Table(cols, [[_fmt(r.get(c)) for c in cols] for r in recs], caption, legend(cols))]
    known = _catalogue_keys()
    body = [c for c in cols if c != idcol]
    groups = [("gap metrics", [c for c in body if c in known and not _is_task(c)]),
              ("task metrics", [c for c in body if _is_task(c)]),
              ("other columns", [c for c in body if c not in known])]
    out = []
    if len(recs) <= MAX_TRANSPOSED_ROWS:
        ids = [_fmt(r.get(idcol)) if idcol else f"row {i + 1}" for i, r in enumerate(recs)]
        for what, cs in groups:
            if cs:
                rows = [[c, *(_fmt(r.get(c)) for r in recs), meaning(c)] for c in cs]
                out.append(Table(["metric", *ids, "meaning"], rows,
                                 f"{caption}: {what} (one column per {idcol or 'row'})"))
        return out
    for what, cs in groups:
        n_parts = -(-len(cs) // (MAX_COLUMNS - 1))
        step = max(-(-len(cs) // max(n_parts, 1)), 1)  # even parts: no orphan column or two
        for k, i in enumerate(range(0, len(cs), step)):
            part = ([idcol] if idcol else []) + cs[i:i + step]
            of = f" (part {k + 1} of {n_parts})" if n_parts > 1 else ""
            out.append(Table(part, [[_fmt(r.get(c)) for c in part] for r in recs], f"{caption}: {what}{of}",
                             legend(part)))
    return out


def _table_values(tables: list[Table], key: str) -> list[tuple[str, float]]:
    """Every number shown for ``key`` in ``tables`` (as a column or a transposed row), with its row label."""
    out: list[tuple[str, float]] = []
    for t in tables:
        if key in t.header:
            j = t.header.index(key)
            for r in t.rows:
                v = _parse(r[j])
                if v is not None:
                    out.append((str(r[0]), v))
        for r in t.rows:
            if r and r[0] == key and t.header[:2] == ["metric", "value"]:  # a metric table: one value
                out += [("", v) for v in [_parse(r[1])] if v is not None]
            elif r and r[0] == key:  # a transposed table: one value per column
                out += [(str(h), v) for h, c in zip(t.header[1:], r[1:], strict=False) if (v := _parse(c)) is not None]
    return out


def _parse(s: Any) -> float | None:
    try:
        v = float(str(s))
    except ValueError:
        return None
    return v if math.isfinite(v) else None


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


_CLAIM_LEGEND = [
    ("verdict", "held, not held or inconclusive, decided from the effect's 95% interval; '(sanity)' marks a check "
                "true by construction, which never counts as a reproduction"),
    ("effect (95% CI)", "the measured effect, its 95% interval and the number of seeds"),
    ("paper", "the paper's value or claim"), ("ours", "what this run measured"),
]


def _claims_table(claims: list[Claim]) -> Table:
    header = ["verdict", "claim", "criterion", "effect (95% CI)", "paper", "ours"]
    rows = [[_verdict_cell(c), _fmt(c.claim, 500), _fmt(c.criterion, 500), _effect_cell(c),
             _fmt(c.paper_value), _fmt(c.measured)] for c in claims]
    keep = [j for j in range(len(header)) if j < 2 or any(r[j] not in ("", "—") for r in rows)]  # no empty columns
    return Table([header[j] for j in keep], [[r[j] for j in keep] for r in rows], "Claims of the paper and our verdicts",
                 [(k, v) for k, v in _CLAIM_LEGEND if k in (header[j] for j in keep)])


def _history(rec: RunRecord) -> list[dict[str, Any]]:
    recs = rec.history.get("records") if isinstance(rec.history, dict) else None
    return [r for r in recs if isinstance(r, dict)] if isinstance(recs, list) else []


def _modality_results(d: Any, key: str = "", depth: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """Multi-modality measures (:func:`gaplab.metrics.measure_modalities`) in ``d`` or up to two levels inside it."""
    if not isinstance(d, dict):
        return []
    mods = d.get("modalities")
    if isinstance(mods, list) and len(mods) >= 2 and isinstance(d.get("pairs"), dict):
        return [(key, d)]
    if depth >= 2:
        return []
    return [r for k, v in d.items() for r in _modality_results(v, f"{key}/{k}" if key else str(k), depth + 1)]


#: columns of the pairwise table of a multi-modality measure, when present
_MODALITY_KEYS = ("l2m", "rmg", "l2i", "linear_separability", "mean_cos_paired", "i2t_r1", "t2i_r1")


def _modality_section(result: dict[str, Any], title: str, level: int) -> Section:
    sec = Section(title, level=level)
    pairs = {str(k): v for k, v in result["pairs"].items() if isinstance(v, dict)}
    keys = [k for k in _MODALITY_KEYS if any(_number(m.get(k)) is not None for m in pairs.values())]
    names = [_fmt(n) for n in result["modalities"]]
    sec.paragraphs.append(f"{len(names)} modalities ({', '.join(names)}): every pair measured like an image-text "
                          "pair (the first name plays the image side), and each modality's distance to the joint "
                          "centre (the mean of the modality centroids).")
    if pairs and keys:
        sec.tables.append(Table(["pair", *keys], [[p.replace("|", " vs "), *(_fmt(m.get(k)) for k in keys)]
                                                  for p, m in pairs.items()],
                                "Gap metrics between every pair of modalities", [(k, meaning(k)) for k in keys]))
    cd = result.get("centroid_distance")
    if isinstance(cd, dict) and cd:
        sec.tables.append(Table(["modality", "distance to the joint centre"], [[_fmt(k), _fmt(v)] for k, v in cd.items()],
                                "Distance of each modality's centroid to the joint centre"))
    if "l2m" in keys:
        try:
            sec.figures.append(Figure("modalities", _png(plots.modality_matrix(result, key="l2m")),
                                      "L2M between every pair of modalities (0 on the diagonal)."))
        except InputError as e:
            sec.notes.append(f"Modality heatmap skipped: {e}")
    return sec


def _add_notes(sec: Section, tables: list[Table], captions: _Captions | None, *,
               history_keys: list[str] | None = None) -> None:
    """Notes on how to read ``tables`` (and curves of ``history_keys``): duplicate captions, separability below chance."""
    keys = [*(h for t in tables for h in t.header), *(r[0] for t in tables for r in t.rows if r), *(history_keys or [])]
    notes: list[str] = []
    if captions is not None and captions.many_duplicates and _retrieval_shown(keys):
        notes.append(captions.caveat())
    notes.append(_separability_note(_table_values(tables, "linear_separability")) or "")
    sec.notes.extend(n for n in notes if n and n not in sec.notes)


@dataclass
class _RunParts:
    """What one run record contributes, before the folder puts it in order."""

    main: Section
    modal: list[Section]
    tables: list[list[Table]]  #: the record's own tables (measured["tables"]), each possibly split
    pairs: list[tuple[str, Section]]  #: (file stem, section) of each pairs file
    metrics: dict[str, Any]
    captions: _Captions | None


def _run_section(rec: RunRecord, folder: Path, label: str, root: Path, *, seed: int, umap: bool, max_rows: int,
                 depth: int, say: _Progress, curves: bool = True) -> _RunParts:
    """A run folder's sections, from its run record only."""
    say(f"{label}: run record")
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
    shown: list[Table] = []
    if isinstance(rec.final_metrics, dict) and rec.final_metrics:
        flat = {str(k): v for k, v in rec.final_metrics.items() if isinstance(v, (int, float, str, bool))}
        final = _metric_table(flat, "Final metrics (the last record of the training history)" if _history(rec)
                              else "Final metrics")
        sec.tables.append(final)
        shown.append(final)
    groups = _record_tables(measured.get("tables"))
    history = _history(rec)
    if history and curves:
        say(f"{label}: training curves")
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
        sec.figures.append(Figure(f.stem, data, name, wide=True))  # a recipe's figures are often multi-panel
    modal = [_modality_section(r, f"Modalities: {label}" + (f" ({k})" if k else ""), 3 + depth)
             for k, r in _modality_results(measured)]
    known = _catalogue_keys()
    metrics = {str(k): v for k, v in {**measured, **(rec.final_metrics or {})}.items()
               if _number(v) is not None and (str(k) in MEASURE_KEYS or str(k) in known)}
    captions = _Captions.of(measured.get("captions"))
    pairs: list[tuple[str, Section]] = []
    for name in rec.pairs if isinstance(rec.pairs, list) else []:
        f = folder / str(name)
        if not f.resolve().is_relative_to(root):
            sec.notes.append(f"Pairs file {str(name)!r} from {RUN_FILE} lies outside the run folder; skipped.")
            continue
        s, m, caps = _pairs_section(f, f"{label}/{name}", seed=seed, umap=umap, max_rows=max_rows, say=say)
        s.level = 3 + depth
        pairs.append((f.stem, s))
        metrics = metrics or m
        if captions is None and caps is not None and caps.many_duplicates:
            captions = caps
    _add_notes(sec, shown, captions, history_keys=[k for r in history if curves for k in r])
    return _RunParts(sec, modal, groups, pairs, metrics, captions)


def _folder_sections(folder: Path, label: str, *, seed: int, umap: bool, max_rows: int, say: _Progress,
                     depth: int = 0, root: Path | None = None, curves: bool = True) -> tuple[list[Section], dict[str, Any]]:
    """Sections of a run folder in reading order.

    The run's summary (headline, claims, final metrics, its first table); the embeddings of no
    sub-run (e.g. the initialisation); the sub-runs' training curves together; each sub-run
    (the ``run.json`` of a sub-folder) followed by the embeddings named after it; last the
    run's other tables.
    """
    root = root or folder.resolve()  # figures and pairs are read only from inside the input folder
    rec = RunRecord.read(folder)
    subs: dict[str, RunRecord] = {}
    skipped = []
    if not depth:
        for p in sorted(p for p in folder.iterdir() if p.is_dir() and (p / RUN_FILE).is_file()):
            if p.resolve().is_relative_to(root) and p.resolve() != root:
                subs[p.name] = RunRecord.read(p)
            else:
                skipped.append(f"Sub-folder {p.name!r} is a link outside the run folder; skipped.")
    runs = {k: _history(r) for k, r in subs.items() if _history(r)}
    parts = _run_section(rec, folder, label, root, seed=seed, umap=umap, max_rows=max_rows, depth=depth, say=say,
                         curves=curves)
    main = parts.main
    main.notes.extend(skipped)
    own = [s for stem, s in parts.pairs if stem not in subs]
    by_sub = {stem: s for stem, s in parts.pairs if stem in subs}
    detail: list[Table] = []
    if (parts.pairs or subs) and len(parts.tables) > 1:  # the first table sums up; the others come last
        main.tables.extend(parts.tables[0])
        detail = [t for g in parts.tables[1:] for t in g]
    else:
        main.tables.extend(t for g in parts.tables for t in g)
    _add_notes(main, [t for t in main.tables if isinstance(t, Table)], parts.captions)
    sections = [main, *parts.modal, *own]
    if len(runs) > 1:  # several training runs side by side
        say(f"{label}: training runs compared")
        both = Section(f"Training runs compared: {label}", level=2 + depth)
        both.figures.append(Figure("runs", _png(plots.training_curves(runs)), "Metrics over training, one line per run.",
                                   wide=True))
        _add_notes(both, [], parts.captions, history_keys=[k for h in runs.values() for r in h for k in r])
        sections.append(both)
    for name in subs:
        s, _ = _folder_sections(folder / name, f"{label}/{name}", seed=seed, umap=umap, max_rows=max_rows, say=say,
                                depth=depth + 1, root=root, curves=len(runs) <= 1)
        sections.extend(s)
        if name in by_sub:
            by_sub[name].level = 4 + depth
            sections.append(by_sub[name])
    if detail:
        more = Section(f"Details: {label}", level=2 + depth, tables=list(detail))
        _add_notes(more, detail, parts.captions)
        sections.append(more)
    return sections, parts.metrics


def collect(inputs: list[str | Path], *, seed: int = 0, umap: bool | None = None, max_rows: int = 2000,
            title: str | None = None, progress: bool | _Progress = False) -> Report:
    """Gather sections and comparison metrics from every input (stage messages on stderr with ``progress``)."""
    if not inputs:
        raise InputError("report: give at least one pairs file or run folder")
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 2:
        raise InputError(f"report: max_rows must be an integer >= 2 (rows sampled for plots), got {max_rows!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"report: seed must be a non-negative integer, got {seed!r}")
    max_rows, seed = int(max_rows), int(seed)
    say = progress if isinstance(progress, _Progress) else _Progress(progress)
    if umap is None:  # without importing it: that alone takes seconds, and a run folder may have no pairs
        umap = importlib.util.find_spec("umap") is not None
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
            secs, m = _folder_sections(p, label, seed=seed, umap=umap, max_rows=max_rows, say=say)
        else:
            sec, m, _ = _pairs_section(p, label, seed=seed, umap=umap, max_rows=max_rows, say=say)
            secs = [sec]
        rep.sections.extend(secs)
        if m:
            rep.compare[label] = m
    _shorten_repeats(rep)
    return rep


def _shorten_repeats(rep: Report) -> None:
    """A caveat shown once is repeated in its short form."""
    seen: set[str] = set()
    for s in rep.sections:
        for i, n in enumerate(s.notes):
            if isinstance(n, _Caveat):
                if str(n) in seen and n.short:
                    s.notes[i] = n.short
                seen.add(str(n))


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1400px;margin:2em auto;padding:0 1.5em;color:#222}
h1{border-bottom:3px solid #d95f02;padding-bottom:.2em} h2{margin-top:2em;border-bottom:1px solid #ddd} h3,h4{margin-top:1.6em}
p{max-width:110ch;line-height:1.45}
table{border-collapse:collapse;margin:.3em 0 .5em;font-size:.9em} td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4} table.metrics td:nth-child(2){width:11em} td:first-child{white-space:nowrap} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.held td:first-child{color:#1b7e3f;font-weight:600} tr.nothel td:first-child{color:#b00020;font-weight:600}
tr.incon td:first-child{color:#8a5a00;font-weight:600}
p.caption{margin:1.2em 0 0;font-size:.9em} p.legend{margin:.2em 0 1em;font-size:.8em;color:#555;max-width:none}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;width:calc(50% - 1.2em);max-width:720px}
figure img{max-width:100%;height:auto;display:block}
figure.wide{display:block;width:auto;max-width:100%;margin:1em 0}
figcaption{font-size:.8em;color:#555} figcaption::after{content:" (click the figure to enlarge)";color:#999}
label.zoom{display:block;cursor:zoom-in} label.zoom input{position:absolute;opacity:0;width:0;height:0}
label.zoom input:checked+img{position:fixed;top:0;left:0;right:0;bottom:0;margin:auto;width:96vw;height:96vh;max-width:none;
  object-fit:contain;z-index:10;background:#fff;box-shadow:0 0 0 100vmax rgba(0,0,0,.75);cursor:zoom-out}
.muted{color:#777;font-size:.85em} .scroll{overflow-x:auto;max-width:100%}
p.headline{font-size:1.05em;background:#fdf3ea;border-left:4px solid #d95f02;padding:.6em 1em}
p.note{font-size:.85em;color:#6b4700;background:#fff8e1;border-left:3px solid #f0b400;padding:.3em .8em}
"""


def _inline_pieces(p: Paragraph) -> list[str | Strong]:
    return [p] if isinstance(p, (str, Strong)) else list(p)


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _html_text(p: Paragraph) -> str:
    return "".join(f"<b>{_esc(x.text)}</b>" if isinstance(x, Strong) else _esc(x) for x in _inline_pieces(p))


def _as_table(t: Any) -> Table:
    return t if isinstance(t, Table) else Table(list(t[0]), [list(r) for r in t[1]])


def _is_num(s: str) -> bool:
    return s == "—" or s.replace(".", "", 1).replace("-", "", 1).replace("e", "", 1).replace("+", "", 1).isdigit()


def _verdict_class(cell: Any) -> str:
    s = str(cell)
    if s.startswith("held"):
        return ' class="held"'
    return ' class="incon"' if s.startswith("INCONCLUSIVE") else ' class="nothel"'


def _html_table(t: Any, number: int | None = None) -> str:
    t = _as_table(t)
    out = []
    if t.caption:
        out.append(f"<p class='caption'><b>Table {number}.</b> {_esc(t.caption)}</p>" if number
                   else f"<p class='caption'>{_esc(t.caption)}</p>")
    cls = " class='metrics'" if t.header[:2] == ["metric", "value"] else ""
    heads = "".join(f"<th>{_esc(h).replace('_', '_&#8203;')}</th>" for h in t.header)  # may wrap after a _
    out.append(f"<div class='scroll'><table{cls}><tr>{heads}</tr>")
    for r in t.rows:
        cls = _verdict_class(r[0]) if t.header and t.header[0] == "verdict" and r else ""
        cells = [f'<td{" class=num" if _is_num(str(v)) else ""}>{_esc(v)}</td>' for v in r]
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    if t.legend:
        out.append("<p class='legend'>" + "; ".join(f"<b>{_esc(k)}</b>: {_esc(v)}" for k, v in t.legend) + ".</p>")
    return "\n".join(out)


def _compare_rows(rep: Report) -> Table | None:
    """The catalogue metrics that at least two inputs have, one column per input (None: nothing to compare)."""
    if len(rep.compare) < 2:
        return None
    labels = list(rep.compare)
    known = [*MEASURE_KEYS, *(k for k in _catalogue_keys() if k not in MEASURE_KEYS)]
    keys = [k for k in known if sum(_number(m.get(k)) is not None for m in rep.compare.values()) >= 2]
    if not keys:
        return None
    return Table(["metric", *labels, "meaning"], [[k, *(_fmt(rep.compare[lab].get(k)) for lab in labels), meaning(k)]
                                                  for k in keys],
                 "The metrics the inputs share, side by side (a run folder is represented by its final metrics, "
                 "else its first pairs file)")


def _level(s: Section) -> int:
    return min(max(int(s.level), 1), 6)


def render_html(rep: Report) -> str:
    """The report as one HTML page; every piece of text is escaped, every figure embedded."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_esc(rep.title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{_esc(rep.title)}</h1>"]
    number = 0
    cmp_rows = _compare_rows(rep)
    if cmp_rows:
        number += 1
        parts.append("<h2>Side by side</h2>" + _html_table(cmp_rows, number))
    for s in rep.sections:
        h = _level(s)
        parts.append(f"<h{h}>{_esc(s.title)}</h{h}>")
        if s.headline:
            parts.append(f"<p class='headline'>{_esc(s.headline)}</p>")
        parts += [f"<p>{_html_text(p)}</p>" for p in s.paragraphs]
        parts += [f"<p class='note'>Note: {_esc(n)}</p>" for n in s.notes]
        for t in s.tables:
            t = _as_table(t)
            number += bool(t.caption)
            parts.append(_html_table(t, number if t.caption else None))
        for f in s.figures:
            mime = _image_mime(f.png)
            if mime is None:
                parts.append(f"<p class='note'>Note: figure {_esc(f.name)} is not a PNG or GIF image; skipped.</p>")
                continue
            b64 = base64.b64encode(f.png).decode()
            parts.append(f"<figure{' class=wide' if f.wide else ''}><label class='zoom'><input type='checkbox'>"
                         f"<img alt='{_esc(f.name)}' src='data:{mime};base64,{b64}'></label>"
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


def _md_table(t: Any, number: int | None = None) -> str:
    t = _as_table(t)
    lines = []
    if t.caption:
        lines += [(f"**Table {number}.** " if number else "") + md_escape(t.caption, line_start=not number), ""]
    lines += ["| " + " | ".join(md_escape(h) for h in t.header) + " |", "|" + "---|" * len(t.header)]
    lines += ["| " + " | ".join(md_escape(v) for v in r) + " |" for r in t.rows]
    if t.legend:
        lines += ["", "; ".join(f"**{md_escape(k)}**: {md_escape(v)}" for k, v in t.legend) + "."]
    return "\n".join(lines)


def _writer(data: bytes) -> Callable[[str], object]:
    """An :func:`~gaplab._fs.atomic_write` callback writing ``data``."""
    return lambda tmp: Path(tmp).write_bytes(data)


def render_markdown(rep: Report, fig_dir: Path, rel: str) -> str:
    """The report as Markdown, its figures written as PNG/GIF files into ``fig_dir`` (linked as ``rel/…``)."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    out = [f"# {md_escape(rep.title)}", ""]
    number = 0
    cmp_rows = _compare_rows(rep)
    if cmp_rows:
        number += 1
        out += ["## Side by side", "", _md_table(cmp_rows, number), ""]
    used: set[str] = set()
    link = urllib.parse.quote(rel)
    for s in rep.sections:
        out += ["#" * _level(s) + " " + md_escape(s.title), ""]
        if s.headline:
            out += [f"> {md_escape(s.headline, line_start=True)}", ""]
        out += [_md_text(p) + "\n" for p in s.paragraphs]
        out += [f"> **Note:** {md_escape(n)}\n" for n in s.notes]
        for t in s.tables:
            t = _as_table(t)
            number += bool(t.caption)
            out += [_md_table(t, number if t.caption else None) + "\n"]
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
    progress: bool = False,
) -> Path:
    """Write the report for ``inputs`` to ``out`` (HTML, or Markdown with PNGs beside it).

    Parameters
    ----------
    inputs : list of str or Path
        Pairs files and run folders, reported in this order.
    out : str or Path
        The file to write (``.html`` or ``.md``); Markdown figures go to ``<stem>_figures/``.
    format : {"html", "md"}
        Output format.
    title : str, optional
        Report title (default "gaplab report").
    seed : int
        Seed of the row samples (plots, O(N²) metrics) and of the fitted metrics.
    umap : bool, optional
        Draw UMAP views (default: when ``umap-learn`` is installed).
    max_rows : int
        Rows sampled for plots and the O(N²) metrics.
    progress : bool
        Print stage messages on stderr (``gaplab report`` does).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputError
        An input that does not exist or is no run folder, a bad option, or ``out`` unwritable.
    """
    if format not in ("html", "md"):
        raise InputError(f"report: format must be 'html' or 'md', got {format!r}")
    outp = Path(out)
    if outp.is_dir():
        raise InputError(f"report: out must be a file path, got the folder {outp} (try {outp / ('report.' + format)})")
    say = _Progress(progress)
    rep = collect(inputs, seed=seed, umap=umap, max_rows=max_rows, title=title, progress=say)
    say(f"writing {outp}")
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
