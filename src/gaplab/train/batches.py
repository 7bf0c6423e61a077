"""The batch order both engines draw from: ``default_rng(seed)``, one permutation per epoch.

:class:`BatchOrder` hands out the pair indices of each step. A new permutation of the N
pairs is drawn (from ``numpy.random.default_rng(seed)``) when the current one cannot fill
the next batch: with ``drop_last`` (the default) the last ``N mod B`` pairs of each epoch
are skipped, otherwise the last batch of an epoch is short. :meth:`BatchOrder.next` gives one
batch (the torch engine), :meth:`BatchOrder.take` the indices of many equal batches at once
(the numba engine); both advance the same stream, so a run is the same whichever engine
draws it and however its steps are split into chunks. ``state_dict()`` /
``load_state_dict()`` save and restore the stream exactly (resume).

:func:`mismatch_index` is the fixed mismatch of the data (``mismatch_mode="fixed"``): the
text index of each pair, a fraction of them cycled among themselves.

>>> a, b = BatchOrder(10, 4, seed=0), BatchOrder(10, 4, seed=0)
>>> [len(a.next()) for _ in range(3)]              # 2 full batches per epoch; 2 pairs skipped
[4, 4, 4]
>>> a = BatchOrder(10, 4, seed=0)
>>> bool((np.concatenate([a.next() for _ in range(3)]) == b.take(3)).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import ConfigError

__all__ = ["BatchOrder", "mismatch_index"]


def mismatch_index(n: int, fraction: float, seed: int) -> np.ndarray:
    """Text index for mismatched pairs: a fraction of positions cycled among themselves.

    ``round(fraction * n)`` pairs (chosen by ``default_rng([seed, 1])``) each receive the text
    of the next chosen pair, so every chosen pair is wrong (for two or more) and the texts
    stay a permutation.

    >>> idx = mismatch_index(10, 0.3, 0)
    >>> int((idx != np.arange(10)).sum()), sorted(idx.tolist()) == list(range(10))
    (3, True)
    """
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"mismatch must be a fraction in [0, 1], got {fraction!r}")
    idx = np.arange(n)
    k = int(round(fraction * n))
    if k >= 2:
        chosen = np.random.default_rng([seed, 1]).choice(n, size=k, replace=False)
        idx[chosen] = np.roll(chosen, -1)
    return idx


class BatchOrder:
    """Pair indices per step: one seeded permutation per epoch (see the module docstring).

    Parameters
    ----------
    n : int
        Number of pairs.
    batch_size : int
        Pairs per step, in [1, n].
    seed : int
        Seed of ``numpy.random.default_rng``.
    drop_last : bool
        Skip the last ``n mod batch_size`` pairs of each epoch (every batch full).
    """

    def __init__(self, n: int, batch_size: int, seed: int, *, drop_last: bool = True) -> None:
        if not 1 <= batch_size <= n:
            raise ConfigError(f"BatchOrder: batch_size must be in [1, {n}], got {batch_size!r}")
        self.n, self.batch_size, self.drop_last = int(n), int(batch_size), bool(drop_last)
        self._rng = np.random.default_rng(seed)
        self._perm: np.ndarray | None = None
        self._pos = 0

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch: ``n // batch_size`` with ``drop_last``, else ``ceil(n / batch_size)``."""
        b = self.batch_size
        return self.n // b if self.drop_last else -(-self.n // b)

    def _refill_if_needed(self) -> None:
        need = self.batch_size if self.drop_last else 1
        if self._perm is None or self._pos + need > self.n:
            self._perm = self._rng.permutation(self.n)
            self._pos = 0

    def next(self) -> np.ndarray:
        """The indices of the next batch (short at an epoch's end only without ``drop_last``)."""
        self._refill_if_needed()
        assert self._perm is not None
        idx = self._perm[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return idx

    def take(self, steps: int) -> np.ndarray:
        """The indices of the next ``steps`` batches, concatenated (``steps * batch_size``, int64).

        The same stream as ``steps`` calls of :meth:`next`; needs ``drop_last`` (equal batches).
        """
        if not self.drop_last:
            raise ConfigError("BatchOrder.take needs drop_last=True (batches of equal size)")
        b = self.batch_size
        out = np.empty(steps * b, dtype=np.int64)
        filled, usable = 0, (self.n // b) * b
        while filled < out.size:
            self._refill_if_needed()
            assert self._perm is not None
            k = min(usable - self._pos, out.size - filled)
            out[filled : filled + k] = self._perm[self._pos : self._pos + k]
            filled += k
            self._pos += k
        return out

    def state_dict(self) -> dict[str, Any]:
        """The generator state, the current epoch's permutation and the position in it."""
        return {"rng": self._rng.bit_generator.state, "perm": None if self._perm is None else self._perm.copy(),
                "pos": self._pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position of :meth:`state_dict`, so the same batches follow."""
        self._rng.bit_generator.state = state["rng"]
        self._perm = None if state["perm"] is None else np.asarray(state["perm"])
        self._pos = int(state["pos"])
