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

``--param model=gaplab-clip-fashion``: the from-scratch Fashion-MNIST CLIP
(:mod:`gaplab.models.clip`) in its quick config (15,000 training pairs; each composed caption
mentions the class and 2–5 of the 9 attributes measured on its image, so the captions say less
than the images: an information imbalance of the data's own), trained per seed twice from the
same initialisation: ``frozen`` — τ fixed at the model's built-in 0.01 (CLIP's end-of-training
value, the paper's frozen CLIP temperature in 000 §4.4) — and ``learnable`` — CLIP's τ from
0.07, clamped at 0.01 (its ``temperature="learnable"`` config). Both are the cached models of
those configs, retrained here once with a recording callback
(:func:`gaplab.recipes._fashion.fit_fashion` retrains the cached weights bit for bit; the
trajectory is then kept in the user cache): every 11 steps of the 232 (and at the first and
last), L2M and the logit entropy at the run's τ of that step over the first ``n_test`` (500)
held-out pairs. Freezing at the τ the learnable run ends at, as above, would compare a run with
itself here: on this budget the learnable τ hardly moves (0.07 → ≈ 0.068,
``docs/clip-from-scratch.md``), so the frozen run is the one the model is built with, at the
sharper τ; chosen knowing the two models' final held-out gaps (≈ 0.94 and ≈ 0.16, seeds 0–2),
not their entropies or trajectories. H*, the gap at each run's first crossing of H* and the
criterion as above (at τ = 0.01 the initial logits are already sharp, so the frozen run can
start below H*; its "first crossing" is then step 0 — the record keeps its final gap beside
it). The shift claim moves each seed's frozen-τ model's final embeddings (the same 500 pairs)
along their gap vector and takes the entropy at its own τ = 0.01 (above: at the learnable run's
τ₀); judged per seed: Spearman ρ of (gap, entropy) above 0.9, 95 % Student-t interval over
seeds. Seeds ``seed`` … ``seed + seeds − 1`` (``seeds`` default 3, or a list). ``--quick``: seed
``seed`` alone (every claim inconclusive, no interval). The latent-data parameters (``steps``,
``n_train``, ``text_factors``, ``tau``) do not apply (setting one is an error). Measured wall
time (the record is ``docs/results/full/fashion/logit-entropy-fashion.json``): 608 s for the
first full run on the shared 2-core machine (six recorded trainings of 67–141 s, one thread),
29 s for a rerun that reads the trajectories from the cache.
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


#: the model choices (``model`` parameter); the first is the default
MODELS = ("latent-mlp", "gaplab-clip-fashion")
#: parameters of the latent-data MLP only, with their defaults
_LATENT_PARAMS: dict[str, Any] = {"steps": None, "n_train": None, "text_factors": 4, "tau": 0.07}
#: criterion of the shift claim, fixed in advance: Spearman(gap, entropy) above SHIFT_RHO
SHIFT_RHO = 0.9
#: the shift along the gap vector: α from −1 (means on top of each other) to 8
SHIFT_ALPHAS = (-1.0, 8.0, 19)


@register_recipe(
    "logit-entropy",
    paper="004",
    summary="Frozen vs learnable temperature: modality gap against logit entropy over training",
    model=MODELS[0], seeds=None, n_test=500, **_LATENT_PARAMS,
)
def logit_entropy_recipe(ctx: RecipeContext) -> dict[str, Any]:
    """Train with a frozen and a learnable temperature and compare the gap against the logit entropy.

    ``model``: ``latent-mlp`` (default: the two-tower MLP on paired latent data, trained here)
    or ``gaplab-clip-fashion`` (the from-scratch Fashion-MNIST CLIP, quick config, its fixed
    and learnable τ; see the module docstring). Returns the measured values for ``run.json``:
    per seed and their mean the gap of both runs at a common logit entropy and their final
    gap, entropy and τ, the trajectories over training, and the gap–entropy curve of shifting
    along the gap vector with its Spearman correlation.
    """
    from ._fashion import check_model, reject_other_params

    if check_model("logit-entropy", ctx.param("model"), MODELS) == "gaplab-clip-fashion":
        reject_other_params("logit-entropy", ctx, _LATENT_PARAMS, MODELS[0])
        return _fashion_logit_entropy(ctx)
    return _latent_logit_entropy(ctx)


Trajectory = dict[str, list[float]]


def _recorder(test: Any, every: int) -> tuple[Trajectory, Any]:
    """A trajectory ``{step, gap, entropy, tau}`` on the pairs ``test``, and the function that appends to it.

    ``record(trainer, step)``: L2M and the mean of the image→text and text→image logit
    entropies at the trainer's τ of that step, every ``every`` steps (and at step 0).
    """
    from ..metrics import l2m, logit_entropy

    rec: Trajectory = {"step": [], "gap": [], "entropy": [], "tau": []}

    def record(tr: Any, step: int, logs: Any = None) -> None:
        if step % every and step != 0 and step != tr.total_steps:
            return
        if rec["step"] and rec["step"][-1] == step:
            return
        x, y = tr.embed(test)
        t = tr.temperature.value(step)
        h = logit_entropy(x, y, temperature=t)
        rec["step"].append(step)
        rec["gap"].append(l2m(x, y))
        rec["entropy"].append(0.5 * (h["i2t"] + h["t2i"]))
        rec["tau"].append(t)

    return rec, record


def _latent_logit_entropy(ctx: RecipeContext) -> dict[str, Any]:
    """The two-tower MLP on paired latent data (``model=latent-mlp``): trained here, twice per seed."""
    import torch
    from scipy.stats import spearmanr

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

    traj: dict[str, list[Trajectory]] = {m: [] for m in modes}
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
            rec, record = _recorder(test_t, every)

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

    per_seed = _per_seed(traj)
    mean = _mean(per_seed)
    shift = _shift_along_gap(*final["frozen"], tau0)
    _figure(ctx, traj, mean, shift, tau0, "frozen-τ model: gap controls entropy")
    _entropy_claim(ctx, per_seed, mean, {"tau_frozen": mean["final_tau_learnable"]},
                   "frozen at the τ the learnable run ends at")
    rho = float(spearmanr(shift["gap"], shift["entropy"]).statistic)
    ctx.claim("at a fixed τ a larger gap gives a higher logit entropy (trained embeddings moved along the gap vector, α ∈ [−1, 8])",
              "gap ↑ ⇒ entropy ↑ (Takeaway 7)", {"spearman(gap, entropy)": round(rho, 3)}, rho > SHIFT_RHO)
    return {"seeds": n_seeds, "steps": steps, "text_factors": tf, "tau0": tau0, "per_seed": per_seed,
            "mean": mean, "trajectories": traj,
            "gap_shift": shift, "gap_shift_spearman": rho}


def _per_seed(traj: dict[str, list[Trajectory]]) -> list[dict[str, float]]:
    """Per seed: H* (the higher final entropy), each run's gap at its first crossing of H*, final values."""
    per_seed = []
    for L, F in zip(traj["learnable"], traj["frozen"], strict=True):
        hstar = max(L["entropy"][-1], F["entropy"][-1])
        per_seed.append({
            "h_star": hstar,
            "gap_at_h_star_learnable": _gap_at_entropy(np.array(L["entropy"]), np.array(L["gap"]), hstar),
            "gap_at_h_star_frozen": _gap_at_entropy(np.array(F["entropy"]), np.array(F["gap"]), hstar),
            "final_gap_learnable": L["gap"][-1], "final_gap_frozen": F["gap"][-1],
            "final_entropy_learnable": L["entropy"][-1], "final_entropy_frozen": F["entropy"][-1],
            "final_tau_learnable": L["tau"][-1],
        })
    return per_seed


def _mean(per_seed: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.nanmean([p[k] for p in per_seed])) for k in per_seed[0]}


