"""Optional fused kernel for :func:`~gaplab.metrics.functional._stats.accumulate` (numba).

One pass over each row pair: squared norms and the paired dot product, then the normalised
(and raw) row sums, all in float64, while the rows sit in L1 cache — memory-bound like a
plain sum. Used when numba is installed (the ``[torch]`` extra brings it) and the input is
float32/float64 and large enough to repay compilation; the numpy path is the reference
and handles everything else (float16, ``image_index``, error reporting).
"""

from __future__ import annotations

import importlib.util
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: numba is optional (and imported only when the kernel first runs: it costs ~0.2 s)
HAVE_NUMBA = importlib.util.find_spec("numba") is not None

#: rows at or above which the fused kernel is used (compilation is cached on disk)
MIN_ROWS = 1 << 14
#: rows per kernel call (a bad row aborts only its chunk); chunks run in parallel
CHUNK_ROWS = 1 << 15

def usable(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the fused kernel applies to these (validated, row-paired) arrays."""
    return (
        HAVE_NUMBA
        and x.shape[0] >= MIN_ROWS
        and x.dtype in (np.float32, np.float64)
        and y.dtype == x.dtype
        and x.flags.c_contiguous
        and y.flags.c_contiguous
    )


def _chunk(x: np.ndarray, y: np.ndarray, normalize: bool, alpha: float):
    sum_x, sum_y, sum_xhat, sum_yhat = (np.zeros(x.shape[1]) for _ in range(4))
    scalars = np.zeros(4)
    from ._fused_kernel import pairs_kernel

    bad = pairs_kernel(x, y, normalize, alpha, sum_x, sum_y, sum_xhat, sum_yhat, scalars)
    return bad, [sum_x, sum_y, sum_xhat, sum_yhat], scalars


def accumulate_fused(stats, x: np.ndarray, y: np.ndarray) -> int:
    """Add row-paired ``x``, ``y`` to ``stats``; returns -1 or the start row of a bad chunk.

    Chunks run on a thread pool (the kernel releases the GIL) and are added in chunk order,
    so the result does not depend on the number of threads. On a bad row nothing from its
    chunk on is added, so the caller can hand the rest to the numpy path, which raises the
    standard error.
    """
    step = CHUNK_ROWS
    starts = range(0, x.shape[0], step)
    args = [(x[a : a + step], y[a : a + step], bool(stats.normalize), float(stats.alpha)) for a in starts]
    workers = min(len(args), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda a: _chunk(*a), args))
    else:
        results = [_chunk(*a) for a in args]
    for a, (xs, _, _, _), (bad, parts, scalars) in zip(starts, args, results, strict=True):
        if bad >= 0:
            return a
        s_x, s_y, s_xhat, s_yhat = parts
        stats.n_x += xs.shape[0]
        stats.n_y += xs.shape[0]
        stats.n_pairs += xs.shape[0]
        stats.sum_xhat += s_xhat
        stats.sum_yhat += s_yhat
        stats.sum_x += s_xhat if stats.normalize else s_x
        stats.sum_xpair += s_xhat if stats.normalize else s_x
        stats.sum_y += s_yhat if stats.normalize else s_y
        stats.sum_cos += scalars[0]
        stats.sum_dist += scalars[1]
        stats.sum_dist_alpha += scalars[2]
        stats.sum_dist_sq += scalars[3]
    return -1
