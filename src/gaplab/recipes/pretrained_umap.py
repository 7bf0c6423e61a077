"""``pretrained-umap``: trained contrastive models of four modality pairs all show the gap.

Liang et al., "Mind the Gap", NeurIPS 2022, Fig. 1b: UMAP of the paired embeddings of
CLIP (image ↔ caption, MS-COCO), ConVIRT (chest X-ray ↔ report), VideoCLIP (video ↔ text)
and CLASP (amino-acid sequence ↔ text), with lines joining matched pairs: in every trained
model the two modalities sit in separate regions. Fig. 1c shows the same for random weights.

Data: the dumps the paper's repository ships (``gaplab.data.load_published``): the four
trained models, and VideoCLIP and CLASP with random weights (the only random dumps shipped).

Two claims per dump, thresholds fixed before any run:

* **gap beyond chance** — L2M of the dump against the L2M with the modality labels shuffled
  (each pair's two rows swapped with probability ½, :func:`~gaplab.recipes.init_gap.shuffled_l2m`).
  Effect = L2M − the 99th percentile of 200 shuffles; 95 % interval = percentile bootstrap
  over pairs (1,000 resamples, shuffled quantile held fixed). Held when the interval lies
  above 0.
* **separate regions in the 2-D view** — the figure's own statement: in the 2-D UMAP (PCA
  when ``umap-learn`` is not installed; the record says which) a 5-nearest-neighbour
  classifier tells image from text with 5-fold cross-validated accuracy above 0.75 (chance
  0.5). One value per UMAP seed (3 seeds; 2 with ``--quick``), Student-t interval over
  seeds. This tests the picture, not the embedding: UMAP keeps neighbourhoods, so a gap
  that is large but smaller than the spread within a modality can still overlap in 2-D.

Full scale: 6 dumps × 3 UMAP seeds, about 60 s on 2 CPUs (most of it UMAP's numba
compilation, once per process); ``--quick``: 2 seeds, 100 shuffles, 300 bootstrap resamples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe

#: (published dump, label) in the paper's panel order; trained first, then random weights
DUMPS = (
    ("clip_coco", "CLIP (trained)"),
    ("convirt", "ConVIRT (trained)"),
    ("videoclip", "VideoCLIP (trained)"),
    ("clasp", "CLASP (trained)"),
    ("videoclip_random", "VideoCLIP (random weights)"),
    ("clasp_random", "CLASP (random weights)"),
)

#: "separate regions" in 2-D: cross-validated 5-NN modality accuracy above this (chance 0.5)
SEPARATE_2D = 0.75

#: the shuffled-label quantile the gap must beat
NULL_QUANTILE = 99.0


def projection_2d(both: np.ndarray, method: str, seed: int) -> np.ndarray:
    """2-D coordinates of the stacked rows by ``method`` (``"UMAP"`` or ``"PCA"``), seeded."""
    if method == "UMAP":
        import warnings

        import umap

        with warnings.catch_warnings():  # "n_jobs overridden by random_state": seeded on purpose
            warnings.simplefilter("ignore", UserWarning)
            return np.asarray(umap.UMAP(n_components=2, random_state=seed, n_jobs=1).fit_transform(both))
    from sklearn.decomposition import PCA

    return np.asarray(PCA(2, random_state=seed).fit_transform(both))


def knn_modality_accuracy(xy: np.ndarray, n_image: int, seed: int) -> float:
    """5-fold cross-validated accuracy of a 5-NN classifier telling image rows from text rows."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.r_[np.zeros(n_image, dtype=int), np.ones(xy.shape[0] - n_image, dtype=int)]
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(KNeighborsClassifier(5), xy, labels, cv=folds).mean())


