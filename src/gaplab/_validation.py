"""Validation at the public boundary: one place that turns bad input into a clear message.

Every public metric calls :func:`check_pair` (or :func:`check_embeddings`) once; the maths
below it may then assume finite, 2-D, non-degenerate float arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._errors import InputError

__all__ = [
    "to_numpy",
    "check_embeddings",
    "check_pair",
    "check_values_of",
    "check_image_index",
    "normalize_rows",
    "check_texts",
    "IMAGE",
    "TEXT",
]


def to_numpy(a: Any) -> np.ndarray:
    """A numpy view of a numpy array, torch tensor or nested list, without importing torch."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch.Tensor
        a = a.detach().cpu()
        if str(getattr(a, "dtype", "")) == "torch.bfloat16":
            a = a.float()
        a = a.numpy()
    try:
        return np.asarray(a)
    except ValueError as e:  # ragged nested lists: numpy 2 refuses them
        raise InputError(f"expected a rectangular array, got ragged nested sequences ({e})") from None


def check_embeddings(
    a: Any,
    *,
    name: str = "x",
    where: str = "gaplab",
    min_rows: int = 2,
    allow_zero_rows: bool = False,
    dtype: Any = None,
    check_values: bool = True,
) -> np.ndarray:
    """Return ``a`` as a finite 2-D float array of shape (N, d), or raise :class:`InputError`.

    float16 input is upcast to float32 (float64 stays float64). Checks: 2-D, N >= ``min_rows``,
    d >= 1, and (unless ``check_values=False``, for callers that check blockwise) every value
    finite (a float16 overflow shows up as inf) and no all-zero row (its direction, hence its
    normalised embedding, is undefined).
    """
    arr = to_numpy(a)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InputError(f"{where}: {name}: must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = " (reshape a single vector with x[None, :])" if arr.ndim == 1 else ""
        raise InputError(
            f"{where}: {name}: must be 2-D (N, d), got a {arr.ndim}-D array of shape {arr.shape}{hint}"
        )
    n, d = arr.shape
    if n < min_rows:
        raise InputError(f"{where}: {name}: needs at least {min_rows} rows, got shape {arr.shape}")
    if d < 1:
        raise InputError(f"{where}: {name}: has no columns, got shape {arr.shape}")
    was_half = arr.dtype == np.float16
    if dtype is None and arr.dtype == np.float16 and not check_values:
        return arr  # blockwise callers upcast block by block
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32 if (was_half or arr.dtype.itemsize <= 4) else np.float64)
    if check_values:
        check_values_of(arr, name=name, where=where, allow_zero_rows=allow_zero_rows, was_half=was_half)
    return arr


