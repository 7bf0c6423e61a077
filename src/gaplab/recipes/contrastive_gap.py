r"""``contrastive-gap``: a gap appears even when both towers see the same modality; CUA/CUAXU shrink it.

Fahim et al., "It's Not a Modality Gap: Characterizing and Addressing the Contrastive Gap"
(paper 003): two separately initialised encoders that both see images (two augmentations of
the same picture) still end up in separate regions under the CLIP loss — the gap is a
property of the loss (low uniformity), not of the modalities. Adding uniformity and alignment
terms (CUA), and cross-modal uniformity (CUAXU), closes most of it. The authors' published
run logs at 128 dimensions: CLIP L2M 0.606 with linear separability 1.0; CUA L2M 0.0795;
CUAXU L2M 0.1136. They evaluate gap, uniformity, alignment, linear separability and
downstream accuracy for embedding sizes 3, 32 and 128.

Setting (003 trains ViT towers on MS-COCO images; CPU scale here):

* data: sklearn digits (8×8, always available; ``--quick``) or Fashion-MNIST 28×28 (default
  when the Debian ``dataset-fashion-mnist`` files are present, else digits), via
  :mod:`gaplab.data`. Each image gives two views, each a random shift (±1 px on digits, ±2
  px on Fashion-MNIST) plus Gaussian pixel noise (σ = 0.1), drawn afresh every epoch
  (seeded); tower A sees view 1, tower B view 2 — same modality, same content.
* model: :class:`~gaplab.models.TwoTower` of two separately initialised 2-layer MLPs
  (hidden ``hidden``) with linear heads into ``dim`` ∈ {3, 32, 128}; the engine's
  :class:`~gaplab.train.Trainer` with the registered losses ``clip``, ``cua`` and ``cuaxu``
  (unit weights, as the engine reads 003), a learnable temperature from 0.07 (CLIP), AdamW
  lr 1e-3, batch 256.
* metrics on held-out images (one seeded pair of views each), from :mod:`gaplab.metrics`:
  L2M, uniformity (mean of the two towers, lower = more uniform), alignment (mean squared
  distance of matched pairs), linear separability of the two towers' embeddings, and two
  downstream accuracies — ``probe_acc``: logistic regression on tower A's embeddings
  (train split) tested on the test split; ``proto_acc``: tower A's test embeddings
  classified by the class means of tower B's training embeddings
  (:func:`gaplab.metrics.zero_shot_accuracy`, the zero-shot analogue: the classifier comes
  from the *other* tower, so the gap matters).

Criteria, fixed in advance, over ``seeds`` seeds (seed k gives every loss the same tower
inits, batch order and augmentations, so loss comparisons are paired), 95 % Student-t
intervals: "CLIP leaves a gap" = L2M above 0.1 and linear separability above 0.95 at the
largest dimension; "CUA / CUAXU shrink it" = CLIP's L2M minus theirs above 0.01; "more
uniform" is the added loss term itself, so it is a *sanity* check; downstream "improves" =
CUA's prototype accuracy above CLIP's, judged only where CUA's gap claim held (otherwise the
gap did not move). Scale: default 3 seeds × 1,500 steps on 10,000 Fashion-MNIST training
images, hidden width 256; ``--quick`` 2 seeds × 150 steps on digits, hidden width 128.

``--param model=gaplab-clip-fashion``: both towers are the image tower of the from-scratch
Fashion-MNIST CLIP (:class:`gaplab.models.clip.ScratchImageEncoder`, the 3-block conv net of
width 64 of its quick config), separately initialised (seeded by ``[seed, 0]`` and
``[seed, 1]``), each with a linear head to ``dim``; tower A sees view 1, tower B view 2 of the
same Fashion-MNIST image (the views above: ±2 px shift, σ = 0.1 noise, redrawn every epoch).
They train with the Fashion CLIP's own quick-config recipe
(:func:`gaplab.recipes._fashion.fashion_trainer`): the 15,000 training images of the seed, 4
epochs (232 steps) at batch 256, AdamW lr 3e-3 with linear warm-up and cosine decay, weight
decay 0.1, τ fixed at 0.01 (where the MLP towers above learn τ from 0.07) — only the loss
changes, to CUA or CUAXU. The image–text model trained the very same way has a real gap
(held-out L2M ≈ 0.94 over seeds 0–2; the cached model of each seed, reported beside the
first claim), so this asks 003's question of that model: does its gap need two modalities?
Metrics as above on the
10,000 held-out images (one seeded pair of views each; the probe and the prototypes from the
15,000 training views), the L2M history on the first 2,000. At 128 d the head maps the
64-wide tower into a 64-dimensional subspace. Seeds ``seed`` … ``seed + seeds − 1`` (``seeds``
default 3, or a list), claims and criteria as above, fixed before the first Fashion run.
``--quick``: seed ``seed`` alone, one epoch (58 steps; every claim inconclusive). ``steps``
sets the run length; the MLP parameters (``dataset``, ``hidden``, ``n_train``, ``n_test``,
``batch_size``, ``lr``) do not apply (setting one is an error). Measured wall time (the record
is ``docs/results/full/fashion/contrastive-gap-fashion.json``): 1,586 s on the shared 2-core
machine (27 trainings of 44–127 s with their metrics, one thread); nothing is cached.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe

#: CLIP "leaves a gap" when its L2M stays above this; the towers are "separable" above SEP_FLOOR
GAP_FLOOR, SEP_FLOOR = 0.1, 0.95
#: a loss "shrinks the gap" when it lowers L2M by more than this, paired over seeds
SHRINK_MARGIN = 0.01


def r_mean(runs: list[dict[str, float]], key: str) -> float:
    """Mean of ``key`` over one cell's seeds."""
    return float(np.mean([m[key] for m in runs]))