@register_recipe(
    "pretrained-umap",
    paper="000",
    summary="Trained CLIP, ConVIRT, VideoCLIP and CLASP all show the gap in UMAP (Fig. 1b)",
    seeds=3,
    n_perm=200,
    n_boot=1000,
)
def pretrained_umap(ctx: RecipeContext) -> dict[str, Any]:
    """UMAP with pair lines of the published dumps, and the gap of each against shuffled labels.

    Returns the measured values for ``run.json``: per dump its L2M, RMG, the shuffled-label
    quantile, the bootstrap interval and the 2-D separation per seed (``dumps``), and the
    projection method used.
    """
    import matplotlib.pyplot as plt
    from tqdm import tqdm

    from ..data import load_published
    from ..metrics import l2m, rmg
    from .init_gap import pair_plot, shuffled_l2m

    seeds = [ctx.seed + i for i in range(2 if ctx.quick else int(ctx.param("seeds")))]
    n_perm = 100 if ctx.quick else int(ctx.param("n_perm"))
    n_boot = 300 if ctx.quick else int(ctx.param("n_boot"))
    try:
        import umap  # noqa: F401

        method = "UMAP"
    except ImportError:
        method = "PCA"
    rng = ctx.rng
    dumps: dict[str, Any] = {}
    views: dict[str, tuple[np.ndarray, int, np.ndarray]] = {}
    for name, label in tqdm(DUMPS, desc="pretrained-umap: dumps", disable=not ctx.progress):
        x, y = load_published(name)
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        yn = y / np.linalg.norm(y, axis=1, keepdims=True)
        gap = l2m(xn, yn)
        null_q = float(np.percentile(shuffled_l2m(xn, yn, n_perm, rng), NULL_QUANTILE))
        n = xn.shape[0]
        boots = np.array([l2m(xn[i], yn[i]) for i in (rng.integers(0, n, n) for _ in range(n_boot))])
        lo, hi = np.percentile(boots - null_q, [2.5, 97.5])
        both = np.vstack([xn, yn])
        accs, first = [], None
        for s in seeds:
            xy = projection_2d(both, method, s)
            first = xy if first is None else first
            accs.append(knn_modality_accuracy(xy, n, s))
        assert first is not None
        views[label] = (first, n, rng.choice(n, min(60, n), replace=False))
        dumps[label] = {"dump": name, "n_pairs": n, "dim": int(xn.shape[1]), "l2m": gap, "rmg": rmg(xn, yn),
                        "null_l2m_q99": null_q, "gap_over_null_ci95": [float(lo), float(hi)],
                        "separation_2d_per_seed": accs}
        ctx.claim(
            f"{label}: a modality gap beyond shuffled-label chance",
            "gap > 0 (Fig. 1b)" if "trained" in label else "gap > 0 (Fig. 1c)",
            {"l2m": round(gap, 4), "shuffled_q99": round(null_q, 4)},
            criterion=f"L2M − the {NULL_QUANTILE:g}th percentile of {n_perm} label-shuffled L2Ms; "
                      f"95 % percentile bootstrap over pairs ({n_boot} resamples) wholly above 0",
            effect=gap - null_q, ci95=[float(lo), float(hi)], interval="bootstrap over pairs",
        )
        ctx.claim(
            f"{label}: the modalities occupy separate regions of the 2-D {method} view",
            "separate regions (Fig. 1b)" if "trained" in label else "separate regions (Fig. 1c)",
            {"knn_accuracy": round(float(np.mean(accs)), 4)},
            criterion=f"5-fold cross-validated 5-NN image-vs-text accuracy in the 2-D {method} coordinates, "
                      f"one per seed ({len(seeds)}); Student-t interval above {SEPARATE_2D} (chance 0.5)",
            per_seed=accs, null=SEPARATE_2D,
        )

    # ---- figure: one panel per dump, pair lines, as Fig. 1b / 1c
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.6))
    for ax, (label, (xy, n, pairs)) in zip(axes.ravel(), views.items(), strict=True):
        d = dumps[label]
        pair_plot(ax, xy[:n], xy[n:], pairs,
                  f"{label}\nL2M {d['l2m']:.3f} (shuffled q99 {d['null_l2m_q99']:.3f}); "
                  f"2-D 5-NN acc {np.mean(d['separation_2d_per_seed']):.2f}")
    axes[0, 0].legend(loc="best", fontsize=7, markerscale=3)
    fig.suptitle(f"{method} of published paired embeddings, lines join pairs (cf. Liang et al. Fig. 1b, 1c)")
    fig.tight_layout()
    ctx.savefig(fig, "pretrained_umap")
    return {"dumps": dumps, "method": method, "seeds": seeds, "n_perm": n_perm, "n_boot": n_boot}
