"""Shared test setup: offline, headless, fixture paths."""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# caches (trained MAD models, ...) go to a fresh folder per test session, never ~/.cache
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="gaplab-test-cache-")

#: the published dumps ship as package data (gaplab.data.published); tests read the same files
FIXTURES = Path(str(resources.files("gaplab.data").joinpath("published")))


@pytest.fixture
def fixture_path():
    """Path of a real published feature dump shipped in gaplab/data/published (see its README)."""

    def get(name: str) -> Path:
        return FIXTURES / name

    return get


@pytest.fixture
def one_thread():
    """Single-threaded BLAS/OpenMP: on a busy machine idle-spinning threads make a 768x768 SVD
    or a small k-means 10-20x slower. Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    with threadpool_limits(1):
        yield
