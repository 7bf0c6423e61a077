"""Diagnostics: a collapsed modality, duplicate rows, wild norms, float16 input, too few pairs.

A broken encoder often still "works": an empty tokenizer maps every caption to the same tokens,
so every text row is the same vector and the modality gap comes out large and meaningless
(text mean cosine 1.000). :func:`collapsed_modality_warning` looks at one modality's rows and
returns a one-line warning naming the likely cause, or ``None``. It never raises on valid
embeddings and never refuses data: repeated rows are legitimate (class prompts, templated
captions), so the wording says "may".

:func:`input_warnings` adds the other checks :func:`gaplab.measure` reports as ``warnings``:
exact duplicate rows (:data:`DUPLICATE_SHARE`), row norms that vary wildly in unnormalised
input (:data:`NORM_RATIO_MAX`, :data:`NORM_CV_MAX`), float16 input where its precision limits
the logit entropy (:data:`FLOAT16_LOGIT_TOLERANCE`), and fewer pairs than the neighbour and
fitted metrics need (:data:`SMALL_N`).

numpy only (no torch); O(N·d) time and O(N) extra memory.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..._errors import InputError
from ..._validation import normalize_rows, to_numpy

__all__ = [
    "CollapseWarning",
    "collapsed_modality_warning",
    "collapse_warnings",
    "warn_if_collapsed",
    "count_distinct_rows",
    "COLLAPSE_MEAN_COSINE",
    "COLLAPSE_DISTINCT_FRACTION",
    "COLLAPSE_MIN_ROWS",
    "input_warnings",
    "duplicate_row_share",
    "DUPLICATE_SHARE",
    "NORM_RATIO_MAX",
    "NORM_CV_MAX",
    "UNIT_NORM_TOLERANCE",
    "NORM_SAMPLE_ROWS",
    "FLOAT16_LOGIT_TOLERANCE",
    "SMALL_N",
    "SMALL_N_METRICS",
]

#: mean cosine among a modality's rows above which it counts as collapsed
COLLAPSE_MEAN_COSINE = 0.999
#: fewer distinct rows than this share of N (or of the distinct inputs) counts as collapsed ...
COLLAPSE_DISTINCT_FRACTION = 0.5
#: ... when there are at least this many rows
COLLAPSE_MIN_ROWS = 20
#: more than this share of a modality's rows exactly duplicating an earlier row draws a warning
DUPLICATE_SHARE = 0.05
#: unnormalised input: max/min row norm above this ...
NORM_RATIO_MAX = 10.0
#: ... or a coefficient of variation of the row norms above this draws a warning
NORM_CV_MAX = 0.5
#: rows whose norms are all within this of 1 count as already normalised (no norm check)
UNIT_NORM_TOLERANCE = 1e-2
#: float16 input: a warning when its cosine error (machine epsilon 2⁻¹⁰) over τ exceeds this in the logits
FLOAT16_LOGIT_TOLERANCE = 0.01
#: fewer pairs than this make the metrics of :data:`SMALL_N_METRICS` too noisy to read
SMALL_N = 50
#: the metrics :data:`SMALL_N` is about: neighbour sets and a held-out fit
SMALL_N_METRICS = ("linear_separability", "mutual_knn", "hubness")
#: rows whose unit vectors agree to about this (per random projection) count as one
_TOLERANCE = 1e-6
_N_PROJECTIONS = 3

#: modality → (likely cause, what the inputs are called, when repeats are legitimate)
_CAUSES = {
    "text": ("the tokenizer may be empty or the captions identical", "captions",
             "fine if the captions repeat on purpose, e.g. class prompts or a few templates"),
    "image": ("the image processor or image tower may ignore its input, or the images may be identical",
              "images", "fine if the images repeat on purpose"),
}
_OTHER = ("the encoder may ignore its input, or the inputs may be identical", "inputs",
          "fine if the inputs repeat on purpose")


class CollapseWarning(UserWarning):
    """One modality's embeddings are (nearly) all the same vector."""


