r"""Free embeddings: a model whose parameters are the points themselves (sphere of 001, simulations of 000/002).

:class:`FreeEmbeddings` holds two (N, d) parameter matrices, ``x`` (images) and ``y`` (texts);
``model(i, j)`` returns ``x[i], y[j]`` for index tensors, so it trains through the same
:class:`~gaplab.train.Trainer` as a :class:`~gaplab.models.TwoTower` (the trainer feeds it
pair indices). The loss normalises, so the points live on the unit sphere and the gradient
is projected through the normalisation.

Initialisations (:func:`sphere_init`, names in :data:`INITS`):

* ``polar`` — images in a cap around the north pole, texts in a cap around the south pole
  (001 §4.3 a, "polar opposite").
* ``nearby`` — two disjoint caps whose centres are ``separation`` radians apart (001 §4.3 b).
* ``overlapped`` — both modalities drawn independently from the same cap (001 §4.3 c).
* ``random`` — both uniform on the whole sphere.
* ``gap_amended`` — the ``base`` init (polar by default), then texts rotated by the orthogonal
  Procrustes matrix :math:`W=\arg\min_{W\in O(d)}\lVert X - YW\rVert` (000 §4.4, "amend the gap
  at initialisation").

Cap sampling: centre c, cos θ uniform in [cos α, 1] (area-uniform on a 2-sphere cap; our
choice in higher d too), the azimuth uniform. 001 gives no cap size: ``spread`` (α, default
π/6) and ``separation`` are parameters.

>>> x, y = sphere_init(100, 3, "polar", seed=0)
>>> bool((x[:, 2] > 0.8).all() and (y[:, 2] < -0.8).all())
True
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from .._errors import ConfigError
from .._validation import normalize_rows

__all__ = ["FreeEmbeddings", "sphere_init", "INITS"]

#: valid initialisation names
INITS = ("polar", "nearby", "overlapped", "random", "gap_amended")


def _cap(rng: np.random.Generator, n: int, center: np.ndarray, spread: float) -> np.ndarray:
    d = center.shape[0]
    cos_t = rng.uniform(math.cos(spread), 1.0, size=n)
    sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
    g = rng.normal(size=(n, d))
    g -= np.outer(g @ center, center)  # orthogonal to the centre
    u = normalize_rows(g)
    return normalize_rows(cos_t[:, None] * center[None, :] + sin_t[:, None] * u)


def procrustes_rotation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Orthogonal :math:`W = \arg\min_{W\in O(d)} \lVert X - YW\rVert_F` (= U Vᵀ of svd(YᵀX))."""
    u, _, vt = np.linalg.svd(y.T @ x)
    return u @ vt


def sphere_init(
    n: int,
    dim: int = 3,
    init: str = "polar",
    *,
    seed: int = 0,
    spread: float = math.pi / 6,
    separation: float | None = None,
    base: str = "polar",
) -> tuple[np.ndarray, np.ndarray]:
    """Initial unit points ``(x, y)``, each (n, dim) float64, for one of :data:`INITS`.

    Parameters
    ----------
    n, dim : int
        Number of pairs and ambient dimension (001: 1,000 in R³).
    init : str
        One of :data:`INITS`.
    seed : int
        Seed of the numpy generator.
    spread : float
        Half-angle α of each cap, radians.
    separation : float, optional
        Angle between the cap centres for ``nearby`` (default 2.2·α: disjoint but close).
    base : str
        Init that ``gap_amended`` starts from.
    """
    if init not in INITS:
        raise ConfigError(f"unknown init {init!r}; valid: {', '.join(INITS)}")
    if not (isinstance(n, int) and n >= 2 and isinstance(dim, int) and dim >= 2):
        raise ConfigError(f"sphere_init: need integers n >= 2 and dim >= 2, got n={n!r}, dim={dim!r}")
    if not 0 < spread <= math.pi:
        raise ConfigError(f"sphere_init: spread must be in (0, pi], got {spread}")
    rng = np.random.default_rng(seed)
    north = np.zeros(dim)
    north[-1] = 1.0
    if init == "random":
        return normalize_rows(rng.normal(size=(n, dim))), normalize_rows(rng.normal(size=(n, dim)))
    if init == "polar":
        return _cap(rng, n, north, spread), _cap(rng, n, -north, spread)
    if init == "overlapped":
        return _cap(rng, n, north, spread), _cap(rng, n, north, spread)
    if init == "nearby":
        sep = 2.2 * spread if separation is None else float(separation)
        other = np.zeros(dim)
        other[-1], other[0] = math.cos(sep), math.sin(sep)
        return _cap(rng, n, north, spread), _cap(rng, n, other, spread)
    if base == "gap_amended":
        raise ConfigError("sphere_init: base cannot itself be 'gap_amended'")
    x, y = sphere_init(n, dim, base, seed=seed, spread=spread, separation=separation)
    return x, normalize_rows(y @ procrustes_rotation(x, y))