def _figure(ctx: RecipeContext, traj: dict[str, list[Trajectory]], mean: dict[str, float],
            shift: dict[str, list[float]], shift_tau: float, shift_title: str, suptitle: str = "") -> None:
    """Gap against logit entropy over training, τ over training, and the gap–entropy curve of the shift."""
    import matplotlib.pyplot as plt

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
    ax[2].plot(shift["gap"], shift["entropy"], "-o", color="C3", ms=3)
    ax[2].set_xlabel("L2M after moving along the gap vector")
    ax[2].set_ylabel(f"logit entropy at τ = {shift_tau:g}")
    ax[2].set_title(shift_title)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
        fig.tight_layout()
    ctx.savefig(fig, "gap_vs_logit_entropy")


def _entropy_claim(ctx: RecipeContext, per_seed: list[dict[str, float]], mean: dict[str, float],
                   taus: dict[str, float], frozen: str, note: str = "") -> None:
    """The claim of Fig. 8: at the entropy H* both runs reach, the frozen-τ run has the larger gap (paired over seeds)."""
    diffs = [p["gap_at_h_star_frozen"] - p["gap_at_h_star_learnable"] for p in per_seed]
    ctx.claim("a frozen τ reaches the same logit entropy with a larger gap than a learnable τ",
              "frozen increases the gap more (Fig. 8)",
              {"H*": round(mean["h_star"], 3), "gap_frozen": round(mean["gap_at_h_star_frozen"], 4),
               "gap_learnable": round(mean["gap_at_h_star_learnable"], 4), **{k: round(v, 4) for k, v in taus.items()}},
              criterion="frozen-τ gap − learnable-τ gap at the entropy H* both runs reach, paired over seeds, "
                        f"above 0; {frozen}",
              per_seed=diffs, note=note)


