"""``GapCallback``: log the modality gap of a held-out set while a Lightning ``Trainer`` runs.

Needs ``lightning`` (the ``lightning.pytorch`` namespace; a ``pytorch_lightning`` Trainer wants
its own ``Callback`` class) and torch:
``pip install 'gaplab[integrations]'``.

The protocol
------------
The callback iterates over a held-out ``dataloader`` and needs, per batch, a pair of
embedding tensors. By default a batch is a sequence ``(images, texts, ...)`` and the
LightningModule has ``encode_image(images)`` and ``encode_text(texts)`` (open_clip's and
OpenAI CLIP's method names). Anything else: pass ``embed=lambda module, batch: (img, txt)``.
Batches are moved to the module's device first. Values are logged with
``pl_module.log_dict(..., on_step=True)``, so they reach every logger, the progress bar's
``trainer.callback_metrics`` and ``ModelCheckpoint(monitor="gap/l2m")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._errors import ConfigError, InputError
from ..metrics.tracker import GapTracker
from ._common import check_every, embed_and_measure, require

_WHO = "gaplab.integrations.lightning"
require("torch", _WHO)
require("lightning.pytorch", _WHO, package="lightning")

from lightning.pytorch import Callback  # noqa: E402  (after the friendly check above)
from lightning.pytorch.utilities import move_data_to_device  # noqa: E402

__all__ = ["GapCallback", "default_embed"]

Embed = Callable[[Any, Any], tuple[Any, Any]]


def default_embed(module: Any, batch: Any) -> tuple[Any, Any]:
    """``(module.encode_image(batch[0]), module.encode_text(batch[1]))``: the default protocol.

    Examples
    --------
    >>> class Toy:
    ...     def encode_image(self, a): return [a]
    ...     def encode_text(self, b): return [b]
    >>> default_embed(Toy(), (1, 2, "ignored"))
    ([1], [2])
    """
    if not (hasattr(module, "encode_image") and hasattr(module, "encode_text")):
        raise ConfigError(
            f"GapCallback: {type(module).__name__} has no encode_image/encode_text methods; define them "
            "or pass embed=lambda module, batch: (image_emb, text_emb)"
        )
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise InputError(
            f"GapCallback: the default embed expects batches (images, texts, ...), got {type(batch).__name__}; "
            "pass embed=lambda module, batch: (image_emb, text_emb)"
        )
    return module.encode_image(batch[0]), module.encode_text(batch[1])


class GapCallback(Callback):
    """Every ``every_n_steps`` optimizer steps, embed a held-out set and log its modality gap.

    The module is put in eval mode, the held-out batches are embedded without gradients
    (see the module docstring for the protocol), the O(N·d) gap metrics of
    :class:`gaplab.GapTracker` (``l2m``, ``l2i``, ``rmg``, mean cosines, alignment, residual
    gap; recall@K with ``retrieval``) and exp(``pl_module.logit_scale``), if it has one, are
    logged as ``prefix + name``, and the training mode is restored.

    Parameters
    ----------
    dataloader : iterable
        Held-out batches (a ``DataLoader``), not the training loader. Every process embeds
        all of it (a plain loader given to a callback is not sharded), so every rank logs
        the same numbers.
    every_n_steps : int
        Log at global steps divisible by this; must be a multiple of the Trainer's
        ``log_every_n_steps`` (else Lightning would drop the values before they reach the
        logger, so the callback refuses at ``fit`` start).
    embed : callable, optional
        ``embed(pl_module, batch) -> (image_emb, text_emb)``; default :func:`default_embed`.
    retrieval : bool
        Also log image→text / text→image recall@1, 5, 10 (O(N²) in the held-out size).
    prefix : str
        Prefix of the logged names.
    max_rows : int
        Bound on the pairs kept for retrieval.

    Examples
    --------
    >>> cb = GapCallback([], every_n_steps=50)
    >>> cb.every_n_steps, cb.prefix
    (50, 'gap/')

    In a script::

        trainer = L.Trainer(max_steps=10_000, log_every_n_steps=50,
                            callbacks=[GapCallback(val_loader, every_n_steps=500)])
        trainer.fit(clip_module, train_loader)   # logs gap/l2m, gap/rmg, ... every 500 steps
    """

    def __init__(
        self,
        dataloader: Iterable[Any],
        *,
        every_n_steps: int = 100,
        embed: Embed | None = None,
        retrieval: bool = False,
        prefix: str = "gap/",
        max_rows: int = 10_000,
    ) -> None:
        self.dataloader = dataloader
        self.every_n_steps = check_every(every_n_steps, "every_n_steps", "GapCallback")
        self.embed = embed
        self.retrieval = retrieval
        self.prefix = prefix
        self.tracker = GapTracker(retrieval=retrieval, max_rows=max_rows)
        self._last_step = -1

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Refuse an ``every_n_steps`` whose values Lightning would not pass to the loggers."""
        every_log = int(getattr(trainer, "log_every_n_steps", 1) or 0)
        if trainer.loggers and every_log and self.every_n_steps % every_log:
            raise ConfigError(
                f"GapCallback: every_n_steps={self.every_n_steps} must be a multiple of the Trainer's "
                f"log_every_n_steps={every_log}, or Lightning drops the values before the logger sees them"
            )

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        """After each optimizer step divisible by ``every_n_steps``, measure and log."""
        step = int(trainer.global_step)
        if step == 0 or step % self.every_n_steps or step == self._last_step:
            return  # (the same step twice: gradient accumulation)
        self._last_step = step
        import torch

        # float64 CPU tensors: a plain float would be logged as float32
        values = {k: torch.tensor(v, dtype=torch.float64) for k, v in self.evaluate(pl_module).items()}
        pl_module.log_dict(values, on_step=True, on_epoch=False, batch_size=1)

    def evaluate(self, pl_module: Any) -> dict[str, float]:
        """The prefixed gap metrics of ``pl_module`` on the held-out set (also usable alone)."""
        embed = self.embed or default_embed
        device = getattr(pl_module, "device", None)

        def on_device(module: Any, batch: Any) -> tuple[Any, Any]:
            if device is not None:
                batch = move_data_to_device(batch, device)
            return embed(module, batch)

        return embed_and_measure(pl_module, self.dataloader, on_device, self.tracker, prefix=self.prefix,
                                 where="GapCallback")
