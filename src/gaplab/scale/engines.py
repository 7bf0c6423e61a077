"""Engines that run one :func:`~gaplab.scale.partial.process_shard` task per shard.

* ``"local"``: a thread pool in this process (numpy and ``os.pread`` release the GIL);
  ``workers=1`` runs the shards one after another with no pool at all.
* ``"dask"``: one task per shard on a Dask cluster (a ``LocalCluster`` in this process by
  default, or an existing scheduler), merges tree-reduced on the cluster. Dask is imported
  only here, and only when this engine runs.

Both engines reduce along the same :func:`~gaplab.scale.partial.tree_reduce` tree in shard
order, so they return bit-identical statistics. With ``strict=True`` the first bad shard
stops the run with a :class:`~gaplab.scale.sources.BadShardError` naming its file.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import ConfigError, InputError
from .partial import ShardResult, merge_results, process_shard, tree_reduce
from .sources import BadShardError, Shard, ShardHeader

__all__ = ["ShardTask", "ENGINES", "run_local", "run_dask", "run_engine"]

ENGINES = ("local", "dask")
DASK_INSTALL = "the dask engine needs dask and distributed: pip install 'gaplab[dask]'"


@dataclass(frozen=True)
class ShardTask:
    """One shard to process, its header, and its rows of the global sample (sorted)."""

    shard: Shard
    header: ShardHeader
    sample_rows: np.ndarray


def _progress(total: int, progress: bool | None, desc: str) -> Any:
    from tqdm.auto import tqdm

    disable = (not sys.stderr.isatty()) if progress is None else not progress
    return tqdm(total=total, unit="shard", desc=desc, disable=disable, file=sys.stderr)


def _check(result: ShardResult, strict: bool) -> None:
    if strict and result.skipped:
        raise BadShardError(result.skipped[0]["reason"])


def run_local(
    tasks: Sequence[ShardTask],
    *,
    workers: int | None = None,
    strict: bool = True,
    progress: bool | None = None,
    **options: Any,
) -> ShardResult:
    """Process every shard on a thread pool of ``workers`` threads (default: CPU count)."""
    workers = workers or os.cpu_count() or 1
    results: dict[int, ShardResult] = {}  # by task index: threads finish in any order
    with _progress(len(tasks), progress, "shards") as bar:
        if workers == 1:
            for i, t in enumerate(tasks):
                results[i] = r = process_shard(t.shard, t.header, t.sample_rows, **options)
                _check(r, strict)
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gaplab-shard") as pool:
                pending = {
                    pool.submit(process_shard, t.shard, t.header, t.sample_rows, **options): i
                    for i, t in enumerate(tasks)
                }
                try:
                    while pending:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for f in done:
                            i = pending.pop(f)
                            results[i] = r = f.result()
                            _check(r, strict)
                            bar.update()
                except BaseException:
                    for f in pending:
                        f.cancel()
                    raise
    return tree_reduce([results[i] for i in range(len(tasks))], merge_results)


def run_dask(
    tasks: Sequence[ShardTask],
    *,
    workers: int | None = None,
    scheduler: Any = None,
    strict: bool = True,
    progress: bool | None = None,
    processes: bool = False,
    connect_timeout: str = "30s",
    **options: Any,
) -> ShardResult:
    """One Dask task per shard, then pairwise merge tasks on the cluster (tree reduce).

    ``scheduler`` is the address of an existing cluster (``tcp://host:8786``) or a
    ``distributed.Client`` already connected to one (left open). Without it a
    ``LocalCluster`` of ``workers`` single-threaded workers is started (threads in this
    process unless ``processes=True``), with the workers' statistical profiler off (there
    is no dashboard to show it, and on a small machine it takes CPU from the shards), and
    closed afterwards. Shard paths must be readable by every worker (a shared or replicated
    filesystem).
    """
    try:
        import dask.config
        from distributed import Client, LocalCluster
        from distributed.utils import silence_logging_cmgr
    except ImportError:
        raise ConfigError(DASK_INSTALL) from None

    def run(client: Any) -> ShardResult:
        return _map_reduce(tasks, client, strict=strict, progress=progress, **options)

    if scheduler is not None and not isinstance(scheduler, str):
        return run(scheduler)  # the caller's client, left open
    if scheduler:
        try:
            client = Client(scheduler, timeout=connect_timeout)
        except OSError as e:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler!r} ({e})") from None
        try:
            return run(client)
        finally:
            client.close()
    # The scheduler's and workers' own log lines (tasks cancelled at shutdown, "Batched Comm
    # Closed" tracebacks while the in-process comms close) are not the user's business: a
    # failed shard reaches them as one error line. LocalCluster(silence_logs=...) silences
    # only until its close() restores the handlers, and the comms still log after that, so
    # the handlers stay at ERROR from before the cluster starts until after it has closed.
    with silence_logging_cmgr(logging.ERROR), silence_logging_cmgr(logging.ERROR, root="bokeh"):
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        try:
            client = Client(cluster)
            try:
                return run(client)
            finally:
                client.close()
        finally:
            cluster.close()


def _map_reduce(
    tasks: Sequence[ShardTask],
    client: Any,
    *,
    strict: bool,
    progress: bool | None,
    **options: Any,
) -> ShardResult:
    """One task per shard on ``client``, merged pairwise on the cluster; first bad shard stops it."""
    from distributed import as_completed

    futures = client.map(
        process_shard,
        [t.shard for t in tasks],
        [t.header for t in tasks],
        [t.sample_rows for t in tasks],
        pure=False,
        **options,
    )
    total = tree_reduce(futures, lambda a, b: client.submit(merge_results, a, b, pure=False))
    failure = None
    done = as_completed(futures)
    with _progress(len(tasks), progress, "shards") as bar:
        for f in done:
            if strict:
                skipped = f.result().skipped  # O(d) statistics and a few sampled rows
                if skipped:
                    failure = skipped[0]["reason"]
                    break
            bar.update()
    if failure is not None:
        # Drop our futures instead of client.cancel(): the scheduler then forgets the
        # tasks nobody wants. cancel() of a shard whose merge task has already lost its
        # future trips an assertion in distributed's scheduler, which logs two
        # AssertionError tracebacks on stderr before our one-line error.
        done.clear()
        futures.clear()
        del f, total
        raise BadShardError(failure)
    result: ShardResult = total.result()
    return result


def run_engine(engine: str, tasks: Sequence[ShardTask], **kwargs: Any) -> ShardResult:
    """Dispatch to :func:`run_local` or :func:`run_dask` by name."""
    if not tasks:
        raise InputError("no usable shards to measure")
    if engine == "local":
        if kwargs.pop("scheduler", None):
            raise ConfigError("a Dask scheduler address needs engine='dask' (--engine dask)")
        kwargs.pop("processes", None)
        return run_local(tasks, **kwargs)
    if engine == "dask":
        return run_dask(tasks, **kwargs)
    raise ConfigError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
