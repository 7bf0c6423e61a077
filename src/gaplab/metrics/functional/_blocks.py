"""Row blocks for the O(N²) metrics: never hold an N×N matrix larger than one block.

Similarities are computed in float64 (:func:`similarity_blocks`): a float32 dot product of
unit vectors carries ~1e-7 relative rounding that depends on where the row sits in the BLAS
kernel (block size, thread count), and 1/τ = 100 in a softmax amplifies it to ~1e-5 in the
logits. In float64 the same rounding is ~1e-16, so results agree across block sizes and
thread counts to ~1e-13, and identical vectors score identically up to :data:`TIE_TOL`.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral

import numpy as np

from ..._errors import InputError

#: elements per similarity block (16 Mi float64 = 128 MiB)
BLOCK_ELEMENTS = 1 << 24

#: two scores closer than this (relative to max(1, |score|)) are a tie. float64 rounding of
#: a d-dimensional dot product of unit vectors is below d·2⁻⁵³ (6e-14 at d = 512), and
#: cosines that differ by less than 1e-9 carry no information about a model.
TIE_TOL = 1e-9


def check_block_rows(block_rows: int | None, where: str) -> int | None:
    """``block_rows`` as given (``None`` = automatic), or :class:`InputError` if not a positive int."""
    if block_rows is None:
        return None
    if isinstance(block_rows, bool) or not isinstance(block_rows, Integral) or block_rows < 1:
        raise InputError(f"{where}: block_rows must be a positive integer or None, got {block_rows!r}")
    return int(block_rows)


def row_blocks(n_rows: int, n_cols: int, block_rows: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield ``(start, stop)`` row ranges so that a block × ``n_cols`` matrix stays bounded."""
    step = check_block_rows(block_rows, "row_blocks") or max(
        1, min(n_rows, BLOCK_ELEMENTS // max(n_cols, 1))
    )
    for a in range(0, n_rows, step):
        yield a, min(a + step, n_rows)


def similarity_blocks(
    a: np.ndarray, b: np.ndarray, block_rows: int | None = None, *, cols_from: int = 0
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(lo, hi, a[lo:hi] @ b[cols_from:].T)`` in float64, block by block.

    ``b`` is upcast once; each block of ``a`` is upcast as it is used. ``cols_from`` drops
    leading columns (uniformity needs only j > i).
    """
    b64 = np.ascontiguousarray(b[cols_from:], dtype=np.float64)
    for lo, hi in row_blocks(a.shape[0], b64.shape[0], block_rows):
        yield lo, hi, np.asarray(a[lo:hi], dtype=np.float64) @ b64.T


def beat_threshold(reference: np.ndarray) -> np.ndarray:
    """The score a candidate must exceed to beat ``reference``: reference + TIE_TOL·max(1, |reference|)."""
    with np.errstate(invalid="ignore"):  # an infinite reference gives NaN: nothing beats it
        return reference + TIE_TOL * np.maximum(1.0, np.abs(reference))


def beats(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``scores > reference`` beyond a tie: ties (within :data:`TIE_TOL`) go to the reference.

    ``reference`` broadcasts against ``scores`` (a column of correct-match scores per query).
    The test is ``scores > beat_threshold(reference)``, one comparison per score (the one-pass
    kernel compares whole blocks against the per-query thresholds).

    >>> beats(np.array([0.5, 0.5 + 1e-12, 0.6]), np.array(0.5)).tolist()
    [False, False, True]
    """
    return scores > beat_threshold(reference)
