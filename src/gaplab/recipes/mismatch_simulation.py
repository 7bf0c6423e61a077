"""``mismatch-simulation``: mismatched pairs plus a low temperature keep the modality gap open.

Liang et al., "Mind the Gap", NeurIPS 2022, "Simulating mismatched data" (§4, figure panels
(a) with mismatched pairs, (b) without, (c) loss landscape with misalignment, (d) without;
paper 000 in ``../shared/papers``) — the paper's answer to *why* temperature changes the gap.

Training (panels a, b). Two sets of ``n_points`` free points on S² (the parameters are the
points, :class:`~gaplab.models.FreeEmbeddings`) start with a gap: images in a cap around the
north pole, texts around the south pole (``polar`` init, caps of half-angle π/6). They are
trained with the CLIP loss at a fixed temperature by the engine's
:class:`~gaplab.train.Trainer` (full batch, SGD, ``lr``), with and without mismatched pairs:
``mismatch`` = the fraction of the pairs of every batch whose texts are cycled among
themselves, re-drawn every step (``mismatch_mode="batch"`` — with free points a *fixed*
mismatch would only relabel them). Temperatures ``temperatures`` (default 1/100 as in the
paper and CLIP, 1/10, 1); the gap is :func:`~gaplab.metrics.l2m`.

Loss landscape (panels c, d). A structured configuration whose gap is one number: ``n_points``
seeded unit points uᵢ, images xᵢ = normalize(uᵢ + λe), texts yᵢ = normalize(uᵢ − λe), e the
north pole (the gap direction of the training init), λ ≥ 0 on a grid; λ = 0 is perfect
alignment (gap 0), large λ pushes the modalities to the two poles. The CLIP loss
(:func:`gaplab.train.clip_loss`, the whole set as one batch) is plotted against the resulting
gap, without mismatch and — averaged over ``n_draws`` seeded draws of the mismatched pairs, the
same fraction as in training — with it. The paper's notebook does the same kind of sweep (a
height ``z`` of the two point sets, logit scales 1…1000, with and without swapped labels); its
exact point set is not given, so this one is our construction.

``landscape_local_minima_gap`` lists every local minimum of each curve. At τ ≤ 1/10 there is
a local minimum at a large gap *with and without* mismatch (the local minimum Shi et al.,
paper 001, blame for the gap); mismatched pairs at a low temperature make it the global one.
That is also why training at τ = 1/10 with mismatched pairs stays at a large gap although the
global minimum of that landscape is at 0.

Readings: "preserved" = final gap ≥ 0.9 × initial; "closes" = final gap ≤ 0.5 × initial
(after ``steps``); the landscape minimum is "at a large gap" when the arg-min gap is ≥ half
the largest gap on the grid, "at ≈ 0" when it is ≤ 0.1.

Scale: default 50 pairs, full batch, lr 0.1, 5,000 steps × 6 runs (the paper's simulation is a
handful of points; ours is larger so that the gap is a mean over many pairs). ``--quick``:
1,500 steps; the "closes at τ = 1/100 without mismatch" claim then reads as not yet reached
(the gap is shrinking, but slowly: a low temperature slows the closing too).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe


def _mismatch_perms(n: int, fraction: float, draws: int, seed: int) -> list[np.ndarray]:
    """Seeded text permutations: ``round(fraction·n)`` positions cycled among themselves (as the Trainer does)."""
    rng = np.random.default_rng(seed)
    k = int(round(fraction * n))
    out = []
    for _ in range(draws):
        p = np.arange(n)
        if k >= 2:
            sel = rng.permutation(n)[:k]
            p[sel] = np.roll(sel, -1)
        out.append(p)
    return out


def _landscape(u: np.ndarray, lams: np.ndarray, temps: list[float], perms: list[np.ndarray]) -> dict[str, Any]:
    import torch

    from ..metrics import l2m
    from ..train.losses import clip_loss

    e = np.zeros(u.shape[1])
    e[-1] = 1.0
    gaps: list[float] = []
    clean: dict[float, list[float]] = {t: [] for t in temps}
    mism: dict[float, list[float]] = {t: [] for t in temps}
    for lam in lams:
        x = u + lam * e
        y = u - lam * e
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y /= np.linalg.norm(y, axis=1, keepdims=True)
        gaps.append(l2m(x, y, normalize=False))
        xt, yt = torch.as_tensor(x), torch.as_tensor(y)
        for t in temps:
            clean[t].append(float(clip_loss(xt, yt, t)[0]))
            mism[t].append(float(np.mean([float(clip_loss(xt, yt[p], t)[0]) for p in perms])))
    return {"gap": gaps, "loss": {f"{t:g}": clean[t] for t in temps}, "loss_mismatch": {f"{t:g}": mism[t] for t in temps}}


@register_recipe(
    "mismatch-simulation",
    paper="000",
    summary="Free points with a gap, CLIP loss: mismatched pairs + low temperature keep the gap; loss landscape along it",
    n_points=50,
    mismatch=0.2,
    temperatures=(0.01, 0.1, 1.0),
    lr=0.1,
    steps=None,
    landscape_temperatures=(1.0, 0.1, 0.05, 0.02, 0.01),
    n_draws=32,
)
def mismatch_simulation(ctx: RecipeContext) -> dict[str, Any]:
    """Train free points with a gap, with and without mismatched pairs, per temperature; map the loss.

    Returns the measured values for ``run.json``: each run's L2M over training and its initial
    and final gap (``runs``), the steps, and the CLIP loss landscape along the gap per
    temperature, with and without mismatch (``landscape``), with its minimising and locally
    minimal gaps.
    """
    import torch

    from ..metrics import l2m
    from ..models import FreeEmbeddings, sphere_init
    from ..train import Trainer

    n = int(ctx.param("n_points"))
    frac = float(ctx.param("mismatch"))
    temps = [float(t) for t in ctx.param("temperatures")]
    low, high = min(temps), max(temps)
    steps = int(ctx.param("steps") or (1_500 if ctx.quick else 5_000))
    lr = float(ctx.param("lr"))
    every = max(1, steps // 30)

    runs: dict[str, dict[str, Any]] = {}
    from tqdm.auto import tqdm

    grid = [(t, m) for t in temps for m in (frac, 0.0)]
    for t, m in tqdm(grid, desc="mismatch-simulation", disable=not ctx.progress):
        model = FreeEmbeddings(n, 3, init="polar", seed=ctx.seed, dtype=torch.float64)
        x0, y0 = (a.numpy() for a in model.embeddings())
        tr = Trainer(model, loss="clip", temperature=t, lr=lr, batch_size=n, steps=steps,
                     eval_every=every, seed=ctx.seed, mismatch=m, mismatch_mode="batch",
                     metrics=["l2m"], progress=False, dtype=torch.float64)
        hist = tr.fit()
        x1, y1 = (a.numpy() for a in model.embeddings())
        runs[f"tau={t:g}/mismatch={m:g}"] = {
            "temperature": t, "mismatch": m, "step": list(hist["step"]), "l2m": list(hist["l2m"]),
            "gap_initial": l2m(x0, y0), "gap_final": l2m(x1, y1),
            "ratio": l2m(x1, y1) / l2m(x0, y0), "x0": x0, "y0": y0, "x1": x1, "y1": y1,
        }

    def run(t: float, m: float) -> dict[str, Any]:
        return runs[f"tau={t:g}/mismatch={m:g}"]

    # ---- landscape -------------------------------------------------------------------------
    ltemps = [float(t) for t in ctx.param("landscape_temperatures")]
    u, _ = sphere_init(n, 3, "random", seed=ctx.seed)
    lams = np.linspace(0.0, 4.0, 41 if ctx.quick else 81)
    perms = _mismatch_perms(n, frac, int(ctx.param("n_draws")), ctx.seed + 1)
    land = _landscape(u, lams, ltemps, perms)
    gaps = np.asarray(land["gap"])
    argmin = {
        "mismatch": {k: float(gaps[int(np.argmin(v))]) for k, v in land["loss_mismatch"].items()},
        "clean": {k: float(gaps[int(np.argmin(v))]) for k, v in land["loss"].items()},
    }

    def local_minima(v: list[float]) -> list[float]:
        a = np.asarray(v)
        inner = [i for i in range(1, a.size - 1) if a[i] < a[i - 1] and a[i] <= a[i + 1]]
        ends = ([0] if a[0] < a[1] else []) + ([a.size - 1] if a[-1] < a[-2] else [])
        return sorted(float(gaps[i]) for i in inner + ends)

    local = {w: {k: local_minima(v) for k, v in land[w].items()} for w in ("loss", "loss_mismatch")}

    # ---- claims ----------------------------------------------------------------------------
    r_mm, r_clean = run(low, frac)["ratio"], run(low, 0.0)["ratio"]
    ctx.claim(f"With mismatched pairs ({frac:.0%}) and low temperature (tau={low:g}) the gap is preserved (final >= 0.9 x initial)",
              "gap preserved (panel a)", {"initial": run(low, frac)["gap_initial"], "final": run(low, frac)["gap_final"],
                                         "ratio": r_mm}, r_mm >= 0.9)
    ctx.claim(f"Without mismatched pairs the gap closes at the same tau={low:g} (final <= 0.5 x initial)",
              "gap closes (panel b)", {"initial": run(low, 0.0)["gap_initial"], "final": run(low, 0.0)["gap_final"],
                                      "ratio": r_clean, "steps": steps}, r_clean <= 0.5)
    clean_ratios = {f"{t:g}": run(t, 0.0)["ratio"] for t in temps}
    ctx.claim("Without mismatched pairs the gap closes at every temperature (final <= 0.5 x initial)",
              "gap closes", clean_ratios, max(clean_ratios.values()) <= 0.5)
    r_hi = run(high, frac)["ratio"]
    ctx.claim(f"Mismatch keeps the gap only at low temperature: at tau={high:g} it closes even with mismatched pairs",
              "low temperature is needed", {f"ratio tau={high:g}": r_hi, f"ratio tau={low:g}": r_mm},
              r_hi <= 0.5 and r_mm >= 0.9)
    big = 0.5 * float(gaps.max())
    lo_key, hi_key = f"{min(ltemps):g}", f"{max(ltemps):g}"
    ctx.claim(f"Landscape with mismatch at tau={lo_key}: the loss is minimised at a large gap (>= half the largest)",
              "optimum away from zero gap (panel c)", argmin["mismatch"][lo_key], argmin["mismatch"][lo_key] >= big)
    ctx.claim("Landscape without mismatch: the loss is minimised at gap ~ 0 (<= 0.1) at every temperature",
              "optimum at zero gap (panel d)", argmin["clean"], max(argmin["clean"].values()) <= 0.1)
    ctx.claim(f"Landscape with mismatch at high tau={hi_key}: the minimum returns to gap ~ 0 (<= 0.1)",
              "temperature decides (panel c)", argmin["mismatch"][hi_key], argmin["mismatch"][hi_key] <= 0.1)

    # ---- figures ---------------------------------------------------------------------------
    import matplotlib.pyplot as plt

    from .sphere import _draw_pairs, _sphere_axes

    fig = plt.figure(figsize=(10, 5))
    show = np.arange(n)
    for c, (m, name) in enumerate(((frac, "(a) with mismatched pairs"), (0.0, "(b) without"))):
        r = run(low, m)
        for k, (xx, yy, when) in enumerate(((r["x0"], r["y0"], "start"), (r["x1"], r["y1"], f"step {steps:,}"))):
            ax = fig.add_subplot(2, 4, 4 * c + k + 1, projection="3d")
            _sphere_axes(ax)
            _draw_pairs(ax, xx, yy, show)
            ax.set_title(f"{name}\n{when}, gap {l2m(xx, yy):.2f}", fontsize=8)
    ax = fig.add_subplot(1, 2, 2)
    for key, r in runs.items():
        ax.plot(r["step"], r["l2m"], "-" if r["mismatch"] else "--", label=key)
    ax.set(xlabel="step", ylabel="gap (L2M)", title=f"CLIP loss, polar init, {n} pairs, full batch")
    ax.legend(fontsize=7)
    fig.suptitle("000 'Simulating mismatched data' (a, b): training")
    ctx.savefig(fig, "mismatch_training")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for ax, which, title in ((axes[0], "loss_mismatch", f"(c) with {frac:.0%} mismatched pairs"),
                             (axes[1], "loss", "(d) without mismatch")):
        for k, v in land[which].items():
            v = np.asarray(v)
            ax.plot(gaps, v - v.min(), label=f"τ = {k}")
            ax.plot(gaps[int(np.argmin(v))], 0.0, "o", color=ax.lines[-1].get_color())
        ax.set(xlabel="gap (L2M) after shifting along Δ", ylabel="CLIP loss − its minimum", yscale="symlog", title=title)
        ax.legend(fontsize=8)
    fig.suptitle("000: loss landscape along the gap direction (dots: minima)")
    ctx.savefig(fig, "mismatch_landscape")

    slim = {k: {kk: vv for kk, vv in r.items() if kk not in ("x0", "y0", "x1", "y1")} for k, r in runs.items()}
    return {"runs": slim, "steps": steps, "landscape": {**land, "lambda": lams.tolist()}, "landscape_argmin_gap": argmin,
            "landscape_local_minima_gap": local}