class FreeEmbeddings(nn.Module):
    """Two learnable point sets ``x`` (images) and ``y`` (texts), each (n, dim).

    Parameters
    ----------
    n, dim : int
        Number of pairs, dimension.
    init : str
        One of :data:`INITS` (ignored when ``x0``/``y0`` are given).
    seed, spread, separation, base
        Passed to :func:`sphere_init`.
    x0, y0 : array-like, optional
        Explicit initial points (e.g. from a simulation); rows need not be unit.
    dtype : torch.dtype
        Parameter dtype (float64 for exact comparisons with the fast path).

    Notes
    -----
    ``forward(i, j)`` → ``(x[i], y[j])`` for index tensors; :meth:`embeddings` → all points,
    normalised, detached.

    Examples
    --------
    >>> m = FreeEmbeddings(10, 3, init="overlapped", seed=1)
    >>> a, b = m(torch.arange(4), torch.arange(4))
    >>> tuple(a.shape), m.n_pairs
    ((4, 3), 10)
    """

    def __init__(
        self,
        n: int = 1000,
        dim: int = 3,
        *,
        init: str = "polar",
        seed: int = 0,
        spread: float = math.pi / 6,
        separation: float | None = None,
        base: str = "polar",
        x0: np.ndarray | Tensor | None = None,
        y0: np.ndarray | Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if (x0 is None) != (y0 is None):
            raise ConfigError("FreeEmbeddings: give both x0 and y0, or neither")
        if x0 is None:
            xa, ya = sphere_init(n, dim, init, seed=seed, spread=spread, separation=separation, base=base)
        else:
            xa = np.asarray(torch.as_tensor(x0).detach().cpu().numpy(), dtype=np.float64)
            ya = np.asarray(torch.as_tensor(y0).detach().cpu().numpy(), dtype=np.float64)
            if xa.ndim != 2 or xa.shape != ya.shape:
                raise ConfigError(
                    f"FreeEmbeddings: x0 and y0 must be 2-D of the same shape, got {xa.shape} and {ya.shape}"
                )
        self.x = nn.Parameter(torch.tensor(xa, dtype=dtype))
        self.y = nn.Parameter(torch.tensor(ya, dtype=dtype))
        self.init = init if x0 is None else "given"

    @property
    def n_pairs(self) -> int:
        """Number of (image, text) point pairs ``n``."""
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        """Dimension of every point."""
        return int(self.x.shape[1])

    def encode_image(self, index: Tensor) -> Tensor:
        """The image points ``x[index]``, as stored (not normalised), with gradient."""
        return self.x[index]

    def encode_text(self, index: Tensor) -> Tensor:
        """The text points ``y[index]``, as stored (not normalised), with gradient."""
        return self.y[index]

    def forward(self, images: Tensor, texts: Tensor) -> tuple[Tensor, Tensor]:
        """``(x[images], y[texts])`` for index tensors, as stored (not normalised)."""
        return self.x[images], self.y[texts]

    def embeddings(self) -> tuple[Tensor, Tensor]:
        """All points, L2-normalised and detached: ``(x̂, ŷ)``."""
        with torch.no_grad():
            return (torch.nn.functional.normalize(self.x, dim=1).detach().clone(),
                    torch.nn.functional.normalize(self.y, dim=1).detach().clone())
