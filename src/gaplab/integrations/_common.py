"""What the integrations share: the missing-extra error and the held-out evaluation pass."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import numpy as np

from .._errors import InputError
from ..metrics.tracker import GapTracker, scalar_metrics

__all__ = ["require", "check_every", "embed_and_measure", "logit_scale", "EXTRA"]

#: the pip extra that installs every integration's library
EXTRA = "integrations"


def require(module: str, who: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise a one-line ``ImportError`` naming the extra to install.

    Examples
    --------
    >>> require("math", "doc").pi > 3
    True
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        pkg = package or module.split(".")[0]
        raise ImportError(
            f"{who} needs {pkg}, which is not installed: pip install 'gaplab[{EXTRA}]' "
            f"(with torch pinned: pip install torch==2.13.0 'gaplab[{EXTRA}]')",
            name=module.split(".")[0],
        ) from None


def check_every(value: Any, name: str, where: str) -> int:
    """``value`` as a positive integer, or :class:`~gaplab.InputError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def embed_and_measure(
    model: Any,
    batches: Iterable[Any],
    embed: Callable[[Any, Any], tuple[Any, Any]],
    tracker: GapTracker,
    *,
    prefix: str,
    where: str,
) -> dict[str, float]:
    """Embed every held-out batch in eval mode without gradients, then the prefixed metrics.

    ``embed(model, batch)`` returns ``(image_emb, text_emb)``. The model's training mode is
    restored afterwards, also when embedding fails. The tracker is reset first, so each call
    measures exactly the held-out set.
    """
    import torch

    tracker.reset()
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                img, txt = embed(model, batch)
                tracker.update(img, txt, where=where)
    finally:
        model.train(was_training)
    if tracker.stats is None:
        raise InputError(f"{where}: the held-out set gave no batches")
    out = scalar_metrics(tracker.compute(), prefix)
    scale = logit_scale(model)
    if scale is not None:
        out[f"{prefix}logit_scale"] = scale
    return out


def logit_scale(model: Any) -> float | None:
    """exp(``model.logit_scale``) (CLIP's inverse temperature), or None if the model has none."""
    value = getattr(model, "logit_scale", None)
    if value is not None and hasattr(value, "detach"):  # a tensor / nn.Parameter holding log(scale)
        return math.exp(float(value.detach().float().cpu().reshape(-1)[0]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.exp(float(value))
    return None
