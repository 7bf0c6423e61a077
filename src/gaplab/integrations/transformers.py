"""``GapCallback``: log the modality gap of a held-out set while a Hugging Face ``Trainer`` runs.

Needs ``transformers`` (and torch): ``pip install 'gaplab[integrations]'``.

How the numbers reach the logs
------------------------------
A ``TrainerCallback`` is handed ``args``, ``state``, ``control`` and the model, optimizer and
dataloaders, but not the ``Trainer``, and the ``logs`` dict that ``on_log`` receives has
already been copied into ``state.log_history`` and shown to the reporting callbacks
(TensorBoard, W&B, MLflow, ...), which run before user callbacks. Editing it would reach
neither. The supported way to log is :meth:`transformers.Trainer.log`, so the callback keeps a
(weak) reference to its trainer, given by :meth:`GapCallback.attach`, and calls
``trainer.log({"gap/l2m": ..., ...})`` from ``on_step_end``: the values get their own entry in
``trainer.state.log_history`` at that step and go to every reporting integration, beside
the loss.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from .._errors import ConfigError, InputError
from ..metrics.tracker import GapTracker
from ._common import check_every, embed_and_measure, require

_WHO = "gaplab.integrations.transformers"
require("torch", _WHO)
require("transformers", _WHO)

import torch  # noqa: E402  (after the friendly check above)
from transformers import TrainerCallback, default_data_collator  # noqa: E402

__all__ = ["GapCallback", "IMAGE_KEYS", "TEXT_KEYS", "features"]

#: batch keys passed to ``get_image_features`` / ``get_text_features`` when present
IMAGE_KEYS = ("pixel_values", "pixel_attention_mask", "spatial_shapes", "image_sizes")
TEXT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "position_ids")


def features(output: Any, where: str = "features") -> torch.Tensor:
    """The embedding tensor of a ``get_image_features`` / ``get_text_features`` result.

    transformers 4 returns the projected embedding as a tensor; transformers 5 returns a
    ``ModelOutput`` whose ``pooler_output`` holds it (``image_embeds`` / ``text_embeds`` are
    accepted too).

    Examples
    --------
    >>> import torch
    >>> features(torch.ones(2, 3)).shape
    torch.Size([2, 3])
    """
    if isinstance(output, torch.Tensor):
        return output
    for name in ("pooler_output", "image_embeds", "text_embeds"):
        value = getattr(output, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise InputError(
        f"{where}: expected a tensor or an output with .pooler_output, got {type(output).__name__}"
    )


class GapCallback(TrainerCallback):
    """Every ``every_n_steps`` optimizer steps, embed a held-out set and log its modality gap.

    The model is put in eval mode, the held-out pairs are embedded without gradients through
    ``model.get_image_features`` / ``model.get_text_features``, the O(N·d) gap metrics
    (:class:`gaplab.GapTracker`: ``l2m``, ``l2i``, ``rmg``, mean cosines, alignment,
    residual gap; recall@K with ``retrieval``) and exp(``model.logit_scale``) are logged as
    ``prefix + name`` through ``trainer.log``, and the training mode is restored.

    Parameters
    ----------
    eval_dataset : dataset
        Held-out examples (a ``torch.utils.data.Dataset``, a ``datasets.Dataset`` or a list),
        one (image, caption) pair each, as the training set is.
    every_n_steps : int
        Log at global steps divisible by this.
    batch_size : int
        Batch size of the embedding pass.
    retrieval : bool
        Also log image→text / text→image recall@1, 5, 10 (O(N²) in the held-out size).
    prefix : str
        Prefix of the logged names (``gap/l2m``). TensorBoard and W&B show a name without an
        ``eval_`` prefix under ``train/``.
    collate_fn : callable, optional
        Turns a list of examples into a batch dict. Default: the trainer's ``data_collator``.
    max_rows : int
        Bound on the pairs kept for retrieval.

    Examples
    --------
    >>> cb = GapCallback([], every_n_steps=50)
    >>> cb.every_n_steps, cb.prefix
    (50, 'gap/')

    With a trainer (``attach`` adds the callback and lets it call ``trainer.log``)::

        trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=collate)
        GapCallback(eval_dataset=held_out, every_n_steps=100, batch_size=64).attach(trainer)
        trainer.train()   # trainer.state.log_history now holds gap/l2m, gap/rmg, ...
    """

    def __init__(
        self,
        eval_dataset: Any,
        *,
        every_n_steps: int = 100,
        batch_size: int = 64,
        retrieval: bool = False,
        prefix: str = "gap/",
        collate_fn: Callable[[list[Any]], Any] | None = None,
        max_rows: int = 10_000,
    ) -> None:
        self.eval_dataset = eval_dataset
        self.every_n_steps = check_every(every_n_steps, "every_n_steps", "GapCallback")
        self.batch_size = check_every(batch_size, "batch_size", "GapCallback")
        self.retrieval = retrieval
        self.prefix = prefix
        self.collate_fn = collate_fn
        self.tracker = GapTracker(retrieval=retrieval, max_rows=max_rows)
        self._trainer: weakref.ReferenceType[Any] | None = None

    def attach(self, trainer: Any) -> GapCallback:
        """Add this callback to ``trainer`` (once) and log through ``trainer.log``; returns self.

        Also for a callback already passed as ``Trainer(callbacks=[cb])``.
        """
        if not hasattr(trainer, "log") or not hasattr(trainer, "callback_handler"):
            raise ConfigError(f"GapCallback.attach: expected a transformers Trainer, got {type(trainer).__name__}")
        if not any(cb is self for cb in trainer.callback_handler.callbacks):
            trainer.add_callback(self)
        self._trainer = weakref.ref(trainer)
        return self

    def _bound_trainer(self) -> Any:
        trainer = self._trainer() if self._trainer is not None else None
        if trainer is None:
            raise ConfigError(
                "GapCallback: not attached to a Trainer; call GapCallback(...).attach(trainer) after building "
                "the Trainer (a callback cannot reach trainer.log, which TensorBoard/W&B listen to, otherwise)"
            )
        return trainer

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Fail at the start, not after ``every_n_steps`` steps, if ``attach`` was forgotten."""
        self._bound_trainer()

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        """At every ``every_n_steps``-th global step, measure the held-out set and log it."""
        if state.global_step % self.every_n_steps:
            return
        trainer = self._bound_trainer()
        # Trainer.log clears control.should_log, which DefaultFlowCallback has just set for the
        # loss: keep it, so the loss of this step is still logged
        should_log = control.should_log
        trainer.log(self.evaluate(model if model is not None else trainer.model, trainer))
        control.should_log = trainer.control.should_log = should_log

    def evaluate(self, model: Any, trainer: Any = None) -> dict[str, float]:
        """The prefixed gap metrics of ``model`` on the held-out set (also usable outside training).

        ``trainer`` (optional) supplies the default collator.
        """
        from torch.utils.data import DataLoader

        collate = self.collate_fn or getattr(trainer, "data_collator", None)
        if collate is None:
            collate = default_data_collator
        loader = DataLoader(self.eval_dataset, batch_size=self.batch_size, shuffle=False, collate_fn=collate)
        return embed_and_measure(model, loader, _embed_pair, self.tracker, prefix=self.prefix,
                                 where="GapCallback")


def _device_of(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def _embed_pair(model: Any, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Image and text embeddings of one collated batch dict."""
    if not hasattr(batch, "keys"):
        raise InputError(f"GapCallback: a collated batch must be a dict of tensors, got {type(batch).__name__}")
    device = _device_of(model)

    def pick(keys: tuple[str, ...]) -> dict[str, Any]:
        return {k: batch[k].to(device) if hasattr(batch[k], "to") else batch[k] for k in keys if k in batch}

    image, text = pick(IMAGE_KEYS), pick(TEXT_KEYS)
    if "pixel_values" not in image or "input_ids" not in text:
        raise InputError(
            f"GapCallback: a batch needs 'pixel_values' and 'input_ids', got keys {sorted(batch.keys())}"
        )
    img = features(model.get_image_features(**image), "GapCallback (get_image_features)")
    txt = features(model.get_text_features(**text), "GapCallback (get_text_features)")
    return img, txt
