"""Figures of the report: pure functions from arrays to a matplotlib Figure (Agg, headless)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_pair, normalize_rows

__all__ = ["cosine_histograms", "embedding_2d", "dimension_bars", "training_curves", "modality_matrix", "subsample_pairs"]

IMAGE_COLOUR, TEXT_COLOUR = "#d95f02", "#1b9e77"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def subsample_pairs(x: Any, y: Any, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subsample of at most ``n`` row-paired rows, normalised."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"report: the number of rows to plot must be a positive integer, got {n!r}")
    xa, ya, _ = check_pair(x, y, where="report")
    if xa.shape[0] > n:
        keep = np.sort(np.random.default_rng(seed).choice(xa.shape[0], n, replace=False))
        xa, ya = xa[keep], ya[keep]
    return normalize_rows(xa.astype(np.float64)), normalize_rows(ya.astype(np.float64))


def cosine_histograms(x: Any, y: Any, *, max_rows: int = 2000, seed: int = 0, title: str = ""):
    """Histograms of cosine similarity: matched pairs, unmatched cross-modal, within each modality.

    Liang et al. 2022, Fig. 2a style: a gap shows as cross-modal cosines far below the
    within-modality ones.
    """
    plt = _plt()
    xa, ya = subsample_pairs(x, y, max_rows, seed)
    n = xa.shape[0]
    off = ~np.eye(n, dtype=bool)
    cross = np.clip(xa @ ya.T, -1.0, 1.0)  # rounding can put a cosine of 1 just past the last bin
    groups = {
        "matched image–text": np.diag(cross),
        "unmatched image–text": cross[off],
        "image–image": np.clip(xa @ xa.T, -1.0, 1.0)[off],
        "text–text": np.clip(ya @ ya.T, -1.0, 1.0)[off],
    }
    colours = ["#7570b3", "#999999", IMAGE_COLOUR, TEXT_COLOUR]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    bins = np.linspace(-1, 1, 81)
    for (label, v), c in zip(groups.items(), colours, strict=True):
        if v.size == 0:  # one row: no unmatched or within-modality pairs
            continue
        ax.hist(v, bins=bins, density=True, alpha=0.55, color=c, label=f"{label} (mean {v.mean():.2f})")
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.set_title(title or "Cosine similarities")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def embedding_2d(
    x: Any, y: Any, *, method: str = "pca", max_rows: int = 1000, n_lines: int = 60, seed: int = 0, title: str = ""
):
    """Both modalities in 2-D (PCA of the joint set, or UMAP) with lines joining matched pairs."""
    plt = _plt()
    xa, ya = subsample_pairs(x, y, max_rows, seed)
    if xa.shape[1] < 2 or xa.shape[0] < 2:
        raise InputError(f"report: a 2-D {method.upper()} view needs at least 2 rows and 2 dimensions, "
                         f"got {xa.shape[0]} rows of dimension {xa.shape[1]}")
    if method not in ("pca", "umap"):
        raise InputError(f"report: method must be 'pca' or 'umap', got {method!r}")
    joint = np.vstack([xa, ya])
    if method == "umap":
        import warnings

        import umap  # optional extra

        with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded on purpose
            warnings.simplefilter("ignore", UserWarning)
            z = umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(joint)
    else:
        from sklearn.decomposition import PCA

        z = PCA(n_components=2, random_state=seed).fit_transform(joint)
    n = xa.shape[0]
    zx, zy = z[:n], z[n:]
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    lines = np.random.default_rng(seed).choice(n, min(n_lines, n), replace=False)
    for i in lines:
        ax.plot([zx[i, 0], zy[i, 0]], [zx[i, 1], zy[i, 1]], color="#bbbbbb", lw=0.5, zorder=1)
    ax.scatter(zx[:, 0], zx[:, 1], s=6, color=IMAGE_COLOUR, label="image", zorder=2)
    ax.scatter(zy[:, 0], zy[:, 1], s=6, color=TEXT_COLOUR, label="text", zorder=2)
    ax.set_title(title or f"{method.upper()} of both modalities (lines join pairs)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def dimension_bars(diff: Sequence[float], *, top: int = 30, title: str = ""):
    """Per-dimension mean difference (image − text), the ``top`` largest |Δ_j| (004 Fig. 3a)."""
    plt = _plt()
    d = np.asarray(diff, dtype=float)
    order = np.argsort(-np.abs(d))[:top]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.bar(range(len(order)), d[order], color=[IMAGE_COLOUR if v > 0 else TEXT_COLOUR for v in d[order]])
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([str(j) for j in order], rotation=90, fontsize=6)
    ax.axhline(0, color="k", lw=0.5)
    share = float((d[order[:5]] ** 2).sum() / max((d**2).sum(), 1e-300))
    ax.set_title(title or f"Largest per-dimension gaps (top 5 carry {share:.0%} of ‖Δ‖²)")
    ax.set_xlabel("dimension")
    ax.set_ylabel("mean(image) − mean(text)")
    fig.tight_layout()
    return fig


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def training_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], *, keys: Sequence[str] | None = None):
    """One panel per metric, one line per run; x = ``step``. ``histories`` maps run → records."""
    plt = _plt()
    numeric: list[str] = []
    for recs in histories.values():
        for r in recs:
            for k, v in r.items():
                if k != "step" and _is_number(v) and k not in numeric:
                    numeric.append(k)
    wanted = [k for k in (keys or ["loss", "l2m", "rmg", "temperature", "uniformity_image", "zero_shot", "i2t_r1"])
              if k in numeric] or numeric[:6]
    cols = min(3, len(wanted)) or 1
    rows = (len(wanted) + cols - 1) // cols or 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 2.8 * rows), squeeze=False)
    for ax, key in zip(axes.flat, wanted, strict=False):
        for run, recs in histories.items():
            pts = [(r["step"], r[key]) for r in recs
                   if _is_number(r.get(key)) and _is_number(r.get("step"))]
            if pts:
                s, v = zip(*pts, strict=True)
                ax.plot(s, v, label=run, lw=1.4)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(wanted):]:
        ax.axis("off")
    if len(histories) > 1:
        axes.flat[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


#: metrics of a modality with itself that are 0 by definition (the diagonal of their matrix)
_ZERO_DIAGONAL = ("l2m", "l2i", "rmg", "alignment")


def modality_matrix(result: Mapping[str, Any], *, key: str = "l2m", title: str = ""):
    """Heatmap of one pairwise metric between M modalities, from a multi-modality measure.

    ``result`` is what :func:`gaplab.metrics.measure_modalities` returns:
    ``{"modalities": [names], "pairs": {"a|b": measure result}, "centroid_distance": {...}}``.
    Cell (a, b) = (b, a) is ``pairs["a|b"][key]``; a pair that is missing or not a number is
    shown as "—". The diagonal is 0 for distances (``l2m``, ``l2i``, ``rmg``, ``alignment``),
    else "—".

    Parameters
    ----------
    result : mapping
        The multi-modality measure.
    key : str
        The metric to draw (a key of each pair's result).
    title : str
        Figure title (default: ``key`` between every pair of modalities).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        ``result`` has fewer than two modality names or no ``pairs`` mapping.

    Examples
    --------
    >>> fig = modality_matrix({"modalities": ["image", "text", "audio"],
    ...                        "pairs": {"image|text": {"l2m": 0.8}, "image|audio": {"l2m": 0.5},
    ...                                  "text|audio": {"l2m": 0.3}}})
    >>> [round(float(v), 1) for v in fig.axes[0].images[0].get_array().filled(-1)[0]]
    [0.0, 0.8, 0.5]
    """
    mods, pairs = (result.get("modalities"), result.get("pairs")) if isinstance(result, Mapping) else (None, None)
    if not isinstance(mods, Sequence) or isinstance(mods, str) or len(mods) < 2 or not isinstance(pairs, Mapping):
        raise InputError("report: a multi-modality measure needs 'modalities' (at least 2 names) and a 'pairs' "
                         f"mapping, got {type(result).__name__} with keys {sorted(map(str, result))[:5] if isinstance(result, Mapping) else '—'}")
    names = [str(n) for n in mods]
    m = len(names)
    mat = np.full((m, m), np.nan)
    if key in _ZERO_DIAGONAL:
        np.fill_diagonal(mat, 0.0)
    for pair, res in pairs.items():
        a, _, b = str(pair).partition("|")
        if a in names and b in names and isinstance(res, Mapping) and _is_number(res.get(key)):
            i, j = names.index(a), names.index(b)
            mat[i, j] = mat[j, i] = float(res[key])
    plt = _plt()
    size = 1.0 + 0.9 * m
    fig, ax = plt.subplots(figsize=(size + 1.6, size))
    masked = np.ma.masked_invalid(mat)
    finite = mat[np.isfinite(mat)]
    im = ax.imshow(masked, cmap="Oranges", vmin=0.0, vmax=float(finite.max()) if finite.size and finite.max() > 0 else 1.0)
    labels = [n.replace("$", r"\$") for n in names]  # no mathtext from data
    ax.set_xticks(range(m))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_yticks(range(m))
    ax.set_yticklabels(labels)
    top = float(finite.max()) if finite.size else 1.0
    for i in range(m):
        for j in range(m):
            v = mat[i, j]
            text = "—" if not np.isfinite(v) else f"{v:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=9,
                    color="white" if np.isfinite(v) and v > 0.6 * top else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04).set_label(key.replace("$", r"\$"))
    ax.set_title((title or f"{key} between every pair of modalities").replace("$", r"\$"), fontsize=10)
    fig.tight_layout()
    return fig
