"""Sufficient statistics of paired embeddings: the shared core of the O(N·d) metrics.

Every O(N·d) metric (l2m, gap vector, l2i, RMG, mean cosines, alignment, per-dimension gap)
is a function of a few float64 sums. :class:`PairStats` holds them; :func:`accumulate` adds a
batch, :meth:`PairStats.merge` folds two partial results together (exact, associative), and
the ``*_from_stats`` functions turn sums into metrics. The functional metrics and the
streaming :class:`~gaplab.metrics.MetricSuite` both go through here, so the maths lives once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PairStats", "accumulate", "BLOCK_ROWS"]

#: rows per block: small enough that a float64 copy of a block stays in cache.
BLOCK_ROWS = 2048


@dataclass
class PairStats:
    """float64 sums over images (``x``), texts (``y``) and matched pairs.

    ``sum_x``/``sum_y`` are sums of the rows as the metrics see them (L2-normalised when
    ``normalize``), ``sum_xhat``/``sum_yhat`` always of normalised rows (for cosines).
    """

    dim: int
    normalize: bool = True
    alpha: float = 2.0
    n_x: int = 0
    n_y: int = 0
    n_pairs: int = 0
    sum_x: np.ndarray = field(default=None)  # type: ignore[assignment]
    sum_y: np.ndarray = field(default=None)  # type: ignore[assignment]
    sum_xhat: np.ndarray = field(default=None)  # type: ignore[assignment]
    sum_yhat: np.ndarray = field(default=None)  # type: ignore[assignment]
    sum_cos: float = 0.0  # Σ cos(x_i, y_i) over pairs
    sum_dist: float = 0.0  # Σ ‖x_i − y_i‖ over pairs
    sum_dist_alpha: float = 0.0  # Σ ‖x_i − y_i‖^alpha over pairs

    def __post_init__(self) -> None:
        for name in ("sum_x", "sum_y", "sum_xhat", "sum_yhat"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.dim, dtype=np.float64))

    def merge(self, other: PairStats) -> PairStats:
        """Return the statistics of the union of both sets of rows (neither is modified)."""
        if (self.dim, self.normalize, self.alpha) != (other.dim, other.normalize, other.alpha):
            from ..._errors import InputError

            raise InputError(
                "merge: statistics differ in (dim, normalize, alpha): "
                f"{(self.dim, self.normalize, self.alpha)} vs {(other.dim, other.normalize, other.alpha)}"
            )
        return PairStats(
            dim=self.dim,
            normalize=self.normalize,
            alpha=self.alpha,
            n_x=self.n_x + other.n_x,
            n_y=self.n_y + other.n_y,
            n_pairs=self.n_pairs + other.n_pairs,
            sum_x=self.sum_x + other.sum_x,
            sum_y=self.sum_y + other.sum_y,
            sum_xhat=self.sum_xhat + other.sum_xhat,
            sum_yhat=self.sum_yhat + other.sum_yhat,
            sum_cos=self.sum_cos + other.sum_cos,
            sum_dist=self.sum_dist + other.sum_dist,
            sum_dist_alpha=self.sum_dist_alpha + other.sum_dist_alpha,
        )

    # ---- metrics from sums -------------------------------------------------------------
    def gap_vector(self) -> np.ndarray:
        return self.sum_x / self.n_x - self.sum_y / self.n_y

    def l2m(self) -> float:
        return float(np.linalg.norm(self.gap_vector()))

    def l2i(self) -> float:
        return self.sum_dist / self.n_pairs

    def alignment(self) -> float:
        return self.sum_dist_alpha / self.n_pairs

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


def _offdiag_mean_cos(sum_hat: np.ndarray, n: int) -> float:
    """Mean cosine over ordered pairs i ≠ j: (‖Σ x̂_i‖² − n) / (n(n − 1))."""
    return float((sum_hat @ sum_hat - n) / (n * (n - 1)))


def _normalised_block(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", a, a))
    return a / norms[:, None], a


def accumulate(
    stats: PairStats,
    x: np.ndarray,
    y: np.ndarray,
    image_index: np.ndarray | None = None,
    *,
    block_rows: int = BLOCK_ROWS,
) -> PairStats:
    """Add validated rows to ``stats`` in place, blockwise in float64; returns ``stats``.

    Without ``image_index`` x and y are row-paired. With it, caption k pairs with image
    ``image_index[k]`` of this batch; each image is counted once on the image side.
    """
    if image_index is None:
        for a in range(0, x.shape[0], block_rows):
            xh, xr = _normalised_block(x[a : a + block_rows])
            yh, yr = _normalised_block(y[a : a + block_rows])
            _add_side(stats, xh, xr, "x")
            _add_side(stats, yh, yr, "y")
            _add_pairs(stats, xh, yh, xr, yr)
        return stats
    for a in range(0, x.shape[0], block_rows):
        xh, xr = _normalised_block(x[a : a + block_rows])
        _add_side(stats, xh, xr, "x")
    for a in range(0, y.shape[0], block_rows):
        yh, yr = _normalised_block(y[a : a + block_rows])
        _add_side(stats, yh, yr, "y")
        xh, xr = _normalised_block(x[image_index[a : a + block_rows]])
        _add_pairs(stats, xh, yh, xr, yr)
    return stats


def _add_side(stats: PairStats, hat: np.ndarray, raw: np.ndarray, side: str) -> None:
    s_hat = hat.sum(axis=0)
    setattr(stats, f"n_{side}", getattr(stats, f"n_{side}") + hat.shape[0])
    setattr(stats, f"sum_{side}hat", getattr(stats, f"sum_{side}hat") + s_hat)
    s = s_hat if stats.normalize else raw.sum(axis=0)
    setattr(stats, f"sum_{side}", getattr(stats, f"sum_{side}") + s)


def _add_pairs(
    stats: PairStats, xh: np.ndarray, yh: np.ndarray, xr: np.ndarray, yr: np.ndarray
) -> None:
    cos = np.einsum("ij,ij->i", xh, yh)
    stats.n_pairs += xh.shape[0]
    stats.sum_cos += float(cos.sum())
    diff = (xh - yh) if stats.normalize else (xr - yr)  # direct difference: no cancellation
    sq = np.einsum("ij,ij->i", diff, diff)
    dist = np.sqrt(sq)
    stats.sum_dist += float(dist.sum())
    stats.sum_dist_alpha += float(sq.sum() if stats.alpha == 2.0 else (dist**stats.alpha).sum())
