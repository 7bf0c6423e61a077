"""MAD — Multi-modal Attributes and Digits (Schrodi et al., ICLR 2025, Appendix C).

A generator of image–caption pairs whose latent factors are fully known, offline and
deterministic by seed. Each sample is a handwritten digit with five attributes:

============  =====================================================================
factor        values (caption words)
============  =====================================================================
digit         ``0`` … ``9``
thickness     ``thickening``, ``thinning``, ``no thickthinning``
swelling      ``swelling``, ``no swelling``
fracture      ``fracture``, ``no fracture``
scale         ``large``, ``small``
colour        ``gray``, ``red``, ``green``, ``blue``, ``cyan``, ``magenta``, ``yellow``
============  =====================================================================

16 attribute words + 10 digits + ``<start>``/``<end>`` = the paper's 28-word vocabulary.
A caption chains the words of the mentioned factors with hyphens, in shuffled order
(``"yellow-swelling-thickening-9-large-fracture"``); a mentioned "off" value is still a
word (``"no swelling"``).

Where we differ from the paper, and which reading we took
---------------------------------------------------------
* **Digit source.** The paper uses MNIST through Morpho-MNIST (Castro et al., 2019). No
  package ships MNIST offline, so digits come from scikit-learn's ``load_digits`` (1,797
  8×8 digits), upsampled (bilinear) and contrast-stretched to ``image_size`` (28 by
  default, as MNIST). Train and test use disjoint source digits (first 80 % / last 20 % of
  ``load_digits``), so test images show unseen handwriting.
* **Morphology** (the Morpho-MNIST operations, re-implemented with ``scipy.ndimage``):
  thickening / thinning = grey dilation / erosion with a disk of radius ≈ 1 px at 28 px;
  swelling = a radial magnifying warp around a random stroke pixel (Morpho-MNIST's
  ``Swelling``: radius ≈ 8/28 of the side, strength 0.5 power law); fracture = 3 cuts
  ~1.5 px wide, each across the stroke (direction from the local structure tensor) at a
  random stroke pixel. Scale: ``large`` fills the frame, ``small`` is the same image
  shrunk by 0.6 about the centre. Colour multiplies the grey image by an RGB triple
  (``gray`` = 0.7 on every channel).
* **Attributes per caption.** The paper "randomly select[s] [the mentioned attributes]
  at every batch". We redraw *which* ``n_attributes`` attributes are mentioned every time
  :meth:`MADDataset.captions` is called (the engine calls it once per batch), for each
  row independently; ``shared_selection=True`` draws one subset for the whole call
  (batch) instead. The digit is always mentioned in this mode, as in the paper.
* **Presence probabilities** (Fig. 3c): ``presence={"colour": 1.0, "digit": 0.2, ...}``
  mentions each factor independently with its probability (factors not named get
  probability 1). A caption that would come out empty mentions one factor drawn in
  proportion to the probabilities.

Examples
--------
>>> ds = make_mad(4, seed=0, image_size=16)
>>> ds.images.shape, ds.factors.shape
((4, 3, 16, 16), (4, 6))
>>> caps = ds.captions(n_attributes=5, rng=0)
>>> sorted(parse_caption(caps[0])) == sorted(FACTOR_NAMES)
True
>>> tok = MADTokenizer()
>>> len(tok.vocab), tok.encode(["red-7"]).shape
(28, (1, 8))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .._errors import ConfigError, InputError
from ._dataset import register_dataset

__all__ = [
    "FACTORS",
    "FACTOR_NAMES",
    "ATTRIBUTES",
    "VOCAB",
    "COLOURS",
    "MADDataset",
    "MADTokenizer",
    "make_mad",
    "render_mad_image",
    "make_caption",
    "parse_caption",
    "factor_prompts",
]

#: every factor and its caption words; the column order of :attr:`MADDataset.factors`
FACTORS: dict[str, tuple[str, ...]] = {
    "digit": tuple(str(d) for d in range(10)),
    "thickness": ("thickening", "thinning", "no thickthinning"),
    "swelling": ("swelling", "no swelling"),
    "fracture": ("fracture", "no fracture"),
    "scale": ("large", "small"),
    "colour": ("gray", "red", "green", "blue", "cyan", "magenta", "yellow"),
}
FACTOR_NAMES: tuple[str, ...] = tuple(FACTORS)
#: the five attributes (every factor but the digit)
ATTRIBUTES: tuple[str, ...] = FACTOR_NAMES[1:]
START, END = "<start>", "<end>"
#: the 28-word vocabulary: start, end, 10 digits, 16 attribute words
VOCAB: tuple[str, ...] = (START, END) + tuple(w for f in FACTOR_NAMES for w in FACTORS[f])
#: RGB of each colour value
COLOURS: dict[str, tuple[float, float, float]] = {
    "gray": (0.7, 0.7, 0.7),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.3, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
}
_WORD_TO_FACTOR = {w: (f, i) for f in FACTOR_NAMES for i, w in enumerate(FACTORS[f])}
_SEPARATOR = "-"
#: share of sklearn's digits used for the train split (the rest is test)
_TRAIN_SHARE = 0.8


# --------------------------------------------------------------------------- images


@lru_cache(maxsize=1)
def _source_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float64), d.target.astype(np.int64)


def _disk(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (xx**2 + yy**2) <= radius**2 + 1e-9


def _upsample(digit8: np.ndarray, size: int) -> np.ndarray:
    """8×8 digit → size×size grey image in [0, 1], the digit ~0.8 of the side, centred."""
    from scipy import ndimage

    inner = max(4, int(round(size * 0.8)))
    up = ndimage.zoom(digit8, inner / 8.0, order=1, mode="nearest", grid_mode=True)
    up = np.clip((up - 0.25) / 0.5, 0.0, 1.0)  # contrast-stretch the blurry upsampling into strokes
    out = np.zeros((size, size))
    o = (size - up.shape[0]) // 2
    out[o : o + up.shape[0], o : o + up.shape[1]] = up[: size - o, : size - o]
    return out


def _thickness(img: np.ndarray, value: int, size: int) -> np.ndarray:
    from scipy import ndimage

    if value == 2:  # no thickthinning
        return img
    fp = _disk(max(1.0, size / 28.0))
    if value == 0:  # thickening
        return ndimage.grey_dilation(img, footprint=fp)
    thin = ndimage.grey_erosion(img, footprint=_disk(max(0.8, 0.8 * size / 28.0)) | _cross())
    return thin if thin.max() > 0.3 else img * 0.6  # never erase the digit completely


def _cross() -> np.ndarray:
    return np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def _stroke_pixel(img: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    ys, xs = np.nonzero(img > 0.5 * img.max())
    if ys.size == 0:
        return img.shape[0] // 2, img.shape[1] // 2
    k = int(rng.integers(ys.size))
    return int(ys[k]), int(xs[k])


def _swelling(img: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Morpho-MNIST's swelling: magnify a disk around a stroke pixel (power-law radial warp)."""
    from scipy import ndimage

    cy, cx = _stroke_pixel(img, rng)
    radius = 8.0 * size / 28.0
    strength = 0.5
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    d = np.hypot(dy, dx)
    inside = d < radius
    f = np.ones_like(d)
    f[inside] = (d[inside] / radius) ** (1.0 / strength - 1.0)  # < 1: sample closer to the centre
    src = np.stack([cy + dy * f, cx + dx * f])
    return ndimage.map_coordinates(img, src, order=1, mode="constant")


