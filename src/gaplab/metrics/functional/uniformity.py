"""Alignment and uniformity (Wang & Isola, ICML 2020), as used by Shi et al. (001) and Fahim et al. (003)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_embeddings, normalize_rows
from ._blocks import check_block_rows
from ._onepass import self_pass
from .centroid import pair_stats

__all__ = ["alignment", "uniformity"]


def alignment(x: Any, y: Any, *, alpha: float = 2.0, image_index: Any = None, normalize: bool = True) -> float:
    r"""Alignment: mean distance between matched pairs raised to ``alpha`` (lower = better aligned).

    .. math:: \mathcal{L}_\mathrm{align} = \frac1K\sum_k \lVert \hat x_{\pi(k)} - \hat y_k\rVert_2^{\alpha}

    Wang & Isola, ICML 2020, eq. 4; used by Shi et al. 2023 (001) and Fahim et al. (003). O(N·d).

    Examples
    --------
    >>> alignment([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]])  # (0 + 2²)/2
    2.0
    """
    if not alpha > 0:
        raise InputError(f"alignment: alpha must be > 0, got {alpha}")
    return pair_stats(x, y, image_index=image_index, normalize=normalize, alpha=alpha, where="alignment").alignment()


def uniformity(x: Any, *, t: float = 2.0, normalize: bool = True, block_rows: int | None = None) -> float:
    r"""Uniformity: log of the mean Gaussian potential over pairs i < j (lower = more uniform).

    .. math:: \mathcal{L}_\mathrm{uniform} = \log \frac{2}{N(N-1)}\sum_{i<j} e^{-t\lVert \hat x_i - \hat x_j\rVert_2^2}

    Wang & Isola, ICML 2020, eq. 5; Shi et al. 2023 (001) and Fahim et al. (003). Inherently
    O(N²·d): computed blockwise with a running log-sum-exp, memory O(N · block).

    Examples
    --------
    >>> round(uniformity([[1.0, 0.0], [-1.0, 0.0]]), 6)  # one pair at distance 2: −2·4
    -8.0
    """
    if not t > 0:
        raise InputError(f"uniformity: t must be > 0, got {t}")
    check_block_rows(block_rows, "uniformity")
    a = check_embeddings(x, name="embeddings (x)", where="uniformity")
    return _uniformity(normalize_rows(a) if normalize else a, t, block_rows)


def _uniformity(a: np.ndarray, t: float, block_rows: int | None) -> float:
    """Kernel of :func:`uniformity` on validated rows (already normalised if wanted): one pass over A·Aᵀ."""
    return self_pass(a, t=t, block_rows=block_rows).uniformity