#: rows per chunk of the unit-row summary (a float64 chunk of 2,048 × 512 stays in L2 cache)
_CHUNK_ROWS = 2048


def _unit_row_summary(a: Any, max_rows: int | None = None, tolerance: float = _TOLERANCE
                      ) -> tuple[int, float, int] | None:
    """(rows, mean cosine, distinct rows) of the finite, non-zero rows of a 2-D numeric ``a``.

    Rows are L2-normalised (float64) a chunk at a time, so no normalised copy of ``a`` is
    made: the mean cosine over pairs i ≠ j is (‖Σ ẑ‖² − n) / (n(n − 1)), and two rows are the
    same when their projections on :data:`_N_PROJECTIONS` fixed random directions agree to
    ``tolerance``. A seeded sample of ``max_rows`` rows is taken when there are more. ``None``
    if ``a`` is not 2-D numeric.
    """
    arr = to_numpy(a)
    if arr.ndim != 2 or arr.shape[1] < 1:
        return None
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        return None
    if max_rows is not None and arr.shape[0] > max_rows:
        rows = np.sort(np.random.default_rng(0).choice(arr.shape[0], size=max_rows, replace=False))
        arr = arr[rows]
    proj = np.random.default_rng(0).standard_normal((arr.shape[1], _N_PROJECTIONS))
    proj /= np.linalg.norm(proj, axis=0, keepdims=True)
    total, n, keys = np.zeros(arr.shape[1]), 0, []
    for lo in range(0, arr.shape[0], _CHUNK_ROWS):
        z = arr[lo : lo + _CHUNK_ROWS].astype(np.float64)
        sq = np.einsum("ij,ij->i", z, z)
        ok = np.isfinite(sq) & (sq > 0)
        z = normalize_rows(z if ok.all() else z[ok])
        n += z.shape[0]
        total += z.sum(axis=0)
        keys.append(np.round((z @ proj) / tolerance).astype(np.int64))
    if n == 0:
        return 0, float("nan"), 0
    mean_cos = float((total @ total - n) / (n * (n - 1))) if n > 1 else float("nan")
    return n, mean_cos, int(np.unique(np.concatenate(keys), axis=0).shape[0])


def count_distinct_rows(a: Any, *, tolerance: float = _TOLERANCE) -> int:
    """Number of distinct directions among the rows of ``a`` (rows are L2-normalised first).

    Two rows count as one when their projections on a few fixed random directions agree to
    ``tolerance`` (so float noise of a batched forward pass does not make identical inputs
    distinct). Zero and non-finite rows are ignored.

    Examples
    --------
    >>> count_distinct_rows([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    2
    """
    summary = _unit_row_summary(a, tolerance=tolerance)
    if summary is None:
        raise InputError(f"count_distinct_rows: need a 2-D numeric array, got {to_numpy(a).shape}")
    return summary[2]