def _fracture(img: np.ndarray, rng: np.random.Generator, size: int, n_cuts: int = 3) -> np.ndarray:
    """Cut the stroke ``n_cuts`` times, each cut across the local stroke direction."""
    from scipy import ndimage

    out = img.copy()
    gy, gx = ndimage.sobel(img, 0), ndimage.sobel(img, 1)
    w = ndimage.uniform_filter
    jyy, jxx, jxy = w(gy * gy, 5), w(gx * gx, 5), w(gx * gy, 5)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    half_len, half_width = 3.5 * size / 28.0, 0.75 * size / 28.0
    for _ in range(n_cuts):
        cy, cx = _stroke_pixel(out, rng)
        t = np.array([[jyy[cy, cx], jxy[cy, cx]], [jxy[cy, cx], jxx[cy, cx]]])
        if np.trace(t) <= 1e-12:
            ang = rng.uniform(0, np.pi)
            v = np.array([np.sin(ang), np.cos(ang)])
        else:
            v = np.linalg.eigh(t)[1][:, -1]  # (dy, dx) across the stroke
        ry, rx = yy - cy, xx - cx
        along = ry * v[0] + rx * v[1]
        across = np.abs(ry * v[1] - rx * v[0])
        out[(np.abs(along) <= half_len) & (across <= half_width)] = 0.0
    return out


