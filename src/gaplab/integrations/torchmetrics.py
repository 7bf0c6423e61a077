"""``ModalityGap``: gaplab's O(N·d) gap metrics as a torchmetrics ``Metric`` (DDP-ready).

Needs ``torchmetrics`` (and torch): ``pip install 'gaplab[integrations]'``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_pair, to_numpy
from ..metrics.functional._stats import SUMMED_FIELDS, PairStats, accumulate
from ..metrics.suite import MetricSuite
from ._common import require

_WHO = "gaplab.integrations.torchmetrics"
require("torch", _WHO)
require("torchmetrics", _WHO)

import torch  # noqa: E402  (after the friendly check above)
from torchmetrics import Metric  # noqa: E402

__all__ = ["ModalityGap", "SCALAR_KEYS"]

#: the names :meth:`ModalityGap.compute` returns (each a float64 0-d tensor)
SCALAR_KEYS = ("l2m", "l2i", "rmg", "mean_cos_image", "mean_cos_text", "mean_cos_paired",
               "mean_cos_cross", "alignment", "residual_gap")
_COUNTS = ("n_x", "n_y", "n_pairs")


class ModalityGap(Metric):
    r"""The modality gap (l2m, RMG, mean cosines, ...) of paired embeddings, streamed and mergeable.

    The metric state is gaplab's sufficient statistics (:class:`~gaplab.metrics.PairStats`):
    the counts and the float64 sums :math:`\sum_i \hat x_i`, :math:`\sum_i \hat y_i`,
    :math:`\sum_i \cos(x_i, y_i)`, :math:`\sum_i \lVert x_i - y_i\rVert`, ..., each declared with
    ``dist_reduce_fx="sum"``. Under DDP torchmetrics all-reduces them before ``compute``, and
    ``merge_state`` adds them, so the result is the metric of the union of all rows, exact up
    to float64 rounding (no averaging of per-rank averages). Memory is O(d).

    The maths is :class:`~gaplab.metrics.MetricSuite`'s (each batch goes through the same
    float64 accumulation), e.g. :math:`\mathrm{l2m} = \lVert \bar{\hat x} - \bar{\hat y}\rVert_2`
    (Liang et al., NeurIPS 2022, §4; Schrodi et al., ICLR 2025, §3).

    Parameters
    ----------
    dim : int
        Embedding width d (the state's shape is fixed at construction, so that every process
        holds the same shapes even before its first batch).
    key : str, optional
        Return only this metric from ``compute`` (a 0-d tensor, e.g. for ``self.log``); one of
        :data:`SCALAR_KEYS`. Default: a dict of all of them.
    normalize : bool
        L2-normalise rows before l2m / l2i / alignment / gap vector.
    alpha : float
        Exponent of the alignment metric.
    **kwargs
        Passed to ``torchmetrics.Metric`` (``sync_on_compute``, ``process_group``, ...).

    Notes
    -----
    States are float64 tensors on the metric's device (``.to(device)`` moves them; torchmetrics
    keeps their dtype under ``.half()``); each batch is copied to the CPU once to be summed in
    float64, so a device without float64 (Apple MPS) is not supported.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(64, 8, generator=g) + 1, torch.randn(64, 8, generator=g) - 1
    >>> a, b, whole = ModalityGap(dim=8), ModalityGap(dim=8), ModalityGap(dim=8)
    >>> a.update(x[:20], y[:20]); b.update(x[20:], y[20:]); whole.update(x, y)
    >>> a.merge_state(b)
    >>> bool(abs(a.compute()["l2m"] - whole.compute()["l2m"]) < 1e-12)
    True
    >>> m = ModalityGap(dim=8, key="rmg"); m.update(x, y)
    >>> m.compute().shape, m.compute().dtype
    (torch.Size([]), torch.float64)
    """

    is_differentiable = False
    higher_is_better: bool | None = None
    full_state_update = False
    #: gaplab metadata (as on MetricSuite)
    streamable = True

    def __init__(
        self, dim: int, *, key: str | None = None, normalize: bool = True, alpha: float = 2.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise InputError(f"ModalityGap: dim must be a positive integer, got {dim!r}")
        if key is not None and key not in SCALAR_KEYS:
            raise InputError(f"ModalityGap: key must be one of {list(SCALAR_KEYS)} or None, got {key!r}")
        if not (np.isfinite(alpha) and alpha > 0):
            raise InputError(f"ModalityGap: alpha must be a positive finite number, got {alpha!r}")
        self.dim = int(dim)
        self.key = key
        self.normalize = bool(normalize)
        self.alpha = float(alpha)
        for f in SUMMED_FIELDS:
            if f.name in _COUNTS:
                default = torch.zeros((), dtype=torch.int64)
            elif f.name.startswith("sum_x") or f.name.startswith("sum_y"):
                default = torch.zeros(self.dim, dtype=torch.float64)
            else:
                default = torch.zeros((), dtype=torch.float64)
            self.add_state(f.name, default=default, dist_reduce_fx="sum")

    def update(self, x: Any, y: Any, image_index: Any = None) -> None:
        """Add a batch: image embeddings ``x`` (B, d), text embeddings ``y`` (B, d) or (K, d).

        Tensors on any device and dtype (or numpy arrays); they are detached. With
        ``image_index`` caption k pairs with image ``image_index[k]`` of this batch.
        """
        where = "ModalityGap.update"
        xa, ya, idx = check_pair(to_numpy(x), to_numpy(y), where=where, image_index=image_index,
                                 min_rows=1, check_values=False)
        if xa.shape[1] != self.dim:
            raise InputError(f"{where}: the metric was built with dim={self.dim}, got a batch of width "
                             f"{xa.shape[1]} (image {xa.shape}, text {ya.shape})")
        batch = accumulate(PairStats(dim=self.dim, normalize=self.normalize, alpha=self.alpha),
                           xa, ya, idx, where=where)
        for f in SUMMED_FIELDS:
            state = getattr(self, f.name)
            value = torch.as_tensor(getattr(batch, f.name), dtype=state.dtype).to(state.device)
            setattr(self, f.name, state + value)

    def pair_stats(self) -> PairStats:
        """The (synced, if computing under DDP) state as a :class:`~gaplab.metrics.PairStats`.

        ``MetricSuite.from_stats(metric.pair_stats()).compute()`` adds the gap vector and counts.
        """
        sums: dict[str, Any] = {}
        for f in SUMMED_FIELDS:
            value = getattr(self, f.name).detach().cpu()
            sums[f.name] = int(value) if f.name in _COUNTS else (
                value.numpy().astype(np.float64) if value.ndim else float(value))
        return PairStats(dim=self.dim, normalize=self.normalize, alpha=self.alpha, **sums)

    def compute(self) -> Any:
        """``{name: float64 0-d tensor}`` for :data:`SCALAR_KEYS`, or the one chosen by ``key``.

        Raises :class:`~gaplab.InputError` before 2 images and 2 texts were added.
        """
        result = MetricSuite.from_stats(self.pair_stats()).compute()
        device = self.device
        out = {k: torch.tensor(float(result[k]), dtype=torch.float64, device=device)
               for k in SCALAR_KEYS}
        return out[self.key] if self.key is not None else out
