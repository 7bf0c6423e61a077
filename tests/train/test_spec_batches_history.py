"""TrainSpec (one source of options), BatchOrder (one batch stream for both engines), History keys."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gaplab import ConfigError  # noqa: E402
from gaplab.metrics import MEASURE_KEYS  # noqa: E402
from gaplab.models import FreeEmbeddings  # noqa: E402
from gaplab.train import (  # noqa: E402
    DEFAULT_METRICS,
    METRIC_FUNCTIONS,
    METRIC_KEYS,
    BatchOrder,
    Trainer,
    TrainerState,
    TrainSpec,
    compute_metrics,
)
from gaplab.train.spec import RESUME_FIELDS  # noqa: E402

TRAIN = Path(__file__).resolve().parents[2] / "src" / "gaplab" / "train"


# -- BatchOrder ------------------------------------------------------------------------------------

def _reference_order(n, b, seed, steps, drop_last=True):
    """The batch order as the Trainer drew it before BatchOrder: one permutation per epoch."""
    rng, perm, pos, out = np.random.default_rng(seed), None, 0, []
    for _ in range(steps):
        if perm is None or pos + (b if drop_last else 1) > n:
            perm, pos = rng.permutation(n), 0
        out.append(perm[pos:pos + b])
        pos += b
    return out


@pytest.mark.parametrize("n, b", [(10, 4), (12, 12), (100, 10), (7, 2)])
def test_batch_order_is_the_trainers_and_chunking_does_not_matter(n, b):
    ref = _reference_order(n, b, 3, 40)
    one = BatchOrder(n, b, 3)
    assert all(np.array_equal(one.next(), r) for r in ref)
    chunked = BatchOrder(n, b, 3)
    parts = [chunked.take(k) for k in (1, 7, 0, 13, 19)]
    assert np.array_equal(np.concatenate(parts), np.concatenate(ref))
    short = BatchOrder(n, b, 3, drop_last=False)
    ref_short = _reference_order(n, b, 3, 40, drop_last=False)
    assert all(np.array_equal(short.next(), r) for r in ref_short)


def test_batch_order_state_round_trip():
    a = BatchOrder(50, 8, 1)
    a.take(9)
    state = a.state_dict()
    b = BatchOrder(50, 8, 99)
    b.load_state_dict(state)
    assert np.array_equal(a.take(30), b.take(30))
    with pytest.raises(ConfigError, match="BatchOrder.take needs drop_last=True"):
        BatchOrder(10, 3, 0, drop_last=False).take(2)


# -- History ---------------------------------------------------------------------------------------

def test_tracked_metric_keys_are_measure_keys():
    """One name per quantity: every column a tracked metric writes is a key of gaplab.measure."""
    assert set(METRIC_KEYS) == set(METRIC_FUNCTIONS)
    for keys in METRIC_KEYS.values():
        assert set(keys) <= set(MEASURE_KEYS)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    out = compute_metrics(x, y, list(METRIC_FUNCTIONS))
    assert list(out) == [k for name in METRIC_FUNCTIONS for k in METRIC_KEYS[name]]
    from gaplab.metrics import measure

    full = measure(x, y)
    for k in ("l2m", "rmg", "mean_cos_image", "mean_cos_paired", "alignment", "uniformity_image", "i2t_r1"):
        assert out[k] == pytest.approx(full[k], abs=1e-12), k
    assert set(DEFAULT_METRICS) <= set(METRIC_FUNCTIONS)


@pytest.mark.parametrize("module", ["history.py", "batches.py", "callbacks.py", "spec.py"])
def test_torch_free_modules(module):
    """history, batches, callbacks and spec import no torch at module level (spec only lazily)."""
    tree = ast.parse((TRAIN / module).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [a.name for n in top if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
    assert not [m for m in names if m.split(".")[0] == "torch" or m in ("trainer", "engines")]


# -- TrainSpec --------------------------------------------------------------------------------------

def test_trainer_keywords_are_the_spec_fields():
    """Trainer(model, **options) builds a TrainSpec: every option is a spec field, checked there."""
    tr = Trainer(FreeEmbeddings(30, 3), steps=20, drop_last=False, siglip_bias=-3, loss="siglip", batch_size=7)
    assert isinstance(tr.spec, TrainSpec) and tr.spec.drop_last is False and tr.spec.siglip_bias == -3.0
    assert tr.engine.bias.item() == -3.0
    assert isinstance(tr, TrainerState)
    tr.fit()
    assert tr.step == 20
    assert set(RESUME_FIELDS) <= set(TrainSpec.field_names())
    with pytest.raises(ConfigError, match="give spec=... or options, not both"):
        Trainer(FreeEmbeddings(30, 3), spec=TrainSpec.from_options(steps=3), lr=0.1)


@pytest.mark.parametrize("bad, match", [
    ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
    ({"momentum": 2}, r"momentum must be a number in \[0, 1\], got 2"),
    ({"drop_last": 1}, r"drop_last must be true or false, got 1"),
    ({"optimizer": "adam"}, r"unknown optimizer 'adam'; valid: sgd, adamw"),
])
def test_one_message_for_config_and_python(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainSpec.from_dict({"steps": 5, **bad})
    with pytest.raises(ConfigError, match=match):
        Trainer(FreeEmbeddings(20, 3), steps=5, **bad)


def test_run_length_temperature_and_lr_are_resolved_once(monkeypatch):
    import gaplab.train.temperature as temperature

    calls = []
    real = temperature.create_temperature

    def counting(spec, **kw):
        calls.append(kw.get("total_steps"))
        return real(spec, **kw)

    monkeypatch.setattr(temperature, "create_temperature", counting)
    tr = Trainer(FreeEmbeddings(30, 3), epochs=3, batch_size=10, temperature="ts", eval_every=3,
                 lr={"name": "cosine", "init_value": 0.1, "end_value": 0.01})
    assert calls == [9] and tr.total_steps == 9  # 3 epochs x 3 steps, built once
    tr.fit()
    assert calls == [9] and tr.step == 9
    assert tr.current_lr(9) == pytest.approx(0.01) and tr.temperature_value(9) == pytest.approx(1.0)
    spec = TrainSpec.from_dict({"steps": 40, "temperature": "ts"})
    assert calls == [9, 40]
    a, b = spec.resolve(), spec.resolve()  # the second run gets its own strategy
    assert calls == [9, 40, 40] and a.temperature is not b.temperature
    with pytest.raises(ConfigError, match="epochs=... needs data with a length"):
        TrainSpec.from_dict({"epochs": 2}).resolve()


def test_spec_round_trips_through_json():
    import json

    spec = TrainSpec.from_dict({"steps": 10, "lr": "1e-3", "drop_last": False, "engine": "fast"})
    assert spec.engine == "numba"  # the former name is read
    again = TrainSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    py = TrainSpec.from_options(steps=3, loss=lambda x, y, t: (x.sum(), {}), dtype=torch.float64)
    d = py.to_dict()
    assert d["model"] is None and d["dtype"] == "float64" and d["loss"] == "<<lambda>>"
    assert py.signature()["loss"] == "<lambda>"
