"""The numba kernel behind :mod:`gaplab.metrics.functional._fused` (imported only when used)."""

from __future__ import annotations

import numba
import numpy as np


# reassoc lets the three row reductions vectorise; no nnan/ninf, the NaN checks must stay
@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def pairs_kernel(x, y, normalize, alpha, sum_x, sum_y, sum_xhat, sum_yhat, scalars):
    """Accumulate one chunk; returns -1, or the first row whose norm is 0 or not finite."""
    n, d = x.shape
    s_cos = 0.0
    s_dist = 0.0
    s_alpha = 0.0
    s_sq = 0.0
    for i in range(n):
        sx = 0.0
        sy = 0.0
        dot = 0.0
        for j in range(d):
            a = np.float64(x[i, j])
            b = np.float64(y[i, j])
            sx += a * a
            sy += b * b
            dot += a * b
        if not (sx > 0.0 and sy > 0.0 and sx < np.inf and sy < np.inf and dot == dot):
            return i
        ix = 1.0 / np.sqrt(sx)
        iy = 1.0 / np.sqrt(sy)
        for j in range(d):
            a = np.float64(x[i, j])
            b = np.float64(y[i, j])
            sum_xhat[j] += a * ix
            sum_yhat[j] += b * iy
        if not normalize:
            for j in range(d):
                sum_x[j] += np.float64(x[i, j])
                sum_y[j] += np.float64(y[i, j])
        cos = dot * ix * iy
        s_cos += cos
        sq = 2.0 - 2.0 * cos if normalize else sx + sy - 2.0 * dot
        if sq < 0.0:
            sq = 0.0
        dist = np.sqrt(sq)
        s_dist += dist
        s_alpha += sq if alpha == 2.0 else dist**alpha
        s_sq += sq
    scalars[0] += s_cos
    scalars[1] += s_dist
    scalars[2] += s_alpha
    scalars[3] += s_sq
    return -1