def _fashion_logit_entropy(ctx: RecipeContext) -> dict[str, Any]:
    """The Fashion CLIP (``model=gaplab-clip-fashion``, quick config): its fixed-τ and learnable-τ runs, recorded.

    Per seed both runs are retrained here with a recording callback (the very weights of the
    cached models, see :func:`gaplab.recipes._fashion.fit_fashion`), once: the weights and the
    trajectory are then kept in the user cache (:func:`gaplab.recipes._fashion.cached_variant`).
    """
    import time

    from scipy.stats import spearmanr

    from ..metrics import l2m
    from ._fashion import (
        build_init,
        cached_variant,
        config_of,
        embed_pairs,
        every_steps,
        fit_fashion,
        held_out_pairs,
        run_steps,
        seed_list,
        training_pairs,
    )

    seeds = seed_list(ctx, 3)
    n_test = int(ctx.param("n_test"))
    modes: dict[str, Any] = {"learnable": "learnable", "frozen": None}  # frozen: the built-in fixed τ (0.01)
    traj: dict[str, list[Trajectory]] = {m: [] for m in modes}
    shifts: list[dict[str, list[float]]] = []
    runs: list[dict[str, Any]] = []
    frozen_tau = float(config_of(seeds[0], True).temperature)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(seeds) * len(modes), desc="logit-entropy", disable=not ctx.progress, leave=False)
    for s in seeds:
        for mode, temperature in modes.items():
            cfg = config_of(s, True, temperature=temperature)
            test = held_out_pairs(cfg, n_test)
            every = max(run_steps(cfg, len(training_pairs(cfg)[0])) // 20, 1)
            model = build_init(cfg)

            def train(model: Any, cfg: Any = cfg, test: Any = test, every: int = every) -> dict[str, Any]:
                t0 = time.perf_counter()
                rec, record = _recorder(test, every)
                tr = fit_fashion(model, cfg, callbacks=[every_steps(every, record)], progress=ctx.progress)
                return {"trajectory": rec, "train_seconds": time.perf_counter() - t0, "steps": tr.step}

            info, cached = cached_variant(cfg, f"entropy-trajectory-{n_test}", model, train)
            traj[mode].append({k: [float(v) for v in vs] for k, vs in info["trajectory"].items()})
            x, y = embed_pairs(model, held_out_pairs(cfg))
            if mode == "frozen":
                shifts.append(_shift_along_gap(x[:n_test], y[:n_test], frozen_tau))
            runs.append({"seed": s, "mode": mode, "temperature": cfg.temperature, "steps": int(info["steps"]),
                         "final_gap_all_held_out": l2m(x, y), "final_tau": traj[mode][-1]["tau"][-1],
                         "train_seconds": float(info["train_seconds"]), "trained_here": not cached})
            bar.update(1)
    bar.close()

    per_seed = _per_seed(traj)
    mean = _mean(per_seed)
    _figure(ctx, traj, mean, shifts[0], frozen_tau, f"frozen-τ model (seed {seeds[0]}): gap controls entropy",
            f"Fashion-MNIST CLIP (quick config): τ fixed at {frozen_tau:g} vs learnable from 0.07; "
            f"{len(seeds)} seed(s), softmax over {n_test} held-out pairs")
    note = f"Fashion-MNIST CLIP, quick config; entropies over {n_test} held-out pairs"
    _entropy_claim(ctx, per_seed, mean, {"tau_frozen": frozen_tau, "tau_learnable_end": mean["final_tau_learnable"]},
                   f"frozen at the Fashion CLIP's built-in τ = {frozen_tau:g}, learnable from 0.07", note=note)
    rho = [float(spearmanr(sh["gap"], sh["entropy"]).statistic) for sh in shifts]
    ctx.claim(f"at a fixed τ a larger gap gives a higher logit entropy (trained embeddings moved along the gap vector, "
              f"α ∈ [−1, 8], τ = {frozen_tau:g})",
              "gap ↑ ⇒ entropy ↑ (Takeaway 7)", {"spearman(gap, entropy)": round(float(np.mean(rho)), 3)},
              criterion=f"Spearman ρ of (gap, entropy) along the shift of the frozen-τ model, per seed, above {SHIFT_RHO}",
              per_seed=rho, null=SHIFT_RHO, note=note)
    return {"model": {"name": "gaplab-clip-fashion", "config": "quick", "quick": ctx.quick, "seeds": seeds,
                      "frozen_tau": frozen_tau, "learnable_tau_init": 0.07},
            "seeds": seeds, "n_test": n_test, "per_seed": per_seed, "mean": mean, "runs": runs,
            "trajectories": traj, "gap_shift": shifts, "gap_shift_spearman": rho}


def _shift_along_gap(x: np.ndarray, y: np.ndarray, tau: float) -> dict[str, list[float]]:
    """Move both modalities along the gap vector (x̂ + αg/2, ŷ − αg/2, renormalised): L2M and logit entropy."""
    from ..metrics import gap_vector, l2m, logit_entropy

    g = gap_vector(x, y)
    out: dict[str, list[float]] = {"alpha": [], "gap": [], "entropy": []}
    for a in np.linspace(*SHIFT_ALPHAS):
        xs, ys = x + a * g / 2, y - a * g / 2
        h = logit_entropy(xs, ys, temperature=tau)
        out["alpha"].append(float(a))
        out["gap"].append(l2m(xs, ys))
        out["entropy"].append(0.5 * (h["i2t"] + h["t2i"]))
    return out
