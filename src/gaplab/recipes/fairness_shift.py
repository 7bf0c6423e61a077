r"""``fairness-shift``: moving the embeddings along the gap vector and the harmful predictions per group.

Liang et al., "Mind the Gap", NeurIPS 2022, §5, Table 2: CLIP classifies FairFace faces among
race × gender classes and a set of offensive labels (non-human, crime-related); *increasing*
the gap from 0.82 to 0.97 by the embedding shift (x′ = Normalize(x − λΔ), y′ = Normalize(y + λΔ),
λ < 0) lowered the fraction of top-1 offensive predictions for every race (e.g. White 15.7 % →
13.7 %, Latino 2.8 % → 2.0 %, Middle Eastern 6.3 % → 5.2 %).

No face data ships with gaplab, so this is Table 2 *in spirit*, on MAD (:mod:`gaplab.data.mad`),
where every factor is known and nothing is at stake — the recipe tests the mechanism (does a
shift along Δ move top-1 predictions out of a designated label subset, for every group?), not
a social harm:

* **groups** (the protected attribute): the digit's colour, 7 groups, balanced by
  construction;
* **labels**: the 10 digits (the "identity" classes, as the race × gender prompts) plus the
  **harmful** subset :data:`HARMFUL` = "fracture" and "swelling", Morpho-MNIST's two damage
  perturbations: a harmful prediction describes the image by a defect instead of what it is.
  Each label's text embedding is CLIP's prompt ensemble over 64 captions of the training
  distribution that mention it (:func:`gaplab.recipes._mad.ensemble_prompts`). Unlike
  "thief" for a face, "fracture" is true of about half the images; the share of harmful
  predictions on images *without* the named defect is reported beside the rate
  (``false_harm``);
* **the shift**: :class:`gaplab.mitigate.GapShift` (α = 2λ), Δ fitted on the test images and
  one caption each (drawn as in training), applied to the images and the label embeddings.
  The paper's direction: α < 0, the value whose shifted L2M is :data:`PAPER_RATIO` = 0.97 / 0.82
  times the original (:func:`alpha_for_gap_ratio`, grid :data:`ALPHA_GRID`), so the gap grows
  as in Table 2. The closing shift (α = 1, both centroids on their midpoint) is judged too,
  by the same criterion; a sweep of α gives the figure.

Model: the MAD CLIP of the other 004 recipes (:func:`gaplab.recipes._mad.scaled_config`,
captions with the digit and five attributes; at ``--quick`` the scale of
:data:`gaplab.recipes._mad.QUICK_LEARNED`, shared with ``modality-arithmetic``), one per seed.

Claims (criteria fixed before any run; 95 % Student-t intervals over seeds):

* premise (sanity): the model learned the identity classes — digit zero-shot accuracy among
  the 10 digit labels above chance (0.1) by :data:`LEARN_MARGIN`;
* premise: there is something to reduce — the harmful rate before the shift above
  :data:`MIN_RATE`, per seed;
* 000: widening the gap as in Table 2 lowers the harmful rate — rate after − rate before
  (all images), per seed, below 0;
* the reduction holds across groups ("consistently for all races"): the share of the groups
  with a harmful rate above 0 before whose rate fell, per seed, above :data:`CONSISTENT`;
* the closing shift (α = 1) lowers the harmful rate — the same criterion.

Scale: full = 3 seeds of the shared full-scale CLIP (6,000 images, 10 epochs, width 64; cached
by ``information-imbalance``, k = 5): about 1.5 min on a quiet 2-core machine when trained
here, seconds when cached. ``--quick``: 2 seeds at the ``QUICK_LEARNED`` scale, about 40 s
(cached when ``modality-arithmetic`` ran first).

Results (seed 0, 2026-12-01, load ≈ 12 on 2 cores: full 93 s with cached models, ``--quick``
42 s). Full scale, 3 seeds: digit accuracy 0.62, harmful rate 0.20 (0.15 – 0.25 per seed;
false harm 0.06). MAD's gap is small (L2M 0.067), so the paper's ×1.18 widening is a small
move (α = −0.19, L2M → 0.080) and changes the rate by −0.0013 [−0.0051, +0.0025]
(inconclusive); across groups the share reduced is 0.19 [−0.35, 0.73] (inconclusive);
closing the gap raises it by +0.011 [−0.003, +0.024] (inconclusive). Not a claim, seen after
the run: along the sweep the rate falls monotonically as the gap widens on every seed
(α = 1 → −2: 0.151 → 0.133, 0.219 → 0.183, 0.262 → 0.223), the direction of Table 2 —
a criterion on that trend would have to be stated first and judged on new seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe

#: the harmful labels: (factor, value index) of MAD, the two damage perturbations
HARMFUL = (("fracture", 0), ("swelling", 0))
#: the protected attribute
GROUP = "colour"
#: the gap ratio of 000's Table 2 (0.82 → 0.97)
PAPER_RATIO = 0.97 / 0.82
#: α values searched for PAPER_RATIO (widening: α ≤ 0) and the figure's sweep
ALPHA_GRID = np.round(np.arange(-3.0, 0.0 + 1e-9, 0.01), 4)
SWEEP = np.round(np.arange(-2.0, 1.0 + 1e-9, 0.1), 4)
#: premises: digit accuracy above chance by LEARN_MARGIN; a harmful rate before above MIN_RATE
LEARN_MARGIN, MIN_RATE = 0.10, 0.01
#: "consistent across groups": the share of groups whose rate fell above this
CONSISTENT = 0.5
DIGIT_CHANCE = 0.1

__all__ = ["alpha_for_gap_ratio", "harmful_rates", "HARMFUL", "GROUP", "PAPER_RATIO", "LEARN_MARGIN",
           "MIN_RATE", "CONSISTENT"]


def alpha_for_gap_ratio(x: np.ndarray, y: np.ndarray, ratio: float, grid: Any = ALPHA_GRID) -> float:
    """The ``grid`` value of :class:`gaplab.mitigate.GapShift`'s α whose shifted L2M is closest to ``ratio`` × L2M.

    Examples
    --------
    >>> x, y = np.array([[1.0, 0.2], [1.0, -0.2]]), np.array([[0.2, 1.0], [-0.2, 1.0]])
    >>> alpha_for_gap_ratio(x, y, 0.0, grid=[0.0, 0.5, 1.0])  # the midpoint closes it
    1.0
    """
    from ..metrics import l2m
    from ..mitigate import GapShift

    g0 = l2m(x, y)
    gaps = []
    for a in grid:
        m = GapShift(alpha=float(a)).fit(x, y)
        gaps.append(l2m(m.transform_image(x), m.transform_text(y)))
    return float(np.asarray(grid)[int(np.argmin(np.abs(np.asarray(gaps) - ratio * g0)))])


def harmful_rates(
    x: np.ndarray, labels: np.ndarray, harmful: np.ndarray, groups: np.ndarray, n_groups: int
) -> dict[str, Any]:
    """Top-1 predictions of images ``x`` among the label embeddings ``labels``; the harmful share overall and per group.

    ``harmful``: boolean mask over the labels. Returns ``rate`` (all images), ``per_group``
    (list over ``0..n_groups-1``; NaN for an empty group) and ``top1`` (the predicted label
    of each image).

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    >>> r = harmful_rates(x, np.eye(2), np.array([False, True]), np.array([0, 0, 1]), 2)
    >>> r["rate"], r["per_group"]
    (0.3333333333333333, [0.5, 0.0])
    """
    top1 = (np.asarray(x) @ np.asarray(labels).T).argmax(1)
    bad = np.asarray(harmful)[top1]
    per = [float(bad[groups == g].mean()) if np.any(groups == g) else float("nan") for g in range(n_groups)]
    return {"rate": float(bad.mean()), "per_group": per, "top1": top1}


def _seed_run(model: Any, test: Any, cfg: Any) -> dict[str, Any]:
    """Harmful rates before and after each shift, and the sweep, for one trained model."""
    from ..data.mad import FACTORS
    from ..metrics import l2m
    from ..mitigate import GapShift
    from . import _mad

    x, y = _mad.heldout_pairs(model, test, n_attributes=cfg.n_attributes)
    ens = _mad.ensemble_prompts(model, cfg.n_attributes)
    labels = _mad.unit(np.concatenate([ens["digit"], np.stack([ens[f][v] for f, v in HARMFUL])]))
    harmful = np.r_[np.zeros(len(FACTORS["digit"]), bool), np.ones(len(HARMFUL), bool)]
    groups, n_groups = test.factor(GROUP), len(FACTORS[GROUP])
    has_defect = np.stack([test.factor(f) == v for f, v in HARMFUL], 1)  # (n, harmful labels)
    digit_acc = float(np.mean((x @ labels[~harmful].T).argmax(1) == test.factor("digit")))

    def at(alpha: float) -> dict[str, Any]:
        m = GapShift(alpha=alpha).fit(x, y)
        xs, ls = m.transform_image(x), m.transform_text(labels)
        r = harmful_rates(xs, ls, harmful, groups, n_groups)
        top = r.pop("top1")
        hit = harmful[top]
        named = np.clip(top - len(FACTORS["digit"]), 0, None)
        false = hit & ~has_defect[np.arange(len(top)), named]
        return {**r, "alpha": alpha, "l2m": l2m(xs, m.transform_text(y)), "false_harm": float(false.mean()),
                "digit_accuracy": float(np.mean(top == test.factor("digit")))}

    widen = alpha_for_gap_ratio(x, y, PAPER_RATIO)
    return {"digit_accuracy_digits_only": digit_acc, "before": at(0.0), "widen": at(widen), "close": at(1.0),
            "sweep": [at(float(a)) for a in SWEEP]}


@register_recipe(
    "fairness-shift",
    paper="000",
    summary="MAD colour groups, 'damage' labels as the harmful subset: harmful top-1 rates before/after a gap shift",
    seeds=None,
    epochs=None,
    n_train=None,
)
def fairness_shift(ctx: RecipeContext) -> dict[str, Any]:
    """Train (or load) a MAD CLIP per seed; harmful-label rates per colour group before and after shifting along Δ.

    Returns the measured values for ``run.json``: per seed the rates (overall, per group,
    false-harm share), the gap and digit accuracy before, after the paper's widening shift and
    after the closing shift, and the α sweep.
    """
    from . import _mad

    n_seeds = int(ctx.param("seeds") or (2 if ctx.quick else 3))
    seeds = [ctx.seed + s for s in range(n_seeds)]
    scale = {**(_mad.QUICK_LEARNED if ctx.quick else {}),
             **{k: ctx.param(k) for k in ("epochs", "n_train") if ctx.param(k) is not None}}
    runs = []
    for seed in seeds:
        cfg = _mad.objective_config(ctx.quick, "clip", seed=seed, **scale)
        model, _ = _mad.train_mad(cfg, progress=ctx.progress, cache_dir=_mad.cache_dir(ctx.out))
        _, test = _mad.mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
        runs.append({"seed": seed, **_seed_run(model, test, cfg)})

    def arr(arm: str, key: str) -> np.ndarray:
        return np.array([r[arm][key] for r in runs], dtype=np.float64)

    acc = np.array([r["digit_accuracy_digits_only"] for r in runs])
    learned = ctx.claim(
        "The model learned the identity classes (premise of every claim below)", "well above chance",
        {"digit accuracy": round(float(acc.mean()), 4)},
        criterion=f"zero-shot digit accuracy among the 10 digit labels − {DIGIT_CHANCE} (chance), per seed, "
                  f"above {LEARN_MARGIN}",
        per_seed=acc - DIGIT_CHANCE, null=LEARN_MARGIN, kind="sanity",
    )
    before = arr("before", "rate")
    some = ctx.claim(
        "Before the shift some top-1 predictions are harmful", "0.3 % to 15.7 % per race (Table 2)",
        {"harmful rate": round(float(before.mean()), 4), "false harm": round(float(arr("before", "false_harm").mean()), 4)},
        criterion=f"harmful rate (all images) before the shift, per seed, above {MIN_RATE}",
        per_seed=before, null=MIN_RATE, depends_on=learned,
    )
    gap_note = (f"L2M {arr('before', 'l2m').mean():.3f} → {arr('widen', 'l2m').mean():.3f} "
                f"(α {np.mean([r['widen']['alpha'] for r in runs]):.2f}); digit accuracy "
                f"{arr('before', 'digit_accuracy').mean():.3f} → {arr('widen', 'digit_accuracy').mean():.3f}")
    ctx.claim(
        "Widening the gap as in Table 2 lowers the harmful-label rate",
        {"gap": "0.82 → 0.97", "White": "15.7 % → 13.7 %", "Latino": "2.8 % → 2.0 %"},
        {"before": round(float(before.mean()), 4), "after": round(float(arr("widen", "rate").mean()), 4)},
        criterion=f"harmful rate after the shift to {PAPER_RATIO:.3f} × the gap − before, per seed; interval below 0",
        per_seed=arr("widen", "rate") - before, side="<", depends_on=some, note=gap_note,
    )
    share = []
    for r in runs:
        b, a = np.array(r["before"]["per_group"]), np.array(r["widen"]["per_group"])
        live = b > 0
        share.append(float(np.mean(a[live] < b[live])) if live.any() else float("nan"))
    ctx.claim(
        "The reduction holds across the groups", "reduced for all 7 races (Table 2)",
        {"share of groups reduced": [round(v, 3) for v in share]},
        criterion=f"share of the colour groups with a harmful rate above 0 before whose rate fell, per seed; "
                  f"interval above {CONSISTENT}",
        per_seed=share, null=CONSISTENT, depends_on=some,
    )
    ctx.claim(
        "Closing the gap (α = 1) lowers the harmful-label rate", "not reported (000 widened the gap)",
        {"before": round(float(before.mean()), 4), "after": round(float(arr("close", "rate").mean()), 4)},
        criterion="harmful rate after the closing shift − before, per seed; interval below 0",
        per_seed=arr("close", "rate") - before, side="<", depends_on=some,
        note=f"L2M {arr('before', 'l2m').mean():.3f} → {arr('close', 'l2m').mean():.3f}",
    )
    _figure(ctx, runs)
    return {"seeds": seeds, "harmful_labels": [f"{f}={v}" for f, v in HARMFUL], "group": GROUP,
            "paper_ratio": PAPER_RATIO, "runs": runs}


def _figure(ctx: RecipeContext, runs: list[dict[str, Any]]) -> None:
    import matplotlib.pyplot as plt

    from ..data.mad import FACTORS

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    ax = axes[0]
    names = list(FACTORS[GROUP])
    width = 0.27
    for a, (arm, label) in enumerate((("before", "original gap"), ("widen", f"gap × {PAPER_RATIO:.2f} (Table 2)"),
                                      ("close", "gap closed (α = 1)"))):
        per = np.array([r[arm]["per_group"] for r in runs])
        ax.bar(np.arange(len(names)) + (a - 1) * width, np.nanmean(per, 0), width, label=label)
    ax.set_xticks(np.arange(len(names)), names, fontsize=8)
    ax.set_ylabel("harmful top-1 rate ('fracture' / 'swelling')")
    ax.set_title(f"per {GROUP} group, mean over {len(runs)} seeds", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    for r in runs:
        g = [s["l2m"] for s in r["sweep"]]
        ax.plot(g, [s["rate"] for s in r["sweep"]], "o-", ms=3, color="tab:red",
                label="harmful rate" if r is runs[0] else None)
        ax.plot(g, [s["digit_accuracy"] for s in r["sweep"]], "s:", ms=3, color="tab:blue",
                label="digit accuracy (12 labels)" if r is runs[0] else None)
        ax.axvline(r["before"]["l2m"], color="0.6", lw=0.8)
    ax.set_xlabel("gap L2M after the shift (α from −2 to 1)")
    ax.set_ylabel("rate")
    ax.set_title("shift sweep, one line per seed (grey: original gap)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.savefig(fig, "fairness_shift")
