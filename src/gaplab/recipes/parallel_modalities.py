r"""``parallel-modalities``: mismatched pairs, not the gap itself, drive the early gap dynamics.

Yaras et al., "Explaining and Mitigating the Modality Gap in Contrastive Multimodal Learning"
(paper 002), Fig. 3 ("Parallel modalities with or without mismatched pairs") and its abstract:
"mismatched data pairs and a learnable temperature … cause and perpetuate the modality gap".

Setting (the gradient-flow setting of 002 §3, as ``gradient-flow``): free embeddings on
S^(d−1), d = 3, the symmetric CLIP loss, full-batch gradient descent (step ``lr``), no logit
clamp. **Parallel** initialisation (our reading of the figure): the two modalities are
copies of one configuration in two parallel planes,

.. math:: x_i = (\sqrt{1-a^2}\,z_i,\; a), \qquad y_i = (\sqrt{1-a^2}\,z_{\pi(i)},\; -a),

with z_i uniform on the circle, so Δ(0) = 2a (a = 0.5). Without mismatch π is the identity:
every pair is mutually nearest from the start. With mismatch a fraction of positions is
cycled (:func:`gaplab.train.mismatch_index`), so those texts start next to another image.

Why the construction is telling: every logit x_i·y_j contains the same −a², so with matched
pairs the loss depends on the gap only through the effective scale (1 − a²)/τ, and gradient
descent closes the gap by sharpening the softmax; a mismatched pair is pushed the other way.

Claims (criteria fixed before any run; each over seeds, 95 % Student-t interval):

* matched: Δ never rises — max_t Δ(t)/Δ(0) − 1 below :data:`RISE` (side "<");
* mismatched (:data:`MISMATCH` of the pairs): Δ first rises — the same quantity above
  :data:`RISE` (Fig. 2's "initially, the modality gap increases due to mismatches");
* with a learnable τ, the gap that remains after training is larger with mismatched pairs:
  final Δ(mismatched)/final Δ(matched), paired per seed, above 1 + :data:`PERPETUATE`;
* with τ fixed at τ₀ the gap closes even with mismatched pairs: final Δ / Δ(0) below
  :data:`CLOSED`; with a learnable τ it does not (final Δ / Δ(0) above :data:`CLOSED`).

Scale: 5 seeds × 200,000 steps, about 2 min on 2 CPUs; ``--quick``: 3 seeds × 20,000 steps
(~40 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe

#: "Δ rises": its peak exceeds Δ(0) by more than this fraction
RISE = 0.02
#: fraction of mismatched pairs in the mismatched arm
MISMATCH = 0.25
#: "mismatch perpetuates the gap": final Δ ratio (mismatched / matched) above 1 + this
PERPETUATE = 0.1
#: "the gap closed": final Δ / Δ(0) below this
CLOSED = 0.1


def parallel_init(n: int, dim: int, offset: float, mismatch: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two parallel copies of ``n`` points: x = (√(1−a²) z, a), y = (√(1−a²) z_π, −a); unit rows.

    ``z`` is uniform on the unit sphere of dimension ``dim − 1``; π cycles a ``mismatch``
    fraction of positions (:func:`gaplab.train.mismatch_index`), so Δ(0) = 2a.

    Examples
    --------
    >>> x, y = parallel_init(8, 3, 0.5, 0.0, seed=0)
    >>> round(float(np.linalg.norm(x.mean(0) - y.mean(0))), 6)
    1.0
    """
    from ..train.batches import mismatch_index

    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, dim - 1))
    z *= np.sqrt(1 - offset**2) / np.linalg.norm(z, axis=1, keepdims=True)
    perm = mismatch_index(n, mismatch, seed)
    x = np.c_[z, np.full(n, offset)]
    y = np.c_[z[perm], np.full(n, -offset)]
    return x, y


