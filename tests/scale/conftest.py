"""Fixtures of the gaplab.scale tests: a small float16 clip-retrieval dump."""

from __future__ import annotations

import numpy as np
import pytest
from _shards import make_pairs, write_clip


@pytest.fixture
def pairs16():
    return make_pairs(0, dtype=np.float16)


@pytest.fixture
def clip_dir(tmp_path, pairs16):
    return write_clip(tmp_path / "dump", pairs16, metadata=True)
