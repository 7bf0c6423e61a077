"""Thread limits for small workloads.

Tiny models (the sphere, a CNN on 8×8 digits) gain nothing from intra-op threads, and on a
busy machine torch's and BLAS's spinning worker threads make them up to 10× slower. Recipes
and the demo run inside :func:`limit_threads`, which restores the previous settings after.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator

__all__ = ["limit_threads", "blas_threads"]


@contextlib.contextmanager
def limit_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (if torch is loaded) and ``n`` BLAS threads."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    if torch is None and importlib.util.find_spec("torch") is not None:
        import torch  # the block may load it later, too late to limit it
    before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            if torch is not None:
                torch.set_num_threads(n)
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def blas_threads() -> int:
    """The BLAS threads the caller allows now (1 inside :func:`limit_threads`; 1 with no BLAS loaded)."""
    from threadpoolctl import threadpool_info

    return max((int(i.get("num_threads") or 1) for i in threadpool_info() if i.get("user_api") == "blas"), default=1)
