"""Fashion-MNIST with captions composed from what each image shows.

Every caption names the garment (with synonyms) and a seeded selection of *measured*
attributes of that very image, in one of many sentence templates, so captions carry
image-specific information and, by default, no two images share a caption:

==============  ==========================================================  =================
attribute       measured as                                                 bins (terciles)
==============  ==========================================================  =================
brightness      mean intensity of the foreground (pixels > 0.1)             dark / mid / bright
size            coverage: fraction of the 28×28 frame in the foreground      small / medium / large
shape           bounding-box width / height                                  tall / square-ish / wide
texture         mean gradient magnitude over the foreground (edge density)   plain / some / busy
contrast        standard deviation of foreground intensity                   flat / medium / high
horizontal      column of the centre of mass                                 left / centre / right
vertical        row of the centre of mass                                    high / middle / low
tilt            angle of the principal axis (second moments)                 left / upright / right
symmetry        mean |image − mirror image| over the foreground              symmetric / .. / lopsided
==============  ==========================================================  =================

Bins are the terciles of the images given (or fixed ``thresholds``), so on the whole
dataset each value is equally common. The captions are information-poor next to the image
(a few coarse words against 784 pixels): the information imbalance of Schrodi et al.
(ICLR 2025, §4) in a natural setting.

>>> import numpy as np
>>> img = np.zeros((2, 28, 28), np.float32); img[:, 5:20, 8:14] = 1.0; img[1, 5:20, 8:24] = 0.5
>>> caps = compose_fashion_captions(img, np.array([0, 9]), seed=0)
>>> len(set(caps)) == 2 and "boot" in caps[1]
True
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .._errors import InputError
from ._dataset import PairedDataset, check_split, register_dataset
from .captions import article

__all__ = [
    "FASHION_SYNONYMS",
    "FASHION_ATTRIBUTES",
    "CAPTION_OPENERS",
    "measure_fashion_attributes",
    "attribute_thresholds",
    "compose_fashion_captions",
    "fashion_class_prompts",
    "load_fashion_captions",
]

#: words for each class (label order of :data:`~gaplab.data.fashion_mnist.FASHION_CLASSES`); the first is canonical
FASHION_SYNONYMS: list[tuple[str, ...]] = [
    ("t-shirt", "tee", "t-shirt top", "short-sleeved top"),
    ("pair of trousers", "pair of pants", "pair of slacks"),
    ("pullover", "sweater", "jumper"),
    ("dress", "frock", "gown"),
    ("coat", "jacket", "overcoat"),
    ("sandal", "open shoe", "summer sandal"),
    ("shirt", "button-up shirt", "blouse"),
    ("sneaker", "trainer", "running shoe"),
    ("bag", "handbag", "purse"),
    ("ankle boot", "boot", "short boot"),
]

#: attribute → three bins, each a tuple of synonymous phrases; "adj" phrases go before the noun
FASHION_ATTRIBUTES: dict[str, tuple[str, tuple[tuple[str, ...], ...]]] = {
    "brightness": ("adj", (("dark", "dim", "shadowy"), ("grey", "mid-toned", "medium-bright"),
                           ("bright", "light", "pale"))),
    "size": ("adj", (("small", "compact", "slim"), ("medium-sized", "average-sized", "regular"),
                     ("large", "bulky", "big"))),
    "shape": ("adj", (("tall", "narrow", "upright-shaped"), ("square", "boxy", "evenly proportioned"),
                      ("wide", "broad", "flat-shaped"))),
    "texture": ("clause", (("with a plain surface", "smooth and plain", "with few edges"),
                           ("with some texture", "with a little detail", "lightly patterned"),
                           ("with a busy texture", "heavily patterned", "with many edges"))),
    "contrast": ("clause", (("in an even tone", "with flat shading", "with low contrast"),
                            ("with moderate shading", "in medium contrast", "with some shading"),
                            ("with strong contrast", "in high contrast", "with bold shading"))),
    "horizontal": ("clause", (("left of centre", "towards the left", "shifted left"),
                              ("centred left to right", "in the horizontal middle", "horizontally centred"),
                              ("right of centre", "towards the right", "shifted right"))),
    "vertical": ("clause", (("sitting high", "near the top", "shifted up"),
                            ("at middle height", "vertically centred", "halfway up"),
                            ("sitting low", "near the bottom", "shifted down"))),
    "tilt": ("clause", (("tilted left", "leaning left", "slanted to the left"),
                        ("standing straight", "not tilted", "level"),
                        ("tilted right", "leaning right", "slanted to the right"))),
    "symmetry": ("clause", (("symmetric", "mirror-symmetric", "balanced left and right"),
                            ("fairly symmetric", "roughly balanced", "nearly symmetric"),
                            ("lopsided", "asymmetric", "uneven left to right"))),
}

#: sentence openers; ``{x}`` is the noun phrase ("a dark, wide coat"), ``{rest}`` the clauses
CAPTION_OPENERS: tuple[str, ...] = (
    "a photo of {x}{rest}.",
    "a picture of {x}{rest}.",
    "{x}{rest}.",
    "a greyscale photo of {x}{rest}.",
    "a product shot of {x}{rest}.",
    "a low resolution image of {x}{rest}.",
    "this is {x}{rest}.",
    "an image showing {x}{rest}.",
    "a catalogue photo of {x}{rest}.",
    "a small picture of {x}{rest}.",
    "here we see {x}{rest}.",
    "a black and white photo of {x}{rest}.",
)

_FG = 0.1  # foreground threshold on [0, 1] intensities


def measure_fashion_attributes(images: np.ndarray) -> dict[str, np.ndarray]:
    """The raw measurements behind the attributes, one float64 array of shape (N,) each.

    Parameters
    ----------
    images : ndarray, shape (N, H, W)
        Grey images in [0, 1] (uint8 images are divided by 255).

    Returns
    -------
    dict of str to ndarray
        Keys of :data:`FASHION_ATTRIBUTES`; an empty image gets zeros.
    """
    x = np.asarray(images)
    if x.ndim != 3:
        raise InputError(f"measure_fashion_attributes: images must be (N, H, W), got shape {x.shape}")
    parts = [_measure(x[i : i + 4096]) for i in range(0, max(len(x), 1), 4096)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _measure(x: np.ndarray) -> dict[str, np.ndarray]:
    x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
    n, h, w = x.shape
    fg = x > _FG
    cnt = fg.sum((1, 2)).astype(np.float64)
    safe = np.maximum(cnt, 1.0)
    mean_fg = (x * fg).sum((1, 2)) / safe
    var_fg = ((x - mean_fg[:, None, None]) ** 2 * fg).sum((1, 2)) / safe
    rows, cols = np.asarray(fg.any(2)), np.asarray(fg.any(1))

    def extent(m: np.ndarray) -> np.ndarray:
        first = m.argmax(1)
        last = m.shape[1] - 1 - m[:, ::-1].argmax(1)
        return np.where(m.any(1), last - first + 1, 1).astype(np.float64)

    gy, gx = np.gradient(x, axis=(1, 2))
    grad = np.hypot(gx, gy)
    mass = np.maximum(x.sum((1, 2)), 1e-12)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy = (x * yy).sum((1, 2)) / mass
    cx = (x * xx).sum((1, 2)) / mass
    dy, dx = yy[None] - cy[:, None, None], xx[None] - cx[:, None, None]
    mxy = (x * dx * dy).sum((1, 2)) / mass
    mxx = (x * dx * dx).sum((1, 2)) / mass
    myy = (x * dy * dy).sum((1, 2)) / mass
    # angle of the principal axis from vertical: positive = top leans right
    tilt = -0.5 * np.arctan2(2 * mxy, myy - mxx)
    sym = (np.abs(x - x[:, :, ::-1]) * (fg | fg[:, :, ::-1])).sum((1, 2)) / safe
    out = {
        "brightness": mean_fg,
        "size": cnt / (h * w),
        "shape": extent(cols) / extent(rows),
        "texture": (grad * fg).sum((1, 2)) / safe,
        "contrast": np.sqrt(var_fg),
        "horizontal": cx - (w - 1) / 2,
        "vertical": cy - (h - 1) / 2,
        "tilt": tilt,
        "symmetry": sym,
    }
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def attribute_thresholds(measurements: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """The terciles of each measurement: the two cut points of its three bins."""
    return {k: (float(np.quantile(v, 1 / 3)), float(np.quantile(v, 2 / 3))) for k, v in measurements.items()}


def _bins(measurements: dict[str, np.ndarray], thresholds: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    return {k: np.searchsorted(np.asarray(thresholds[k]), v, side="right") for k, v in measurements.items()}


def _compose(label: int, values: dict[str, int], names: Sequence[str], rng: np.random.Generator) -> str:
    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    adjs = [pick(FASHION_ATTRIBUTES[a][1][values[a]]) for a in names if FASHION_ATTRIBUTES[a][0] == "adj"]
    clauses = [pick(FASHION_ATTRIBUTES[a][1][values[a]]) for a in names if FASHION_ATTRIBUTES[a][0] == "clause"]
    noun = pick(FASHION_SYNONYMS[label])
    words = ", ".join(adjs)
    np_ = f"{words} {noun}" if words else noun
    x = f"{article(np_)} {np_}"
    if clauses:
        joined = ", ".join(clauses[:-1]) + (" and " if len(clauses) > 1 else "") + clauses[-1]
        rest = (", " if rng.random() < 0.5 else " ") + joined
    else:
        rest = ""
    return pick(CAPTION_OPENERS).format(x=x, rest=rest)


def compose_fashion_captions(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    min_attributes: int = 2,
    max_attributes: int = 5,
    unique: bool = True,
    thresholds: dict[str, tuple[float, float]] | None = None,
) -> list[str]:
    """One caption per image: its class and a seeded random subset of its measured attributes.

    Parameters
    ----------
    images : ndarray, shape (N, 28, 28)
        Grey images in [0, 1] (or uint8).
    labels : ndarray of int, shape (N,)
        Classes 0–9.
    seed : int
        Seeds which attributes are mentioned, their order, synonyms and templates.
    min_attributes, max_attributes : int
        How many attributes a caption mentions (uniform in this range, at most 9).
    unique : bool
        Redraw a caption that an earlier image already has (up to 50 times, then with
        ``max_attributes``), so that no two images share one as far as the attribute range
        allows (with ``max_attributes=0`` captions only name the class); ``False`` keeps the
        first draw.
    thresholds : dict, optional
        Bin cut points per attribute (default: :func:`attribute_thresholds` of ``images``).

    Returns
    -------
    list of str
        ``N`` captions, lower case, ending with a full stop.

    Raises
    ------
    InputError
        Bad shapes, labels outside 0–9, or an empty or inverted attribute range.
    """
    labels = np.asarray(labels)
    imgs = np.asarray(images)
    if imgs.ndim != 3 or labels.ndim != 1 or labels.shape[0] != imgs.shape[0]:
        raise InputError(
            f"compose_fashion_captions: need images (N, H, W) and labels (N,), got {imgs.shape} and {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(FASHION_SYNONYMS)):
        raise InputError(f"compose_fashion_captions: labels must lie in 0..9, got {labels.min()}..{labels.max()}")
    names = list(FASHION_ATTRIBUTES)
    if not 0 <= min_attributes <= max_attributes <= len(names):
        raise InputError(
            f"compose_fashion_captions: need 0 <= min_attributes <= max_attributes <= {len(names)}, "
            f"got {min_attributes} and {max_attributes}"
        )
    meas = measure_fashion_attributes(imgs)
    bins = _bins(meas, thresholds if thresholds is not None else attribute_thresholds(meas))
    rng = np.random.default_rng([int(seed), 16])
    seen: set[str] = set()
    out: list[str] = []
    for i, lab in enumerate(labels.tolist()):
        values = {a: int(bins[a][i]) for a in names}
        for attempt in range(51):
            k = max_attributes if attempt == 50 else int(rng.integers(min_attributes, max_attributes + 1))
            chosen = [names[j] for j in rng.permutation(len(names))[:k]]
            cap = _compose(int(lab), values, chosen, rng)
            if not unique or cap not in seen:
                break
        seen.add(cap)
        out.append(cap)
    return out


def fashion_class_prompts(*, synonyms: bool = False) -> list[list[str]]:
    """Attribute-free prompts per class for zero-shot classification: ``prompts[c][t]``.

    Every opener of :data:`CAPTION_OPENERS` with the canonical class name (with
    ``synonyms=True``, with every synonym). Embed, normalise and average over ``t`` to get one
    class embedding (CLIP's prompt ensembling).

    >>> fashion_class_prompts()[9][0]
    'a photo of an ankle boot.'
    """
    out = []
    for syns in FASHION_SYNONYMS:
        words = syns if synonyms else syns[:1]
        out.append([t.format(x=f"{article(w)} {w}", rest="") for w in words for t in CAPTION_OPENERS])
    return out


@register_dataset("fashion-mnist-captions")
def load_fashion_captions(
    *,
    split: str = "all",
    path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    min_attributes: int = 2,
    max_attributes: int = 5,
) -> PairedDataset:
    """Fashion-MNIST (70,000 images for ``split="all"``) with composed, image-specific captions.

    Images come from :func:`~gaplab.data.load_fashion_mnist_pairs` (same files, same error
    when they are missing: install them with ``apt-get install dataset-fashion-mnist``).
    Attribute bins are the terciles over *all* 70,000 images whatever ``split``, so a caption
    means the same in the train and the test split. ``ids`` keep the official split
    (``fashion-mnist/train/…`` and ``fashion-mnist/test/…``).

    Parameters
    ----------
    split : {"train", "test", "all"}
        The official 60,000 / 10,000 split, or both (train first).
    path : path, optional
        Folder with the IDX files.
    seed, min_attributes, max_attributes
        As in :func:`compose_fashion_captions` (captions are composed over all 70,000 images
        at once, so they are unique across the splits).

    Returns
    -------
    PairedDataset
        One caption per image; ``meta["thresholds"]`` holds the bin cut points.
    """
    from .fashion_mnist import load_fashion_mnist_pairs

    check_split(split, "load_fashion_captions")
    full = load_fashion_mnist_pairs(split="all", path=path)
    labels = full.labels if full.labels is not None else np.zeros(len(full), np.int64)
    th = attribute_thresholds(measure_fashion_attributes(full.images))
    caps = compose_fashion_captions(full.images, labels, seed=seed, min_attributes=min_attributes,
                                    max_attributes=max_attributes, thresholds=th)
    n_train = int(sum(str(i).startswith("fashion-mnist/train/") for i in full.ids))
    sel = {"all": np.arange(len(full)), "train": np.arange(n_train), "test": np.arange(n_train, len(full))}[split]
    return PairedDataset(
        name="fashion-mnist-captions",
        images=full.images[sel],
        labels=labels[sel],
        class_names=list(full.class_names),
        captions=[caps[i] for i in sel.tolist()],
        image_index=np.arange(sel.size, dtype=np.int64),
        ids=full.ids[sel],
        split=split,
        meta={"seed": seed, "path": full.meta.get("path"), "min_attributes": min_attributes,
              "max_attributes": max_attributes, "thresholds": {k: list(v) for k, v in th.items()}},
    )
