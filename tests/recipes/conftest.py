"""One quick run per recipe per test session, shared by the recipe's own tests and the contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gaplab.recipes import reproduce
from gaplab.runs import RunRecord


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory) -> Callable[[str], RunRecord]:
    """``quick_run(name)``: the record of ``reproduce(name, quick=True, seed=0)``, run once per session."""
    cache: dict[str, RunRecord] = {}

    def get(name: str) -> RunRecord:
        if name not in cache:
            out = tmp_path_factory.mktemp(f"quick-{name}")
            cache[name] = reproduce(name, quick=True, out=out, seed=0, verbose=False, progress=False)
        return cache[name]

    return get
