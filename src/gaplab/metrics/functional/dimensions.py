"""Per-dimension drivers of the gap (Schrodi et al., ICLR 2025, Fig. 2b, 3a)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np

from ..._errors import InputError
from .centroid import pair_stats
from .separability import Split, modality_split

__all__ = ["DimensionGap", "dimension_gap"]


@dataclass
class DimensionGap:
    """Result of :func:`dimension_gap`."""

    diff: np.ndarray  #: per-dimension mean(x̂) − mean(ŷ), shape (d,)
    top_dims: list[int]  #: dimensions sorted by |diff|, largest first (top_k of them)
    top_diffs: list[float]  #: diff at those dimensions
    share_top: float  #: Σ_{top_k} diff² / ‖diff‖²: share of ‖gap‖² they carry
    best_pair: tuple[int, int]  #: the 2 dimensions that best separate the modalities
    best_pair_accuracy: float  #: held-out accuracy of a linear separator on those 2 dims

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict, with ``diff`` converted to a list (JSON-ready)."""
        d = asdict(self)
        d["diff"] = self.diff.tolist()
        return d


def dimension_gap(
    x: Any,
    y: Any,
    *,
    top_k: int = 10,
    n_candidates: int = 8,
    image_index: Any = None,
    normalize: bool = True,
    seed: int = 0,
    max_pairs: int = 20_000,
) -> DimensionGap:
    r"""Which embedding dimensions carry the gap.

    .. math:: \Delta_j = \frac1N\sum_i \hat x_{ij} - \frac1K\sum_k \hat y_{kj},\qquad
              \mathrm{share}_k = \sum_{j\in\mathrm{top}_k}\Delta_j^2 \big/ \lVert\Delta\rVert^2

    Schrodi et al., ICLR 2025, Fig. 3a (a few dimensions have very different means) and
    Fig. 2b (two dimensions suffice to separate image from text). The best pair is searched
    among the ``n_candidates`` dimensions of largest |Δ_j| (all pairs of them), each scored by
    the held-out accuracy of a logistic regression on just those two coordinates (80/20
    split by image, at most ``max_pairs`` images, seeded).

    Examples
    --------
    >>> x = [[1.0, 0.0, 0.1], [1.0, 0.1, 0.0], [1.0, 0.0, 0.0], [1.0, 0.1, 0.1]]
    >>> y = [[-1.0, 0.0, 0.1], [-1.0, 0.1, 0.0], [-1.0, 0.0, 0.0], [-1.0, 0.1, 0.1]]
    >>> dimension_gap(x, y, top_k=1).top_dims
    [0]
    """
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise InputError(f"dimension_gap: top_k must be a positive integer, got {top_k!r}")
    stats = pair_stats(x, y, image_index=image_index, normalize=normalize, where="dimension_gap")
    diff = stats.gap_vector()
    split = None
    if diff.size >= 2:
        split = modality_split(
            x, y, image_index=image_index, normalize=normalize, train_fraction=0.8, seed=seed,
            max_pairs=max_pairs, where="dimension_gap",
        )
    return _dimension_gap(diff, split, top_k=top_k, n_candidates=n_candidates)


def top_share(diff: np.ndarray, top_k: int) -> float:
    """Σ_{top_k} Δ_j² / ‖Δ‖²: the share of ‖gap‖² in the ``top_k`` dimensions of largest |Δ_j| (0 for Δ = 0).

    >>> top_share(np.array([3.0, 0.0, 4.0]), 1)
    0.64
    """
    diff = np.asarray(diff, dtype=np.float64)
    sq = np.sort(diff**2)[::-1]
    total = float(diff @ diff)
    if total <= 0:
        return 0.0
    return 1.0 if top_k >= diff.size else min(1.0, float(sq[:top_k].sum() / total))  # 1.0: no rounding


def _dimension_gap(diff: np.ndarray, split: Split | None, *, top_k: int, n_candidates: int) -> DimensionGap:
    """Kernel of :func:`dimension_gap`: from the gap vector and a modality split (None when d = 1)."""
    from sklearn.linear_model import LogisticRegression

    d = diff.size
    order = np.argsort(-np.abs(diff), kind="stable")
    top = order[: min(top_k, d)]
    share = top_share(diff, top_k)

    best_pair: tuple[int, int] = (int(order[0]), int(order[min(1, d - 1)]))
    best_acc = float("nan")
    if split is not None:
        (f_tr, l_tr), (f_te, l_te) = split
        best_acc = -1.0
        for i, j in combinations(order[: min(n_candidates, d)], 2):
            cols = [int(i), int(j)]
            acc = float(LogisticRegression(max_iter=1000).fit(f_tr[:, cols], l_tr).score(f_te[:, cols], l_te))
            if acc > best_acc:
                best_acc, best_pair = acc, (cols[0], cols[1])
    return DimensionGap(
        diff=diff,
        top_dims=[int(t) for t in top],
        top_diffs=[float(diff[t]) for t in top],
        share_top=share,
        best_pair=best_pair,
        best_pair_accuracy=best_acc,
    )
