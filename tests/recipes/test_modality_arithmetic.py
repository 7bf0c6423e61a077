"""modality-arithmetic (003): the colour-swap retrieval helper, and the quick run's claims against its numbers."""

from __future__ import annotations

import numpy as np
import pytest

from gaplab.recipes.modality_arithmetic import WORKS_MARGIN, arithmetic_retrieval


def _factorised(n_keep: int, n_values: int, reps: int, value_weight: float = 2.0):
    """Images = one-hot(keep) ⊕ value_weight · one-hot(value); words = one-hot(value)."""
    keep = np.repeat(np.arange(n_keep), n_values * reps)
    values = np.tile(np.repeat(np.arange(n_values), reps), n_keep)
    img = np.concatenate([np.eye(n_keep)[keep], value_weight * np.eye(n_values)[values]], 1)
    words = np.concatenate([np.zeros((n_values, n_keep)), np.eye(n_values)], 1)
    return img, words, values, keep


def test_perfectly_factorised_embeddings_solve_the_arithmetic():
    img, words, values, keep = _factorised(4, 3, 2)
    r = arithmetic_retrieval(img, words, values, keep)
    assert r["accuracy"] == 1.0
    assert r["image_only"] == 0.0  # the value dominates: the nearest other image keeps the colour
    assert r["colour_only"] == pytest.approx(1 / 4)  # right colour, digit at random among 4
    assert r["n_queries"] == img.shape[0] * 2  # every image, every other value


def test_words_unrelated_to_the_images_fall_to_the_reference_or_below():
    rng = np.random.default_rng(0)
    img, _, values, keep = _factorised(5, 4, 10)
    img = img + 0.05 * rng.normal(size=img.shape)
    words = rng.normal(size=(4, img.shape[1]))
    r = arithmetic_retrieval(img, words, values, keep)
    assert r["accuracy"] < r["colour_only"] + WORKS_MARGIN


def test_inputs_are_normalised_first():
    img, words, values, keep = _factorised(3, 3, 2)
    a = arithmetic_retrieval(img, words, values, keep)
    b = arithmetic_retrieval(7.0 * img, 0.1 * words, values, keep)
    assert a == b


@pytest.mark.slow
def test_quick_run_claims_are_its_numbers(quick_run):
    run = quick_run("modality-arithmetic")
    per = run.measured["per_seed"]
    claims = {c.claim: c for c in run.claims}
    gap = claims["CUA leaves a smaller modality gap than CLIP"]
    assert gap.per_seed == pytest.approx([a["l2m"] - b["l2m"] for a, b in zip(per["cua"], per["clip"], strict=True)])
    premise = claims["The arithmetic works for both losses (premise of the comparison)"]
    assert premise.kind == "sanity" and premise.null == WORKS_MARGIN
    main = claims["CUA (smaller gap) gives higher modality-arithmetic accuracy than CLIP"]
    assert main.depends_on == premise.claim
    assert main.per_seed == pytest.approx(
        [a["accuracy"] - b["accuracy"] for a, b in zip(per["cua"], per["clip"], strict=True)])
    assert len(run.measured["seeds"]) >= 2 and (run.out / "modality_arithmetic.png").is_file()