LOSSES = ("clip", "cua", "cuaxu")
PAPER_128 = {"clip": 0.606, "cua": 0.0795, "cuaxu": 0.1136}


def _augment(images: np.ndarray, rng: np.random.Generator, shift: int, noise: float) -> np.ndarray:
    """Random integer shift (zero fill) and Gaussian pixel noise, per image; (N, H, W) → (N, H·W)."""
    n, h, w = images.shape
    pad = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
    dy = rng.integers(0, 2 * shift + 1, size=int(n))
    dx = rng.integers(0, 2 * shift + 1, size=int(n))
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    out = pad[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    out = out + noise * rng.standard_normal(out.shape)
    return out.reshape(n, h * w).astype(np.float32)


class TwoViews:
    """Iterable of batches ``(view1, view2)`` of the same images, re-augmented every epoch (seeded)."""

    def __init__(self, images: np.ndarray, *, batch_size: int, seed: int, shift: int, noise: float) -> None:
        self.images, self.batch_size = images, batch_size
        self.rng = np.random.default_rng([seed, 3])
        self.shift, self.noise = shift, noise

    def __len__(self) -> int:
        return self.images.shape[0] // self.batch_size

    def __iter__(self):
        import torch

        perm = self.rng.permutation(self.images.shape[0])
        for i in range(len(self)):
            imgs = self.images[perm[i * self.batch_size : (i + 1) * self.batch_size]]
            a = _augment(imgs, self.rng, self.shift, self.noise)
            b = _augment(imgs, self.rng, self.shift, self.noise)
            yield torch.from_numpy(a), torch.from_numpy(b)


def _load(name: str, n_train: int, n_test: int, seed: int) -> tuple[Any, Any, str]:
    from ..data import create_dataset, fashion_mnist_path

    if name == "auto":
        name = "fashion-mnist" if fashion_mnist_path() is not None else "digits"
    if name == "digits":
        tr = create_dataset("digits", split="train", seed=seed)
        te = create_dataset("digits", split="test", seed=seed)
    else:
        tr = create_dataset(name, split="train", limit=n_train, seed=seed)
        te = create_dataset(name, split="test", limit=n_test, seed=seed)
    return tr, te, name


def _metrics(tr: Any, views_tr: tuple[np.ndarray, np.ndarray], views_te: tuple[np.ndarray, np.ndarray],
             y_tr: np.ndarray, y_te: np.ndarray, seed: int) -> dict[str, float]:
    import torch
    from sklearn.linear_model import LogisticRegression

    from ..metrics import alignment, l2m, linear_separability, uniformity, zero_shot_accuracy

    xa_tr, xb_tr = tr.embed((torch.from_numpy(views_tr[0]), torch.from_numpy(views_tr[1])))
    xa, xb = tr.embed((torch.from_numpy(views_te[0]), torch.from_numpy(views_te[1])))
    probe = LogisticRegression(max_iter=2000).fit(xa_tr, y_tr)
    classes = np.unique(y_tr)
    protos = np.stack([xb_tr[y_tr == c].mean(0) for c in classes])
    return {
        "l2m": l2m(xa, xb),
        "uniformity": 0.5 * (uniformity(xa) + uniformity(xb)),
        "alignment": alignment(xa, xb),
        "linear_separability": linear_separability(xa, xb, seed=seed),
        "probe_acc": float(probe.score(xa, y_te)),
        "proto_acc": zero_shot_accuracy(xa, protos, np.searchsorted(classes, y_te)),
        "temperature": tr.temperature.value(tr.step),
    }


#: the model choices (``model`` parameter); the first is the default
MODELS = ("image-mlp", "gaplab-clip-fashion")
#: parameters of the MLP towers only, with their defaults
_MLP_PARAMS: dict[str, Any] = {"dataset": None, "hidden": None, "n_train": 10_000, "n_test": 2_000, "batch_size": 256,
                               "lr": 1e-3}
#: the Fashion towers' views: random shift (px) and pixel noise σ, as the MLP towers' on Fashion-MNIST
FASHION_SHIFT, FASHION_NOISE = 2, 0.1
#: --quick with the Fashion towers: one epoch of the quick config's training images
FASHION_QUICK_EPOCHS = 1.0


@register_recipe(
    "contrastive-gap",
    paper="003",
    summary="Same modality in both towers: CLIP leaves a gap, CUA/CUAXU shrink it (L2M, uniformity, alignment, separability, accuracy)",
    model=MODELS[0], dims=(3, 32, 128), steps=None, seeds=None, **_MLP_PARAMS,
)
def contrastive_gap(ctx: RecipeContext) -> dict[str, Any]:
    """Train two towers on the same modality with CLIP, CUA and CUAXU losses per embedding size.

    ``model``: ``image-mlp`` (default: two MLP towers, trained here) or ``gaplab-clip-fashion``
    (two image towers of the from-scratch Fashion-MNIST CLIP's architecture, trained with its
    recipe; see the module docstring). Returns the measured values for ``run.json``: per loss
    and dimension the gap (L2M), uniformity, alignment, linear separability and accuracy
    (``results``, means over seeds, and ``per_seed``), the training histories and the paper's
    128-dimension L2M values.
    """
    from ._fashion import check_model, reject_other_params

    if check_model("contrastive-gap", ctx.param("model"), MODELS) == "gaplab-clip-fashion":
        reject_other_params("contrastive-gap", ctx, _MLP_PARAMS, MODELS[0])
        return _fashion_contrastive_gap(ctx)
    return _mlp_contrastive_gap(ctx)


def _dims(ctx: RecipeContext) -> list[int]:
    dims = ctx.param("dims")
    dims = [dims] if isinstance(dims, (int, float)) else dims
    return [int(d) for d in (dims.split(",") if isinstance(dims, str) else dims)]


def _mlp_contrastive_gap(ctx: RecipeContext) -> dict[str, Any]:
    """Two MLP towers (``model=image-mlp``) on digits or Fashion-MNIST, trained here."""
    import torch

    from ..models import MLPEncoder, TwoTower
    from ..train import Trainer

    dims = _dims(ctx)
    dataset = ctx.param("dataset") or ("digits" if ctx.quick else "auto")
    steps = int(ctx.param("steps") or (150 if ctx.quick else 1500))
    hid = int(ctx.param("hidden") or (128 if ctx.quick else 256))
    bs, lr = int(ctx.param("batch_size")), float(ctx.param("lr"))
    dtr, dte, dataset = _load(dataset, int(ctx.param("n_train")), int(ctx.param("n_test")), ctx.seed)
    shift = 1 if dataset == "digits" else 2
    imgs_tr, imgs_te = np.asarray(dtr.images, np.float32), np.asarray(dte.images, np.float32)
    rng = np.random.default_rng([ctx.seed, 11])
    views_tr = (_augment(imgs_tr, rng, shift, 0.1), _augment(imgs_tr, rng, shift, 0.1))
    views_te = (_augment(imgs_te, rng, shift, 0.1), _augment(imgs_te, rng, shift, 0.1))
    d_in = views_tr[0].shape[1]

    n_seeds = int(ctx.param("seeds") or (2 if ctx.quick else 3))
    seeds = [ctx.seed * 1000 + k for k in range(n_seeds)]
    # per_seed[dim][loss] = one metrics dict per seed; seed k gives every loss the same
    # tower inits, batch order and augmentations (paired comparisons)
    per_seed: dict[str, dict[str, list[dict[str, float]]]] = {}
    histories: dict[str, dict[str, list[float]]] = {}
    bar = None
    if ctx.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(dims) * len(LOSSES) * n_seeds, desc="contrastive-gap", leave=False)
    for dim in dims:
        for loss in LOSSES:
            for seed in seeds:
                torch.manual_seed(seed)
                a = MLPEncoder(d_in, hid, hidden=hid, depth=2)
                torch.manual_seed(seed + 1)  # the two towers are initialised separately
                b = MLPEncoder(d_in, hid, hidden=hid, depth=2)
                model = TwoTower(a, b, image_dim=hid, text_dim=hid, embed_dim=dim, projection="linear")
                tr = Trainer(model, loss=loss, temperature="learnable", optimizer="adamw", lr=lr, batch_size=bs,
                             steps=steps, seed=seed, eval_every=max(steps // 10, 1),
                             eval_data=(torch.from_numpy(views_te[0]), torch.from_numpy(views_te[1])),
                             metrics=("l2m",))
                tr.fit(TwoViews(imgs_tr, batch_size=bs, seed=seed, shift=shift, noise=0.1))
                m = _metrics(tr, views_tr, views_te, dtr.labels, dte.labels, seed)
                per_seed.setdefault(str(dim), {}).setdefault(loss, []).append(m)
                if seed == seeds[0]:
                    histories[f"{loss}@{dim}"] = {"step": list(tr.history["step"]), "l2m": list(tr.history["l2m"])}
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    results = _results(per_seed)
    _figure(ctx, results, histories, dims, f"paper 003: both towers see {dataset} images (two augmentations)")
    _claims(ctx, per_seed, dims)
    return {"dataset": dataset, "steps": steps, "dims": dims, "seeds": seeds, "results": results,
            "per_seed": per_seed, "histories": histories,
            "paper_l2m_128": PAPER_128}


def _results(per_seed: dict[str, dict[str, list[dict[str, float]]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Means over seeds: ``results[dim][loss][metric]``."""
    return {d: {lo: {k: float(np.mean([m[k] for m in ms])) for k in ms[0]} for lo, ms in v.items()}
            for d, v in per_seed.items()}


def _figure(ctx: RecipeContext, results: dict[str, Any], histories: dict[str, dict[str, list[float]]],
            dims: list[int], title: str) -> None:
    """Metrics by dimension and loss, plus L2M over training at the largest dimension."""
    import matplotlib.pyplot as plt

    keys = ("l2m", "uniformity", "alignment", "linear_separability", "proto_acc", "probe_acc")
    fig, axes = plt.subplots(2, 4, figsize=(16, 7.5))
    ax = axes.ravel()
    ax[-1].axis("off")
    xpos = np.arange(len(dims))
    for a_, key in zip(ax, keys, strict=False):
        for i, loss in enumerate(LOSSES):
            a_.bar(xpos + (i - 1) * 0.27, [results[str(d)][loss][key] for d in dims], width=0.27, label=loss)
        a_.set_xticks(xpos)
        a_.set_xticklabels([str(d) for d in dims])
        a_.set_xlabel("embedding dim")
        a_.set_title(key)
    ax[0].legend(fontsize=8)
    for loss in LOSSES:
        h = histories[f"{loss}@{dims[-1]}"]
        ax[len(keys)].plot(h["step"], h["l2m"], label=loss)
    ax[len(keys)].set_xlabel("step")
    ax[len(keys)].set_title(f"L2M over training ({dims[-1]} d)")
    ax[len(keys)].legend(fontsize=8)
    fig.suptitle(title)
    fig.subplots_adjust(hspace=0.4)
    ctx.savefig(fig, "contrastive_gap")


def _claims(ctx: RecipeContext, per_seed: dict[str, dict[str, list[dict[str, float]]]], dims: list[int],
            gap_measured: dict[str, Any] | None = None, note: str = "") -> None:
    """The claims, over seeds, paired where two losses are compared; criteria fixed in advance."""
    top = str(max(dims))
    ps = per_seed[top]

    def col(loss: str, key: str, d: str = top) -> list[float]:
        return [m[key] for m in per_seed[d][loss]]

    def diff(a: str, b: str, key: str, d: str = top) -> list[float]:
        return [u - v for u, v in zip(col(a, key, d), col(b, key, d), strict=True)]

    clip_l2m = round(r_mean(ps["clip"], "l2m"), 4)
    ctx.claim(f"CLIP leaves a gap with the same modality in both towers ({top} d)",
              PAPER_128["clip"] if top == "128" else "gap",
              clip_l2m if gap_measured is None else {"clip": clip_l2m, **gap_measured},
              criterion=f"CLIP's L2M above {GAP_FLOOR} ({top} d)", per_seed=col("clip", "l2m"), null=GAP_FLOOR, note=note)
    ctx.claim(f"the two towers stay linearly separable under CLIP ({top} d)", 1.0,
              round(r_mean(ps["clip"], "linear_separability"), 4),
              criterion=f"held-out separability of CLIP's towers above {SEP_FLOOR}",
              per_seed=col("clip", "linear_separability"), null=SEP_FLOOR, note=note)
    shrink = {}
    for loss in ("cua", "cuaxu"):
        shrink[loss] = ctx.claim(
            f"{loss.upper()} shrinks the gap below CLIP's ({top} d)",
            {loss: PAPER_128[loss], "clip": PAPER_128["clip"]} if top == "128" else "lower",
            {loss: round(r_mean(ps[loss], "l2m"), 4), "clip": round(r_mean(ps["clip"], "l2m"), 4)},
            criterion=f"CLIP L2M − {loss.upper()} L2M, paired over seeds, above {SHRINK_MARGIN}",
            per_seed=diff("clip", loss, "l2m"), margin=SHRINK_MARGIN, note=note)
        ctx.claim(f"{loss.upper()} makes the embeddings more uniform than CLIP ({top} d)", "more uniform",
                  {loss: round(r_mean(ps[loss], "uniformity"), 3), "clip": round(r_mean(ps["clip"], "uniformity"), 3)},
                  criterion=f"CLIP uniformity − {loss.upper()} uniformity above 0: the added loss term itself "
                            "rewards this, so it is a sanity check",
                  per_seed=diff("clip", loss, "uniformity"), kind="sanity", note=note)
    for d in dims:
        if str(d) == top:
            continue
        for loss in ("cua", "cuaxu"):
            ctx.claim(f"{loss.upper()} shrinks the gap at {d} d too", "lower at every size",
                      {k: round(r_mean(v, "l2m"), 4) for k, v in per_seed[str(d)].items()},
                      criterion=f"CLIP L2M − {loss.upper()} L2M at {d} d, paired over seeds, above {SHRINK_MARGIN}",
                      per_seed=diff("clip", loss, "l2m", str(d)), margin=SHRINK_MARGIN, note=note)
    acc = diff("cua", "clip", "proto_acc")
    ctx.claim(
        f"closing the gap helps downstream accuracy (CUA vs CLIP, other-tower prototypes, {top} d)",
        "better zero-shot accuracy",
        {"cua": round(r_mean(ps["cua"], "proto_acc"), 4), "clip": round(r_mean(ps["clip"], "proto_acc"), 4)},
        criterion="CUA − CLIP prototype accuracy, paired over seeds, above 0; judged only where CUA's gap "
                  "claim held (otherwise the gap did not move and the run cannot test it)",
        per_seed=acc, depends_on=shrink["cua"], note=note)


def _fashion_towers(cfg: Any, dim: int) -> Any:
    """Two separately initialised image towers of the Fashion CLIP's architecture (``cfg``), linear heads to ``dim``.

    Each reads flat 784-pixel views (:func:`_augment`); tower A's weights are seeded by
    ``[cfg.seed, 0]``, tower B's by ``[cfg.seed, 1]``, the heads then drawn in order: the same
    initialisation for every loss of a seed, a different one for every seed.
    """
    import torch
    from torch import nn

    from ..models import TwoTower
    from ..models.clip import ScratchImageEncoder

    def tower(k: int) -> nn.Module:
        torch.manual_seed(int(np.random.SeedSequence([int(cfg.seed), k]).generate_state(1)[0]))
        return nn.Sequential(nn.Unflatten(1, (1, 28, 28)),
                             ScratchImageEncoder(cfg.image_encoder, width=cfg.width, layers=cfg.layers, heads=cfg.heads))

    with torch.random.fork_rng(devices=[]):
        a, b = tower(0), tower(1)
        return TwoTower(a, b, image_dim=cfg.width, text_dim=cfg.width, embed_dim=int(dim), projection="linear")


def _fashion_contrastive_gap(ctx: RecipeContext) -> dict[str, Any]:
    """Two image towers of the Fashion CLIP (``model=gaplab-clip-fashion``), its quick config's training, per seed."""
    import time

    import torch

    from ._fashion import config_of, fashion_images, fashion_trainer, load_run, run_steps, seed_list

    dims = _dims(ctx)
    seeds = seed_list(ctx, 3)
    per_seed: dict[str, dict[str, list[dict[str, float]]]] = {}
    histories: dict[str, dict[str, list[float]]] = {}
    reference: list[dict[str, float]] = []
    seconds: list[float] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(dims) * len(LOSSES) * len(seeds), desc="contrastive-gap", disable=not ctx.progress,
               leave=False)
    steps = 0
    for s in seeds:
        cfg = config_of(s, True)
        imgs_tr, y_tr, imgs_te, y_te = fashion_images(cfg)
        default = run_steps(cfg, len(imgs_tr)) if not ctx.quick else run_steps(
            config_of(s, True, epochs=FASHION_QUICK_EPOCHS), len(imgs_tr))
        steps = int(ctx.param("steps") or default)
        rng = np.random.default_rng([s, 11])
        views_tr = (_augment(imgs_tr, rng, FASHION_SHIFT, FASHION_NOISE), _augment(imgs_tr, rng, FASHION_SHIFT, FASHION_NOISE))
        views_te = (_augment(imgs_te, rng, FASHION_SHIFT, FASHION_NOISE), _augment(imgs_te, rng, FASHION_SHIFT, FASHION_NOISE))
        eval_te = (torch.from_numpy(views_te[0][:2000]), torch.from_numpy(views_te[1][:2000]))
        ref = load_run(s, True, progress=ctx.progress)  # the image–text Fashion CLIP of this config and seed
        reference.append({"seed": s, "l2m": float(ref.metrics["l2m"]),
                          "linear_separability": float(ref.metrics["linear_separability"])})
        for dim in dims:
            for loss in LOSSES:
                t0 = time.perf_counter()
                model = _fashion_towers(cfg, dim)
                tr = fashion_trainer(model, cfg, len(imgs_tr), loss=loss, steps=steps, eval_every=max(steps // 10, 1),
                                     eval_data=eval_te)
                tr.fit(TwoViews(imgs_tr, batch_size=cfg.batch_size, seed=s, shift=FASHION_SHIFT, noise=FASHION_NOISE))
                m = _metrics(tr, views_tr, views_te, y_tr, y_te, s)
                per_seed.setdefault(str(dim), {}).setdefault(loss, []).append(m)
                if s == seeds[0]:
                    histories[f"{loss}@{dim}"] = {"step": list(tr.history["step"]), "l2m": list(tr.history["l2m"])}
                seconds.append(time.perf_counter() - t0)
                bar.update(1)
    bar.close()
    results = _results(per_seed)
    _figure(ctx, results, histories, dims,
            f"paper 003 on the Fashion-MNIST CLIP's image tower: both towers see Fashion-MNIST images (two views); "
            f"quick config, τ = {cfg.temperature:g}, {steps} steps, {len(seeds)} seed(s)")
    ref_l2m = float(np.mean([r["l2m"] for r in reference]))
    _claims(ctx, per_seed, dims, gap_measured={"image-text Fashion CLIP (same config)": round(ref_l2m, 4)},
            note="two image towers of the Fashion-MNIST CLIP's architecture, trained with its quick config "
                 f"(τ fixed at {cfg.temperature:g}); 10,000 held-out images")
    return {"model": {"name": "gaplab-clip-fashion", "config": "quick", "quick": ctx.quick, "seeds": seeds,
                      "temperature": cfg.temperature, "shift": FASHION_SHIFT, "noise": FASHION_NOISE},
            "dataset": "fashion-mnist", "steps": steps, "dims": dims, "seeds": seeds, "results": results,
            "per_seed": per_seed, "histories": histories, "image_text_reference": reference,
            "seconds_per_run": seconds, "paper_l2m_128": PAPER_128}
