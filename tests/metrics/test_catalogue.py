"""The metric catalogue is the one source of metric names: measure, registry, README agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from gaplab import metrics as M

ROOT = Path(__file__).resolve().parents[2]


def test_every_registered_metric_has_an_entry_and_a_callable():
    for name in M.list_metrics():
        info = M.metric_info(name)
        assert info.name == name and M.get_metric(name) is info.function
        assert info.paper and info.formula and info.cost and info.keys


def test_measure_keys_are_the_catalogues():
    rng = np.random.default_rng(0)
    out = M.measure(rng.normal(size=(30, 6)), rng.normal(size=(30, 6)) + 1)
    produced = {k for name in M.list_metrics() if M.metric_info(name).in_measure for k in M.metric_info(name).keys}
    assert produced <= set(out)
    assert set(M.MEASURE_KEYS) <= set(out)
    assert list(out)[: len(M.MEASURE_KEYS)] == list(M.MEASURE_KEYS)


def test_readme_metric_table_is_generated_from_the_catalogue():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert M.markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8")
