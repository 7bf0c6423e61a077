"""``measure_shards``: every gap metric of a sharded dump, exact where it can be, sampled where not."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import numpy as np

from .._errors import InputError
from .._split import seeded_split
from .._validation import normalize_rows
from ..metrics import MEASURE_KEYS, MetricSuite
from ..metrics.functional._stats import BLOCK_ROWS
from ..metrics.functional.diagnostics import input_warnings
from ..metrics.functional.entropy import _logit_entropy
from ..metrics.functional.uniformity import _uniformity
from ..metrics.intervals import chance_levels
from ..metrics.measure import KNN_K, pairwise_metrics
from ..metrics.reading import reading
from .engines import ShardTask, run_engine
from .partial import ShardResult
from .sources import BadShardError, Shard, ShardHeader, discover_shards, read_header

__all__ = ["measure_shards", "reduce_shards", "plan_shards", "SCALE_KEYS"]

#: keys ``measure_shards`` adds to :data:`~gaplab.metrics.MEASURE_KEYS`
SCALE_KEYS: dict[str, str] = {
    "n_shards": "number of shards measured (bad shards skipped are not counted)",
    "sampled_pairs": "pairs in the seeded uniform sample behind the O(N²) and fitted metrics",
    "ci95": "95% confidence intervals of the sampled metrics",
    "skipped_shards": "shards left out with --skip-bad-shards, each with the reason",
    "engine": "engine that ran the shard tasks",
}

_MIN_SAMPLE = 20
_CI_GROUPS = 10


def plan_shards(
    shards: list[Shard],
    *,
    skip_bad_shards: bool = False,
    image_key: str = "image",
    text_key: str = "text",
) -> tuple[list[tuple[Shard, ShardHeader]], list[dict[str, str]]]:
    """Read every shard's headers; check rows and d. Returns ``(good, skipped)``.

    The reference d is the one most shards have, so one odd shard is blamed rather than all
    the others. Without ``skip_bad_shards`` the first problem raises a :class:`BadShardError`.
    """
    good: list[tuple[Shard, ShardHeader]] = []
    skipped: list[dict[str, str]] = []

    def bad(shard: Shard, reason: str) -> None:
        if not skip_bad_shards:
            raise BadShardError(reason)
        skipped.append({"shard": shard.name, "reason": reason})

    for s in shards:
        try:
            good.append((s, read_header(s, image_key=image_key, text_key=text_key)))
        except BadShardError as e:
            bad(s, str(e))
    if good:
        dims = Counter(h.dim for _, h in good)
        ref = max(dims, key=lambda d: (dims[d], -[h.dim for _, h in good].index(d)))
        keep = []
        for s, h in good:
            if h.dim != ref:
                bad(s, f"{s.image}: has d={h.dim}, the other shards have d={ref}")
            else:
                keep.append((s, h))
        good = keep
    return good, skipped


def _draw_sample(sizes: list[int], sample: int, seed: int) -> list[np.ndarray]:
    """Sorted local row indices per shard of a uniform sample without replacement."""
    total = int(sum(sizes))
    k = min(int(sample), total)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(total, size=k, replace=False)) if k else np.empty(0, dtype=np.int64)
    bounds = np.cumsum([0, *sizes])
    cuts = np.searchsorted(picked, bounds)
    return [picked[cuts[i] : cuts[i + 1]] - bounds[i] for i in range(len(sizes))]


def reduce_shards(
    source: Any,
    *,
    engine: str = "local",
    workers: int | None = None,
    scheduler: Any = None,
    sample: int = 0,
    seed: int = 0,
    skip_bad_shards: bool = False,
    progress: bool | None = False,
    image_key: str = "image",
    text_key: str = "text",
    normalize: bool = True,
    alpha: float = 2.0,
    block_rows: int = BLOCK_ROWS,
    processes: bool = False,
) -> ShardResult:
    """Merged :class:`~gaplab.metrics.functional._stats.PairStats` of every shard, plus the sample.

    ``source`` is anything :func:`~gaplab.scale.discover_shards` takes. The sample is drawn
    from the shards' headers before any data is read, so it depends only on ``seed`` and
    the shards, not on the engine or the order shards finish in.
    """
    if sample < 0:
        raise InputError(f"reduce_shards: sample must be >= 0, got {sample}")
    if workers is not None and workers < 1:
        raise InputError(f"reduce_shards: workers must be >= 1, got {workers}")
    shards = source if isinstance(source, list) and all(isinstance(s, Shard) for s in source) else discover_shards(source)
    good, skipped = plan_shards(shards, skip_bad_shards=skip_bad_shards, image_key=image_key, text_key=text_key)
    rows = _draw_sample([h.n for _, h in good], sample, seed)
    tasks = [ShardTask(s, h, r) for (s, h), r in zip(good, rows, strict=True)]
    if not tasks:
        reasons = "; ".join(d["reason"] for d in skipped[:3])
        raise InputError(f"no usable shards in {source}" + (f" (skipped: {reasons})" if reasons else ""))
    result = run_engine(
        engine,
        tasks,
        workers=workers,
        scheduler=scheduler,
        strict=not skip_bad_shards,
        progress=progress,
        processes=processes,
        normalize=normalize,
        alpha=alpha,
        block_rows=block_rows,
        image_key=image_key,
        text_key=text_key,
    )
    result.skipped = [*skipped, *result.skipped]
    return result


def _wilson(p: float, n: int, z: float = 1.959963984540054) -> list[float]:
    """Wilson score interval of a proportion ``p`` observed on ``n`` trials."""
    if n == 0:
        return [0.0, 1.0]
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def _t_interval(estimate: float, group_values: list[float]) -> list[float]:
    from scipy.stats import t

    g = len(group_values)
    se = float(np.std(group_values, ddof=1)) / np.sqrt(g)
    q = float(t.ppf(0.975, g - 1))
    return [estimate - q * se, estimate + q * se]


def _sampled_metrics(
    xs: np.ndarray, ys: np.ndarray, gap: np.ndarray, *, temperature: float, seed: int, top_k: int
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The O(N²), O(N·d²) and fitted metrics of :func:`~gaplab.metrics.measure` on the sample, with CIs.

    The values are :func:`gaplab.metrics.measure.pairwise_metrics` of the sample (the same
    code as ``measure``), with the exact gap vector of the whole dump. CIs: Wilson for recall
    (per query) and separability accuracy (per held-out row); for uniformity the spread over
    ``G`` disjoint groups of the sample (se = sd/√G, Student t); for logit entropy the spread
    over ``G`` groups of queries, each against the whole sampled gallery.
    """
    xn, yn = normalize_rows(np.asarray(xs, np.float32)), normalize_rows(np.asarray(ys, np.float32))
    out = pairwise_metrics(xn, yn, None, gap, temperature=temperature, seed=seed, top_k=top_k)
    s = xs.shape[0]
    rng = np.random.default_rng(seed)
    groups = [np.sort(g) for g in np.array_split(rng.permutation(s), min(_CI_GROUPS, s // 2))]
    ci: dict[str, list[float]] = {}
    for key, a in (("uniformity_image", xn), ("uniformity_text", yn)):
        ci[key] = _t_interval(out[key], [_uniformity(a[g], 2.0, None) for g in groups])
    _, te = seeded_split(min(s, 50_000), 0.8, seed, where="linear_separability")
    ci["linear_separability"] = _wilson(out["linear_separability"], 2 * te.size)
    for key, (q, c) in (("logit_entropy_i2t", (xn, yn)), ("logit_entropy_t2i", (yn, xn))):
        ci[key] = _t_interval(out[key], [_logit_entropy(q[g], c, temperature, None)["i2t"] for g in groups])
    for key in (f"{d}_r{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)):
        ci[key] = _wilson(out[key], s)
    return out, ci


def measure_shards(
    source: Any,
    *,
    engine: str = "local",
    workers: int | None = None,
    scheduler: Any = None,
    sample: int = 10_000,
    seed: int = 0,
    temperature: float = 0.01,
    top_k: int = 10,
    skip_bad_shards: bool = False,
    progress: bool | None = False,
    image_key: str = "image",
    text_key: str = "text",
    block_rows: int = BLOCK_ROWS,
    processes: bool = False,
) -> dict[str, Any]:
    r"""Every gap metric of a sharded embedding dump: :func:`~gaplab.metrics.measure`'s keys and more.

    The O(N·d) metrics (n, l2m, l2i, rmg, mean cosines, alignment, top_dims) are exact over
    every pair: each shard is streamed into float64 sufficient statistics
    (:class:`~gaplab.metrics.functional._stats.PairStats`), merged along a tree; they equal
    the one-shot values on the concatenated data to ~1e-12. The O(N²) and fitted metrics
    (uniformity, logit entropy, retrieval recall, linear separability, best pair) run on a
    seeded uniform sample of ``sample`` pairs drawn across all shards (``0`` skips them);
    ``ci95`` gives their 95% confidence intervals. Retrieval recall and logit entropy on a
    sample measure a gallery of ``sampled_pairs`` candidates, not of all N.

    Parameters
    ----------
    source : str, path or list of paths
        A clip-retrieval directory, a directory of ``.npz``/``.parquet``/``.npy`` pair
        shards, or a glob (see :func:`~gaplab.scale.discover_shards`).
    engine : {"local", "dask"}
        Thread pool in this process, or one Dask task per shard.
    workers : int, optional
        Threads (local) or workers of the ``LocalCluster`` (dask); default: CPU count.
    scheduler : str or distributed.Client, optional
        Address of an existing Dask scheduler, or a connected client (``engine="dask"``).
    skip_bad_shards : bool
        Leave bad shards out and list them under ``skipped_shards`` instead of stopping.

    Returns
    -------
    dict
        :data:`~gaplab.metrics.MEASURE_KEYS` plus :data:`SCALE_KEYS` and ``timing``.

    Raises
    ------
    BadShardError
        A shard has mismatched rows or d, is corrupt or truncated, lacks its partner, or
        holds NaN/inf/zero rows (without ``skip_bad_shards``); the message names the file.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp()); rng = np.random.default_rng(0)
    >>> for k in range(3):
    ...     _ = np.savez(d / f"part-{k}.npz", image=rng.normal(size=(50, 8)) + 1, text=rng.normal(size=(50, 8)))
    >>> r = measure_shards(d, sample=0)
    >>> r["n"], r["n_shards"], r["sampled_pairs"]
    (150, 3, 0)
    """
    if sample and sample < _MIN_SAMPLE:
        raise InputError(f"measure_shards: sample must be 0 (skip) or >= {_MIN_SAMPLE}, got {sample}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise InputError(f"measure_shards: temperature must be a positive finite number, got {temperature}")
    t0 = time.perf_counter()
    res = reduce_shards(
        source,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        sample=sample,
        seed=seed,
        skip_bad_shards=skip_bad_shards,
        progress=progress,
        image_key=image_key,
        text_key=text_key,
        block_rows=block_rows,
        processes=processes,
    )
    wall = time.perf_counter() - t0
    suite = MetricSuite()
    suite.stats = res.stats
    out = suite.compute()
    gap = out.pop("gap_vector")
    order = np.argsort(-np.abs(gap), kind="stable")[:top_k]
    out["top_dims"] = [{"dim": int(j), "diff": float(gap[j])} for j in order]
    ci: dict[str, list[float]] = {}
    xs, ys = res.sample_x, res.sample_y
    n_sample = 0 if xs is None else int(xs.shape[0])
    if sample and n_sample >= _MIN_SAMPLE:
        assert xs is not None and ys is not None  # n_sample > 0, and the two samples are set together
        extra, ci = _sampled_metrics(xs, ys, gap, temperature=temperature, seed=seed, top_k=top_k)
        out.update(extra)
    elif sample:
        n_sample = 0  # too few rows survived (tiny dump or skipped shards): say so, don't guess
    out["temperature"] = temperature
    out["seed"] = seed
    # chance levels of the sampled metrics are those of the sample (R@K ≈ K / sampled pairs)
    out["chance"] = {k: v for k, v in chance_levels(n_sample, n_sample, None, knn_k=KNN_K).items()
                     if k in out} if n_sample else {}
    if n_sample:  # what measure() warns about, seen on the sample (on-disk dtype: float16 stays float16)
        assert xs is not None and ys is not None
        warnings = input_warnings(xs, ys, temperature=temperature, pairwise=True)
        if warnings:
            out["warnings"] = [f"in the {n_sample} sampled pairs: {w}" for w in warnings]
    out["reading"] = reading(out)
    out["n_shards"] = res.n_shards
    out["sampled_pairs"] = n_sample
    out["ci95"] = ci
    out["skipped_shards"] = res.skipped
    out["engine"] = engine
    out["timing"] = {
        "wall_seconds": wall,
        "shard_seconds_total": res.seconds,
        "shard_seconds_mean": res.seconds / max(res.n_shards, 1),
        "workers": workers or os.cpu_count() or 1,
    }
    ordered = [*MEASURE_KEYS, *(k for k in out if k not in MEASURE_KEYS)]
    return {k: out[k] for k in ordered if k in out}
