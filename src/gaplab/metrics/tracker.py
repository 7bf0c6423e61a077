"""``GapTracker``: the modality gap of a model while it trains, from any training loop.

A :class:`~gaplab.metrics.MetricSuite` under the name users look for, plus optional
retrieval recall. The O(N·d) metrics come from the suite's float64 sufficient statistics
(:class:`~gaplab.metrics.PairStats`), so memory is O(d) however many batches are added and
two trackers merge exactly. Recall@K needs every row, so ``retrieval=True`` keeps a bounded
copy of the embeddings (``max_rows`` pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import check_pair, normalize_rows, to_numpy
from .functional.retrieval import _check_ks, _recall_at, _retrieval_ranks
from .suite import MetricSuite

__all__ = ["GapTracker", "scalar_metrics"]

#: keys of :meth:`GapTracker.compute` that are counts or vectors, not metrics to plot
NOT_LOGGED = frozenset({"n", "n_images", "n_texts", "dim", "gap_vector", "retrieval_n"})


class GapTracker(MetricSuite):
    """Accumulate (image, text) embedding batches during training; compute the gap metrics.

    Framework-free: ``update`` takes numpy arrays or torch tensors (any dtype, any device;
    tensors are detached and copied to the CPU) and adds them to float64 sums, so
    ``compute`` is exact whatever the batch split. It is a
    :class:`~gaplab.metrics.MetricSuite` (same ``update`` / ``merge`` / ``compute`` /
    ``reset``, same keys) that can also report retrieval recall.

    Parameters
    ----------
    retrieval : bool
        Also report image→text and text→image recall@K (``i2t_r1``, ``t2i_r1``, ...). Recall
        needs all rows, so the tracker keeps a float32 (float64 if given float64) copy of the
        first ``max_rows`` pairs and ranks them at ``compute`` time, O(max_rows²) blockwise.
        ``retrieval_n`` in the result says how many pairs were ranked.
    max_rows : int
        Bound on the pairs kept for retrieval (ignored without ``retrieval``). Rows beyond it
        still count in every other metric.
    ks : sequence of int
        The K of recall@K.
    normalize : bool
        L2-normalise rows before l2m / l2i / alignment / gap vector (cosines always do).
    alpha : float
        Exponent of the alignment metric.

    Notes
    -----
    One tracker describes one set of rows: in a training loop, ``reset()`` (or a new tracker)
    before each pass over the held-out set. Retrieval needs one-to-one pairs: ``image_index``
    is refused when ``retrieval=True`` (the other metrics accept it, as in ``MetricSuite``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(40, 8)) + 1, rng.normal(size=(40, 8)) - 1
    >>> tracker = GapTracker(retrieval=True, ks=(1,))
    >>> for lo in range(0, 40, 16):          # e.g. inside ``for batch in val_loader:``
    ...     _ = tracker.update(x[lo:lo + 16], y[lo:lo + 16])
    >>> r = tracker.compute()
    >>> r["n"], r["retrieval_n"], round(r["l2m"], 3) > 1
    (40, 40, True)
    >>> tracker.reset(); tracker.stats is None
    True
    """

    def __init__(
        self,
        *,
        retrieval: bool = False,
        max_rows: int = 10_000,
        ks: Sequence[int] = (1, 5, 10),
        normalize: bool = True,
        alpha: float = 2.0,
    ) -> None:
        if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 2:
            raise InputError(f"GapTracker: max_rows must be an integer >= 2, got {max_rows!r}")
        super().__init__(normalize=normalize, alpha=alpha)
        self.retrieval = bool(retrieval)
        self.max_rows = int(max_rows)
        self.ks = _check_ks(ks, "GapTracker")
        self._kept: list[tuple[np.ndarray, np.ndarray]] = []
        self._n_kept = 0

    def update(self, x: Any, y: Any, *, image_index: Any = None, where: str = "GapTracker.update") -> GapTracker:
        """Add a batch: ``x`` image embeddings (B, d), ``y`` text embeddings (B, d), row-paired.

        Returns the tracker, so calls chain. Raises :class:`~gaplab.InputError` on bad shapes,
        NaN/inf, all-zero rows or a width that differs from earlier batches.
        """
        if self.retrieval and image_index is not None:
            raise InputError(f"{where}: retrieval=True needs one-to-one pairs; pass one caption per image "
                             "(image_index is only supported with retrieval=False)")
        x, y = to_numpy(x), to_numpy(y)  # a tensor leaves its device once, not per check
        super().update(x, y, image_index=image_index, where=where)  # validates every value
        if self.retrieval and self._n_kept < self.max_rows:
            xa, ya, _ = check_pair(x, y, where=where, min_rows=1, check_values=False)
            take = min(xa.shape[0], self.max_rows - self._n_kept)
            dt = np.promote_types(np.promote_types(xa.dtype, ya.dtype), np.float32)
            self._kept.append((np.array(xa[:take], dtype=dt), np.array(ya[:take], dtype=dt)))
            self._n_kept += take
        return self

    def merge(self, other: MetricSuite) -> GapTracker:
        """A new tracker holding the rows of both (neither changes); retrieval rows stay bounded."""
        out = GapTracker(retrieval=self.retrieval, max_rows=self.max_rows, ks=self.ks,
                         normalize=self.normalize, alpha=self.alpha)
        out.stats = super().merge(other).stats
        if self.retrieval:
            for xa, ya in [*self._kept, *getattr(other, "_kept", [])]:
                take = min(xa.shape[0], out.max_rows - out._n_kept)
                if take > 0:
                    out._kept.append((xa[:take], ya[:take]))
                    out._n_kept += take
        return out

    def compute(self) -> dict[str, Any]:
        """The :class:`~gaplab.metrics.MetricSuite` metrics, plus recall@K with ``retrieval``.

        Raises :class:`~gaplab.InputError` before 2 pairs have been added.
        """
        out = super().compute()
        if self.retrieval:
            xa = normalize_rows(np.concatenate([a for a, _ in self._kept]))
            ya = normalize_rows(np.concatenate([b for _, b in self._kept]))
            out.update(_recall_at(_retrieval_ranks(xa, ya, None, None), self.ks))
            out["retrieval_n"] = self._n_kept
        return out

    def reset(self) -> None:
        """Forget every row (sums and kept retrieval rows); settings stay."""
        super().reset()
        self._kept = []
        self._n_kept = 0


def scalar_metrics(result: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The plottable metrics of a :meth:`GapTracker.compute` result, as ``{prefix + key: float}``.

    Counts (``n``, ``dim``, ...) and the gap vector are left out: what a logger plots.

    Examples
    --------
    >>> scalar_metrics({"n": 10, "l2m": 0.5, "gap_vector": [0.1, 0.2]}, prefix="gap/")
    {'gap/l2m': 0.5}
    """
    return {f"{prefix}{k}": float(v) for k, v in result.items() if k not in NOT_LOGGED}