def check_values_of(
    arr: np.ndarray,
    *,
    name: str,
    where: str,
    allow_zero_rows: bool = False,
    was_half: bool = False,
    row_offset: int = 0,
) -> None:
    """Raise :class:`InputError` at the first non-finite value or all-zero row of ``arr``.

    Fast path: one sum (finite iff every value is finite, unless the sum overflows, in which
    case the exact elementwise check decides). ``row_offset`` shifts reported row numbers
    (for blockwise callers).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if not np.isfinite(total):
        finite = np.isfinite(arr)
        if not finite.all():
            r, c = np.argwhere(~finite)[0]
            kind = "NaN" if np.isnan(arr[r, c]) else "inf"
            extra = " (float16 overflow: values beyond ±65504)" if was_half and kind == "inf" else ""
            raise InputError(
                f"{where}: {name}: non-finite value, first {kind} at row "
                f"{r + row_offset}, column {c}{extra}"
            )
    if not allow_zero_rows:
        zero = np.flatnonzero(~arr.any(axis=1))
        if zero.size:
            raise InputError(
                f"{where}: {name}: all-zero row (row {zero[0] + row_offset}); "
                "a zero vector has no direction to normalise"
            )


def check_image_index(image_index: Any, n_images: int, n_texts: int, *, where: str) -> np.ndarray:
    """Validate a caption → image index: integers in [0, n_images), one per caption."""
    idx = to_numpy(image_index)
    if idx.ndim != 1 or idx.shape[0] != n_texts:
        raise InputError(
            f"{where}: image_index must be 1-D with one entry per text row ({n_texts}), "
            f"got shape {idx.shape}"
        )
    if not np.issubdtype(idx.dtype, np.integer):
        if np.issubdtype(idx.dtype, np.floating) and np.all(np.mod(idx, 1) == 0):
            idx = idx.astype(np.int64)
        else:
            raise InputError(f"{where}: image_index must hold integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_images):
        raise InputError(
            f"{where}: image_index values must lie in [0, {n_images}), "
            f"got min {idx.min()} and max {idx.max()}"
        )
    return idx.astype(np.int64, copy=False)


#: the words error messages use for the two sides of a pair (user's word, then the API's)
IMAGE, TEXT = "image embeddings (x)", "text embeddings (y)"


def check_pair(
    x: Any,
    y: Any,
    *,
    where: str = "gaplab",
    image_index: Any = None,
    min_rows: int = 2,
    check_values: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate paired embeddings ``x`` (images, N×d) and ``y`` (texts, N×d or K×d).

    Without ``image_index`` row i of ``x`` is paired with row i of ``y``, so N must match.
    With it (many captions per image, e.g. COCO's 5), caption k belongs to image
    ``image_index[k]``. Returns ``(x, y, image_index)``.
    """
    xa = check_embeddings(x, name=IMAGE, where=where, min_rows=min_rows, check_values=check_values)
    ya = check_embeddings(y, name=TEXT, where=where, min_rows=min_rows, check_values=check_values)
    if xa.shape[1] != ya.shape[1]:
        raise InputError(
            f"{where}: image (x) and text (y) embeddings need the same dimension d, "
            f"got image {xa.shape} and text {ya.shape}"
        )
    if image_index is None:
        if xa.shape[0] != ya.shape[0]:
            raise InputError(
                f"{where}: image (x) and text (y) embeddings need the same number of rows, "
                f"got image {xa.shape} and text {ya.shape} (for several captions per image pass image_index)"
            )
        idx = None
    else:
        idx = check_image_index(image_index, xa.shape[0], ya.shape[0], where=where)
    if check_values and xa.dtype != ya.dtype:
        common = np.promote_types(xa.dtype, ya.dtype)
        xa, ya = xa.astype(common, copy=False), ya.astype(common, copy=False)
    return xa, ya, idx


def normalize_rows(a: np.ndarray) -> np.ndarray:
    """Rows (vectors along the last axis) scaled to unit L2 norm: the one numpy row normaliser.

    Norms are computed in float64 whatever the dtype, the result keeps ``a``'s dtype; any
    number of leading axes (``(N, d)``, ``(runs, N, d)``). Rows are not checked: a zero row
    gives NaN, so callers validate first (``check_embeddings``) or check themselves.

    float64 rows are divided by ``np.linalg.norm(a, axis=-1)`` to the bit (pairwise sums, in
    the output buffer: no extra copy), so trajectories seeded from unit points do not move;
    other dtypes are summed in float64 by ``einsum`` without a float64 copy of ``a``.

    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, 2.0]]))
    array([[0.6, 0.8],
           [0. , 1. ]])
    """
    if a.dtype == np.float64:
        out = np.multiply(a, a)
        norms = np.sqrt(np.add.reduce(out, axis=-1))  # = np.linalg.norm(a, axis=-1)
        return np.divide(a, norms[..., None], out=out)
    norms = np.sqrt(np.einsum("...j,...j->...", a, a, dtype=np.float64))
    return (a / norms[..., None].astype(a.dtype, copy=False)).astype(a.dtype, copy=False)


def check_texts(texts: Any, where: str) -> list[str]:
    """``texts`` as a list of strings (a single string becomes a list of one)."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        got = type(texts).__name__ if not isinstance(texts, Sequence) else "a sequence with non-strings"
        raise InputError(f"{where}: texts must be a list of strings, got {got}")
    return list(texts)
