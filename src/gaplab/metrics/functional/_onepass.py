r"""One blockwise pass for the O(N²) metrics: every metric of a similarity block from that block.

:func:`cross_pass` walks the float64 blocks ``X[lo:hi] @ Yᵀ`` once and takes from each block
the logit entropy both ways, the retrieval ranks both ways and both hubness neighbour sets;
:func:`self_pass` walks ``A[lo:hi] @ Aᵀ`` once for the uniformity (pairs j > i) and the k
nearest neighbours of every row (for mutual kNN). Memory O(block × N) (two block buffers);
products are BLAS GEMMs, everything else vectorised numpy on reused buffers (a fresh 100 MB
temporary per block costs more in page faults than the arithmetic). With BLAS threads to
spare, the product of the next block runs while one worker thread takes the elementwise work
of this one (:func:`_run_blocks`): numpy's elementwise work is single-threaded, so on two
cores the pass costs about one single-threaded GEMM instead of a two-threaded GEMM plus the
elementwise work (``benchmarks/bench_metrics.py``).

* **Row softmax** (image → text entropy): per row, shift by the row max, one ``exp``.
* **Column softmax** (text → image): the same exponentials, reweighted by
  :math:`a_i = e^{(m_i - g)/\tau}` (:math:`m_i` the row max, g = 1 ≥ every cosine), are
  :math:`e^{(s_{ij} - g)/\tau}`: a fixed shift, so the column sums add up across row blocks
  with no rescaling. For τ < 2/700 that could underflow; then the column side takes a second
  pass over ``Y·Xᵀ``.
* **Ranks**: the rank of the true partner counts the scores that
  :func:`~gaplab.metrics.functional._blocks.beats` it, row-wise and column-wise: one
  comparison of the block against the per-query :func:`~gaplab.metrics.functional._blocks.beat_threshold`.
* **Top k**: rows are complete within a block: the k-th best of every 16th column is a floor
  under the row's k-th (:func:`_sample_floor`), one comparison keeps the few scores above it,
  and the tie rule ranks those; columns keep a small candidate set per query
  (:class:`_Candidates`), merged block by block.

The per-metric functions of :mod:`~gaplab.metrics.functional` call these passes restricted to
their part, so each metric's maths lives here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._blocks import BLOCK_ELEMENTS, TIE_TOL, beat_threshold, row_blocks

__all__ = ["cross_pass", "self_pass", "top_k_pass", "mean_row_entropy", "CrossResult", "SelfResult", "top_k_rows"]

#: 1/τ beyond which the fixed column shift of the t → i softmax could underflow float64
#: (e^(−2/τ) must stay above ~1e−304): the column side then takes its own pass
MAX_INV_TAU_SHARED = 700.0 / 2.05


def top_k_rows(s: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k largest scores, most similar first.

    Ties (scores within ``TIE_TOL``·max(1, |k-th score|) of the k-th) go to the lower column.
    The rule of :func:`~gaplab.metrics.functional.top_k_neighbours`; applied to any subset of
    a row that holds every score within the tolerance of the k-th, it gives the same answer.

    >>> top_k_rows(np.array([[0.1, 0.9, 0.9, 0.5]]), 2).tolist()
    [[1, 2]]
    """
    kth = -np.partition(-s, k - 1, axis=1)[:, k - 1 : k]  # the k-th largest score of each row
    tol = TIE_TOL * np.maximum(1.0, np.abs(kth))
    above = s > kth + tol
    tied = ~above & (s >= kth - tol)
    room = k - above.sum(axis=1, keepdims=True)
    take = above | (tied & (np.cumsum(tied, axis=1) <= room))
    _, cols = np.nonzero(take)  # row-major: cols ascending within each row
    return _most_similar_first(s, cols.reshape(s.shape[0], k))


