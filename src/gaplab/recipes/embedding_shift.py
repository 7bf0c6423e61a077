r"""``embedding-shift``: move both modalities along the gap vector; watch loss and zero-shot accuracy.

Liang et al., "Mind the Gap", NeurIPS 2022, §4.1 "Embedding shift experiment" (Fig. 3: the
contrastive loss against the gap, 5,000 COCO pairs, ‖Δ_gap‖ = 0.82) and §5, Fig. 10
(modifying the gap changes zero-shot accuracy, up or down depending on the task):

.. math::
    \vec\Delta = \frac1n\sum_i x_i - \frac1n\sum_i y_i,\qquad
    x_i' = \mathrm{Normalize}(x_i - \lambda\vec\Delta),\quad
    y_i' = \mathrm{Normalize}(y_i + \lambda\vec\Delta).

λ = 0.5 moves both centroids (before renormalising) onto their midpoint; λ < 0 widens the
gap. The gap after the shift is reported *signed*: the projection of the new
mean(x') − mean(y') on the original direction Δ̂, so it crosses 0 where the modalities swap
sides (the paper's notebook plots the same with a flipped sign past the minimum).

What the paper claims, checked here:

* closing the gap raises the loss, and the loss is minimal at the *original* gap (the paper:
  "the default gap distance ‖Δ_gap‖ = 0.82 actually achieves the global minimum, and
  shifting toward closing the gap increases the contrastive loss") — two claims: the loss at
  λ = 0.5 (gap closed) exceeds the loss at λ = 0; the loss-minimising λ on the grid lies
  within ±``tol_lambda`` (default 0.1) of 0. The issue text phrased the second claim the other
  way round ("the original gap is not where the loss is minimal"); the paper is the
  specification, so the paper's direction is tested and the measured λ* is reported either
  way;
* shifting changes zero-shot accuracy, and a small shift (|λ| ≤ 0.25) can improve it on some
  task — held when the best accuracy over |λ| ≤ 0.25 is above the λ = 0 accuracy.

Data. Default: gaplab's built-in two-tower (random small CNN + frozen MiniLM with
projections, :func:`gaplab.models.builtin.create_builtin_model`) trained with the CLIP loss
and CLIP's learnable temperature (initialised 0.07) on the digits train split (AdamW,
lr 1e-3, batch 64, ``steps`` steps), evaluated on the test split; zero-shot classes from the
dataset's caption templates (:func:`gaplab.data.zero_shot_classifier`). The loss is the CLIP
loss (:func:`gaplab.train.losses.clip_loss`) at the model's final temperature, averaged over
fixed, seeded batches of 64 pairs (the loss depends on the batch size; 64 is the training
batch as in the paper's fine-tuning), computed on the *training* pairs shifted by the same
λΔ: the claim is about the objective the optimiser sees ("contrastive learning preserves the
gap"), and on held-out digits the loss is dominated by overfitting — each image is paired
with one randomly drawn caption template, which the model memorises, so its held-out loss
(≈ 4.3 at τ ≈ 0.05, above ln 64) says little about the gap. Δ, the gap and zero-shot
accuracy are measured on the test split. When the trainer or the built-in model is not
importable, the trained VideoCLIP fixture is used (loss only).

``--pairs FILE``: any paired-embedding file (:func:`gaplab.io.load_pairs`). The loss uses
``temperature`` (default 0.01, CLIP's learned value). Zero-shot needs per-image ``labels`` in
the file; each class's text embedding is then the normalised mean of the text rows of that
class (the reading taken here when no prompts are at hand). A file without labels gets the
loss part only, and the results say so (``zero_shot: "skipped: no labels"``).

Scale: full = 1,500 training steps, λ ∈ [−1, 1.5] step 0.05; ``--quick`` = 300 steps and a
coarser grid (step 0.125).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe


@dataclass
class TrainedDigits:
    """A two-tower trained on digits, and its test-split embeddings (unit rows)."""

    model: Any
    trainer: Any
    x: np.ndarray  #: test image embeddings
    y: np.ndarray  #: test caption embeddings
    x_train: np.ndarray  #: train image embeddings
    y_train: np.ndarray  #: train caption embeddings
    labels: np.ndarray
    class_emb: np.ndarray  #: one unit text embedding per class (zero-shot)
    class_names: list[str]
    temperature: float
    history: list[dict[str, Any]]
    test: Any  #: the test PairedDataset
    train: Any  #: the train PairedDataset


def train_digits_clip(
    *,
    steps: int,
    seed: int = 0,
    temperature: Any = "learnable",
    lr: float = 1e-3,
    batch_size: int = 64,
    eval_every: int | None = None,
    progress: bool = False,
    model: Any = None,
) -> TrainedDigits:
    """Train (or continue training ``model``) the built-in digits two-tower with the CLIP loss.

    Uses :class:`gaplab.train.Trainer` (AdamW) on the digits train split, one templated caption
    per image; returns the test-split embeddings and a zero-shot classifier.
    """
    import torch

    from ..data import load_digits_pairs, zero_shot_classifier
    from ..models.builtin import create_builtin_model
    from ..train import Trainer

    tr = load_digits_pairs(split="train", captions_per_image=1, seed=seed)
    te = load_digits_pairs(split="test", captions_per_image=1, seed=seed)
    if model is None:
        model = create_builtin_model("gaplab-minilm-digits", seed=seed)
    test_data = (torch.from_numpy(te.images), list(te.captions))
    trainer = Trainer(
        model, loss="clip", temperature=temperature, optimizer="adamw", lr=lr, batch_size=batch_size,
        steps=steps, seed=seed, eval_every=eval_every, eval_data=test_data if eval_every else None,
        progress=progress,
    )
    trainer.fit((torch.from_numpy(tr.images), list(tr.captions)))
    x, y = trainer.embed(test_data)
    x_train, y_train = trainer.embed((torch.from_numpy(tr.images), list(tr.captions)))
    model.eval()
    with torch.no_grad():
        cls = zero_shot_classifier(model, te.class_names, templates=te.meta["templates"])
    return TrainedDigits(
        model=model, trainer=trainer, x=x, y=y, x_train=x_train, y_train=y_train, labels=np.asarray(te.labels), class_emb=np.asarray(cls),
        class_names=list(te.class_names), temperature=float(trainer.temperature.value(trainer.step)),
        history=list(trainer.history.records), test=te, train=tr,
    )


def _check_pairs_file(image: Any, text: Any, path: Any) -> tuple[np.ndarray, np.ndarray]:
    """The file's image and text embeddings as validated float arrays.

    An all-zero row, a NaN or an inf (a float16 overflow) is an :class:`~gaplab.InputError`
    naming the file, the modality and the row, before normalising turns it into a NaN
    somewhere else.
    """
    from .._validation import check_embeddings

    where = f"embedding-shift: {path}"
    x = check_embeddings(image, name="image embeddings", where=where)
    y = check_embeddings(text, name="text embeddings", where=where)
    return np.asarray(x), np.asarray(y)


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def batched_clip_loss(x: np.ndarray, y: np.ndarray, temperature: float, batch_size: int, seed: int) -> float:
    """Mean CLIP loss over fixed seeded batches of ``batch_size`` pairs (:func:`gaplab.train.losses.clip_loss`)."""
    import torch

    from ..train.losses import clip_loss

    n = x.shape[0]
    perm = np.random.default_rng([seed, 3]).permutation(n)
    b = min(batch_size, n)
    xs, ys = torch.from_numpy(np.asarray(x, dtype=np.float64)), torch.from_numpy(np.asarray(y, dtype=np.float64))
    vals = []
    for lo in range(0, n - b + 1, b):
        idx = torch.from_numpy(perm[lo:lo + b])
        loss, _ = clip_loss(xs[idx], ys[idx], float(temperature))
        vals.append(float(loss))
    return float(np.mean(vals))


def shift_sweep(
    x: np.ndarray,
    y: np.ndarray,
    lambdas: np.ndarray,
    *,
    temperature: float,
    batch_size: int,
    seed: int,
    labels: np.ndarray | None = None,
    class_emb: np.ndarray | None = None,
    image_index: np.ndarray | None = None,
    loss_pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, list[float]]:
    """Loss, signed gap, L2M (and zero-shot accuracy) of the shifted embeddings for each λ.

    Δ and the gap come from ``x``/``y``; the loss is computed on ``loss_pairs`` (shifted by
    the same λΔ) when given — e.g. the training pairs, while ``x``/``y`` are held out.
    """
    from ..metrics import gap_vector, l2m, zero_shot_accuracy

    x, y = _unit(x), _unit(y)
    delta = gap_vector(x, y, image_index=image_index)
    d_hat = delta / np.linalg.norm(delta)
    out: dict[str, list[float]] = {"lambda": [], "loss": [], "gap_signed": [], "l2m": []}
    if labels is not None and class_emb is not None:
        out["zero_shot"] = []
    for lam in lambdas:
        xs, ys = _unit(x - lam * delta), _unit(y + lam * delta)
        g = gap_vector(xs, ys, image_index=image_index)
        out["lambda"].append(float(lam))
        out["gap_signed"].append(float(g @ d_hat))
        out["l2m"].append(l2m(xs, ys, image_index=image_index))
        if loss_pairs is None:
            xp = xs if image_index is None else xs[np.asarray(image_index)]  # one row per pair
            out["loss"].append(batched_clip_loss(xp, ys, temperature, batch_size, seed))
        else:
            lx, ly = _unit(_unit(loss_pairs[0]) - lam * delta), _unit(_unit(loss_pairs[1]) + lam * delta)
            out["loss"].append(batched_clip_loss(lx, ly, temperature, batch_size, seed))
        if "zero_shot" in out:
            cs = _unit(class_emb + lam * delta)
            out["zero_shot"].append(zero_shot_accuracy(xs, cs, labels))
    return out


def _lambda_grid(quick: bool) -> np.ndarray:
    step = 0.125 if quick else 0.05
    return np.round(np.arange(-1.0, 1.5 + 1e-9, step), 4)


@register_recipe(
    "embedding-shift",
    paper="000",
    summary="Shift both modalities along the gap vector: contrastive loss and zero-shot accuracy vs gap (§4.1, Fig. 10)",
    accepts_pairs=True,
    steps=1500,
    temperature=0.01,
    batch_size=64,
    tol_lambda=0.1,
)
def embedding_shift(ctx: RecipeContext) -> dict[str, Any]:
    """Shift both modalities along the gap vector by λ and measure the loss and zero-shot accuracy.

    Works on ``ctx.pairs`` when given, else on a digits CLIP model trained here (a published
    dump without gaplab.train). Returns the measured values for ``run.json``: the sweep over λ
    (contrastive loss, L2M, signed gap and, where labels exist, zero-shot accuracy), the
    original gap and the loss-minimising λ.
    """
    import matplotlib.pyplot as plt

    from ..io import load_pairs

    lambdas = _lambda_grid(ctx.quick)
    batch = int(ctx.param("batch_size"))
    source: str
    labels = class_emb = image_index = loss_pairs = None
    zs_note = ""
    extra: dict[str, Any] = {}
    if ctx.pairs is not None:
        p = load_pairs(ctx.pairs)
        x, y = _check_pairs_file(p.image, p.text, ctx.pairs)
        image_index = p.image_index
        tau = float(ctx.param("temperature"))
        source = f"pairs file {ctx.pairs}"
        if "labels" in p.meta and np.asarray(p.meta["labels"]).shape == (x.shape[0],):
            from ..metrics import class_means

            labels = np.asarray(p.meta["labels"]).astype(np.int64)
            _, labels = np.unique(labels, return_inverse=True)
            text_labels = labels if image_index is None else labels[np.asarray(image_index)]
            class_emb, _ = class_means(y, text_labels)
            zs_note = "class text embedding = normalised mean of the text rows of the class"
        else:
            zs_note = "skipped: no labels in the pairs file (loss vs gap only)"
    else:
        try:
            from ..models.builtin import create_builtin_model  # noqa: F401
            from ..train import Trainer  # noqa: F401
        except ImportError:
            from ..data import load_published

            x, y = load_published("videoclip")
            tau = float(ctx.param("temperature"))
            source = "trained VideoCLIP, published dump (gaplab.train / built-in model not available)"
            zs_note = "skipped: the published dump has no labels (loss vs gap only)"
        else:
            steps = 300 if ctx.quick else int(ctx.param("steps"))
            run = train_digits_clip(steps=steps, seed=ctx.seed, progress=ctx.progress)
            x, y, labels, class_emb, tau = run.x, run.y, run.labels, run.class_emb, run.temperature
            loss_pairs = (run.x_train, run.y_train)
            source = (f"built-in two-tower trained {steps} steps (CLIP loss, learnable τ) on digits; "
                      "gap and zero-shot on the test split, loss on the training pairs")
            extra = {"train_steps": steps, "learned_temperature": tau, "n_test": int(x.shape[0])}

    sweep = shift_sweep(x, y, lambdas, temperature=tau, batch_size=batch, seed=ctx.seed,
                        labels=labels, class_emb=class_emb, image_index=image_index, loss_pairs=loss_pairs)
    lam = np.array(sweep["lambda"])
    loss = np.array(sweep["loss"])
    i0 = int(np.argmin(np.abs(lam)))
    i_close = int(np.argmin(np.abs(lam - 0.5)))
    i_min = int(np.argmin(loss))
    original_gap = sweep["l2m"][i0]

    # ---- figure: loss (and accuracy) against the signed gap, original gap dashed
    has_zs = "zero_shot" in sweep
    fig, axes = plt.subplots(1, 2 if has_zs else 1, figsize=(10 if has_zs else 5.5, 4), squeeze=False)
    g = np.array(sweep["gap_signed"])
    ax = axes[0, 0]
    ax.plot(g, loss, "o-", ms=3)
    ax.axvline(g[i0], color="k", ls="--", lw=1, label=f"original gap {original_gap:.3f}")
    ax.axvline(g[i_min], color="tab:red", ls=":", lw=1, label=f"loss minimum (λ = {lam[i_min]:+.2f})")
    ax.set_xlabel("gap after shift (signed, along the original Δ)")
    ax.set_ylabel(f"CLIP loss (τ = {tau:.3g}, batches of {batch})")
    ax.legend(fontsize=8)
    ax.set_title("Contrastive loss vs gap (cf. Liang et al. §4.1)", fontsize=9)
    if has_zs:
        ax = axes[0, 1]
        ax.plot(g, sweep["zero_shot"], "o-", ms=3, color="tab:green")
        ax.axvline(g[i0], color="k", ls="--", lw=1)
        ax.set_xlabel("gap after shift (signed)")
        ax.set_ylabel("zero-shot top-1 accuracy")
        ax.set_title("Zero-shot accuracy vs gap (cf. Fig. 10)", fontsize=9)
    fig.suptitle(source, fontsize=8)
    fig.tight_layout()
    ctx.savefig(fig, "embedding_shift")

    # ---- claims
    tol = float(ctx.param("tol_lambda"))
    ctx.claim(
        "closing the gap (λ = 0.5) raises the contrastive loss: contrastive learning preserves the gap",
        "loss rises when the gap is closed",
        {"loss_orig": round(float(loss[i0]), 4), "loss_closed": round(float(loss[i_close]), 4),
         "gap_closed": round(float(sweep["l2m"][i_close]), 4)},
        loss[i_close] > loss[i0],
        note="held if loss(λ=0.5) > loss(λ=0)",
    )
    ctx.claim(
        "the original gap is where the contrastive loss is minimal",
        "minimum at the original gap (‖Δ‖ = 0.82, CLIP/COCO)",
        {"lambda_at_min": float(lam[i_min]), "gap_at_min": round(float(sweep["l2m"][i_min]), 4),
         "original_gap": round(float(original_gap), 4)},
        abs(lam[i_min]) <= tol,
        note=f"held if the loss-minimising λ on the grid is within ±{tol} of 0; the issue phrased it "
        "as 'not minimal' — the paper's direction is tested, λ* reported either way",
    )
    measured: dict[str, Any] = {"source": source, "temperature": tau, "sweep": sweep, "original_gap": original_gap,
                                "lambda_at_min_loss": float(lam[i_min]), **extra}
    if has_zs:
        acc = np.array(sweep["zero_shot"])
        small = np.abs(lam) <= 0.25 + 1e-9
        best_small = float(acc[small].max())
        best_lam = float(lam[small][np.argmax(acc[small])])
        ctx.claim(
            "shifting along the gap changes zero-shot accuracy; a small shift can improve it (Fig. 10)",
            "changes; improves on some tasks",
            {"acc_orig": round(float(acc[i0]), 4), "best_small_shift": round(best_small, 4), "at_lambda": best_lam,
             "range": [round(float(acc.min()), 4), round(float(acc.max()), 4)]},
            best_small > acc[i0] and acc.max() - acc.min() > 0,
            note="held if the best accuracy over |λ| <= 0.25 exceeds the accuracy at λ = 0",
        )
        measured["zero_shot_original"] = float(acc[i0])
        measured["zero_shot_best_small_shift"] = best_small
    measured["zero_shot"] = zs_note or "evaluated"
    return measured
