"""Sufficient statistics of paired embeddings: the shared core of the O(N·d) metrics.

Every O(N·d) metric (l2m, gap vector, l2i, RMG, mean cosines, alignment, per-dimension gap)
is a function of a few float64 sums. :class:`PairStats` holds them; :func:`accumulate` adds a
batch, :meth:`PairStats.merge` folds two partial results together (exact, associative), and
the ``*_from_stats`` functions turn sums into metrics. The functional metrics and the
streaming :class:`~gaplab.metrics.MetricSuite` both go through here, so the maths lives once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import IMAGE, TEXT, check_values_of
from . import _fused

__all__ = ["PairStats", "accumulate", "BLOCK_ROWS", "SUMMED_FIELDS"]

#: rows per block: small enough that a float64 copy of a block stays in cache.
BLOCK_ROWS = 1024


def _summed(default: object = 0) -> Any:
    """A field that two partial results combine by addition (declared, so merge is generic)."""
    if isinstance(default, (int, float)):
        return field(default=default, metadata={"summed": True})
    return field(default=None, metadata={"summed": True})


@dataclass
class PairStats:
    """float64 sums over images (``x``), texts (``y``) and matched pairs.

    ``sum_x``/``sum_y`` are sums of the rows as the metrics see them (L2-normalised when
    ``normalize``), ``sum_xhat``/``sum_yhat`` always of normalised rows (for cosines).
    Fields declared with ``summed`` metadata are reduced by addition in :meth:`merge`;
    ``dim``, ``normalize`` and ``alpha`` must agree.
    """

    dim: int
    normalize: bool = True
    alpha: float = 2.0
    n_x: int = _summed(0)
    n_y: int = _summed(0)
    n_pairs: int = _summed(0)
    sum_x: np.ndarray = _summed(None)
    sum_y: np.ndarray = _summed(None)
    sum_xhat: np.ndarray = _summed(None)
    sum_yhat: np.ndarray = _summed(None)
    sum_xpair: np.ndarray = _summed(None)  # Σ over pairs of the image row x_π(k), as the metrics see it
    sum_cos: float = _summed(0.0)  # Σ cos(x_i, y_i) over pairs
    sum_dist: float = _summed(0.0)  # Σ ‖x_i − y_i‖ over pairs
    sum_dist_alpha: float = _summed(0.0)  # Σ ‖x_i − y_i‖^alpha over pairs
    sum_dist_sq: float = _summed(0.0)  # Σ ‖x_i − y_i‖² over pairs

    def __post_init__(self) -> None:
        for name in ("sum_x", "sum_y", "sum_xhat", "sum_yhat", "sum_xpair"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.dim, dtype=np.float64))

    def merge(self, other: PairStats) -> PairStats:
        """Return the statistics of the union of both sets of rows (neither is modified)."""
        if (self.dim, self.normalize, self.alpha) != (other.dim, other.normalize, other.alpha):
            raise InputError(
                "merge: statistics differ in (dim, normalize, alpha): "
                f"{(self.dim, self.normalize, self.alpha)} vs {(other.dim, other.normalize, other.alpha)}"
            )
        sums = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in SUMMED_FIELDS}
        return PairStats(dim=self.dim, normalize=self.normalize, alpha=self.alpha, **sums)

    # ---- metrics from sums -------------------------------------------------------------
    def gap_vector(self) -> np.ndarray:
        return self.sum_x / self.n_x - self.sum_y / self.n_y

    def l2m(self) -> float:
        return float(np.linalg.norm(self.gap_vector()))

    def l2i(self) -> float:
        return self.sum_dist / self.n_pairs

    def alignment(self) -> float:
        return self.sum_dist_alpha / self.n_pairs

    def residual_gap(self) -> float:
        """The trace of the paired-difference covariance, tr Cov(x_π(k) − y_k), over pairs.

        Computed as mean‖x − y‖² − ‖mean(x − y)‖², clipped at 0.
        """
        mean_diff = (self.sum_xpair - self.sum_y) / self.n_pairs
        return max(0.0, self.sum_dist_sq / self.n_pairs - float(mean_diff @ mean_diff))

    def mean_cos_x(self) -> float:
        return _offdiag_mean_cos(self.sum_xhat, self.n_x)

    def mean_cos_y(self) -> float:
        return _offdiag_mean_cos(self.sum_yhat, self.n_y)

    def mean_cos_paired(self) -> float:
        return self.sum_cos / self.n_pairs

    def mean_cos_cross(self) -> float:
        # Σ_{all image/text combos} cos − Σ_{matched} cos, over (n_x·n_y − n_pairs) combos
        total = float(self.sum_xhat @ self.sum_yhat)
        return (total - self.sum_cos) / (self.n_x * self.n_y - self.n_pairs)

    def rmg(self) -> float:
        match = (1.0 - self.mean_cos_paired()) / 2.0
        intra = ((1.0 - self.mean_cos_x()) / 2.0 + (1.0 - self.mean_cos_y()) / 2.0) / 2.0
        denom = intra + match
        return float(match / denom) if denom > 0 else 0.0


#: the fields :meth:`PairStats.merge` adds
SUMMED_FIELDS = tuple(f for f in fields(PairStats) if f.metadata.get("summed"))


def _offdiag_mean_cos(sum_hat: np.ndarray, n: int) -> float:
    """Mean cosine over ordered pairs i ≠ j: (‖Σ x̂_i‖² − n) / (n(n − 1))."""
    return float((sum_hat @ sum_hat - n) / (n * (n - 1)))


class _Workspace:
    """Reused float64 buffers: a fresh multi-MB array per block costs page faults."""

    def __init__(self, rows: int, dim: int) -> None:
        self.bufs = [np.empty((rows, dim)) for _ in range(3)]


class _Block:
    """One block of rows upcast to float64 once, with its squared norms and inverse norms.

    Validates the block on the way (a NaN/inf makes its squared norm non-finite, an all-zero
    row makes it 0), so a huge file is checked without an extra pass.
    """

    __slots__ = ("a", "sq", "inv")

    def __init__(self, src: np.ndarray, buf: np.ndarray, name: str, where: str, offset: int) -> None:
        self.a = buf[: src.shape[0]]
        np.copyto(self.a, src)
        self.sq = np.einsum("ij,ij->i", self.a, self.a)
        if not (np.isfinite(self.sq).all() and self.sq.all()):
            check_values_of(np.asarray(src), name=name, where=where, row_offset=offset,
                            was_half=src.dtype == np.float16)
            row = int(np.flatnonzero(~(np.isfinite(self.sq) & (self.sq > 0)))[0]) + offset
            raise InputError(f"{where}: {name}: the squared norm of row {row} under- or overflows float64; "
                             "rescale the data")
        self.inv = 1.0 / np.sqrt(self.sq)


def accumulate(
    stats: PairStats,
    x: np.ndarray,
    y: np.ndarray,
    image_index: np.ndarray | None = None,
    *,
    block_rows: int = BLOCK_ROWS,
    where: str = "MetricSuite.update",
) -> PairStats:
    """Add rows to ``stats`` in place, blockwise in float64; returns ``stats``.

    Without ``image_index`` x and y are row-paired. With it, caption k pairs with image
    ``image_index[k]`` of this batch; each image is counted once on the image side.
    Each block is copied into a reused float64 buffer once and stays in cache while its
    sums are taken; its values are validated there (NaN/inf, zero rows), so callers need
    only check shapes.
    """
    start = 0
    if image_index is None and _fused.usable(x, y):
        bad = _fused.accumulate_fused(stats, x, y)
        if bad < 0:
            return stats
        start = bad  # the numpy path below raises the precise error for that chunk
    ws = _Workspace(min(block_rows, max(x.shape[0], y.shape[0])), x.shape[1])
    bx_buf, by_buf, bg_buf = ws.bufs
    if image_index is None:
        for a in range(start, x.shape[0], block_rows):
            bx = _Block(x[a : a + block_rows], bx_buf, IMAGE, where, a)
            by = _Block(y[a : a + block_rows], by_buf, TEXT, where, a)
            x_rows = _add_side(stats, bx, "x")
            _add_side(stats, by, "y")
            _add_pairs(stats, bx, by, x_rows)  # row-paired: the pair side is this side's sum
        return stats
    for a in range(0, x.shape[0], block_rows):
        _add_side(stats, _Block(x[a : a + block_rows], bx_buf, IMAGE, where, a), "x")
    for a in range(0, y.shape[0], block_rows):
        by = _Block(y[a : a + block_rows], by_buf, TEXT, where, a)
        _add_side(stats, by, "y")
        bp = _Block(x[image_index[a : a + block_rows]], bg_buf, IMAGE, where, 0)
        _add_pairs(stats, bp, by, _rows_sum(stats, bp))
    return stats


def _rows_sum(stats: PairStats, b: _Block) -> np.ndarray:
    """Σ of the block's rows as the metrics see them (normalised unless ``normalize=False``)."""
    return np.einsum("i,ij->j", b.inv, b.a) if stats.normalize else b.a.sum(axis=0)


