r"""``logit-entropy``: frozen vs learnable temperature — the gap against the logit entropy.

Schrodi et al., "Two Effects, One Trigger", ICLR 2025 (paper 004; Fig. 8 and Takeaway 7 of
the notes in 000): "A model trained with frozen temperature increases the modality gap more
than a model with trainable temperature to achieve a similar logit entropy." The model learns
the entropy of the data; with an information imbalance (captions say less than images) the
data entropy is high, and the logits can reach a high entropy either through a larger gap
(cross-modal cosines squeezed together) or a higher temperature — a frozen temperature
leaves only the gap.

Setting (004 trains on MAD / CC12M; CPU scale here): the paired latent data of
:func:`gaplab.recipes.temperature_mitigation.latent_pairs` with an information imbalance —
images see all ``k = 16`` latent factors, captions only the first ``text_factors`` (4) — and
the same two-tower MLP (32-d joint space), trained by the engine's
:class:`~gaplab.train.Trainer` with the CLIP loss (AdamW, lr 1e-3, batch 256), twice per
seed from the same initialisation: ``learnable`` τ (CLIP, from 0.07) and ``fixed`` τ frozen
at the value the learnable run of the same seed *ends* at (≈ 0.026 at full scale). Freezing at
the start value 0.07 instead would compare a softer softmax with a sharper one, and the
paper's comparison could not arise. Every ``steps/20`` steps we record, on 500 held-out pairs, the gap
L2M (:func:`gaplab.metrics.l2m`) and the logit entropy at the model's own τ
(:func:`gaplab.metrics.logit_entropy`, mean of image→text and text→image, softmax over the
500 candidates).

Reading of "to achieve a similar logit entropy": entropy falls during training from ≈ log N
(random init); H* = the higher of the two final entropies is reached by both runs, and we
compare the gap of each run at its first crossing of H* (linear interpolation), per seed. The
effect is the paired difference frozen − learnable, judged by its 95 % Student-t interval over
seeds (above 0). We also report the
final gaps, entropies and temperatures. Scale: default 3 seeds × 1,500 steps; ``--quick`` 2
seeds × 300 steps on 2,000 pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe


def _gap_at_entropy(h: np.ndarray, g: np.ndarray, target: float) -> float:
    """Gap at the first crossing of entropy ``target`` (interpolated); NaN if never reached."""
    below = np.nonzero(h <= target)[0]
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(g[0])
    h0, h1, g0, g1 = h[i - 1], h[i], g[i - 1], g[i]
    w = 0.0 if h0 == h1 else (h0 - target) / (h0 - h1)
    return float(g0 + w * (g1 - g0))


@register_recipe(
    "logit-entropy",
    paper="004",
    summary="Frozen vs learnable temperature: modality gap against logit entropy over training",
    seeds=None, steps=None, n_train=None, n_test=500, text_factors=4, tau=0.07,
)
def logit_entropy_recipe(ctx: RecipeContext) -> dict[str, Any]:
    """Train with a frozen and a learnable temperature and compare the gap against the logit entropy.

    Returns the measured values for ``run.json``: per seed and their mean the gap of both runs
    at a common logit entropy and their final gap, entropy and τ, the trajectories over
    training, and the gap–entropy curve of shifting along the gap vector with its Spearman
    correlation.
    """
    import matplotlib.pyplot as plt
    import torch
    from scipy.stats import spearmanr

    from ..metrics import l2m, logit_entropy
    from ..train import LambdaCallback
    from .temperature_mitigation import latent_pairs, train_two_tower

    n_seeds = int(ctx.param("seeds") or (2 if ctx.quick else 3))
    steps = int(ctx.param("steps") or (300 if ctx.quick else 1500))
    n_train = int(ctx.param("n_train") or (2000 if ctx.quick else 4000))
    tf, tau0 = int(ctx.param("text_factors")), float(ctx.param("tau"))
    every = max(steps // 20, 1)
    test = latent_pairs(int(ctx.param("n_test")), ctx.seed + 10_000, text_factors=tf)[:2]
    test_t = (torch.from_numpy(test[0]), torch.from_numpy(test[1]))
    modes = ("learnable", "frozen")  # frozen at the τ the learnable run of the same seed ends at

    traj: dict[str, list[dict[str, list[float]]]] = {m: [] for m in modes}
    final: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bar = None
    if ctx.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_seeds * len(modes), desc="logit-entropy", leave=False)
    for s in range(n_seeds):
        seed = ctx.seed * 1000 + s
        train = latent_pairs(n_train, seed, text_factors=tf)[:2]
        for mode in modes:
            temp = ({"name": "learnable", "init": tau0} if mode == "learnable"
                    else {"name": "fixed", "value": traj["learnable"][-1]["tau"][-1]})
            rec: dict[str, list[float]] = {"step": [], "gap": [], "entropy": [], "tau": []}

            def record(tr: Any, step: int, logs: Any = None, rec: dict[str, list[float]] = rec) -> None:
                if step % every and step != 0:
                    return
                x, y = tr.embed(test_t)
                t = tr.temperature.value(step)
                h = logit_entropy(x, y, temperature=t)
                rec["step"].append(step)
                rec["gap"].append(l2m(x, y))
                rec["entropy"].append(0.5 * (h["i2t"] + h["t2i"]))
                rec["tau"].append(t)

            def keep(tr: Any, mode: str = mode) -> None:
                final[mode] = tr.embed(test_t)

            def start(tr: Any, r: Callable[[Any, int], None] = record) -> None:
                r(tr, 0)

            cb = LambdaCallback(on_fit_start=start, on_step_end=record, on_fit_end=keep)
            train_two_tower(train, temperature=temp, steps=steps, seed=seed, callbacks=(cb,))
            traj[mode].append(rec)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()

    per_seed = []
    for s in range(n_seeds):
        L, F = traj["learnable"][s], traj["frozen"][s]
        hstar = max(L["entropy"][-1], F["entropy"][-1])
        per_seed.append({
            "h_star": hstar,
            "gap_at_h_star_learnable": _gap_at_entropy(np.array(L["entropy"]), np.array(L["gap"]), hstar),
            "gap_at_h_star_frozen": _gap_at_entropy(np.array(F["entropy"]), np.array(F["gap"]), hstar),
            "final_gap_learnable": L["gap"][-1], "final_gap_frozen": F["gap"][-1],
            "final_entropy_learnable": L["entropy"][-1], "final_entropy_frozen": F["entropy"][-1],
            "final_tau_learnable": L["tau"][-1],
        })
    mean = {k: float(np.nanmean([p[k] for p in per_seed])) for k in per_seed[0]}

    fig, ax = plt.subplots(1, 3, figsize=(16, 4))
    for mode, color in (("learnable", "C0"), ("frozen", "C3")):
        for s, rec in enumerate(traj[mode]):
            ax[0].plot(rec["entropy"], rec["gap"], "-o", ms=2.5, color=color, alpha=0.8,
                       label=f"{mode} τ" if s == 0 else None)
            ax[1].plot(rec["step"], rec["tau"], color=color, label=f"{mode} τ" if s == 0 else None)
    ax[0].axvline(mean["h_star"], color="k", lw=0.7, ls="--")
    ax[0].invert_xaxis()
    ax[0].set_xlabel("logit entropy (nats) — training runs left → right")
    ax[0].set_ylabel("modality gap (L2M)")
    ax[0].set_title("gap vs logit entropy (004, Fig. 8 of the notes)")
    ax[0].legend()
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("τ")
    ax[1].legend()
    shift = _shift_along_gap(*final["frozen"], tau0)
    ax[2].plot(shift["gap"], shift["entropy"], "-o", color="C3", ms=3)
    ax[2].set_xlabel("L2M after moving along the gap vector")
    ax[2].set_ylabel(f"logit entropy at τ = {tau0}")
    ax[2].set_title("frozen-τ model: gap controls entropy")
    ctx.savefig(fig, "gap_vs_logit_entropy")

    diffs = [p["gap_at_h_star_frozen"] - p["gap_at_h_star_learnable"] for p in per_seed]
    ctx.claim("a frozen τ reaches the same logit entropy with a larger gap than a learnable τ",
              "frozen increases the gap more (Fig. 8)",
              {"H*": round(mean["h_star"], 3), "gap_frozen": round(mean["gap_at_h_star_frozen"], 4),
               "gap_learnable": round(mean["gap_at_h_star_learnable"], 4),
               "tau_frozen": round(mean["final_tau_learnable"], 4)},
              criterion="frozen-τ gap − learnable-τ gap at the entropy H* both runs reach, paired over seeds, "
                        "above 0; frozen at the τ the learnable run ends at",
              per_seed=diffs)
    rho = float(spearmanr(shift["gap"], shift["entropy"]).statistic)
    ctx.claim("at a fixed τ a larger gap gives a higher logit entropy (trained embeddings moved along the gap vector, α ∈ [−1, 8])",
              "gap ↑ ⇒ entropy ↑ (Takeaway 7)", {"spearman(gap, entropy)": round(rho, 3)}, rho > 0.9)
    return {"seeds": n_seeds, "steps": steps, "text_factors": tf, "tau0": tau0, "per_seed": per_seed,
            "mean": mean, "trajectories": traj,
            "gap_shift": shift, "gap_shift_spearman": rho}


def _shift_along_gap(x: np.ndarray, y: np.ndarray, tau: float) -> dict[str, list[float]]:
    """Move both modalities along the gap vector (x̂ + αg/2, ŷ − αg/2, renormalised): L2M and logit entropy."""
    from ..metrics import gap_vector, l2m, logit_entropy

    g = gap_vector(x, y)
    out: dict[str, list[float]] = {"alpha": [], "gap": [], "entropy": []}
    for a in np.linspace(-1.0, 8.0, 19):
        xs, ys = x + a * g / 2, y - a * g / 2
        h = logit_entropy(xs, ys, temperature=tau)
        out["alpha"].append(float(a))
        out["gap"].append(l2m(xs, ys))
        out["entropy"].append(0.5 * (h["i2t"] + h["t2i"]))
    return out