def _scale(img: np.ndarray, value: int) -> np.ndarray:
    from scipy import ndimage

    if value == 0:  # large
        return img
    s = 0.6
    c = (np.array(img.shape) - 1) / 2.0
    return ndimage.affine_transform(img, np.eye(2) / s, offset=c - c / s, order=1, mode="constant")


def render_mad_image(
    digit8: np.ndarray,
    factors: Any,
    *,
    image_size: int = 28,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Render one MAD image, ``(3, image_size, image_size)`` float32 in [0, 1].

    ``digit8`` is an 8×8 digit in [0, 1] (sklearn's ``load_digits().images / 16``);
    ``factors`` gives the value index of each factor in :data:`FACTOR_NAMES` order (the
    digit entry is ignored here). ``rng`` drives where swelling and fractures happen.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> img = render_mad_image(load_digits().images[0] / 16, [0, 2, 1, 1, 0, 1], image_size=16, rng=0)
    >>> img.shape, float(img[1].max()), float(img[2].max())  # red: green and blue channels empty
    ((3, 16, 16), 0.0, 0.0)
    """
    rng = np.random.default_rng(rng)
    f = [int(v) for v in factors]
    if len(f) != len(FACTOR_NAMES):
        raise InputError(f"render_mad_image: factors needs {len(FACTOR_NAMES)} entries, got {len(f)}")
    for name, v in zip(FACTOR_NAMES, f, strict=True):
        if not 0 <= v < len(FACTORS[name]):
            raise InputError(f"render_mad_image: {name} must be in [0, {len(FACTORS[name])}), got {v}")
    img = _upsample(np.asarray(digit8, dtype=np.float64), image_size)
    img = _thickness(img, f[1], image_size)
    if f[2] == 0:
        img = _swelling(img, rng, image_size)
    if f[3] == 0:
        img = _fracture(img, rng, image_size)
    img = np.clip(_scale(img, f[4]), 0.0, 1.0)
    rgb = np.asarray(COLOURS[FACTORS["colour"][f[5]]])
    return (rgb[:, None, None] * img[None]).astype(np.float32)


# --------------------------------------------------------------------------- captions


def make_caption(factors: Any, mentioned: Any, rng: np.random.Generator | int | None = None) -> str:
    """The caption of one sample: the words of the ``mentioned`` factors, shuffled, hyphen-chained.

    Examples
    --------
    >>> make_caption([9, 0, 0, 0, 0, 6], ["digit", "colour"], rng=1) in {"9-yellow", "yellow-9"}
    True
    """
    rng = np.random.default_rng(rng)
    names = list(mentioned)
    for n in names:
        if n not in FACTORS:
            raise InputError(f"make_caption: unknown factor {n!r}; factors: {', '.join(FACTOR_NAMES)}")
    words = [FACTORS[n][int(factors[FACTOR_NAMES.index(n)])] for n in names]
    order = rng.permutation(len(words))
    return _SEPARATOR.join(words[i] for i in order)


def parse_caption(caption: str) -> dict[str, int]:
    """Factor → value index of every factor a caption mentions (checks the grammar).

    Raises :class:`~gaplab.InputError` for an unknown word or a factor named twice.

    Examples
    --------
    >>> parse_caption("yellow-swelling-9")
    {'colour': 6, 'swelling': 0, 'digit': 9}
    """
    out: dict[str, int] = {}
    if not caption:
        raise InputError("parse_caption: empty caption")
    for w in caption.split(_SEPARATOR):
        if w not in _WORD_TO_FACTOR:
            raise InputError(f"parse_caption: unknown word {w!r} in {caption!r}")
        f, i = _WORD_TO_FACTOR[w]
        if f in out:
            raise InputError(f"parse_caption: factor {f!r} named twice in {caption!r}")
        out[f] = i
    return out


def factor_prompts(factor: str) -> list[str]:
    """One-word captions for zero-shot classification of ``factor`` (its value words, in order).

    Examples
    --------
    >>> factor_prompts("scale")
    ['large', 'small']
    """
    if factor not in FACTORS:
        raise InputError(f"factor_prompts: unknown factor {factor!r}; factors: {', '.join(FACTOR_NAMES)}")
    return list(FACTORS[factor])


# --------------------------------------------------------------------------- dataset


@dataclass
class MADDataset:
    """N MAD images with their latent factors; captions are drawn on demand.

    Attributes
    ----------
    images : ndarray, float32, shape (N, 3, S, S)
        RGB in [0, 1].
    factors : ndarray, int64, shape (N, 6)
        Value index of each factor, columns in :data:`FACTOR_NAMES` order (digit first).
    source_index : ndarray, int64, shape (N,)
        Which ``sklearn.datasets.load_digits`` image each sample was drawn from.
    seed, split, image_size : provenance.
    """

    images: np.ndarray
    factors: np.ndarray
    source_index: np.ndarray
    seed: int = 0
    split: str = "train"
    image_size: int = 28
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.factors.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """The digit of each sample (the "object" class)."""
        return self.factors[:, 0]

    def factor(self, name: str) -> np.ndarray:
        """Value index of factor ``name`` for each sample."""
        if name not in FACTORS:
            raise InputError(f"MADDataset.factor: unknown factor {name!r}; factors: {', '.join(FACTOR_NAMES)}")
        return self.factors[:, FACTOR_NAMES.index(name)]

    def subset(self, idx: Any) -> MADDataset:
        """A new :class:`MADDataset` of the samples selected by ``idx`` (indices or mask).

        Provenance (``seed``, ``split``, ``image_size``) is kept and ``meta`` is copied.
        """
        idx = np.asarray(idx)
        return MADDataset(self.images[idx], self.factors[idx], self.source_index[idx], self.seed,
                          self.split, self.image_size, dict(self.meta))

    def captions(
        self,
        idx: Any = None,
        *,
        n_attributes: int | None = 5,
        presence: dict[str, float] | None = None,
        shared_selection: bool = False,
        rng: np.random.Generator | int | None = None,
    ) -> list[str]:
        """Draw one caption per sample in ``idx`` (all samples by default).

        Parameters
        ----------
        n_attributes : int in 1..5
            Mentioned attributes besides the digit (always mentioned). Which ones is drawn
            anew on every call, per row (``shared_selection=False``) or once for the call.
        presence : dict factor → probability, optional
            Instead of ``n_attributes``: each factor is mentioned independently with its
            probability (unnamed factors: 1.0). Used for the caption-presence-bias study.
        rng : Generator or seed
            Pass the training loop's generator so every batch gets fresh captions.
        """
        rng = np.random.default_rng(rng)
        rows = np.arange(len(self)) if idx is None else np.asarray(idx).reshape(-1)
        fac = self.factors[rows]
        n = rows.size
        if presence is not None:
            bad = sorted(set(presence) - set(FACTOR_NAMES))
            if bad:
                raise ConfigError(f"MADDataset.captions: unknown factor(s) {bad}; factors: {', '.join(FACTOR_NAMES)}")
            p = np.array([float(presence.get(f, 1.0)) for f in FACTOR_NAMES])
            if np.any((p < 0) | (p > 1)) or p.sum() <= 0:
                raise ConfigError(f"MADDataset.captions: presence probabilities must lie in [0, 1], not all 0; got {presence}")
            mask = rng.random((n, len(FACTOR_NAMES))) < p
            empty = ~mask.any(axis=1)
            if empty.any():
                pick = rng.choice(len(FACTOR_NAMES), size=int(empty.sum()), p=p / p.sum())
                mask[np.flatnonzero(empty), pick] = True
        else:
            if n_attributes is None or not 0 <= int(n_attributes) <= len(ATTRIBUTES):
                raise ConfigError(f"MADDataset.captions: n_attributes must be in 0..{len(ATTRIBUTES)}, got {n_attributes}")
            k = int(n_attributes)
            mask = np.zeros((n, len(FACTOR_NAMES)), dtype=bool)
            mask[:, 0] = True
            if shared_selection:
                chosen = rng.permutation(len(ATTRIBUTES))[:k] + 1
                mask[:, chosen] = True
            else:
                keys = rng.random((n, len(ATTRIBUTES)))
                chosen = np.argsort(keys, axis=1)[:, :k] + 1
                mask[np.arange(n)[:, None], chosen] = True
        out = []
        for r in range(n):
            names = [FACTOR_NAMES[j] for j in np.flatnonzero(mask[r])]
            out.append(make_caption(fac[r], names, rng))
        return out

    def full_captions(self, idx: Any = None, *, rng: np.random.Generator | int | None = 0) -> list[str]:
        """Captions mentioning all six factors (shuffled order)."""
        return self.captions(idx, n_attributes=len(ATTRIBUTES), rng=rng)

    def to_paired(self, *, n_attributes: int = 5, seed: int | None = None) -> Any:
        """As :class:`gaplab.data.PairedDataset` (one caption per image), for ``gaplab embed``."""
        from ._dataset import PairedDataset

        caps = self.captions(n_attributes=n_attributes, rng=self.seed if seed is None else seed)
        return PairedDataset(
            name="mad",
            images=self.images,
            labels=self.labels.copy(),
            class_names=list(FACTORS["digit"]),
            captions=caps,
            image_index=np.arange(len(self), dtype=np.int64),
            ids=np.array([f"mad/{self.split}/{i:05d}" for i in range(len(self))]),
            split=self.split,
            meta={"seed": self.seed, "image_size": self.image_size, "n_attributes": n_attributes,
                  "factors": self.factors, **self.meta},
        )


def make_mad(
    n: int = 10_000,
    *,
    seed: int = 0,
    image_size: int = 28,
    split: str = "train",
    factor_probs: dict[str, Any] | None = None,
) -> MADDataset:
    """Generate ``n`` MAD samples (images + factors), deterministic in ``(n, seed, image_size, split)``.

    Parameters
    ----------
    n : int
        Number of samples.
    seed : int
        Seeds the digit choice, the factor values and where swelling/fractures happen.
    image_size : int, >= 12
        Side of the square RGB images (28 = MNIST, the paper's setting).
    split : {"train", "test", "all"}
        Which sklearn digits the samples are drawn from: the first 80 %, the last 20 %, or all.
        Train and test of the same seed use different random streams.
    factor_probs : dict factor → sequence of probabilities, optional
        Distribution of each factor's values in the *images* (default: uniform).

    Examples
    --------
    >>> a, b = make_mad(3, seed=1, image_size=16), make_mad(3, seed=1, image_size=16)
    >>> bool((a.images == b.images).all())
    True
    """
    if int(n) < 1:
        raise ConfigError(f"make_mad: n must be >= 1, got {n}")
    if int(image_size) < 12:
        raise ConfigError(f"make_mad: image_size must be >= 12, got {image_size}")
    splits = {"train": 0, "test": 1, "all": 2}
    if split not in splits:
        raise ConfigError(f"make_mad: split must be one of {', '.join(splits)}, got {split!r}")
    images8, targets = _source_digits()
    cut = int(round(_TRAIN_SHARE * len(targets)))
    pool = {"train": np.arange(cut), "test": np.arange(cut, len(targets)), "all": np.arange(len(targets))}[split]
    rng = np.random.default_rng([int(seed), splits[split], 0x4D4144])  # "MAD"
    n = int(n)
    src = rng.choice(pool, size=n, replace=n > pool.size)
    factors = np.zeros((n, len(FACTOR_NAMES)), dtype=np.int64)
    factors[:, 0] = targets[src]
    for j, name in enumerate(ATTRIBUTES, start=1):
        k = len(FACTORS[name])
        p = None
        if factor_probs and name in factor_probs:
            p = np.asarray(factor_probs[name], dtype=np.float64)
            if p.shape != (k,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
                raise ConfigError(f"make_mad: factor_probs[{name!r}] must be {k} probabilities summing to 1, got {p}")
        factors[:, j] = rng.choice(k, size=n, p=p)
    images = np.empty((n, 3, image_size, image_size), dtype=np.float32)
    for i in range(n):
        images[i] = render_mad_image(images8[src[i]], factors[i], image_size=image_size, rng=rng)
    return MADDataset(images, factors, src.astype(np.int64), int(seed), split, int(image_size))


# --------------------------------------------------------------------------- tokeniser


class MADTokenizer:
    """Word-level tokeniser over the 28-word MAD vocabulary (context length 8, as the paper).

    ``encode`` maps ``"red-7"`` to ``[<start>, red, 7, <end>, <end>, …]``: the sequence is
    padded with the end token, and a causal text encoder pools at the *first* end token
    (CLIP's convention), so padding never changes the pooled feature.

    Examples
    --------
    >>> tok = MADTokenizer()
    >>> ids = tok.encode(["red-7"])
    >>> ids[0, :4].tolist() == [tok.start_id, tok.vocab.index("red"), tok.vocab.index("7"), tok.end_id]
    True
    >>> tok.decode(ids)
    ['red-7']
    """

    def __init__(self, context_length: int = 8) -> None:
        self.context_length = context_length

    vocab: tuple[str, ...] = VOCAB
    start_id: int = VOCAB.index(START)
    end_id: int = VOCAB.index(END)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, captions: list[str] | str) -> np.ndarray:
        """Token ids, shape (n, context_length), int64."""
        if isinstance(captions, str):
            captions = [captions]
        index = {w: i for i, w in enumerate(self.vocab)}
        out = np.full((len(captions), self.context_length), self.end_id, dtype=np.int64)
        for r, c in enumerate(captions):
            words = c.split(_SEPARATOR) if c else []
            if len(words) + 2 > self.context_length:
                raise InputError(
                    f"MADTokenizer: caption {c!r} has {len(words)} words; at most {self.context_length - 2} fit"
                )
            try:
                ids = [index[w] for w in words]
            except KeyError as e:
                raise InputError(f"MADTokenizer: unknown word {e.args[0]!r} in {c!r}") from None
            out[r, 0] = self.start_id
            out[r, 1 : 1 + len(ids)] = ids
        return out

    def decode(self, ids: Any) -> list[str]:
        """Captions of token-id rows ``ids`` (shape ``(B, L)``): the inverse of ``encode``.

        Each row is read after its start token up to its first end token.
        """
        out = []
        for row in np.asarray(ids):
            words = []
            for t in row[1:]:
                if int(t) == self.end_id:
                    break
                words.append(self.vocab[int(t)])
            out.append(_SEPARATOR.join(words))
        return out


# --------------------------------------------------------------------------- registry


@register_dataset("mad")
def load_mad_pairs(
    *,
    split: str = "train",
    n: int = 2_000,
    n_attributes: int = 5,
    image_size: int = 28,
    limit: int | None = None,
    seed: int = 0,
) -> Any:
    """MAD as a :class:`~gaplab.data.PairedDataset` (``create_dataset("mad", ...)``).

    One caption per image with the digit and ``n_attributes`` attributes; the latent factors
    ride along in ``meta["factors"]``. ``limit`` caps ``n``. For training with captions
    redrawn per batch use :func:`make_mad` and :meth:`MADDataset.captions` instead.

    Examples
    --------
    >>> ds = load_mad_pairs(split="test", n=5, image_size=16)
    >>> ds.images.shape, ds.n_captions
    ((5, 3, 16, 16), 5)
    """
    n_eff = int(n) if limit is None else min(int(n), int(limit))
    return make_mad(n_eff, seed=seed, image_size=image_size, split=split).to_paired(n_attributes=n_attributes)


__all__ += ["load_mad_pairs"]