def _add_side(stats: PairStats, b: _Block, side: str) -> np.ndarray:
    """Add one side's sums; returns the row sum added to ``sum_<side>``."""
    s_hat = np.einsum("i,ij->j", b.inv, b.a)  # Σ x_i/‖x_i‖ (einsum: no BLAS threading cost)
    setattr(stats, f"n_{side}", getattr(stats, f"n_{side}") + b.a.shape[0])
    setattr(stats, f"sum_{side}hat", getattr(stats, f"sum_{side}hat") + s_hat)
    s = s_hat if stats.normalize else b.a.sum(axis=0)
    setattr(stats, f"sum_{side}", getattr(stats, f"sum_{side}") + s)
    return s


def _add_pairs(stats: PairStats, bx: _Block, by: _Block, x_rows: np.ndarray) -> None:
    """Add the matched-pair sums; ``x_rows`` is Σ of ``bx``'s rows as the metrics see them."""
    dot = np.einsum("ij,ij->i", bx.a, by.a)
    cos = dot * bx.inv * by.inv
    stats.n_pairs += bx.a.shape[0]
    stats.sum_cos += float(cos.sum())
    # ‖x̂ − ŷ‖² = 2 − 2cos (normalised) or ‖x‖² + ‖y‖² − 2x·y; clipped at 0 against rounding
    sq = 2.0 - 2.0 * cos if stats.normalize else bx.sq + by.sq - 2.0 * dot
    np.maximum(sq, 0.0, out=sq)
    dist = np.sqrt(sq)
    stats.sum_dist += float(dist.sum())
    sq_sum = float(sq.sum())
    stats.sum_dist_alpha += sq_sum if stats.alpha == 2.0 else float((dist**stats.alpha).sum())
    stats.sum_dist_sq += sq_sum
    stats.sum_xpair += x_rows
