from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("accelerate")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from gaplab import InputError, measure  # noqa: E402
from gaplab._errors import ConfigError  # noqa: E402
from gaplab.integrations.transformers import GapCallback, features  # noqa: E402
from gaplab.metrics import retrieval_recall  # noqa: E402
from tests.integrations.tiny import collate, pairs, tiny_clip  # noqa: E402


def _trainer(tmp_path, callbacks=None, max_steps=4):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=max_steps, per_device_train_batch_size=4, logging_steps=1,
        report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True, remove_unused_columns=False,
        learning_rate=1e-2,
    )
    return transformers.Trainer(model=tiny_clip(), args=args, train_dataset=pairs(16, seed=1),
                                data_collator=collate, callbacks=callbacks)


def _embed(model, data):
    batch = collate(data)
    with torch.no_grad():
        x = features(model.get_image_features(pixel_values=batch["pixel_values"]))
        y = features(model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]))
    return x.double().numpy(), y.double().numpy()


class Reporter(transformers.TrainerCallback):
    """Stands for TensorBoard/W&B: a reporting callback that runs before user callbacks."""

    def __init__(self):
        self.seen = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.seen.append((state.global_step, dict(logs)))


def test_trainer_logs_gap_metrics_every_n_steps(tmp_path):
    held_out = pairs(12, seed=2)
    reporter = Reporter()
    trainer = _trainer(tmp_path, callbacks=[reporter])
    GapCallback(held_out, every_n_steps=2, batch_size=5, retrieval=True).attach(trainer)
    trainer.model.train()
    trainer.train()
    gap_logs = [e for e in trainer.state.log_history if "gap/l2m" in e]
    assert [e["step"] for e in gap_logs] == [2, 4]
    assert [step for step, logs in reporter.seen if "gap/l2m" in logs] == [2, 4]  # loggers see them too
    assert any("loss" in logs for step, logs in reporter.seen if step == 2)  # beside the loss
    last = gap_logs[-1]
    for key in ("gap/rmg", "gap/l2i", "gap/mean_cos_paired", "gap/i2t_r1", "gap/t2i_r5", "gap/logit_scale"):
        assert key in last
    assert "gap/n" not in last and "gap/gap_vector" not in last
    # the logged numbers are the held-out set's, measured on the final weights
    model = trainer.model
    assert model.training  # training mode restored
    model.eval()
    x, y = _embed(model, held_out)
    ref = {**measure(x, y, include_pairwise=False), **retrieval_recall(x, y)}
    assert last["gap/l2m"] == pytest.approx(ref["l2m"], rel=1e-5)
    assert last["gap/rmg"] == pytest.approx(ref["rmg"], rel=1e-5)
    assert last["gap/i2t_r1"] == ref["i2t_r1"]
    assert last["gap/logit_scale"] == pytest.approx(float(model.logit_scale.detach().exp()), rel=1e-6)
    # training moved the weights between the two measurements
    assert gap_logs[0]["gap/l2m"] != last["gap/l2m"]


def test_callback_passed_at_construction_then_attached(tmp_path):
    cb = GapCallback(pairs(6, seed=3), every_n_steps=3, collate_fn=collate)
    trainer = _trainer(tmp_path, callbacks=[cb], max_steps=3)
    cb.attach(trainer)
    assert sum(c is cb for c in trainer.callback_handler.callbacks) == 1
    trainer.train()
    assert [e["step"] for e in trainer.state.log_history if "gap/l2m" in e] == [3]


def test_unattached_callback_fails_at_train_start(tmp_path):
    trainer = _trainer(tmp_path, callbacks=[GapCallback(pairs(4, seed=3), every_n_steps=1)], max_steps=1)
    with pytest.raises(ConfigError, match=r"GapCallback: not attached to a Trainer; call GapCallback\(\.\.\.\)\.attach"):
        trainer.train()


def test_evaluate_restores_mode_and_matches_measure():
    model = tiny_clip().train()
    data = pairs(10, seed=4)
    out = GapCallback(data, batch_size=3, collate_fn=collate).evaluate(model)
    assert model.training
    model.eval()
    x, y = _embed(model, data)
    ref = measure(x, y, include_pairwise=False)
    assert out["gap/l2m"] == pytest.approx(ref["l2m"], rel=1e-5)
    assert out["gap/residual_gap"] == pytest.approx(ref["residual_gap"], rel=1e-4)
    assert np.isfinite(list(out.values())).all()


def test_features_accepts_tensor_and_model_output():
    t = torch.ones(2, 4)
    assert features(t) is t
    out = transformers.modeling_outputs.BaseModelOutputWithPooling(pooler_output=t)
    assert features(out) is t
    with pytest.raises(InputError, match=r"features: expected a tensor or an output with \.pooler_output, got tuple"):
        features((t,))


@pytest.mark.parametrize("kw, msg", [
    (dict(every_n_steps=0), r"GapCallback: every_n_steps must be a positive integer, got 0"),
    (dict(batch_size=True), r"GapCallback: batch_size must be a positive integer, got True"),
])
def test_bad_options(kw, msg):
    with pytest.raises(InputError, match=msg):
        GapCallback([], **kw)


def test_bad_batch_and_empty_set():
    model = tiny_clip()
    with pytest.raises(InputError, match=r"GapCallback: a batch needs 'pixel_values' and 'input_ids', got keys \['x'\]"):
        GapCallback([{"x": torch.ones(2)}] * 2, collate_fn=lambda e: {"x": torch.ones(2)}).evaluate(model)
    with pytest.raises(InputError, match=r"GapCallback: the held-out set gave no batches"):
        GapCallback([], collate_fn=collate).evaluate(model)


def test_attach_refuses_non_trainer():
    with pytest.raises(ConfigError, match=r"GapCallback.attach: expected a transformers Trainer, got int"):
        GapCallback([]).attach(3)