def _most_similar_first(s: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``cols`` (ascending per row) ordered by score, scores within the tie tolerance by column.

    Runs of scores each within ``TIE_TOL`` of the previous one are one tie group, so the order
    does not depend on rounding (block size, thread count) among exact duplicates.
    """
    order = np.argsort(-np.take_along_axis(s, cols, axis=1), axis=1, kind="stable")
    cols = np.take_along_axis(cols, order, axis=1)
    v = np.take_along_axis(s, cols, axis=1)
    new_group = v[:, :-1] - v[:, 1:] > TIE_TOL * np.maximum(1.0, np.abs(v[:, :-1]))
    group = np.concatenate([np.zeros((v.shape[0], 1), dtype=np.int64), np.cumsum(new_group, axis=1)], axis=1)
    rows = np.repeat(np.arange(v.shape[0]), v.shape[1])
    order = np.lexsort((cols.ravel(), group.ravel(), rows))
    return cols.ravel()[order].reshape(cols.shape)


def _keep_below(kth: np.ndarray) -> np.ndarray:
    """A floor under which no score can be among the k (nor tie with the k-th).

    Twice the tie tolerance below the k-th score seen so far: the k-th can only rise, so the
    floor is safe (a superset of the candidates the tie rule looks at).
    """
    return kth - 2.0 * TIE_TOL * np.maximum(1.0, np.abs(kth))


def _padded(rows: np.ndarray, vals: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Ragged (row, value, col) triples, grouped by row in col order, as -inf-padded matrices."""
    counts = np.bincount(rows, minlength=n_rows)
    width = int(counts.max()) if counts.size else 0
    start = np.cumsum(counts) - counts
    pos = np.arange(rows.size) - start[rows]
    v = np.full((n_rows, width), -np.inf)
    c = np.zeros((n_rows, width), dtype=np.int64)
    v[rows, pos] = vals
    c[rows, pos] = cols
    return v, c


def _select(v: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """The tie rule on padded candidate matrices (cols ascending per row): (n, k) cols."""
    pos = top_k_rows(v, k)
    return np.take_along_axis(c, pos, axis=1)


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a C-contiguous 2-D mask via one flat scan (5× faster than the 2-D form)."""
    rows, cols = np.divmod(np.flatnonzero(mask), mask.shape[1])
    return rows, cols


#: the row top k first looks at every SUBSAMPLE_STRIDE-th column: its k-th best there is a
#: floor under the row's k-th best, so one comparison pass leaves ≈ stride × k candidates
SUBSAMPLE_STRIDE = 16


def _sample_floor(s: np.ndarray, k: int) -> np.ndarray:
    """Per row a :func:`_keep_below` floor from the k-th best of a strided subset of its columns.

    The k-th best of a subset is at most the row's k-th best, so every score the tie rule
    can look at lies above the floor. ``-inf`` where the row has no k columns.
    """
    n = s.shape[1]
    if n < k:
        return np.full(s.shape[0], -np.inf)
    stride = max(1, min(SUBSAMPLE_STRIDE, n // (8 * k)))
    sub = s[:, ::stride]
    kth = -np.partition(-sub, k - 1, axis=1)[:, k - 1]
    return _keep_below(kth)


def _row_candidates(s: np.ndarray, floor: np.ndarray, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Padded (values, cols) of each row's scores at or above ``floor`` (cols ascending)."""
    rows, cols = _nonzero(np.greater_equal(s, floor[:, None], out=flags))
    return _padded(rows, s[rows, cols], cols, s.shape[0])


def _block_top_k(s: np.ndarray, k: int, flags: np.ndarray) -> np.ndarray:
    """Each row's k best columns of a complete block ``s`` (``flags``: a bool buffer, same shape).

    One comparison against :func:`_sample_floor` keeps a few candidates per row; the tie rule
    of :func:`top_k_rows` then runs on those alone (they hold every score within the
    tolerance of the k-th).
    """
    v, c = _row_candidates(s, _sample_floor(s, k), flags)
    return _select(v, c, k)


@dataclass
class _Candidates:
    """For each of ``n`` queries, a small superset of its k best (value, index) so far.

    Indices arrive in increasing order, block by block, so each row stays in index order and
    the tie rule of :func:`top_k_rows` applies at the end. ``floor`` is the
    :func:`_keep_below` bound of the k-th value seen: anything below it is never needed.
    """

    n: int
    k: int
    vals: np.ndarray = field(init=False)
    idx: np.ndarray = field(init=False)
    count: np.ndarray = field(init=False)
    floor: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.vals = np.full((self.n, 0), -np.inf)
        self.idx = np.zeros((self.n, 0), dtype=np.int64)
        self.count = np.zeros(self.n, dtype=np.int64)
        self.floor = np.full(self.n, -np.inf)

    def start(self, sample: np.ndarray, corpus: np.ndarray, *, exclude_self: bool) -> None:
        """Floors from a first look: each query's k-th best among the ``sample`` rows (float64).

        Query j is ``corpus[j]``; with ``exclude_self`` row j of the sample is query j itself.
        Column slices keep the scores O(sample × block) in memory.
        """
        if sample.shape[0] - exclude_self < self.k:
            return
        step = max(1, BLOCK_ELEMENTS // (8 * sample.shape[0]))
        for c0 in range(0, self.n, step):
            # (queries × sample): each query's scores contiguous, so the partition runs along rows
            s = np.asarray(corpus[c0 : c0 + step], dtype=np.float64) @ sample.T
            if exclude_self:
                own = np.arange(c0, min(c0 + step, self.n, sample.shape[0]))
                s[own - c0, own] = -np.inf
            kth = -np.partition(-s, self.k - 1, axis=1)[:, self.k - 1]
            self.floor[c0 : c0 + step] = np.maximum(self.floor[c0 : c0 + step], _keep_below(kth))

    def offer(self, s: np.ndarray, offset: int, flags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The scores of ``s`` (rows = candidates ``offset + r``, columns = queries) above the floors.

        ``flags``: a C-contiguous bool buffer of ``s``'s shape.
        """
        rows, cols = _nonzero(np.greater_equal(s, self.floor[None, :], out=flags))
        return cols, s[rows, cols], rows + offset

    def merge(self, offers: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        """Add what :meth:`offer` returned (in candidate order) and prune below the new floors."""
        q, v, j = (np.concatenate(parts) for parts in zip(*offers, strict=True))
        if q.size:
            order = np.argsort(q, kind="stable")  # group by query, candidates ascending within
            self._merge(q[order], v[order], j[order])

    def _merge(self, q: np.ndarray, v: np.ndarray, j: np.ndarray) -> None:
        uq, start, counts = np.unique(q, return_index=True, return_counts=True)
        old = self.count[uq]
        width = int((old + counts).max())
        if width > self.vals.shape[1]:  # grow geometrically: a pad copies the whole state
            grow = max(width, 2 * self.vals.shape[1]) - self.vals.shape[1]
            self.vals = np.pad(self.vals, ((0, 0), (0, grow)), constant_values=-np.inf)
            self.idx = np.pad(self.idx, ((0, 0), (0, grow)))
        pos = np.repeat(old, counts) + (np.arange(q.size) - np.repeat(start, counts))
        self.vals[q, pos] = v
        self.idx[q, pos] = j
        sub_v, sub_i = self.vals[uq, :width], self.idx[uq, :width]
        total = old + counts
        full = total >= self.k
        floor = np.full(uq.size, -np.inf)
        if full.any():
            kth = -np.partition(-sub_v[full], self.k - 1, axis=1)[:, self.k - 1]
            floor[full] = _keep_below(kth)
        floor = np.maximum(floor, self.floor[uq])
        keep = (sub_v >= floor[:, None]) & (np.arange(width)[None, :] < total[:, None])
        r, c = np.nonzero(keep)
        newpos = np.cumsum(keep, axis=1)[r, c] - 1
        nv = np.full_like(sub_v, -np.inf)
        ni = np.zeros_like(sub_i)
        nv[r, newpos] = sub_v[r, c]
        ni[r, newpos] = sub_i[r, c]
        self.vals[uq, :width] = nv
        self.idx[uq, :width] = ni
        self.count[uq] = keep.sum(axis=1)
        self.floor[uq] = floor
        most = int(self.count.max())
        if most < self.vals.shape[1] // 4:  # a wide early merge pruned back: drop the empty columns
            self.vals, self.idx = self.vals[:, : 2 * most].copy(), self.idx[:, : 2 * most].copy()

    def select(self) -> np.ndarray:
        """(n, k) indices of each query's k best, most similar first."""
        width = int(self.count.max())
        return _select(self.vals[:, :width], self.idx[:, :width], self.k)


_NO_RANKS = np.zeros(0, dtype=np.int64)
_NO_KNN = np.zeros((0, 0), dtype=np.int64)


@dataclass
class CrossResult:
    """What :func:`cross_pass` measured (NaN / empty where not asked for)."""

    entropy_i2t: float = float("nan")
    entropy_t2i: float = float("nan")
    ranks_i2t: np.ndarray = field(default_factory=lambda: _NO_RANKS)  # per image with a caption
    ranks_t2i: np.ndarray = field(default_factory=lambda: _NO_RANKS)  # per caption
    knn_i2t: np.ndarray = field(default_factory=lambda: _NO_KNN)  # (n_images, k) captions: images query texts
    knn_t2i: np.ndarray = field(default_factory=lambda: _NO_KNN)  # (n_captions, k) images: texts query images


@dataclass
class SelfResult:
    """What :func:`self_pass` measured (NaN / empty where not asked for)."""

    uniformity: float = float("nan")
    knn: np.ndarray = field(default_factory=lambda: _NO_KNN)  # (N, k) each row's k nearest other rows


#: elements of the slice of a block that the elementwise work runs on at a time (a few of
#: these float64 buffers stay in L2 cache; the block itself, from one GEMM, does not)
CHUNK_ELEMENTS = 1 << 17
#: pending candidates at which a pass merges them before the block ends (the floors rise)
MERGE_ELEMENTS = 1 << 18
#: rows whose scores start each column query's floor (its k-th best among them)
SAMPLE_ROWS = 512


class _Scratch:
    """Chunk-sized float64 / bool buffers, reused for every chunk of every block."""

    def __init__(self, n_cols: int) -> None:
        self.rows = max(1, CHUNK_ELEMENTS // max(n_cols, 1))
        self.size = self.rows * n_cols
        self.f: list[np.ndarray] = []
        self.b = np.empty(self.size, dtype=bool)

    def floats(self, i: int, rows: int, cols: int) -> np.ndarray:
        while len(self.f) <= i:
            self.f.append(np.empty(self.size))
        return self.f[i][: rows * cols].reshape(rows, cols)

    def bools(self, rows: int, cols: int) -> np.ndarray:
        return self.b[: rows * cols].reshape(rows, cols)


def _overlap_blas() -> int:
    """BLAS threads to leave to the products while one worker thread takes the elementwise work.

    0 (no overlap) when BLAS runs one thread: the caller, or :func:`gaplab._threads.limit_threads`,
    asked for one core, and gets one.
    """
    from ..._threads import blas_threads

    most = blas_threads()
    return most - 1 if most > 1 else 0


def _run_blocks(steps: list[tuple[int, int]], width: Callable[[int], int],
                product: Callable[[int, int, np.ndarray], np.ndarray],
                process: Callable[[int, int, np.ndarray], None]) -> None:
    """``process(lo, hi, product(lo, hi, out))`` for every block, in order.

    ``product`` writes block ``lo:hi`` (``hi − lo`` rows × ``width(lo)`` columns) into ``out``.
    With two or more blocks and BLAS threads to spare, the product of block i + 1 (BLAS, one
    thread fewer, the GIL released) runs while one worker thread processes block i (numpy,
    one core); two block buffers alternate. ``process`` runs in block order on one thread
    either way, so the results are the same bit for bit; only the wall time changes.
    """
    if not steps:
        return
    size = max((hi - lo) * width(lo) for lo, hi in steps)
    blas = _overlap_blas() if len(steps) > 1 else 0
    if not blas:
        buf = np.empty(size)
        for lo, hi in steps:
            process(lo, hi, product(lo, hi, buf))
        return
    from concurrent.futures import Future, ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    bufs = (np.empty(size), np.empty(size))
    busy: list[Future[None] | None] = [None, None]
    with threadpool_limits(limits=blas, user_api="blas"), ThreadPoolExecutor(1, "gaplab-onepass") as worker:
        try:
            for i, (lo, hi) in enumerate(steps):
                job = busy[i % 2]
                if job is not None:  # block i − 2 still owns this buffer
                    job.result()
                busy[i % 2] = worker.submit(process, lo, hi, product(lo, hi, bufs[i % 2]))
            for job in busy:
                if job is not None:
                    job.result()
        finally:
            for job in busy:  # an error: let the worker finish before the buffers go
                if job is not None:
                    job.cancel()


def _entropy_rows(s: np.ndarray, inv_tau: float, z: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row the entropy of softmax(s/τ), and the row max m; leaves e^z in ``e``, z·e^z in ``z``.

    z = (s − m)/τ; H = log Σ e^z − Σ e^z z / Σ e^z.
    """
    m = s.max(axis=1)
    np.subtract(s, m[:, None], out=z)
    z *= inv_tau
    np.exp(z, out=e)
    zsum = e.sum(axis=1)
    z *= e
    w = z.sum(axis=1)
    return np.log(zsum) - w / zsum, m


def cross_pass(
    x: np.ndarray,
    y: np.ndarray,
    idx: np.ndarray | None,
    *,
    temperature: float | None = None,
    ranks: bool = False,
    k: int = 0,
    block_rows: int | None = None,
) -> CrossResult:
    r"""One pass over ``X·Yᵀ`` (float64): entropy (``temperature``), ranks, top ``k`` both ways.

    Rows are images (``x``, validated and normalised), columns captions (``y``); caption k
    belongs to image ``idx[k]`` (``None``: one-to-one). Entropy:
    :math:`H_i = \log\sum_j e^{z_{ij}} - \sum_j p_{ij} z_{ij}` with :math:`z = (s - \max)/\tau`,
    averaged over images (i → t) and over captions (t → i). Ranks: the count of candidates
    that :func:`~gaplab.metrics.functional._blocks.beats` the best correct score.

    >>> r = cross_pass(np.eye(2), np.eye(2), None, temperature=1e6, ranks=True)
    >>> round(r.entropy_i2t, 6), r.ranks_t2i.tolist()
    (0.693147, [0, 0])
    """
    return _cross_pass(x, y, idx, temperature, ranks, k, block_rows, t2i=True)


def mean_row_entropy(a: np.ndarray, b: np.ndarray, temperature: float, block_rows: int | None = None) -> float:
    """Mean over rows of ``a`` of the entropy of softmax(cos(a_i, b_k)/τ) over ``b``: the i → t side only."""
    return _cross_pass(a, b, None, temperature, False, 0, block_rows, t2i=False).entropy_i2t


def _cross_pass(x: np.ndarray, y: np.ndarray, idx: np.ndarray | None, temperature: float | None, ranks: bool,
                k: int, block_rows: int | None, *, t2i: bool) -> CrossResult:
    n_img, n_txt = x.shape[0], y.shape[0]
    idx_a = np.arange(n_txt) if idx is None else idx
    inv_tau = None if temperature is None else 1.0 / temperature
    y64 = np.ascontiguousarray(y, dtype=np.float64)
    # every score is at most g (1 for normalised rows): the fixed shift of the column softmax
    g = float(np.sqrt(np.einsum("ij,ij->i", y64, y64).max() * np.einsum("ij,ij->i", x, x, dtype=np.float64).max()))
    shared_cols = t2i and inv_tau is not None and g * inv_tau <= MAX_INV_TAU_SHARED
    scratch = _Scratch(n_txt)
    out = CrossResult()
    h_rows = 0.0
    col_a, col_b = np.zeros(n_txt), np.zeros(n_txt)
    if ranks:
        correct = np.empty(n_txt)
        for c0 in range(0, n_txt, 4096):  # x[idx] in float64 a slice at a time
            correct[c0 : c0 + 4096] = np.einsum("ij,ij->i", np.asarray(x[idx_a[c0 : c0 + 4096]], np.float64),
                                                y64[c0 : c0 + 4096])
        col_thr = beat_threshold(correct)  # a caption's rank counts the images above this
        order = np.argsort(idx_a, kind="stable")
        first = np.searchsorted(idx_a[order], np.arange(n_img + 1))  # image i's captions: order[first[i]:first[i+1]]
        i2t = np.empty(n_img, dtype=np.int64)
        t2i_ranks = np.zeros(n_txt, dtype=np.int64)
    knn_rows = np.empty((n_img, k), dtype=np.int64)
    knn_cols = _Candidates(n_txt, k)
    if k:
        knn_cols.start(np.asarray(x[: min(n_img, max(4 * k, SAMPLE_ROWS))], np.float64), y64, exclude_self=False)
    def block(lo: int, hi: int, s: np.ndarray) -> None:
        nonlocal h_rows
        offers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        pending = 0
        for r0 in range(0, hi - lo, scratch.rows):
            r1 = min(r0 + scratch.rows, hi - lo)
            sc, c, g0, g1 = s[r0:r1], r1 - r0, lo + r0, lo + r1
            if ranks:
                own = order[first[g0] : first[g1]]  # captions of these images
                own_r = idx_a[own] - g0
                own_s = sc[own_r, own]
                best = np.full(c, -np.inf)
                np.maximum.at(best, own_r, own_s)
                beat = np.greater(sc, beat_threshold(best)[:, None], out=scratch.bools(c, n_txt))
                i2t[g0:g1] = np.count_nonzero(beat, axis=1)
                np.greater(sc, col_thr[None, :], out=beat)
                t2i_ranks[:] += np.count_nonzero(beat, axis=0)
                t2i_ranks[own] -= own_s > col_thr[own]  # never its own image
            if k:
                knn_rows[g0:g1] = _block_top_k(sc, k, scratch.bools(c, n_txt))
                offers.append(knn_cols.offer(sc, g0, scratch.bools(c, n_txt)))
                pending += offers[-1][0].size
                if pending > max(4 * n_txt, MERGE_ELEMENTS):  # merge early while the floors are still rising
                    knn_cols.merge(offers)
                    offers, pending = [], 0
            if inv_tau is not None:
                z, e = scratch.floats(1, c, n_txt), scratch.floats(2, c, n_txt)
                h, m = _entropy_rows(sc, inv_tau, z, e)
                h_rows += float(h.sum())
                if shared_cols:
                    # e·a = e^((s − g)/τ) with δ = (m − g)/τ, a = e^δ; and (s − g)/τ = z + δ
                    delta = (m - g) * inv_tau
                    a = np.exp(delta)
                    ab = e.T @ np.stack([a, a * delta], axis=1)
                    col_a[:] += ab[:, 0]
                    col_b[:] += z.T @ a + ab[:, 1]
        if offers:
            knn_cols.merge(offers)

    def product(lo: int, hi: int, buf: np.ndarray) -> np.ndarray:
        out = buf[: (hi - lo) * n_txt].reshape(hi - lo, n_txt)
        return np.matmul(np.asarray(x[lo:hi], dtype=np.float64), y64.T, out=out)

    _run_blocks(list(row_blocks(n_img, n_txt, block_rows)), lambda lo: n_txt, product, block)
    if inv_tau is not None:
        out.entropy_i2t = h_rows / n_img
        if shared_cols:
            out.entropy_t2i = float((np.log(col_a) - col_b / col_a).sum()) / n_txt
        elif t2i:  # tiny τ: a fixed shift could underflow; the column side takes its own pass
            out.entropy_t2i = _cross_pass(y, x, None, temperature, False, 0, block_rows, t2i=False).entropy_i2t
    if ranks:
        out.ranks_i2t, out.ranks_t2i = i2t[first[1:] > first[:-1]], t2i_ranks  # images with a caption
    if k:
        out.knn_i2t, out.knn_t2i = knn_rows, knn_cols.select()
    return out


def self_pass(a: np.ndarray, *, t: float | None = None, k: int = 0, block_rows: int | None = None) -> SelfResult:
    r"""One pass over the upper triangle of ``A·Aᵀ`` (float64): uniformity (``t``) and each row's top ``k``.

    Uniformity :math:`\log \frac{2}{N(N-1)}\sum_{i<j} e^{-t\lVert a_i - a_j\rVert^2}` with
    :math:`\lVert a_i - a_j\rVert^2 = \max(0, \lVert a_i\rVert^2 + \lVert a_j\rVert^2 - 2a_i\cdot a_j)`
    (rows as given); top ``k`` by dot product (cosine for normalised rows), excluding the row
    itself, ties to the lower index. The matrix is symmetric, so block ``lo:hi`` is computed
    against rows ``lo:`` only (half the GEMM): a row's neighbours among earlier rows arrive as
    the columns of earlier blocks (:class:`_Candidates`).

    >>> round(self_pass(np.array([[1.0, 0.0], [-1.0, 0.0]]), t=2.0).uniformity, 6)
    -8.0
    """
    a64 = np.ascontiguousarray(a, dtype=np.float64)
    n = a64.shape[0]
    sq = np.einsum("ij,ij->i", a64, a64)
    scratch = _Scratch(n)
    tri = np.tri(scratch.rows, dtype=bool)  # j <= i within a chunk's own columns
    # logits −t·d² lie in [−4t·max‖a‖², 0]: summed unshifted unless that could underflow
    shift = t is not None and 4.0 * t * float(sq.max()) > 700.0
    total = -np.inf if shift else 0.0
    w = np.exp(-(t or 0.0) * sq)
    cand = _Candidates(n, k)
    if k:
        cand.start(a64[: min(n, max(4 * k, SAMPLE_ROWS))], a64, exclude_self=True)
    def block(lo: int, hi: int, s: np.ndarray) -> None:
        nonlocal total
        offers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        pending = 0
        for r0 in range(0, hi - lo, scratch.rows):
            r1 = min(r0 + scratch.rows, hi - lo)
            sc, c, g0, g1 = s[r0:r1], r1 - r0, lo + r0, lo + r1
            if t is not None and not shift:
                # e^(−t d²) = e^(−t‖a_i‖²) e^(2t a_i·a_j) e^(−t‖a_j‖²): one exp per pair, the row
                # sums a GEMV; pairs j > i only (the chunk's own triangle is zeroed)
                v = np.multiply(sc[:, r0:], 2.0 * t, out=scratch.floats(1, c, n - g0))
                np.exp(v, out=v)
                np.copyto(v[:, :c], 0.0, where=tri[:c, :c])
                total += float(np.exp(-t * sq[g0:g1]) @ (v @ w[g0:]))
            elif t is not None:  # large t·‖a‖²: clipped distances, log-sum-exp shifted by its max
                v = np.multiply(sc[:, r0:], -2.0, out=scratch.floats(1, c, n - g0))
                v += sq[g0:g1, None]
                v += sq[None, g0:]
                np.maximum(v, 0.0, out=v)
                v *= -t
                np.copyto(v[:, :c], -np.inf, where=tri[:c, :c])
                total = np.logaddexp(total, _lse(v))
            if k:
                sc[np.arange(c), np.arange(r0, r1)] = -np.inf
                # rows g0..g1: every column from lo on (earlier ones came as columns of earlier blocks);
                # the k-th best among those bounds the row's k-th from below
                floor = np.maximum(cand.floor[g0:g1], _sample_floor(sc, k))
                v, cols = _row_candidates(sc, floor, scratch.bools(c, sc.shape[1]))
                if v.shape[1] > k:  # the exact k-th among these columns: offer only what can matter
                    kth = -np.partition(-v, k - 1, axis=1)[:, k - 1]
                    floor = np.maximum(floor, _keep_below(kth))
                rr, cc = np.nonzero((v >= floor[:, None]) & np.isfinite(v))
                offers.append((rr + g0, v[rr, cc], cols[rr, cc] + lo))
                # later rows (j ≥ hi) get these rows as candidates
                later = sc[:, hi - lo :]
                rr, cc = _nonzero(np.greater_equal(later, cand.floor[None, hi:], out=scratch.bools(*later.shape)))
                offers.append((cc + hi, later[rr, cc], rr + g0))
                pending += offers[-1][0].size + offers[-2][0].size
                if pending > max(4 * n, MERGE_ELEMENTS):  # merge early while the floors are still rising
                    cand.merge(offers)
                    offers, pending = [], 0
        if offers:
            cand.merge(offers)

    def product(lo: int, hi: int, buf: np.ndarray) -> np.ndarray:
        return np.matmul(a64[lo:hi], a64[lo:].T, out=buf[: (hi - lo) * (n - lo)].reshape(hi - lo, n - lo))

    _run_blocks(list(row_blocks(n, n, block_rows)), lambda lo: n - lo, product, block)
    out = SelfResult(knn=cand.select()) if k else SelfResult()
    if t is not None:
        out.uniformity = float((total if shift else np.log(total)) - np.log(n * (n - 1) / 2.0))
    return out


def _lse(v: np.ndarray) -> float:
    """The log Σ e^v of a float64 array (overwritten), shifted by its max."""
    m = float(v.max())
    if not np.isfinite(m):
        return m
    v -= m
    np.exp(v, out=v)
    return m + float(np.log(v.sum()))


def top_k_pass(queries: np.ndarray, corpus: np.ndarray, k: int, *, exclude_self: bool,
               block_rows: int | None = None) -> np.ndarray:
    """(n_queries, k) indices into ``corpus`` of each query's k best by dot product (float64)."""
    c64 = np.ascontiguousarray(corpus, dtype=np.float64)
    nc = c64.shape[0]
    scratch = _Scratch(nc)
    out = np.empty((queries.shape[0], k), dtype=np.int64)

    def block(lo: int, hi: int, s: np.ndarray) -> None:
        for r0 in range(0, hi - lo, scratch.rows):
            r1 = min(r0 + scratch.rows, hi - lo)
            sc = s[r0:r1]
            if exclude_self:
                sc[np.arange(r1 - r0), np.arange(lo + r0, lo + r1)] = -np.inf
            out[lo + r0 : lo + r1] = _block_top_k(sc, k, scratch.bools(r1 - r0, nc))

    def product(lo: int, hi: int, buf: np.ndarray) -> np.ndarray:
        out_ = buf[: (hi - lo) * nc].reshape(hi - lo, nc)
        return np.matmul(np.asarray(queries[lo:hi], dtype=np.float64), c64.T, out=out_)

    _run_blocks(list(row_blocks(queries.shape[0], nc, block_rows)), lambda lo: nc, product, block)
    return out