def collapsed_modality_warning(
    a: Any,
    name: str,
    *,
    n_distinct_inputs: int | None = None,
    cause: str | None = None,
    max_rows: int = 20_000,
) -> str | None:
    """A one-line warning when one modality's rows are (nearly) all the same, else ``None``.

    Flags a modality when any of these holds (rows L2-normalised, zero rows ignored):

    * every row is the same (one distinct row), or the mean cosine between rows exceeds
      :data:`COLLAPSE_MEAN_COSINE` (0.999) *and* few rows are distinct: "nearly all
      identical", with the likely cause (text: an empty tokenizer or identical captions);
    * the mean cosine exceeds 0.999 while the rows are distinct: "all point almost the same
      way" (an untrained encoder's cone effect can come close: a random CNN on digits gives
      about 0.998);
    * with at least :data:`COLLAPSE_MIN_ROWS` (20) rows, fewer than half of them are distinct
      (:func:`count_distinct_rows`) — or, when ``n_distinct_inputs`` is given (e.g. the number
      of distinct caption strings), fewer than half as many distinct rows as distinct inputs.

    Repeated rows can be legitimate (class prompts, a few caption templates): pass
    ``n_distinct_inputs`` when the inputs are known, and read the message as a hint ("may").

    Parameters
    ----------
    a : array (N, d)
        One modality's embeddings.
    name : str
        ``"text"`` or ``"image"`` (picks the likely cause named), or any label.
    n_distinct_inputs : int, optional
        How many distinct inputs produced the rows (distinct captions, distinct images).
    cause : str, optional
        Override the likely cause in the message.
    max_rows : int, default 20000
        Above this many rows a seeded random sample of ``max_rows`` rows is checked (about
        20 ms at d = 512), which still catches every collapse to fewer than ``max_rows / 2``
        distinct rows; the message then says "of M sampled rows".

    Returns
    -------
    str or None
        E.g. ``"text embeddings are nearly all identical (3 distinct of 500 rows, mean cosine
        1.000): the tokenizer may be empty or the captions identical"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> collapsed_modality_warning(rng.normal(size=(100, 8)), "text") is None
    True
    >>> print(collapsed_modality_warning(np.ones((100, 8)), "text"))
    text embeddings are nearly all identical (1 distinct of 100 rows, mean cosine 1.000): the tokenizer may be empty or the captions identical
    """
    summary = _unit_row_summary(a, max_rows)
    if summary is None or summary[0] < 2:
        return None
    n, mean_cos, distinct = summary
    total = int(to_numpy(a).shape[0])
    likely, inputs, legit = _CAUSES.get(name, _OTHER)
    likely = cause or likely
    of = f"{n:,} sampled rows (of {total:,})" if total > max_rows else f"{n:,} rows"
    cos = f"{mean_cos:.4f}" if COLLAPSE_MEAN_COSINE < mean_cos < 0.99995 else f"{mean_cos:.3f}"
    stats = f"{distinct:,} distinct of {of}, mean cosine {cos}"
    if n_distinct_inputs is not None:
        stats += f"; {int(n_distinct_inputs):,} distinct {inputs}"
    if n_distinct_inputs is not None and n_distinct_inputs <= 1:
        return None  # one input: one row is all there can be
    reference = n if n_distinct_inputs is None else min(n, int(n_distinct_inputs))
    few = n >= COLLAPSE_MIN_ROWS and distinct < COLLAPSE_DISTINCT_FRACTION * reference
    if distinct == 1 or (few and mean_cos > COLLAPSE_MEAN_COSINE):
        return f"{name} embeddings are nearly all identical ({stats}): {likely}"
    if mean_cos > COLLAPSE_MEAN_COSINE:  # distinct rows, all but parallel
        return (
            f"{name} embeddings all point almost the same way ({stats}): the encoder may be "
            "untrained or ignore most of its input; gap metrics will mostly measure that"
        )
    if few:
        hint = "" if n_distinct_inputs is not None else f" ({legit})"
        return f"{name} embeddings have few distinct rows ({stats}): {likely}{hint}"
    return None


def collapse_warnings(
    image: Any = None,
    text: Any = None,
    *,
    captions: Sequence[str] | None = None,
) -> list[str]:
    """The :func:`collapsed_modality_warning` messages for each modality given, possibly none.

    ``captions``, when known, give the number of distinct inputs of the text rows.

    >>> collapse_warnings(np.eye(30), np.ones((30, 30)))[0].startswith("text embeddings are nearly all identical")
    True
    """
    out = []
    n_captions = None if captions is None else len({str(c) for c in captions})
    for a, name, n_in in ((image, "image", None), (text, "text", n_captions)):
        if a is not None:
            msg = collapsed_modality_warning(a, name, n_distinct_inputs=n_in)
            if msg is not None:
                out.append(msg)
    return out


