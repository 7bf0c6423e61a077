r"""``gap-persistence``: the gap survives long training, and a small initial gap is enlarged.

Yaras et al., "Explaining and Mitigating the Modality Gap in Contrastive Multimodal Learning"
(paper 002), Fig. 1: "(a) After a long training, the gap between text and image still
exists. (b) When two modalities are initialized with a small modality gap, the gap is still
enlarged after training." The paper shows CLIP on MS-COCO by PCA.

Setting (no CLIP or MS-COCO offline; the paper's own theory setting, §3): free embeddings
(``n_points`` image and text points in d = ``dim``) trained with the symmetric CLIP loss,
minibatch SGD (batch ``batch_size``, as CLIP trains), a learnable temperature from τ₀ = 0.07
clamped at 0.01 (logit scale ≤ 100, CLIP's clamp), through the engine's fast path
(:func:`gaplab.train.fast.train_free_embeddings_fast`). Two initialisations per seed, both
mismatched (pairs drawn independently), in the spirit of the two panels:

* **two cones** — images around one random direction, texts around another (spread
  :data:`CONE_SPREAD`), as a randomly initialised two-tower starts (the cone effect, 000 §2);
* **shared cone** — both modalities around the *same* direction: the gap at init is only
  sampling noise.

Claims (criteria fixed before any run; over seeds, 95 % Student-t interval):

* (a) the gap still exists after long training: final L2M minus the 99th percentile of
  100 label-shuffled L2Ms (each pair's rows swapped with probability ½) above 0;
* (a) it has stabilised: |Δ(T) − Δ(T/10)| / Δ(T/10) below :data:`STABLE` (the last decade
  of steps changes it by less than 10 %);
* (b) a small initial gap is enlarged: Δ(T)/Δ(0) (shared cone) above 1 + :data:`ENLARGED`.

Free embeddings have no towers: whatever the towers add (the cone effect of a network
that maps *all* inputs of one modality through shared weights) is absent here. If (b) does
not hold here, that is the reading: the enlargement of Fig. 1b needs encoders.

Scale: 5 seeds × 200,000 steps, about 3 min on 2 CPUs; ``--quick``: 3 seeds × 20,000 steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe

#: per-coordinate spread of a cone around its direction, in units of 1/√d
CONE_SPREAD = 2.0
#: "stabilised": relative change of Δ over the last decade of steps below this
STABLE = 0.1
#: "enlarged": Δ(T)/Δ(0) above 1 + this
ENLARGED = 0.1


def cone_init(n: int, dim: int, shared: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Image and text points around one (``shared``) or two random directions; unit rows, independent pairs.

    Examples
    --------
    >>> x, y = cone_init(100, 16, shared=False, seed=0)
    >>> bool(np.linalg.norm(x.mean(0) - y.mean(0)) > 0.5)
    True
    """
    rng = np.random.default_rng(seed)

    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.linalg.norm(a, axis=-1, keepdims=True)

    c_img = unit(rng.normal(size=dim))
    c_txt = c_img if shared else unit(rng.normal(size=dim))
    spread = CONE_SPREAD / np.sqrt(dim)
    return unit(c_img + spread * rng.normal(size=(n, dim))), unit(c_txt + spread * rng.normal(size=(n, dim)))


