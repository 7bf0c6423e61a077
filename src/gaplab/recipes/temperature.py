"""``temperature``: fine-tuning with a high fixed temperature reduces the modality gap.

Liang et al., "Mind the Gap", NeurIPS 2022, Fig. 8: pre-trained CLIP fine-tuned on the COCO
Caption training set with a *fixed* temperature τ ∈ {1, 1/10, 1/20, 1/30, 1/50, 1/100},
batch size 64, gap measured on the validation set. Paper gaps (their notebook):
0.2384, 0.3028, 0.5524, 0.6352, 0.7961, 1.0006 for τ = 1 … 1/100, against 0.8262 before
fine-tuning. Claims: "a high temperature (τ ∈ {1/10, 1}) in fine-tuning significantly reduces
or closes the gap, while a low temperature does not"; "the gap distance decreases
monotonically with increasing temperature".

Our setting: the "pre-trained" model is gaplab's built-in digits two-tower (random small CNN
+ frozen MiniLM with projections) trained with the CLIP loss and CLIP's learnable temperature
(from 0.07) for ``pretrain_steps`` on the digits train split
(:func:`gaplab.recipes.embedding_shift.train_digits_clip`). Each τ then fine-tunes a copy
of it for ``finetune_steps`` (AdamW, lr 1e-3, batch 64, the temperature fixed — the
``fixed`` strategy of :mod:`gaplab.train.temperature`), and the gap (L2M) and zero-shot
accuracy are measured on the test split. The paper fine-tuned for one epoch of up to 50k
COCO pairs (~780 steps at batch 64); the default ``finetune_steps`` = 600 is of that order.
The whole procedure (pre-training included) repeats for ``seeds`` = 3 seeds (the paper
shows one run); the table gives the mean and the figure the spread.

Readings: "decreases monotonically" = every step from a τ to the next larger τ lowers the
mean gap (strict, all 5 steps); "significantly reduces" = gap(τ) < 0.8 × the pre-fine-tuning
gap for both τ = 1 and τ = 1/10; "a low temperature does not" = gap(1/100) ≥ 0.9 × the
pre-fine-tuning gap.

``--quick``: 200 pre-training steps, 80 fine-tuning steps per τ, two seeds.

``--param model=gaplab-clip-fashion``: the from-scratch Fashion-MNIST CLIP
(:mod:`gaplab.models.clip`, trained at a fixed τ = 0.01 for 6 epochs, held-out L2M ≈ 0.84)
is the pre-trained model: the cached trained run of each seed ``seed``, ``seed + 1``, …
(``seeds`` = 3, or a list of seeds: seeds 0, 1, 2 at the default ``seed``; ``pretrain_steps``
does not apply).
Each τ fine-tunes a copy of it (:func:`gaplab.recipes._fashion.finetune`,
:class:`gaplab.train.Trainer`) on the model's own 60,000 training pairs: CLIP loss at the
fixed τ, AdamW at a constant lr 1e-4 (1/20 of the pre-training's peak 2e-3: fine-tuning,
not re-training), weight decay 0.1 (the pre-training's), batch 64 (the paper's), the last
short batch dropped, batch order seeded by seed + 1 (the same order for every τ).
``finetune_steps`` defaults to 400 here (25,600 pairs, 0.43 of an epoch; the paper's one
epoch would be 937 steps), set by the budget of ≲ 15 minutes on 2 CPU cores for 3 seeds ×
6 τ at ≈ 0.085 s a step (one thread) plus ≈ 5 s per held-out evaluation. These settings
were fixed before the recipe's first run (the only fine-tuned number seen before was a
60-step timing probe at τ = 1) and not tuned afterwards. The gap (L2M), RMG and zero-shot
accuracy come from :func:`gaplab.train.fashion_clip.evaluate_fashion_clip` on the 10,000
held-out pairs; the pre-fine-tuning gap is the same evaluation of the cached model. Claims
and criteria as above. ``--quick``: the quick config's cached model of ``seed`` alone, 80
steps per τ (one seed: every claim inconclusive, no interval). Measured wall time (the
record is ``docs/results/full/fashion/temperature-fashion.json``): 1036 s and 1207 s for two
identical full runs on the shared 2-core machine under a load average of 4–6 from other jobs
(≈ 12 CPU-minutes, one thread; ≈ 12 minutes on idle cores), 72 s for ``--quick``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._errors import ConfigError
from ._base import RecipeContext, register_recipe
from ._fashion import FINETUNE_BATCH, FINETUNE_LR, FINETUNE_WEIGHT_DECAY

#: criteria, fixed in advance: "monotone" = per-seed Spearman(1/τ, gap) above MONOTONE_RHO;
#: "high τ reduces the gap" = gap ratio below HIGH_RATIO; "low τ does not" = ratio above LOW_RATIO
MONOTONE_RHO, HIGH_RATIO, LOW_RATIO = 0.8, 0.8, 0.9

TAUS = (1.0, 1 / 10, 1 / 20, 1 / 30, 1 / 50, 1 / 100)
PAPER_GAPS = (0.2384, 0.3028, 0.5524, 0.6352, 0.7961, 1.0006)
PAPER_ORIGINAL_GAP = 0.8262


def _finetune(pre: Any, tau: float, steps: int, seed: int, progress: bool) -> dict[str, float]:
    from ..metrics import l2m, zero_shot_accuracy
    from ..models.builtin import create_builtin_model
    from .embedding_shift import train_digits_clip

    model = create_builtin_model("gaplab-minilm-digits", seed=seed)
    model.load_state_dict(pre.model.state_dict())
    run = train_digits_clip(steps=steps, seed=seed + 1, temperature=float(tau), model=model, progress=progress)
    return {
        "gap": l2m(run.x, run.y),
        "zero_shot": zero_shot_accuracy(run.x, run.class_emb, run.labels),
        "temperature": run.temperature,
    }


#: the model choices (``model`` parameter); the first is the default
MODELS = ("gaplab-minilm-digits", "gaplab-clip-fashion")
#: fine-tuning steps per τ when ``finetune_steps`` is not given: (full scale, --quick) per model
DEFAULT_FINETUNE_STEPS = {"gaplab-minilm-digits": (600, 80), "gaplab-clip-fashion": (400, 80)}


@register_recipe(
    "temperature",
    paper="000",
    summary="Fine-tune with fixed τ ∈ {1 … 1/100}: a higher temperature gives a smaller gap (Fig. 8)",
    model=MODELS[0],
    pretrain_steps=1500,
    finetune_steps=None,
    seeds=3,
)
def temperature(ctx: RecipeContext) -> dict[str, Any]:
    """Fine-tune a pre-trained model at each fixed τ and measure the gap and zero-shot accuracy.

    ``model``: ``gaplab-minilm-digits`` (default: pre-train the digits two-tower here) or
    ``gaplab-clip-fashion`` (the cached from-scratch Fashion-MNIST CLIP; see the module
    docstring). Returns the measured values for ``run.json``: per τ the mean gap (and its std
    over seeds) and zero-shot accuracy, the pre-trained model's gap and accuracy, the
    per-seed values and the step counts.
    """
    import matplotlib.pyplot as plt

    from ._fashion import check_model, seed_list

    model = check_model("temperature", ctx.param("model"), MODELS)
    full_steps, quick_steps = DEFAULT_FINETUNE_STEPS[model]
    # the record's config shows the model's full-scale step count (as before there was a model choice)
    ctx.params["finetune_steps"] = int(ctx.param("finetune_steps") or full_steps)
    ft_steps = quick_steps if ctx.quick else ctx.params["finetune_steps"]
    if model == "gaplab-clip-fashion":
        if ctx.param("pretrain_steps") != 1500:
            raise ConfigError("recipe 'temperature': parameter pretrain_steps applies to model gaplab-minilm-digits "
                              "only (the Fashion CLIP's pre-training is its cached run)")
        seeds = seed_list(ctx, 3)
        per_seed = _fashion_runs(seeds, ctx.quick, ft_steps, ctx.progress)
        pre_steps = int(per_seed[0]["pretrain_steps"])
        ours, title = "ours (Fashion-MNIST CLIP)", (
            f"pre-trained: the cached Fashion-MNIST CLIP{' (quick config)' if ctx.quick else ''} "
            f"({pre_steps} steps at τ = 0.01); fine-tune {ft_steps} steps per τ (AdamW lr {FINETUNE_LR:g}, "
            f"batch {FINETUNE_BATCH}), {len(seeds)} seed(s)")
    else:
        pre_steps = 200 if ctx.quick else int(ctx.param("pretrain_steps"))
        seeds = [ctx.seed + 100 * i for i in range(2 if ctx.quick else int(ctx.param("seeds")))]
        per_seed = _digits_runs(seeds, pre_steps, ft_steps, ctx.progress)
        ours, title = "ours (digits two-tower)", (
            f"pre-train {pre_steps} steps (learnable τ), fine-tune {ft_steps} steps per τ, {len(seeds)} seed(s)")

    gaps = np.mean([r["gaps"] for r in per_seed], axis=0)
    gaps_std = np.std([r["gaps"] for r in per_seed], axis=0)
    zs = np.mean([r["zero_shot"] for r in per_seed], axis=0)
    orig = float(np.mean([r["pretrained_gap"] for r in per_seed]))
    orig_zs = float(np.mean([r["pretrained_zero_shot"] for r in per_seed]))

    # ---- figure like Fig. 8: gap (and accuracy) against τ, original gap dashed
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    ax.errorbar(TAUS, gaps, yerr=gaps_std if len(seeds) > 1 else None, fmt="o-", label=ours)
    ax.plot(TAUS, PAPER_GAPS, "s--", color="0.5", ms=4, label="paper (CLIP on COCO)")
    ax.axhline(orig, color="k", ls="--", lw=1, label=f"ours before fine-tuning ({orig:.3f})")
    ax.axhline(PAPER_ORIGINAL_GAP, color="0.5", ls=":", lw=1, label=f"paper before fine-tuning ({PAPER_ORIGINAL_GAP})")
    ax.set_xscale("log")
    ax.set_xlabel("fine-tuning temperature τ")
    ax.set_ylabel("gap ‖Δ_gap‖ (L2M, test split)")
    ax.legend(fontsize=7)
    ax.set_title("Higher temperature, smaller gap (cf. Liang et al. Fig. 8)", fontsize=9)
    ax = axes[1]
    ax.plot(TAUS, zs, "o-", color="tab:green")
    ax.axhline(orig_zs, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("fine-tuning temperature τ")
    ax.set_ylabel("zero-shot top-1 accuracy (test)")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    ctx.savefig(fig, "temperature")

    # ---- claims, per seed with a 95 % interval over seeds (TAUS run from high to low
    # temperature, so the gap should *increase* along it); thresholds fixed in advance
    from scipy.stats import spearmanr

    labels = ["1", "1/10", "1/20", "1/30", "1/50", "1/100"]
    rho = [float(spearmanr(np.arange(len(TAUS)), r["gaps"]).statistic) for r in per_seed]
    ctx.claim(
        "the gap decreases monotonically as the fine-tuning temperature increases",
        dict(zip(labels, PAPER_GAPS, strict=True)),
        dict(zip(labels, [round(float(g), 4) for g in gaps], strict=True)),
        criterion=f"Spearman rank correlation of (1/τ, gap) per seed above {MONOTONE_RHO}",
        per_seed=rho, null=MONOTONE_RHO,
    )
    high = [max(r["gaps"][0], r["gaps"][1]) / r["pretrained_gap"] for r in per_seed]
    ctx.claim(
        "a high temperature (τ = 1, 1/10) significantly reduces or closes the gap",
        {"before": PAPER_ORIGINAL_GAP, "1": PAPER_GAPS[0], "1/10": PAPER_GAPS[1]},
        {"before": round(orig, 4), "1": round(float(gaps[0]), 4), "1/10": round(float(gaps[1]), 4)},
        criterion=f"the larger of gap(τ = 1), gap(1/10) over the gap before fine-tuning, per seed, below {HIGH_RATIO}",
        per_seed=high, null=HIGH_RATIO, side="<",
    )
    low = [r["gaps"][-1] / r["pretrained_gap"] for r in per_seed]
    ctx.claim(
        "a low temperature (τ = 1/100) does not reduce the gap",
        {"before": PAPER_ORIGINAL_GAP, "1/100": PAPER_GAPS[-1]},
        {"before": round(orig, 4), "1/100": round(float(gaps[-1]), 4)},
        criterion=f"gap(τ = 1/100) over the gap before fine-tuning, per seed, above {LOW_RATIO}",
        per_seed=low, null=LOW_RATIO,
    )
    out = {
        "taus": list(TAUS), "gaps": gaps.tolist(), "gaps_std": gaps_std.tolist(), "zero_shot": zs.tolist(),
        "pretrained_gap": orig, "pretrained_zero_shot": orig_zs, "per_seed": per_seed,
        "pretrain_steps": pre_steps, "finetune_steps": ft_steps,
    }
    if model == "gaplab-clip-fashion":
        out["model"] = {"name": model, "quick": ctx.quick, "seeds": seeds, "finetune_lr": FINETUNE_LR,
                        "finetune_weight_decay": FINETUNE_WEIGHT_DECAY, "finetune_batch": FINETUNE_BATCH}
    return out


def _digits_runs(seeds: list[int], pre_steps: int, ft_steps: int, progress: bool) -> list[dict[str, Any]]:
    """Per seed: pre-train the digits two-tower (learnable τ), then fine-tune a copy at each τ."""
    from tqdm.auto import tqdm

    from ..metrics import l2m, zero_shot_accuracy
    from .embedding_shift import train_digits_clip

    per_seed: list[dict[str, Any]] = []
    jobs = tqdm(total=len(seeds) * (1 + len(TAUS)), desc="temperature: runs", disable=not progress)
    for s in seeds:
        pre = train_digits_clip(steps=pre_steps, seed=s)
        jobs.update(1)
        rec: dict[str, Any] = {
            "seed": s,
            "pretrained_gap": l2m(pre.x, pre.y),
            "pretrained_zero_shot": zero_shot_accuracy(pre.x, pre.class_emb, pre.labels),
            "pretrained_temperature": pre.temperature,
            "gaps": [], "zero_shot": [],
        }
        for tau in TAUS:
            r = _finetune(pre, tau, ft_steps, s, progress=False)
            rec["gaps"].append(r["gap"])
            rec["zero_shot"].append(r["zero_shot"])
            jobs.update(1)
        per_seed.append(rec)
    jobs.close()
    return per_seed


def _fashion_runs(seeds: list[int], quick: bool, ft_steps: int, progress: bool) -> list[dict[str, Any]]:
    """Per seed: the cached Fashion CLIP (evaluated again), then a copy fine-tuned at each τ (:func:`._fashion.finetune`)."""
    from tqdm.auto import tqdm

    from ..train.fashion_clip import evaluate_fashion_clip
    from ._fashion import finetune, load_run

    per_seed: list[dict[str, Any]] = []
    jobs = tqdm(total=len(seeds) * (1 + len(TAUS)), desc="temperature: runs", disable=not progress)
    for s in seeds:
        run = load_run(s, quick, progress=progress)
        pre = evaluate_fashion_clip(run.model)
        jobs.update(1)
        rec: dict[str, Any] = {
            "seed": s,
            "pretrained_gap": pre["l2m"],
            "pretrained_zero_shot": pre["zero_shot"],
            "pretrained_rmg": pre["rmg"],
            "pretrained_temperature": float(run.metrics.get("temperature", run.config.temperature)),
            "pretrain_steps": int(run.metrics.get("steps", 0)),
            "gaps": [], "zero_shot": [], "rmg": [], "mean_cos_paired": [], "seconds": [],
        }
        for tau in TAUS:
            t0 = time.perf_counter()
            r = finetune(run, tau, ft_steps, seed=s + 1)
            rec["gaps"].append(r["l2m"])
            rec["zero_shot"].append(r["zero_shot"])
            rec["rmg"].append(r["rmg"])
            rec["mean_cos_paired"].append(r["mean_cos_paired"])
            rec["seconds"].append(time.perf_counter() - t0)
            jobs.update(1)
        per_seed.append(rec)
    jobs.close()
    return per_seed