def warn_if_collapsed(a: Any, name: str, *, stacklevel: int = 2, **kwargs: Any) -> str | None:
    """Warn with the :func:`collapsed_modality_warning` message when there is one; return it.

    The warning is issued as a :class:`CollapseWarning` via ``warnings.warn``.
    """
    msg = collapsed_modality_warning(a, name, **kwargs)
    if msg is not None:
        warnings.warn(msg, CollapseWarning, stacklevel=stacklevel)
    return msg


_SCAN_ROWS = 65_536  # rows per block of the norm scan (bounded memory for float16 input)
#: columns mixed into the duplicate-row hash when a row is shorter than 8 bytes or items are wider
_HASH_COLUMNS = 16
#: rows of the seeded sample the norm check looks at (a wild spread of norms shows in any sample)
NORM_SAMPLE_ROWS = 20_000


def _norm_sample(arr: np.ndarray) -> np.ndarray:
    """``arr``, or a seeded sample of :data:`NORM_SAMPLE_ROWS` of its rows when it has more."""
    if arr.shape[0] <= NORM_SAMPLE_ROWS:
        return arr
    return arr[np.sort(np.random.default_rng(0).choice(arr.shape[0], size=NORM_SAMPLE_ROWS, replace=False))]


def _row_norms(arr: np.ndarray) -> np.ndarray:
    """Per-row L2 norms (float32 arithmetic is plenty for the thresholds; float16 upcast blockwise)."""
    out = np.empty(arr.shape[0])
    for lo in range(0, arr.shape[0], _SCAN_ROWS):
        block = arr[lo : lo + _SCAN_ROWS]
        if block.dtype != np.float64:
            block = np.asarray(block, dtype=np.float32)
        out[lo : lo + block.shape[0]] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return out


