"""``dimension-ablation``: a few embedding dimensions carry the gap; ablating them hurts first.

Schrodi et al., "Two Effects, One Trigger", ICLR 2025, §2–3, Fig. 2b, 2c and 3a.

Three analyses of one set of paired embeddings, each reported for every source in its own
rows (claims named ``[source]``):

* Fig. 3a — per-dimension mean of the normalised image and text embeddings
  (``gaplab.metrics.dimension_gap``): most dimensions have similar means, a few differ a
  lot. Read as: the top ⌈5 % of d⌉ dimensions (at least 2) by |Δ_j| carry at least a
  quarter of ‖Δ‖² (:data:`SHARE_FLOOR`; five times their share of the dimensions, or more).
* Fig. 2b — two dimensions suffice to separate images from texts: the best pair among the
  8 dimensions of largest |Δ_j|, scored by held-out accuracy of a linear classifier on those
  two coordinates (``dimension_gap(...).best_pair_accuracy``; the best of 28 pairs on the
  same held-out split, so slightly optimistic); "perfectly" read as ≥ :data:`SEP_FLOOR` (0.98).
* Fig. 2c — successive ablation: at each step remove (zero) the remaining dimension whose
  removal, after re-normalising every embedding, lowers L2M the most (the paper's text:
  "based on maximal reduction in L2M"; the authors' code removes them in order of |Δ_j|);
  record L2M and the downstream performance, ``max_removed`` (20, the authors'
  ``n_ablated``) steps. "Drops sharply": the lowest performance within the first half of
  the steps is at least :data:`DROP_FLOOR` (10 %, relative) below the start. "Then partly
  recovers" (judged only where the drop held): the performance after the last step regains
  at least :data:`RECOVERY_FLOOR` (20 %) of that drop. The end value, not the best value
  after the minimum, so that noise along the curve cannot make a recovery.

Sources (default: both):

* ``clip_coco`` — real CLIP: the published MS-COCO dump of Liang et al. (500 image–caption
  pairs, 512-d, ``gaplab.data.load_published("clip_coco")``); performance = image→text
  R@1. No training, so every quantity has the same value at ``--quick`` and full scale.
  Intervals: seeded percentile bootstrap over the pairs (the share), over the query images
  with the removal order fixed (the ablation curve), Student-t over :data:`N_SPLITS` seeded
  80/20 splits (the separability). The paper's CLIP ViT-B/16 on ImageNet / MS-COCO is not at
  hand offline; this dump stands in for it, and the claims are expected to hold on it.
* ``mad`` — a MAD CLIP model trained here (:mod:`gaplab.recipes._mad`; captions with the
  digit and ``n_attributes`` attributes), one per seed; performance = zero-shot digit
  accuracy on held-out images, class prompts ensembled over captions of the training
  distribution (:func:`gaplab.recipes._mad.ensemble_prompts`). Intervals: Student-t over the
  seeds (default 5: one MAD model trains in under 30 s on a quiet machine). Its claims are
  judged only where the model learned the digit (zero-shot accuracy before any removal above
  chance by :data:`LEARN_MARGIN`, over seeds): a model at chance is not the paper's trained
  CLIP — its geometry is still that of the initialisation — and has no performance to lose.
  The ``--quick`` models are such models (digit accuracy at chance), so their MAD rows are
  ``inconclusive`` by design.

With ``--pairs FILE`` (any file ``gaplab.io.load_pairs`` reads) the analysis runs on that
file alone, as the CLIP dump is analysed (image→text R@1; a pairs file carries no class
prompts).

``--param model=gaplab-clip-fashion`` replaces the MAD rows by the from-scratch Fashion-MNIST
CLIP (:mod:`gaplab.models.clip`, ``[fashion]`` rows, the same claims): the cached trained
model of each seed ``seed`` … ``seed + 2`` (``--quick``: the quick config's model of
``seed``), on its 10,000 held-out pairs; performance is the zero-shot class accuracy with
the class prompts' embeddings (chance 0.1). The MAD parameters do not apply (a one-line error).

Scale: ``seeds`` MAD models (default 5; ``--quick``: 2, quick-scale models). The greedy
search is exact and costs O(N·d²) per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError
from ._base import RecipeContext, register_recipe

#: criteria, fixed before any run: the top ⌈TOP_FRACTION·d⌉ (≥ 2) dimensions carry at least
#: SHARE_FLOOR of ‖Δ‖²; two dimensions separate the modalities with held-out accuracy above
#: SEP_FLOOR; the ablation drops performance by DROP_FLOOR (relative) within the first half of
#: the steps and regains RECOVERY_FLOOR of that drop by the last step
TOP_FRACTION, SHARE_FLOOR, SEP_FLOOR, DROP_FLOOR, RECOVERY_FLOOR = 0.05, 0.25, 0.98, 0.10, 0.20
#: "similar for images and texts" (004 §3): mean absolute means within this factor of each other
#: (fixed before any run; the paper's CLIP ViT-B/16 values differ by a factor 1.06)
MAM_RATIO = 1.25
#: MAD: the ablation claims need the model's digit zero-shot accuracy above chance (1/10) by this
LEARN_MARGIN = 0.10
#: the model choices (``model`` parameter) for the trained rows; the first is the default
MODELS = ("mad-clip", "gaplab-clip-fashion")
#: the MAD models' parameters (``model=mad-clip`` only)
MAD_DEFAULTS: dict[str, Any] = {"n_attributes": 1, "epochs": None, "image_encoder": "cnn"}
#: real pairs: seeded 80/20 splits for the separability, bootstrap resamples for the rest
N_SPLITS, N_BOOT = 5, 1000


def mean_absolute_mean(mean: np.ndarray) -> float:
    r"""004 §3's mean absolute mean embedding: :math:`\frac1d\sum_j |\mu_j|` of a modality's mean of unit rows.

    Schrodi et al. report 0.0282 (images) and 0.0267 (texts) for CLIP ViT-B/16: similar on
    average, while a few dimensions (Fig. 3a) carry most of the gap.

    >>> mean_absolute_mean(np.array([0.5, -0.1, 0.0, 0.2]))
    0.2
    """
    return float(np.mean(np.abs(np.asarray(mean, dtype=np.float64))))


def greedy_ablation(
    x: np.ndarray,
    y: np.ndarray,
    *,
    image_index: np.ndarray | None = None,
    max_removed: int = 64,
    performance: Callable[[np.ndarray], Any] | None = None,
) -> dict[str, Any]:
    """Remove dimensions one by one, each time the one whose removal lowers L2M the most.

    Embeddings are L2-normalised, the removed dimensions zeroed and the rows re-normalised
    before every L2M. ``performance(keep_mask)`` (optional) scores the ablated embeddings.
    Returns the removal order and the L2M / performance curves (index 0 = nothing removed).
    """
    from ..metrics import l2m

    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    d = xn.shape[1]
    keep = np.ones(d, dtype=bool)
    x2, y2 = xn**2, yn**2
    nx, ny = x2.sum(1), y2.sum(1)
    order: list[int] = []
    gaps = [l2m(xn, yn, image_index=image_index)]
    perf = [] if performance is None else [performance(keep.copy())]
    wx_img = np.ones(xn.shape[0]) / xn.shape[0]
    wy_txt = np.ones(yn.shape[0]) / yn.shape[0]
    for _ in range(min(max_removed, d - 2)):
        cand = np.flatnonzero(keep)
        # new row norms if candidate j is removed: sqrt(n_i − x_ij²), for every j at once
        wx = 1.0 / np.sqrt(np.maximum(nx[:, None] - x2[:, cand], 1e-12))
        wy = 1.0 / np.sqrt(np.maximum(ny[:, None] - y2[:, cand], 1e-12))
        mx = (wx * wx_img[:, None]).T @ (xn * keep)  # (n_cand, d): new image mean per candidate
        my = (wy * wy_txt[:, None]).T @ (yn * keep)
        diff = mx - my
        diff[np.arange(cand.size), cand] = 0.0  # the removed dimension itself
        # (image mean over images, text mean over captions: as l2m does with image_index)
        j = int(cand[np.argmin((diff**2).sum(1))])
        keep[j] = False
        nx, ny = nx - x2[:, j], ny - y2[:, j]
        order.append(j)
        gaps.append(l2m(xn * keep, yn * keep, image_index=image_index))
        if performance is not None:
            perf.append(performance(keep.copy()))
    return {"order": order, "l2m": gaps, "performance": perf}


def curve_shape(perf: Any) -> dict[str, float]:
    """Drop and recovery of a performance curve (index 0 = nothing removed), as the claims read them.

    ``relative_drop``: (start − lowest value within the first half of the steps) / start;
    ``recovery``: (end − that lowest value) / (start − that lowest value), 0 where there is no
    drop. The first half is steps 1 … ⌈T/2⌉ of T.
    """
    p = np.asarray(perf, dtype=float)
    steps = len(p) - 1
    half = p[1 : max(1, int(np.ceil(steps / 2))) + 1] if steps >= 1 else p[:1]
    i_min = 1 + int(np.argmin(half)) if steps >= 1 else 0
    low = float(p[i_min])
    drop = float(p[0] - low)
    return {"start": float(p[0]), "min_first_half": low, "argmin": i_min, "steps": steps, "end": float(p[-1]),
            "drop": drop, "relative_drop": drop / p[0] if p[0] > 0 else 0.0,
            "recovery": float((p[-1] - low) / drop) if drop > 0 else 0.0}


def _i2t_hits(x: np.ndarray, y: np.ndarray, idx: np.ndarray | None, keep: np.ndarray) -> np.ndarray:
    """Per image: 1 if its own caption is the top image→text match of the ablated embeddings."""
    from ..metrics import retrieval_ranks

    i2t, _ = retrieval_ranks(x * keep, y * keep, image_index=idx)
    return (i2t == 0).astype(float)


def _pairs_rows(ctx: RecipeContext, x: np.ndarray, y: np.ndarray, idx: np.ndarray | None, source: str,
                max_removed: int, *, tag: str) -> dict[str, Any]:
    """Claims on real paired embeddings (no training), named ``[tag]``: bootstrap / split intervals."""
    from ..metrics import dimension_gap

    d = x.shape[1]
    top_k = max(2, int(np.ceil(TOP_FRACTION * d)))
    dgs = [dimension_gap(x, y, image_index=idx, top_k=top_k, seed=ctx.seed + s) for s in range(N_SPLITS)]
    dg = dgs[0]
    ab = greedy_ablation(x, y, image_index=idx, max_removed=max_removed,
                         performance=lambda keep: _i2t_hits(x, y, idx, keep))
    hits = np.array(ab["performance"])  # (steps + 1, n_images)
    curve = hits.mean(1)
    shape = curve_shape(curve)
    ab["performance"] = curve.tolist()

    rng = np.random.default_rng([ctx.seed, 31])
    n_img, n_txt = x.shape[0], y.shape[0]
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    img_of = np.arange(n_txt) if idx is None else np.asarray(idx)
    caps_of = np.split(np.argsort(img_of, kind="stable"), np.cumsum(np.bincount(img_of, minlength=n_img))[:-1])
    valid = np.flatnonzero([c.size > 0 for c in caps_of])  # the images retrieval ranks (hits' columns)
    share_b, drop_b, rec_b, mam_b = [], [], [], []
    for _ in range(N_BOOT):
        pos = rng.integers(0, valid.size, valid.size)  # images with captions, resampled with their captions
        pick = valid[pos]
        caps = np.concatenate([caps_of[i] for i in pick])
        mu_x, mu_y = xn[pick].mean(0), yn[caps].mean(0)
        mam_b.append(abs(np.log(mean_absolute_mean(mu_x) / mean_absolute_mean(mu_y))))
        delta = mu_x - mu_y
        sq = np.sort(delta**2)[::-1]
        share_b.append(float(sq[:top_k].sum() / sq.sum()))
        s = curve_shape(hits[:, pos].mean(1))
        drop_b.append(s["relative_drop"])
        rec_b.append(s["recovery"])

    def pct(v: list[float]) -> list[float]:
        return [float(q) for q in np.percentile(v, [2.5, 97.5])]

    share = dg.share_top
    label = f"[{tag}]"
    ctx.claim(f"{label} A few dimensions carry most of the mean difference between modalities (Fig. 3a)",
              "few dims with large |Δ|", f"top {top_k}/{d} dims carry {share:.1%} of ‖Δ‖²",
              criterion=f"share of ‖Δ‖² in the top ⌈{TOP_FRACTION:.0%}·d⌉ dimensions above {SHARE_FLOOR}",
              effect=share, ci95=pct(share_b), null=SHARE_FLOOR,
              interval=f"seeded percentile bootstrap over the {valid.size} images with their captions "
                       f"({N_BOOT} resamples)")
    accs = [g.best_pair_accuracy for g in dgs]
    ctx.claim(f"{label} Two embedding dimensions suffice to separate image from text (Fig. 2b)", "perfect separation",
              f"dims {dg.best_pair}: held-out acc. {dg.best_pair_accuracy:.3f}",
              criterion=f"held-out accuracy of the best two-dimension separator above {SEP_FLOOR}",
              per_seed=accs, null=SEP_FLOOR, interval=f"Student-t over {N_SPLITS} seeded 80/20 splits")
    drop = ctx.claim(
        f"{label} Removing the most gap-reducing dimensions first drops performance sharply (Fig. 2c)",
        "sharp drop", f"image→text R@1 {shape['start']:.3f} → {shape['min_first_half']:.3f} "
        f"at {shape['argmin']} removed",
        criterion=f"(start − lowest value in the first half of the {shape['steps']} steps) / start above {DROP_FLOOR}",
        effect=shape["relative_drop"], ci95=pct(drop_b), null=DROP_FLOOR,
        interval=f"seeded percentile bootstrap over the {valid.size} query images, removal order fixed "
                 f"({N_BOOT} resamples)")
    ctx.claim(
        f"{label} ...then performance partly recovers (Fig. 2c)", "partial recovery",
        f"R@1 {shape['min_first_half']:.3f} → {shape['end']:.3f} after {shape['steps']} removed",
        criterion=f"(end − that lowest value) / (start − lowest) above {RECOVERY_FLOOR}; judged only where the "
                  "drop held",
        effect=shape["recovery"], ci95=pct(rec_b), null=RECOVERY_FLOOR, depends_on=drop,
        interval=f"seeded percentile bootstrap over the {valid.size} query images, removal order fixed "
                 f"({N_BOOT} resamples)")
    mam_x, mam_y = mean_absolute_mean(xn[valid].mean(0)), mean_absolute_mean(yn.mean(0))
    ctx.claim(f"{label} The mean absolute mean embedding is similar for images and texts (§3)",
              "0.0282 vs 0.0267 (CLIP ViT-B/16)", f"image {mam_x:.4f}, text {mam_y:.4f}",
              criterion=f"|log(image / text)| of mean_j |mean(x̂)_j| below log {MAM_RATIO} (within a factor {MAM_RATIO})",
              effect=abs(float(np.log(mam_x / mam_y))), ci95=pct(mam_b), null=float(np.log(MAM_RATIO)), side="<",
              interval=f"seeded percentile bootstrap over the {valid.size} images with their captions "
                       f"({N_BOOT} resamples)")
    ctx.claim(f"{label} The greedy ablation lowers L2M", "L2M falls", f"{ab['l2m'][0]:.3f} → {min(ab['l2m']):.3f}",
              min(ab["l2m"]) < ab["l2m"][0], kind="sanity",
              criterion="the ablation removes, by construction, the dimension that lowers L2M most: a sanity check")
    return {"source": source, "tag": tag, "d": d, "n_pairs": n_txt, "dimension_gap": dg.to_dict(),
            "best_pair_accuracy_per_split": accs, "ablation": ab, "curve_shape": shape,
            "mean_absolute_mean": {"image": mam_x, "text": mam_y},
            "performance_name": "image→text R@1", "_plot": (x, y, dg, ab)}


def _mad_rows(ctx: RecipeContext, seeds: list[int], max_removed: int) -> dict[str, Any]:
    """Claims on MAD models trained here, one per seed: Student-t intervals over seeds."""
    from . import _mad

    described: list[str] = ["MAD model"]

    def models() -> Iterator[tuple[int, np.ndarray, np.ndarray, Callable[[np.ndarray], float]]]:
        for seed in seeds:
            cfg = _mad.scaled_config(ctx.quick, n_attributes=int(ctx.param("n_attributes")), seed=seed,
                                     epochs=ctx.param("epochs"), image_encoder=ctx.param("image_encoder"))
            model, _ = _mad.train_mad(cfg, progress=ctx.progress, cache_dir=_mad.cache_dir(ctx.out))
            _, test = _mad.mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
            x = _mad.embed_images(model, test.images)
            y = _mad.embed_texts(model, test.captions(n_attributes=cfg.n_attributes, rng=1))
            prompts = _mad.ensemble_prompts(model, cfg.n_attributes, seed=seed)["digit"]
            described[0] = f"MAD model (k={cfg.n_attributes}, {cfg.image_encoder}, d={cfg.embed_dim})"
            yield seed, x, y, partial(_zero_shot_kept, x=x, prompts=prompts, labels=test.labels)

    return _seeded_rows(ctx, models(), seeds, max_removed, tag="mad", source=described, target="digit")


def _fashion_rows(ctx: RecipeContext, seeds: list[int], max_removed: int) -> dict[str, Any]:
    """The same claims on the from-scratch Fashion-MNIST CLIP: the cached trained model of each seed, held-out pairs."""
    from ._fashion import held_out

    def models() -> Iterator[tuple[int, np.ndarray, np.ndarray, Callable[[np.ndarray], float]]]:
        for seed in seeds:
            e = held_out(seed, ctx.quick, progress=ctx.progress)
            yield seed, e.image, e.text, partial(_zero_shot_kept, x=e.image, prompts=e.class_text, labels=e.labels)

    source = [f"Fashion-MNIST CLIP ({'quick' if ctx.quick else 'full'} config)"]
    return _seeded_rows(ctx, models(), seeds, max_removed, tag="fashion", source=source, target="class")


def _zero_shot_kept(keep: np.ndarray, *, x: np.ndarray, prompts: np.ndarray, labels: np.ndarray) -> float:
    """Zero-shot accuracy with only the ``keep`` dimensions (the ablation's performance)."""
    from ..metrics import zero_shot_accuracy

    return zero_shot_accuracy(x * keep, prompts * keep, labels)


def _seeded_rows(ctx: RecipeContext, models: Iterable[tuple[int, np.ndarray, np.ndarray, Callable[[np.ndarray], float]]],
                 seeds: list[int], max_removed: int, *, tag: str, source: list[str], target: str) -> dict[str, Any]:
    """Claims on one trained model per seed (``(seed, x, y, performance)``): Student-t intervals over seeds.

    ``performance(keep)`` is the zero-shot ``target`` accuracy (chance 0.1: ten classes) with
    only the ``keep`` dimensions; ``source`` (a one-item list) names the models, filled in
    while they load.
    """
    from ..metrics import dimension_gap

    runs = []
    for seed, x, y, performance in models:
        d = x.shape[1]
        dg = dimension_gap(x, y, top_k=max(2, int(np.ceil(TOP_FRACTION * d))), seed=seed)
        ab = greedy_ablation(x, y, max_removed=max_removed, performance=performance)
        runs.append({"seed": seed, "d": d, "dimension_gap": dg.to_dict(), "ablation": ab,
                     "curve_shape": curve_shape(ab["performance"]), "_plot": (x, y, dg, ab)})

    d = runs[0]["d"]
    top_k = max(2, int(np.ceil(TOP_FRACTION * d)))
    shares = [r["dimension_gap"]["share_top"] for r in runs]
    accs = [r["dimension_gap"]["best_pair_accuracy"] for r in runs]
    shapes = [r["curve_shape"] for r in runs]
    label = f"[{tag}]"
    learned = ctx.claim(
        f"{label} The model learned the {target} (premise of every claim below)", "well above chance",
        f"{target} zero-shot accuracy {np.mean([s['start'] for s in shapes]):.3f} (chance 0.1)",
        criterion=f"zero-shot {target} accuracy before any removal − 0.1 (chance) above {LEARN_MARGIN}: a model at "
                  "chance is not the paper's trained CLIP (its geometry is that of an untrained one) and has no "
                  "performance to lose",
        per_seed=[s["start"] - 0.1 for s in shapes], null=LEARN_MARGIN, kind="sanity")
    ctx.claim(f"{label} A few dimensions carry most of the mean difference between modalities (Fig. 3a)",
              "few dims with large |Δ|", f"top {top_k}/{d} dims carry {np.mean(shares):.1%} of ‖Δ‖² (mean)",
              criterion=f"share of ‖Δ‖² in the top ⌈{TOP_FRACTION:.0%}·d⌉ dimensions above {SHARE_FLOOR}; judged "
                        f"only where the model learned the {target}",
              per_seed=shares, null=SHARE_FLOOR, depends_on=learned)
    ctx.claim(f"{label} Two embedding dimensions suffice to separate image from text (Fig. 2b)", "perfect separation",
              f"held-out acc. {np.mean(accs):.3f} (mean)",
              criterion=f"held-out accuracy of the best two-dimension separator above {SEP_FLOOR}; judged only where "
                        f"the model learned the {target}",
              per_seed=accs, null=SEP_FLOOR, depends_on=learned)
    drop = ctx.claim(
        f"{label} Removing the most gap-reducing dimensions first drops performance sharply (Fig. 2c)",
        "sharp drop", f"zero-shot {target} accuracy {np.mean([s['start'] for s in shapes]):.3f} → "
        f"{np.mean([s['min_first_half'] for s in shapes]):.3f} (means)",
        criterion=f"(start − lowest value in the first half of the steps) / start above {DROP_FLOOR}; judged only "
                  f"where the model learned the {target}",
        per_seed=[s["relative_drop"] for s in shapes], null=DROP_FLOOR, depends_on=learned)
    ctx.claim(
        f"{label} ...then performance partly recovers (Fig. 2c)", "partial recovery",
        f"{np.mean([s['min_first_half'] for s in shapes]):.3f} → {np.mean([s['end'] for s in shapes]):.3f} (means)",
        criterion=f"(end − that lowest value) / (start − lowest) above {RECOVERY_FLOOR}; judged only where the "
                  "drop held",
        per_seed=[s["recovery"] for s in shapes], null=RECOVERY_FLOOR, depends_on=drop)
    ctx.claim(f"{label} The greedy ablation lowers L2M", "L2M falls",
              ", ".join(f"{r['ablation']['l2m'][0]:.3f} → {min(r['ablation']['l2m']):.3f}" for r in runs),
              all(min(r["ablation"]["l2m"]) < r["ablation"]["l2m"][0] for r in runs), kind="sanity",
              criterion="the ablation removes, by construction, the dimension that lowers L2M most: a sanity check")
    return {"source": source[0], "tag": tag, "d": d, "seeds": seeds, "runs": runs,
            "performance_name": f"zero-shot {target} accuracy",
            "_plot": runs[0]["_plot"]}


def _plot_row(axes: Any, x: np.ndarray, y: np.ndarray, dg: Any, ab: dict[str, Any], label: str,
              perf_name: str) -> None:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    d = x.shape[1]
    show = min(d, 50)
    axes[0].bar(np.arange(show) - 0.2, np.abs(xn.mean(0))[:show], 0.4, label="image")
    axes[0].bar(np.arange(show) + 0.2, np.abs(yn.mean(0))[:show], 0.4, label="text")
    axes[0].set_title(f"{label} (3a) |mean| of the first {show} dimensions", fontsize=9)
    axes[0].set_xlabel("dimension")
    axes[0].legend(fontsize=8)
    i, j = dg.best_pair
    axes[1].scatter(xn[:, i], xn[:, j], s=4, alpha=0.5, label="image")
    axes[1].scatter(yn[:, i], yn[:, j], s=4, alpha=0.5, label="text")
    axes[1].set_xlabel(f"dim {i}")
    axes[1].set_ylabel(f"dim {j}")
    axes[1].set_title(f"{label} (2b) best pair, held-out acc. {dg.best_pair_accuracy:.3f}", fontsize=9)
    axes[1].legend(fontsize=8)
    steps = np.arange(len(ab["l2m"]))
    axes[2].plot(steps, ab["performance"], marker=".", label=perf_name)
    axes[2].set_xlabel("dimensions removed")
    axes[2].set_ylabel(perf_name)
    ax2 = axes[2].twinx()
    ax2.plot(steps, ab["l2m"], c="gray", ls="--", label="L2M")
    ax2.set_ylabel("L2M")
    axes[2].set_title(f"{label} (2c) successive removal (max L2M reduction)", fontsize=9)


@register_recipe(
    "dimension-ablation",
    paper="004",
    summary="Per-dimension mean gap, 2-dimension separability, greedy L2M-driven dimension ablation vs "
            "performance, on real CLIP (MS-COCO dump) and MAD models",
    accepts_pairs=True,
    max_removed=20,
    quick_max_removed=20,
    model="mad-clip",
    **MAD_DEFAULTS,
    seeds=None,
    clip=True,
    mad=True,
)
def dimension_ablation(ctx: RecipeContext) -> dict[str, Any]:
    """Per-dimension mean gap, best two-dimension separability and greedy dimension ablation.

    Works on ``ctx.pairs`` when given; else on the published real-CLIP MS-COCO dump
    (``clip=True``) and on MAD CLIP models trained here (``mad=True``, one per seed), each in
    its own claims. Returns the measured values for ``run.json``: per source the dimension
    ``d``, the per-dimension gap analysis (``dimension_gap``), the ablation curves of the gap
    and the performance and their shape (``curve_shape``).
    """
    import matplotlib.pyplot as plt

    from ._fashion import check_model, reject_other_params, seed_list

    model = check_model("dimension-ablation", ctx.param("model"), MODELS)
    if model == "gaplab-clip-fashion":
        reject_other_params("dimension-ablation", ctx, MAD_DEFAULTS, MODELS[0])
    max_removed = int(ctx.param("quick_max_removed" if ctx.quick else "max_removed"))
    given = ctx.param("seeds")  # a count, or the seeds themselves
    seeds = ([int(s) for s in given] if isinstance(given, (list, tuple))
             else [ctx.seed + s for s in range(int(given or (2 if ctx.quick else 5)))])
    results: dict[str, dict[str, Any]] = {}
    if ctx.pairs is not None:
        from ..io import load_pairs

        p = load_pairs(ctx.pairs)
        results["pairs"] = _pairs_rows(ctx, np.asarray(p.image, float), np.asarray(p.text, float), p.image_index,
                                       str(ctx.pairs), max_removed, tag=Path(ctx.pairs).name)
    else:
        if not ctx.param("clip") and not ctx.param("mad"):
            raise ConfigError("dimension-ablation: clip=false and mad=false leave nothing to analyse")
        if ctx.param("clip"):
            from ..data import load_published

            x, y = load_published("clip_coco")
            results["clip_coco"] = _pairs_rows(ctx, np.asarray(x, float), np.asarray(y, float), None,
                                               "published CLIP MS-COCO dump (500 pairs)", max_removed, tag="clip_coco")
        if ctx.param("mad") and model == "gaplab-clip-fashion":
            results["fashion"] = _fashion_rows(ctx, seed_list(ctx, 3), max_removed)
        elif ctx.param("mad"):
            results["mad"] = _mad_rows(ctx, seeds, max_removed)

    fig, axes = plt.subplots(len(results), 3, figsize=(17, 4 * len(results)), squeeze=False)
    for row, r in zip(axes, results.values(), strict=True):
        px, py, pdg, pab = r.pop("_plot")
        _plot_row(row, px, py, pdg, pab, label=f"[{r['tag']}]", perf_name=r["performance_name"])
        for run in r.get("runs", []):
            run.pop("_plot", None)
    fig.suptitle("dimension ablation — " + "; ".join(r["source"] for r in results.values()), fontsize=10)
    fig.tight_layout()
    ctx.savefig(fig, "dimension_ablation")
    return {"sources": list(results), **results}