@register_recipe(
    "parallel-modalities",
    paper="002",
    summary="Parallel modalities: matched pairs never widen the gap, mismatched ones do first (Fig. 3)",
    n_points=32, dim=3, offset=0.5, lr=0.1, tau0=0.07, steps=None, seeds=None,
)
def parallel_modalities(ctx: RecipeContext) -> dict[str, Any]:
    """Gradient descent from parallel initialisations with and without mismatched pairs, learnable and fixed τ.

    Returns the measured values for ``run.json``: per seed and arm the Δ history, its peak
    and final value, and the settings.
    """
    from .gradient_flow import _descend

    n, dim, a = int(ctx.param("n_points")), int(ctx.param("dim")), float(ctx.param("offset"))
    lr, tau0 = float(ctx.param("lr")), float(ctx.param("tau0"))
    steps = int(ctx.param("steps") or (20_000 if ctx.quick else 200_000))
    n_seeds = int(ctx.param("seeds") or (3 if ctx.quick else 5))
    seeds = [ctx.seed + k for k in range(n_seeds)]
    grid = set(np.unique(np.r_[0, np.logspace(0, np.log10(steps), 120)].astype(int)).tolist())
    learnable = {"name": "learnable", "init": tau0, "max_scale": None}
    arms = [(m, tname, t) for m in (0.0, MISMATCH) for tname, t in (("learnable", learnable), ("fixed", tau0))]
    inits = [parallel_init(n, dim, a, m, s) for (m, _, _) in arms for s in seeds]
    runs = _descend(np.stack([x for x, _ in inits]), np.stack([y for _, y in inits]),
                    [t for (_, _, t) in arms for _ in seeds], lr=lr, steps=steps, record=grid)
    steps_rec = runs["step"].astype(int)
    gap = runs["gap"]  # (recorded steps, arms × seeds)
    per: dict[str, dict[str, list[float]]] = {}
    hist: dict[str, list[list[float]]] = {}
    for k, (m, tname, _) in enumerate(arms):
        key = f"{'mismatched' if m else 'matched'}, {tname} tau"
        g = gap[:, k * n_seeds:(k + 1) * n_seeds]
        per[key] = {"rise": (g.max(0) / g[0] - 1).tolist(), "final": g[-1].tolist(),
                    "final_over_initial": (g[-1] / g[0]).tolist()}
        hist[key] = g.T.tolist()

    c = ctx.claim(
        "parallel modalities with matched pairs: the gap never widens", "no rise (Fig. 3)",
        {"max rise": round(max(per["matched, learnable tau"]["rise"]), 4)},
        criterion=f"max_t Δ(t)/Δ(0) − 1 (learnable τ), per seed; interval below {RISE}",
        per_seed=per["matched, learnable tau"]["rise"], null=RISE, side="<",
    )
    ctx.claim(
        f"parallel modalities with {MISMATCH:.0%} mismatched pairs: the gap first widens", "rises (Fig. 2, 3)",
        {"mean rise": round(float(np.mean(per["mismatched, learnable tau"]["rise"])), 4)},
        criterion=f"max_t Δ(t)/Δ(0) − 1 (learnable τ), per seed; interval above {RISE}",
        per_seed=per["mismatched, learnable tau"]["rise"], null=RISE, depends_on=c,
    )
    ratio = [mm / m0 for mm, m0 in zip(per["mismatched, learnable tau"]["final"],
                                       per["matched, learnable tau"]["final"], strict=True)]
    ctx.claim(
        "with a learnable τ, mismatched pairs leave a larger gap at the end", "mismatch perpetuates the gap",
        {"final ratio": round(float(np.mean(ratio)), 4)},
        criterion=f"final Δ(mismatched) / final Δ(matched), paired per seed; interval above 1 + {PERPETUATE}",
        per_seed=ratio, null=1.0, margin=PERPETUATE,
    )
    ctx.claim(
        f"with τ fixed at {tau0} the gap closes even with mismatched pairs", "closes",
        {"final/initial": round(float(np.mean(per["mismatched, fixed tau"]["final_over_initial"])), 4)},
        criterion=f"final Δ / Δ(0) (mismatched, fixed τ), per seed; interval below {CLOSED}",
        per_seed=per["mismatched, fixed tau"]["final_over_initial"], null=CLOSED, side="<",
    )
    ctx.claim(
        "with a learnable τ the gap does not close", "persists (abstract)",
        {"final/initial": round(float(np.mean(per["mismatched, learnable tau"]["final_over_initial"])), 4)},
        criterion=f"final Δ / Δ(0) (mismatched, learnable τ), per seed; interval above {CLOSED}",
        per_seed=per["mismatched, learnable tau"]["final_over_initial"], null=CLOSED,
    )
    _figure(ctx, steps_rec, hist, inits[len(seeds) * 2], (n, a))
    return {"n_points": n, "dim": dim, "offset": a, "lr": lr, "tau0": tau0, "steps": steps, "seeds": seeds,
            "mismatch": MISMATCH, "step": steps_rec.tolist(), "per_seed": per, "gap_history": hist}


def _figure(ctx: RecipeContext, steps: np.ndarray, hist: dict[str, list[list[float]]],
            mismatched_init: tuple[np.ndarray, np.ndarray], shape: tuple[int, float]) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    x, y = mismatched_init
    for i in range(x.shape[0]):
        ax.plot([x[i, 0], y[i, 0]], [x[i, 2], y[i, 2]], ls="--", lw=0.5, color="0.6", zorder=1)
    ax.scatter(x[:, 0], x[:, 2], s=10, c="tab:blue", label="image", zorder=2)
    ax.scatter(y[:, 0], y[:, 2], s=10, c="tab:red", label="text", zorder=2)
    ax.set_xlabel("first coordinate")
    ax.set_ylabel("gap coordinate (±a)")
    ax.set_title(f"parallel init with {MISMATCH:.0%} mismatched pairs (dashed: pairs), n={shape[0]}, a={shape[1]}",
                 fontsize=9)
    ax.legend(fontsize=8)
    ax = axes[1]
    colours = {"matched": "tab:green", "mismatched": "tab:purple"}
    t = np.maximum(steps, 1)
    for key, runs in hist.items():
        style = "-" if "learnable" in key else ":"
        for j, g in enumerate(runs):
            ax.plot(t, g, style, color=colours[key.split(",")[0]], lw=0.9, label=key if j == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("Δ = ‖mean x̂ − mean ŷ‖")
    ax.set_title("gap over training (one line per seed)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    ctx.savefig(fig, "parallel_modalities")
