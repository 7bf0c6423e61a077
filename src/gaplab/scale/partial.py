"""Per-shard partial results and their merge: the unit of work of every engine.

A shard task (:func:`process_shard`) streams one shard through
:func:`~gaplab.metrics.functional._stats.accumulate` into a fresh
:class:`~gaplab.metrics.functional._stats.PairStats`, picks up the shard's rows of the
global sample in the same pass, and returns a :class:`ShardResult`. Results are combined by
:func:`merge_results` (exact float64 sums, so associative and order-independent up to
rounding) along the fixed pairwise tree of :func:`tree_reduce`; the local and Dask engines
use the same tree, so they give bit-identical totals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from .._errors import InputError
from ..metrics.functional._stats import BLOCK_ROWS, PairStats, accumulate
from .sources import BadShardError, Shard, ShardHeader, iter_blocks

__all__ = ["ShardResult", "process_shard", "merge_results", "tree_reduce"]

T = TypeVar("T")

#: rows read from disk per chunk (each chunk is one ``accumulate`` call): ~16 MiB of
#: float16 per modality at d = 512, so the float64 work buffers are allocated once per chunk
READ_ROWS = 16_384


@dataclass
class ShardResult:
    """Sufficient statistics, sampled rows and problems of one shard, or of a merged range.

    ``sample_x``/``sample_y`` keep the on-disk dtype (float16 stays float16) and are in
    global row order; ``skipped`` lists ``{"shard": name, "reason": message}`` of bad shards;
    ``seconds`` sums the wall time of the shard tasks (for cost projections).
    """

    stats: PairStats | None = None
    sample_x: np.ndarray | None = None
    sample_y: np.ndarray | None = None
    n_shards: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    rows: int = 0

    @property
    def ok(self) -> bool:
        """Whether no shard was skipped."""
        return not self.skipped


def _bad_row(shard: Shard, xb: np.ndarray, yb: np.ndarray, lo: int) -> str:
    """Name the file, side and row of the first NaN/inf or all-zero row of a chunk."""
    for side, blk, path in (("image", xb, shard.image), ("text", yb, shard.text)):
        a = np.asarray(blk, dtype=np.float64)
        finite = np.isfinite(a)
        if not finite.all():
            r, c = np.argwhere(~finite)[0]
            kind = "NaN" if np.isnan(a[r, c]) else "inf"
            return f"{path}: {side} row {lo + r}, column {c} is {kind}"
        zero = np.flatnonzero(~a.any(axis=1))
        if zero.size:
            return f"{path}: {side} row {lo + zero[0]} is all zeros (no direction to normalise)"
    return f"{shard.image}: rows {lo}..{lo + xb.shape[0]} hold invalid values"  # pragma: no cover


def process_shard(
    shard: Shard,
    header: ShardHeader,
    sample_rows: np.ndarray | None = None,
    *,
    normalize: bool = True,
    alpha: float = 2.0,
    block_rows: int = BLOCK_ROWS,
    read_rows: int = READ_ROWS,
    image_key: str = "image",
    text_key: str = "text",
) -> ShardResult:
    """Statistics of one shard (and its rows ``sample_rows``, sorted local indices).

    The shard is read ``read_rows`` rows at a time (in its own dtype) and each chunk goes to
    :func:`~gaplab.metrics.functional._stats.accumulate`, which upcasts ``block_rows`` rows
    at a time to float64 and validates them on the way (NaN/inf, all-zero rows). Never
    raises for a bad shard: the problem, naming the file and row, goes to ``skipped`` and
    the engine decides whether to stop or skip.
    """
    t0 = time.perf_counter()
    stats = PairStats(dim=header.dim, normalize=normalize, alpha=alpha)
    picked_x: list[np.ndarray] = []
    picked_y: list[np.ndarray] = []
    rows = np.asarray(sample_rows if sample_rows is not None else [], dtype=np.int64)
    lo = 0
    try:
        for xb, yb in iter_blocks(shard, header, block_rows=read_rows, image_key=image_key, text_key=text_key):
            hi = lo + xb.shape[0]
            try:
                accumulate(stats, xb, yb, block_rows=block_rows, where=str(shard.image))
            except BadShardError:
                raise
            except InputError:  # NaN/inf or a zero row: say which file and global row
                raise BadShardError(_bad_row(shard, xb, yb, lo)) from None
            if rows.size:
                a, b = np.searchsorted(rows, [lo, hi])
                if b > a:
                    picked_x.append(np.array(xb[rows[a:b] - lo]))
                    picked_y.append(np.array(yb[rows[a:b] - lo]))
            lo = hi
        if lo != header.n:
            raise BadShardError(f"{shard.image}: header says {header.n} rows, read {lo}")
    except BadShardError as e:
        return ShardResult(skipped=[{"shard": shard.name, "reason": str(e)}], seconds=time.perf_counter() - t0)
    dtype = np.dtype(header.dtype)
    empty = np.empty((0, header.dim), dtype=dtype)
    return ShardResult(
        stats=stats,
        sample_x=np.concatenate(picked_x) if picked_x else empty,
        sample_y=np.concatenate(picked_y) if picked_y else empty,
        n_shards=1,
        seconds=time.perf_counter() - t0,
        rows=header.n,
    )


def _cat(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None or b is None:
        return a if b is None else b
    return np.concatenate([a, b.astype(np.result_type(a, b), copy=False)])


def merge_results(a: ShardResult, b: ShardResult) -> ShardResult:
    """The result of both ranges of shards, ``a``'s before ``b``'s (neither is modified)."""
    if a.stats is None or b.stats is None:
        stats = a.stats if b.stats is None else b.stats
    else:
        stats = a.stats.merge(b.stats)
    return ShardResult(
        stats=stats,
        sample_x=_cat(a.sample_x, b.sample_x),
        sample_y=_cat(a.sample_y, b.sample_y),
        n_shards=a.n_shards + b.n_shards,
        skipped=[*a.skipped, *b.skipped],
        seconds=a.seconds + b.seconds,
        rows=a.rows + b.rows,
    )


def tree_reduce(items: Sequence[T], combine: Callable[[T, T], T]) -> T:
    """Combine neighbours pairwise, level by level: ((0,1),(2,3)),… — depth ⌈log₂ n⌉.

    Examples
    --------
    >>> tree_reduce(["a", "b", "c", "d", "e"], lambda u, v: f"({u}{v})")
    '(((ab)(cd))e)'
    """
    level = list(items)
    if not level:
        raise ValueError("tree_reduce: nothing to reduce")
    while len(level) > 1:
        level = [
            combine(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]
