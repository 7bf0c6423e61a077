"""Logit entropy (Schrodi et al., ICLR 2025, §6 / Fig. 8 of the notes)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import check_pair, normalize_rows
from ._blocks import check_block_rows
from ._onepass import cross_pass, mean_row_entropy

__all__ = ["logit_entropy"]

#: mean entropy of one direction (rows of the first argument), used by the bootstrap intervals
_mean_row_entropy = mean_row_entropy


def logit_entropy(
    x: Any, y: Any, *, temperature: float = 0.01, image_index: Any = None, block_rows: int | None = None
) -> dict[str, float]:
    r"""Mean entropy (nats) of the softmax over cross-modal similarities, both directions.

    .. math:: H_{i\to t} = -\frac1N \sum_i \sum_k p_{ik}\log p_{ik},\quad
              p_{ik} = \operatorname{softmax}_k(\cos(x_i, y_k)/\tau)

    and :math:`H_{t\to i}` over images for each caption. Schrodi et al., ICLR 2025: the gap
    lets a model with a frozen temperature control its logit entropy. The maximum is
    log K (uniform). ``temperature`` τ defaults to 0.01 (CLIP's learned 1/100). The paper does
    not state its batch; we take the softmax over all N candidates (use a subsample of N
    to mimic a training batch). Returns ``{"i2t": ..., "t2i": ...}``.

    Examples
    --------
    >>> h = logit_entropy([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]], temperature=1e6)
    >>> round(h["i2t"], 6)  # τ → ∞: uniform over 2 captions, log 2
    0.693147
    """
    if not (np.isfinite(temperature) and temperature > 0):
        raise InputError(f"logit_entropy: temperature must be a positive finite number, got {temperature}")
    check_block_rows(block_rows, "logit_entropy")
    xa, ya, _ = check_pair(x, y, where="logit_entropy", image_index=image_index)
    return _logit_entropy(normalize_rows(xa), normalize_rows(ya), temperature, block_rows)


def _logit_entropy(xn: np.ndarray, yn: np.ndarray, temperature: float, block_rows: int | None) -> dict[str, float]:
    """Kernel of :func:`logit_entropy` on validated, normalised rows: one pass over X·Yᵀ."""
    r = cross_pass(xn, yn, None, temperature=temperature, block_rows=block_rows)
    return {"i2t": r.entropy_i2t, "t2i": r.entropy_t2i}
