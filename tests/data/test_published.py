"""The published dumps ship inside the package and load from any working directory."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gaplab import UnknownNameError
from gaplab.data import list_published, load_published
from gaplab.metrics import l2m


def test_every_dump_loads_unit_rows():
    for name in list_published():
        x, y = load_published(name)
        assert x.shape == y.shape and x.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=2e-3)  # clip_coco: float16 origin


def test_clip_coco_has_the_large_gap_of_real_clip():
    x, y = load_published("clip_coco")
    naive = np.linalg.norm(x.astype(np.float64).mean(0) - y.astype(np.float64).mean(0))
    assert l2m(x, y) == pytest.approx(naive, rel=1e-6)
    assert naive > 0.8


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown published dump 'clip'; valid: clasp"):
        load_published("clip")


def test_loads_outside_the_source_tree(tmp_path):
    code = "from gaplab.data import load_published; print(load_published('convirt')[0].shape)"
    env = {**os.environ, "PYTHONPATH": ""}
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "(500, 512)", r.stderr