@register_recipe(
    "gap-persistence",
    paper="002",
    summary="The gap survives long training and a small initial gap is enlarged (Fig. 1), on free embeddings",
    n_points=128, dim=16, batch_size=32, lr=0.1, tau0=0.07, steps=None, seeds=None, n_perm=100,
)
def gap_persistence(ctx: RecipeContext) -> dict[str, Any]:
    """Long CLIP training of free embeddings from a two-cone and a shared-cone start, over seeds.

    Returns the measured values for ``run.json``: per initialisation and seed the Δ history,
    the shuffled-label quantile, and the settings.
    """
    from ..train.fast import train_free_embeddings_fast
    from .init_gap import shuffled_l2m

    n, dim, batch = int(ctx.param("n_points")), int(ctx.param("dim")), int(ctx.param("batch_size"))
    lr, tau0 = float(ctx.param("lr")), float(ctx.param("tau0"))
    steps = int(ctx.param("steps") or (20_000 if ctx.quick else 200_000))
    seeds = [ctx.seed + k for k in range(int(ctx.param("seeds") or (3 if ctx.quick else 5)))]
    grid = sorted({0, *np.unique(np.logspace(0, np.log10(steps), 40).astype(int)).tolist(), steps // 10, steps})
    inits = {name: [cone_init(n, dim, shared, s) for s in seeds]
             for name, shared in (("two cones", False), ("shared cone", True))}
    x0 = np.stack([x for runs in inits.values() for x, _ in runs])
    y0 = np.stack([y for runs in inits.values() for _, y in runs])
    learnable = {"name": "learnable", "init": tau0, "max_scale": 100.0}
    run = train_free_embeddings_fast(x0, y0, loss="clip", temperature=[learnable] * x0.shape[0], lr=lr, batch_size=batch,
                                     steps=steps, seed=[s for _ in inits for s in seeds], snapshot_steps=grid)
    gap = np.array([np.linalg.norm(run.snapshots[t][0].mean(1) - run.snapshots[t][1].mean(1), axis=-1)
                    for t in grid])  # (recorded steps, runs); snapshots hold unit rows
    rng = ctx.rng
    k = len(seeds)
    out: dict[str, Any] = {}
    xT, yT = run.snapshots[steps]
    for j, name in enumerate(inits):
        g = gap[:, j * k:(j + 1) * k]
        null = [float(np.percentile(shuffled_l2m(xT[j * k + i], yT[j * k + i], int(ctx.param("n_perm")), rng), 99))
                for i in range(k)]
        out[name] = {"gap_history": g.T.tolist(), "initial": g[0].tolist(), "final": g[-1].tolist(),
                     "at_tenth": g[grid.index(steps // 10)].tolist(), "null_q99": null}
    two, shared = out["two cones"], out["shared cone"]
    ctx.claim(
        "after long training the gap still exists (two-cone start)", "gap exists (Fig. 1a)",
        {"final l2m": round(float(np.mean(two["final"])), 4), "shuffled q99": round(float(np.mean(two["null_q99"])), 4)},
        criterion=f"final L2M − 99th percentile of {int(ctx.param('n_perm'))} label-shuffled L2Ms, per seed; "
                  "interval above 0",
        per_seed=[f - q for f, q in zip(two["final"], two["null_q99"], strict=True)],
    )
    ctx.claim(
        "the gap has stabilised (two-cone start)", "stabilises (Fig. 1 title)",
        {"last-decade change": round(float(np.mean(np.abs(np.subtract(two["final"], two["at_tenth"]))
                                                   / np.asarray(two["at_tenth"]))), 4)},
        criterion=f"|Δ(T) − Δ(T/10)| / Δ(T/10), T = {steps}, per seed; interval below {STABLE}",
        per_seed=(np.abs(np.subtract(two["final"], two["at_tenth"])) / np.asarray(two["at_tenth"])).tolist(),
        null=STABLE, side="<",
    )
    ctx.claim(
        "a small initial gap is enlarged by training (shared-cone start)", "enlarged (Fig. 1b)",
        {"initial": round(float(np.mean(shared["initial"])), 4), "final": round(float(np.mean(shared["final"])), 4)},
        criterion=f"Δ(T)/Δ(0), per seed; interval above 1 + {ENLARGED}",
        per_seed=(np.asarray(shared["final"]) / np.asarray(shared["initial"])).tolist(), null=1.0, margin=ENLARGED,
        note="free embeddings have no towers; the paper's Fig. 1b is real CLIP",
    )
    _figure(ctx, np.asarray(grid), out)
    return {"n_points": n, "dim": dim, "batch_size": batch, "lr": lr, "tau0": tau0, "steps": steps,
            "seeds": seeds, "step": grid, "inits": out, "final_tau": [float(t) for t in run.temperatures[steps]]}


def _figure(ctx: RecipeContext, steps: np.ndarray, out: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    t = np.maximum(steps, 1)
    for (name, r), colour in zip(out.items(), ("tab:purple", "tab:orange"), strict=True):
        for j, g in enumerate(r["gap_history"]):
            ax.plot(t, g, color=colour, lw=0.9, label=name if j == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("Δ = ‖mean x̂ − mean ŷ‖")
    ax.set_title("Gap over long CLIP training of free embeddings (one line per seed; cf. 002 Fig. 1)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    ctx.savefig(fig, "gap_persistence")