def _duplicate_count(arr: np.ndarray) -> int:
    """Rows that repeat an earlier row bit for bit: hash a few columns, compare the candidates in full.

    The hash is the first 8 bytes of each row read as one integer (2 float32 columns; several
    columns mixed when a row is shorter), so equal rows always collide; only rows whose keys
    collide are compared in full, so the count is exact and random data costs one sort.
    """
    n, d = arr.shape
    width = arr.dtype.itemsize
    k = min(d, max(1, 8 // width))
    part = np.ascontiguousarray(arr[:, :k])
    if k * width == 8:
        keys = part.view(np.uint64).ravel()
    else:  # rows shorter than 8 bytes, or wide items: mix the columns' bits (wraps; order-free)
        part = np.ascontiguousarray(arr[:, : min(d, _HASH_COLUMNS)])
        bits = part.view(np.dtype(f"u{part.dtype.itemsize}")).astype(np.uint64)
        weights = (np.random.default_rng(0).integers(1, 2**62, size=part.shape[1], dtype=np.uint64)
                   * np.uint64(2) + np.uint64(1))
        keys = (bits * weights).sum(axis=1)
    ordered = np.sort(keys)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if repeated.size == 0:
        return 0
    candidates = np.flatnonzero(np.isin(keys, repeated))
    rows = np.ascontiguousarray(arr[candidates])
    whole = rows.view(np.dtype((np.void, rows.dtype.itemsize * d))).ravel()
    return int(candidates.size - np.unique(whole).size)


def duplicate_row_share(a: Any) -> float:
    """Share of the rows of ``a`` that exactly repeat an earlier row (bit for bit).

    Candidates share a hash of a few columns (integer arithmetic on the bits, so equal rows
    always collide); they are then compared in full, so the count is exact.

    >>> duplicate_row_share([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    0.5
    """
    arr = to_numpy(a)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"duplicate_row_share: need a 2-D array with rows, got shape {arr.shape}")
    return _duplicate_count(arr) / arr.shape[0]


def _norm_warning(norms: np.ndarray, name: str) -> str | None:
    norms = norms[np.isfinite(norms) & (norms > 0)]
    if norms.size < 2 or np.all(np.abs(norms - 1.0) <= UNIT_NORM_TOLERANCE):
        return None
    ratio = float(norms.max() / norms.min())
    cv = float(norms.std() / norms.mean())
    if ratio <= NORM_RATIO_MAX and cv <= NORM_CV_MAX:
        return None
    return (f"{name} row norms vary wildly (max/min {ratio:.1f} > {NORM_RATIO_MAX:g} or CV {cv:.2f} > "
            f"{NORM_CV_MAX:g}): the metrics normalise rows, so they are unaffected, but this often means "
            "mixed sources (pre- and post-projection rows) or broken inputs")


def input_warnings(
    image: Any,
    text: Any,
    *,
    image_index: Any = None,
    temperature: float | None = 0.01,
    pairwise: bool = True,
    captions: Sequence[str] | None = None,
) -> list[str]:
    """Every warning :func:`gaplab.measure` reports on validated (N, d) image and text rows.

    In this order, each a one-line message:

    * :func:`collapse_warnings` (a collapsed modality);
    * exact duplicate rows above :data:`DUPLICATE_SHARE` (5 %) of a modality (not repeated for
      a modality already reported collapsed) — one-to-one input that repeats each image once
      per caption should pass ``image_index`` instead;
    * unnormalised rows (some norm off 1 by more than :data:`UNIT_NORM_TOLERANCE`) whose norms
      vary wildly: max/min > :data:`NORM_RATIO_MAX` (10) or CV > :data:`NORM_CV_MAX` (0.5),
      on a seeded sample of :data:`NORM_SAMPLE_ROWS` rows when there are more (the check is
      a hint about the input, not a metric, and a sample keeps the O(N·d) path near one pass);
    * float16 input when ``pairwise`` and 2⁻¹⁰/τ > :data:`FLOAT16_LOGIT_TOLERANCE` (at
      τ = 0.01: logit errors ~0.1, so the logit entropy is uncertain in its second digit);
    * fewer than :data:`SMALL_N` (50) pairs when ``pairwise``: :data:`SMALL_N_METRICS` are noisy.

    ``temperature`` is the logit entropy's τ (``None``: no logit entropy, no float16 check).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> input_warnings(rng.normal(size=(100, 8)), rng.normal(size=(100, 8)))
    []
    >>> print(input_warnings(rng.normal(size=(20, 8)), rng.normal(size=(20, 8)))[0])
    N = 20 pairs is below 50: linear_separability, mutual_knn, hubness are noisy at this size; read them with --ci
    """
    out = collapse_warnings(image, text, captions=captions)
    for a, name in ((image, "image"), (text, "text")):
        arr = to_numpy(a)
        share = duplicate_row_share(arr)
        norms = _row_norms(_norm_sample(arr))
        collapsed = any(m.startswith(f"{name} embeddings") for m in out)
        if share > DUPLICATE_SHARE and not collapsed:
            hint = (" if each image is repeated once per caption, pass image_index (or a pairs file with one)"
                    " so images count once" if name == "image" and image_index is None
                    else " check the data loading (or read it as intended repetition)")
            out.append(f"{share:.0%} of the {name} rows exactly repeat another row (above "
                       f"{DUPLICATE_SHARE:.0%}):{hint}")
        msg = _norm_warning(norms, name)
        if msg:
            out.append(msg)
    half = [name for a, name in ((image, "image"), (text, "text")) if to_numpy(a).dtype == np.float16]
    eps16 = float(np.finfo(np.float16).eps)
    if pairwise and half and temperature is not None and eps16 / temperature > FLOAT16_LOGIT_TOLERANCE:
        out.append(f"float16 {' and '.join(half)} input: cosines carry errors near {eps16:.0e}, which "
                   f"τ = {temperature:g} magnifies to ~{eps16 / temperature:.2g} in the logits (above "
                   f"{FLOAT16_LOGIT_TOLERANCE:g}): logit_entropy is uncertain; store float32 for it")
    n = to_numpy(text).shape[0]
    if pairwise and n < SMALL_N:
        out.append(f"N = {n} pairs is below {SMALL_N}: {', '.join(SMALL_N_METRICS)} are noisy at this size; "
                   "read them with --ci")
    return out
