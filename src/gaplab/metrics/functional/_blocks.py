"""Row blocks for the O(N²) metrics: never hold an N×N matrix larger than one block."""

from __future__ import annotations

from collections.abc import Iterator

#: elements per similarity block (32 Mi float32 = 128 MiB)
BLOCK_ELEMENTS = 1 << 25


def row_blocks(n_rows: int, n_cols: int, block_rows: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield ``(start, stop)`` row ranges so that a block × ``n_cols`` matrix stays bounded."""
    step = block_rows or max(1, min(n_rows, BLOCK_ELEMENTS // max(n_cols, 1)))
    for a in range(0, n_rows, step):
        yield a, min(a + step, n_rows)
