"""siglip-gap (004): the label-shuffled L2M null, the MAD objective / fine-tuning helpers, the quick run's claims."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab._errors import ConfigError
from gaplab.metrics import l2m
from gaplab.recipes import _mad
from gaplab.recipes.siglip_gap import label_shuffled_l2m


def test_label_shuffled_null_sits_below_a_real_gap_and_at_no_gap():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 8))
    x, y = z + 1.0, rng.normal(size=(400, 8)) - 1.0
    null = label_shuffled_l2m(x, y, n_perm=100)
    assert l2m(x, y) > 5 * np.percentile(null, 95)
    same = label_shuffled_l2m(z, rng.normal(size=(400, 8)), n_perm=100)
    assert l2m(z, rng.normal(size=(400, 8))) < 3 * np.percentile(same, 95)
    assert np.array_equal(label_shuffled_l2m(x, y, n_perm=5, seed=3), label_shuffled_l2m(x, y, n_perm=5, seed=3))


def test_train_options_default_is_the_clip_run_and_the_shared_cache_key():
    assert _mad.train_options(_mad.MADConfig()) == {"loss": "clip", "temperature": "learnable"}
    assert _mad.objective_config(True, "clip", seed=3).key() == _mad.scaled_config(True, seed=3).key()
    sig = _mad.objective_config(True, "siglip")
    assert _mad.train_options(sig) == {"loss": "siglip", "temperature": {"name": "learnable", "init": 0.1},
                                       "siglip_bias": -10.0}
    assert sig.key() != _mad.scaled_config(True).key()


def test_train_options_refuse_unknown_keys_and_unnamed_start_weights():
    with pytest.raises(ConfigError, match="unknown MADConfig.extra key"):
        _mad.train_options(_mad.MADConfig(extra={"los": "cua"}))
    with pytest.raises(ConfigError, match="go together"):
        _mad.train_options(_mad.MADConfig(), init={})
    with pytest.raises(ConfigError, match="go together"):
        _mad.train_options(_mad.MADConfig(extra={"init_from": "abc"}))


def test_finetune_starts_from_the_parent_and_keeps_the_siglip_bias():
    import torch

    cfg = _mad.objective_config(True, "siglip", n_train=256, n_test=64, epochs=1, n_attributes=1)
    model, hist = _mad.train_mad(cfg)
    assert len(hist["bias"]) == 1 and hist["bias"][0] != -10.0  # learned, and recorded
    before = {k: v.clone() for k, v in model.state_dict().items()}
    child_model, child_hist, child = _mad.finetune_mad(cfg, model, hist, n_attributes=5, epochs=1)
    assert child.n_attributes == 5 and child.extra["init_from"] == cfg.key() and child.key() != cfg.key()
    assert child.extra["temperature_init"] == hist["temperature"][-1]
    assert child.extra["siglip_bias"] == hist["bias"][-1]
    assert child_hist["temperature"][0] == pytest.approx(hist["temperature"][-1], rel=0.05)
    for k, v in model.state_dict().items():  # the parent is not modified
        assert torch.equal(v, before[k]), k
    start = _mad._start_model(child, before)  # what train_mad trains from, given the parent's weights
    for k, v in start.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(v, before[k]) for k, v in child_model.state_dict().items())  # and it trained


def test_finetuned_models_are_cached_under_their_own_key(tmp_path):
    cfg = _mad.objective_config(True, "clip", n_train=256, n_test=64, epochs=1, n_attributes=1)
    model, hist = _mad.train_mad(cfg, cache_dir=tmp_path)
    _, h1, child = _mad.finetune_mad(cfg, model, hist, n_attributes=5, epochs=1, cache_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([f"mad_model_{cfg.key()}.pt", f"mad_model_{child.key()}.pt"])
    _, h2, _ = _mad.finetune_mad(cfg, model, hist, n_attributes=5, epochs=1, cache_dir=tmp_path)
    assert h2 == h1  # read back from the cache


@pytest.mark.slow
def test_quick_run_claims_are_its_numbers(quick_run):
    run = quick_run("siglip-gap")
    claims = {c.claim: c for c in run.claims}
    per = run.measured["per_seed"]["siglip"]
    gap = claims["SigLIP trained on sparse captions shows a modality gap"]
    assert gap.per_seed == pytest.approx([r["before"]["l2m"] - r["null_threshold"] for r in per])
    rich = claims["Fine-tuning SigLIP on richer captions reduces the gap"]
    assert rich.per_seed == pytest.approx([r["rich"]["l2m"] / r["before"]["l2m"] - 1 for r in per])
    assert all(r["bias"] is not None for r in per)
    assert len(run.claims) == 6
