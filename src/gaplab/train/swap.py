r"""Modality swapping (paper 002): exchange image and text embeddings inside a batch.

Both functions take the embedding batches ``x``, ``y`` (B×d), a probability ``p`` and a
``torch.Generator`` (the trainer owns one, so a seed fixes every swap), and return the new
``(x, y)``. They are differentiable (``torch.where``), so gradients flow back to whichever
tower produced each entry.

* :func:`hard_swap` — each pair, with probability p, trades its two embeddings whole.
* :func:`soft_swap` — ``mode="coordinates"`` (default): each coordinate of each pair is traded
  with probability p; ``mode="mix"``: each pair is mixed, x' = (1−λ)x + λy, y' = (1−λ)y + λx
  with λ ~ U(0, p). The stored text of 002 says only "swaps between image and text feature
  pairs" (hard and soft); coordinate exchange is our reading of soft, ``mix`` the alternative.

The trainer applies a swap to the L2-normalised embeddings before the loss (which
renormalises), so that coordinates of the two modalities are on the same scale.

>>> import torch
>>> x, y = torch.zeros(3, 2), torch.ones(3, 2)
>>> a, b = hard_swap(x, y, 1.0)
>>> bool((a == y).all() and (b == x).all())
True
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._errors import ConfigError

__all__ = ["hard_swap", "soft_swap", "apply_swap", "SWAPS"]

#: valid values of the trainer's ``swap`` option
SWAPS = ("none", "hard", "soft")


def _check_p(p: float, where: str) -> float:
    if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
        raise ConfigError(f"{where}: p must be a probability in [0, 1], got p={p!r}")
    return float(p)


def hard_swap(x: Tensor, y: Tensor, p: float, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Swap the two embeddings of each pair with probability ``p`` (p=1: every pair; p=0: identity)."""
    p = _check_p(p, "hard_swap")
    if p == 0.0:
        return x, y
    u = torch.rand(x.shape[0], 1, generator=generator, dtype=torch.float64).to(x.device)
    m = u < p
    return torch.where(m, y, x), torch.where(m, x, y)


def soft_swap(
    x: Tensor, y: Tensor, p: float, generator: torch.Generator | None = None, *, mode: str = "coordinates"
) -> tuple[Tensor, Tensor]:
    """Swap a random subset of coordinates (each with probability ``p``), or mix pairs (``mode="mix"``)."""
    p = _check_p(p, "soft_swap")
    if mode not in ("coordinates", "mix"):
        raise ConfigError(f"soft_swap: mode must be 'coordinates' or 'mix', got {mode!r}")
    if p == 0.0:
        return x, y
    if mode == "coordinates":
        m = (torch.rand(x.shape, generator=generator, dtype=torch.float64) < p).to(x.device)
        return torch.where(m, y, x), torch.where(m, x, y)
    lam = (torch.rand(x.shape[0], 1, generator=generator, dtype=torch.float64) * p).to(x.device, x.dtype)
    return (1 - lam) * x + lam * y, (1 - lam) * y + lam * x


def apply_swap(
    kind: str, x: Tensor, y: Tensor, p: float, generator: torch.Generator | None = None, **options: str
) -> tuple[Tensor, Tensor]:
    """Dispatch on ``kind`` in :data:`SWAPS`."""
    if kind == "none" or kind is None:
        return x, y
    if kind == "hard":
        return hard_swap(x, y, p, generator)
    if kind == "soft":
        return soft_swap(x, y, p, generator, **options)
    raise ConfigError(f"unknown swap {kind!r}; valid: {', '.join(SWAPS)}")
