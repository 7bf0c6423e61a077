"""Captions from templates × class names ("a photo of a sandal."), several per image.

A template is a :meth:`str.format` string: ``{}`` or ``{c}`` is the class name and ``{a}``
the article that fits it ("a"/"an"), so ``"a photo of {a} {}."`` gives "a photo of an ankle
boot." and "a photo of a sandal.".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._errors import InputError

__all__ = [
    "DEFAULT_TEMPLATES",
    "DIGIT_TEMPLATES",
    "FASHION_TEMPLATES",
    "article",
    "fill_template",
    "class_prompts",
    "make_captions",
]

#: generic CLIP-style templates (a subset of the ImageNet prompt set of Radford et al., 2021)
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "a photo of {a} {}.",
    "a picture of {a} {}.",
    "an image of {a} {}.",
    "a low resolution photo of {a} {}.",
    "a black and white photo of {a} {}.",
    "a close-up photo of {a} {}.",
)

DIGIT_TEMPLATES: tuple[str, ...] = (
    "a photo of the digit {}.",
    "a handwritten {}.",
    "the number {}, written by hand.",
    "a low resolution image of the number {}.",
    "a blurry drawing of the digit {}.",
    "a black and white picture of {a} {}.",
)

FASHION_TEMPLATES: tuple[str, ...] = (
    "a photo of {a} {}.",
    "a black and white photo of {a} {}.",
    "a low resolution photo of {a} {}.",
    "a product photo of {a} {}.",
    "a picture of {a} {}, a type of clothing.",
    "a small greyscale image of {a} {}.",
)


def article(word: str) -> str:
    """The article of ``word``: "an" before a vowel (by first letter, enough for class names), else "a".

    >>> article("ankle boot"), article("sandal")
    ('an', 'a')
    """
    return "an" if word[:1].lower() in "aeiou" else "a"


def fill_template(template: str, name: str) -> str:
    """One caption: ``template`` with the class name (``{}``/``{c}``) and article (``{a}``).

    >>> fill_template("a photo of {a} {}.", "ankle boot")
    'a photo of an ankle boot.'
    """
    try:
        return template.format(name, c=name, a=article(name))
    except (IndexError, KeyError, ValueError) as e:
        raise InputError(
            f"captions: bad template {template!r} ({type(e).__name__}: {e}); use {{}} or {{c}} "
            "for the class name and {a} for its article"
        ) from None


def _check_templates(templates: Sequence[str] | None, default: Sequence[str]) -> tuple[str, ...]:
    t = tuple(default if templates is None else templates)
    if isinstance(templates, str):
        t = (templates,)
    if not t:
        raise InputError("captions: templates must not be empty")
    for s in t:
        if not isinstance(s, str) or ("{}" not in s and "{c}" not in s):
            raise InputError(f"captions: every template needs {{}} or {{c}} for the class name, got {s!r}")
    return t


def class_prompts(class_names: Sequence[str], templates: Sequence[str] | None = None) -> list[list[str]]:
    """Every template filled with every class name: ``prompts[c][t]``.

    >>> class_prompts(["cat", "owl"], ["a photo of {a} {}."])
    [['a photo of a cat.'], ['a photo of an owl.']]
    """
    t = _check_templates(templates, DEFAULT_TEMPLATES)
    return [[fill_template(s, name) for s in t] for name in class_names]


def make_captions(
    labels: np.ndarray,
    class_names: Sequence[str],
    *,
    templates: Sequence[str] | None = None,
    captions_per_image: int = 1,
    seed: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Captions for labelled images: ``captions_per_image`` distinct templates per image.

    Templates are drawn per image without replacement, deterministic in ``seed``. Returns
    ``(captions, image_index)``, image-major.

    >>> caps, idx = make_captions(np.array([0, 1]), ["cat", "owl"], templates=["{}"], seed=0)
    >>> caps, idx.tolist()
    (['cat', 'owl'], [0, 1])
    """
    t = _check_templates(templates, DEFAULT_TEMPLATES)
    k = int(captions_per_image)
    if not 1 <= k <= len(t):
        raise InputError(
            f"captions: captions_per_image must lie in [1, {len(t)}] (the number of templates), got {captions_per_image}"
        )
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.shape[0]
    if n and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise InputError(
            f"captions: labels must lie in [0, {len(class_names)}), got {labels.min()}..{labels.max()}"
        )
    filled = [[fill_template(s, name) for s in t] for name in class_names]
    rng = np.random.default_rng([seed, 2])
    if k == len(t):
        choice = np.tile(np.arange(k), (n, 1))
    else:  # k distinct templates per image: the first k of a random permutation
        choice = np.argsort(rng.random((n, len(t))), axis=1)[:, :k]
    captions = [filled[c][j] for c, row in zip(labels.tolist(), choice.tolist(), strict=True) for j in row]
    return captions, np.repeat(np.arange(n, dtype=np.int64), k)
