"""Measure embedding dumps far larger than memory: shards streamed into exact, mergeable sums.

``measure_shards(DIR)`` returns :func:`gaplab.metrics.measure`'s keys for a clip-retrieval
dump, a directory of pair shards or a glob: the O(N·d) metrics exact over every pair, the
O(N²) ones on a seeded sample with confidence intervals. Engines: a local thread pool, or
Dask (optional extra ``gaplab[dask]``, imported only when used). See ``docs/scale.md``.
"""

from .engines import ENGINES, ShardTask, run_dask, run_engine, run_local
from .measure import SCALE_KEYS, measure_shards, plan_shards, reduce_shards
from .partial import ShardResult, merge_results, process_shard, tree_reduce
from .sources import BadShardError, Shard, ShardHeader, discover_shards, iter_blocks, read_header

__all__ = [
    "measure_shards",
    "reduce_shards",
    "plan_shards",
    "discover_shards",
    "read_header",
    "iter_blocks",
    "process_shard",
    "merge_results",
    "tree_reduce",
    "run_engine",
    "run_local",
    "run_dask",
    "Shard",
    "ShardHeader",
    "ShardResult",
    "ShardTask",
    "BadShardError",
    "ENGINES",
    "SCALE_KEYS",
]
