"""``sphere``: the 3-D sphere experiment of Shi et al. — CLIP's loss keeps two rings apart.

Shi et al., "Towards Understanding the Modality Gap in CLIP", ICLR 2023 workshop (paper 001),
§4.1 (Fig. 2), §4.3 (Fig. 3), §4.4 (Fig. 4), appendices C and D (Fig. 5, 6).

Setting (appendix C): 1,000 "image" points and 1,000 "text" points in R³, the parameters are
the points themselves, the loss normalises them onto S²; SGD, learning rate 0.01, batch 10
(pairs drawn as the :class:`~gaplab.train.Trainer` draws them: one seeded permutation per
epoch). Losses ``clip`` (001 eq. 1), ``simclr`` (unimodal NT-Xent with the two sets as the two
views, appendix A) and ``slip`` (CLIP + SimCLR on the images, eq. 4); inits ``polar``,
``nearby``, ``overlapped`` (Fig. 3, :func:`gaplab.models.sphere_init`: caps of half-angle
π/6, ``nearby`` with centres 2.2·π/6 apart). All runs go through the engine's numba fast path
(:func:`gaplab.train.fast.train_free_embeddings_fast`), every run of the grid in one parallel
batch on all cores.

Readings taken where the paper is vague (each is a parameter):

* **steps, not epochs.** The paper's captions say "training epoch" (10k, 100k, 1M, 2.5M);
  one epoch of 1,000 pairs at batch 10 is 100 steps, and 2.5M epochs (250M steps) cannot be
  what a toy run did, while its text says "uniformity in under 100k *steps*". We read the
  numbers as SGD steps. ``unit="epochs"`` multiplies every step count by N/B (= 100) for
  anyone who wants the other reading (hours on a CPU).
* **temperature.** Not given for Fig. 2/3/6. Default τ = 0.07, CLIP's initial temperature;
  the τ sweep of §4.4 (``temperatures``) runs CLIP from the polar init.
* **SLIP's two views.** Free points have no augmentations: the SimCLR term uses the image
  embedding as both views (``views="self"``), i.e. pure uniformity pressure on the images,
  which is how appendix D explains SLIP's speed.
* **"two rings".** At a recorded step the two modalities are *two separate rings* when each
  modality's angle to its own centre direction is nearly constant (coefficient of variation
  of the angle < ``ring_cv``, 0.1; a uniform cap has ≈ 0.35, the uniform sphere ≈ 0.43) and a
  plane orthogonal to the gap vector separates them (every image above every text).
* **closed / uniform.** The gap is *closed* at the first recorded step where the mean
  inter-modality distance of the pairs, :func:`~gaplab.metrics.l2i` ("pairwise distance"
  in Fig. 3), drops below ``close_threshold`` (0.05); the run *reaches uniformity* (stage 3
  of Fig. 1) at the first step where it is closed and the uniformity of the points (:func:`~gaplab.metrics.uniformity`, t = 2,
  on a seeded subsample of 200 pairs = 400 points) is within ``uniform_tol`` (0.1) of the uniform
  sphere's value log((1 − e⁻⁸)/8) ≈ −2.079.
* "far sooner" = at least 10× fewer steps; "~10k" = at most 2 × 10k steps; "converges faster"
  = closes the gap in fewer steps (if only one run closes within the budget, that one).
* **eq. 2's two terms.** At every recorded step of every run (SimCLR and SLIP runs too, as a
  diagnostic of where they stand in CLIP's terms) we record ``loss_alignment`` =
  −E[xᵀy/τ] and ``loss_uniformity`` = E[½ log Σᵢ exp(xᵀy'ᵢ/τ) + ½ log Σᵢ exp(x'ᵢᵀy/τ)]
  (:func:`eq2_terms`) and their sum ``loss_clip``, at the run's τ. *Our reading*: the paper's
  E is over the data, so we evaluate the population loss on **all** N = 1,000 pairs (the full
  N × N logits, float64, log-sum-exp with a shift), not on training batches of 10; the sum is
  then the full-batch symmetric InfoNCE (:func:`gaplab.train.losses.clip_loss` on all pairs).
* **the tension (Fig. 1, stage 2 → 3).** "In the gap phase the state trades alignment for
  uniformity" is read as: for CLIP from the polar init, per seed, take the recorded two-rings
  step nearest (in log) to the geometric middle √(first · last) of the two-rings steps and
  the final recorded step; ΔU = L_uniformity(final) − L_uniformity(middle), ΔA =
  L_alignment(final) − L_alignment(middle); the effect is min(ΔU, −ΔA), positive exactly when
  uniformity rose *and* alignment fell (it equals ΔU whenever the full-batch loss fell,
  ΔA + ΔU < 0); held when its 95 % interval over seeds lies above 0. A seed with no two-rings
  step, or not closed (L2I ≥ ``close_threshold``) at the final step, has no value, and the
  claim is ``inconclusive`` (so at ``--quick``, where CLIP-polar never closes). This is not
  true by construction: the alignment half nearly follows from the premise (a closed state
  has xᵀy ≈ 1, separated rings do not), but the uniformity half can fail. L_uniformity
  is bounded below by −L_alignment (each log-sum includes its own pair), so closing the gap
  pushes it up, but it also carries the crowding of the *other* texts near each image: on
  two rings 1,000 points share a 1-D curve, so every image has many near texts at the
  same longitude; spreading them over the whole sphere in stage 3 removes that crowding,
  and L_uniformity can fall on the way to uniformity (then ΔU < 0: not held).

Recorded steps are log-spaced (``n_curve`` points) plus the snapshot steps. Scale: the default
is the paper's (9 runs × 2.5M steps per seed, plus the τ sweep; 5 seeds: 1,536 s on 2 loaded cores). ``--quick``
runs 100k steps and a two-value τ sweep; claims that need millions of steps then read "not
reached within the budget".

Outputs: ``sphere_snapshots.png`` (Fig. 2: CLIP vs SimCLR vs SLIP from the polar init, 30
sampled pairs with lines, at the snapshot steps), ``sphere_inits.png`` (Fig. 3 left),
``sphere_distance.png`` (Fig. 3 right and Fig. 6: mean inter-modality distance against step,
log x), ``sphere_temperature.png`` (Fig. 4), ``sphere_tension.png`` (eq. 2 / Fig. 1: L_alignment,
L_uniformity and their sum against step for CLIP from each init, first seed, with the two-rings
steps shaded and the steps where the gap closes and uniformity is reached marked),
``sphere_clip_polar.gif`` (full scale).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from .._errors import ConfigError
from ._base import RecipeContext, register_recipe

LOSSES = ("clip", "simclr", "slip")
INITS = ("polar", "nearby", "overlapped")
#: uniformity (t = 2) of the uniform distribution on S²: log E exp(−2‖u − v‖²) = log((1 − e⁻⁸)/8)
UNIFORM_S2 = math.log((1.0 - math.exp(-8.0)) / 8.0)
_COLORS = {"polar": "#e0a800", "nearby": "#7b3fa0", "overlapped": "#1f77b4"}


def _record_steps(steps: int, n_curve: int, extra: list[int]) -> list[int]:
    grid = np.unique(np.round(np.logspace(0, math.log10(steps), n_curve)).astype(np.int64))
    return sorted({0, steps, *map(int, grid), *(s for s in extra if 0 <= s <= steps)})


def _ring_stats(a: np.ndarray) -> tuple[float, np.ndarray]:
    """Coefficient of variation of the angle of each point to the modality's centre direction."""
    m = a.mean(axis=0)
    c = m / max(np.linalg.norm(m), 1e-12)
    theta = np.arccos(np.clip(a @ c, -1.0, 1.0))
    return float(theta.std() / max(theta.mean(), 1e-12)), c


def eq2_terms(x: np.ndarray, y: np.ndarray, temperature: float) -> tuple[float, float]:
    """``(L_alignment, L_uniformity)`` of 001 eq. 2 over all N pairs (row i of ``x`` with row i of ``y``).

    L_alignment = −(1/N) Σᵢ xᵢᵀyᵢ/τ and L_uniformity = (1/N) Σᵢ [½ log Σⱼ exp(xᵢᵀyⱼ/τ) +
    ½ log Σⱼ exp(xⱼᵀyᵢ/τ)], from the full N × N logits in float64; their sum is the
    full-batch symmetric InfoNCE. The rows are used as given (the sphere's points are unit).
    The log-sum-exps share one shift (the largest logit), so one ``exp`` pass serves rows and
    columns; if a row or column would underflow (on unit vectors only for τ ≲ 0.003) they are
    recomputed with :func:`scipy.special.logsumexp`.

    >>> a, u = eq2_terms(np.eye(2, 3), np.eye(2, 3), 1.0)
    >>> round(a, 4), round(u, 4), round(a + u, 4)  # log(1 + e) - 1 = 0.3133
    (-1.0, 1.3133, 0.3133)
    """
    xf, yf = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    logits = xf @ yf.T
    logits /= float(temperature)
    align = -float(np.mean(np.einsum("ij,ij->i", xf, yf))) / float(temperature)
    m = float(logits.max())
    e = np.exp(logits - m)
    rows, cols = e.sum(axis=1), e.sum(axis=0)
    if min(float(rows.min()), float(cols.min())) > 1e-290:  # no (sub)normal underflow
        lse_r, lse_c = np.log(rows) + m, np.log(cols) + m
    else:
        from scipy.special import logsumexp

        lse_r, lse_c = logsumexp(logits, axis=1), logsumexp(logits, axis=0)
    return align, 0.5 * (float(lse_r.mean()) + float(lse_c.mean()))


def _state(x: np.ndarray, y: np.ndarray, sub: np.ndarray, temperature: float) -> dict[str, float]:
    from ..metrics import l2i, l2m, uniformity

    cv_x, _ = _ring_stats(x)
    cv_y, _ = _ring_stats(y)
    gap = x.mean(axis=0) - y.mean(axis=0)
    g = gap / max(np.linalg.norm(gap), 1e-12)
    separated = bool((x @ g).min() > (y @ g).max())
    u = uniformity(np.vstack([x[sub], y[sub]]), t=2.0, normalize=False)
    align, unif = eq2_terms(x, y, temperature)
    return {
        "l2i": l2i(x, y, normalize=False), "l2m": l2m(x, y, normalize=False),
        "ring_cv_x": cv_x, "ring_cv_y": cv_y, "separated": separated, "uniformity": u,
        "loss_alignment": align, "loss_uniformity": unif, "loss_clip": align + unif,
    }


def key(lo: str, it: str, t: float, seed: int) -> str:
    """The name of one run: loss / init / temperature / seed."""
    return f"{lo}/{it}/tau={t:g}/seed={seed}"


def _first(steps: list[int], flags: list[bool]) -> int | None:
    for s, f in zip(steps, flags, strict=True):
        if f:
            return int(s)
    return None


def _tension(record: list[int], flags: list[bool], curve: dict[str, list[Any]], thr: float) -> dict[str, Any]:
    """Eq. 2's terms at the middle of the two-rings phase and at the final step of one run.

    ``ring_middle``: the recorded step with two rings (step > 0) nearest in log to the
    geometric middle √(first · last) of those steps (ties: the earlier); ``d_uniformity`` and
    ``d_alignment``: final minus ring middle; ``effect`` = min(ΔU, −ΔA), NaN with a ``reason``
    when the run shows no two rings or is not closed (L2I ≥ ``thr``) at the final step.
    """
    ring_steps = [i for i, (s, r) in enumerate(zip(record, flags, strict=True)) if r and s > 0]
    out: dict[str, Any] = {"ring_first": None, "ring_last": None, "ring_middle": None,
                           "closed_at_end": bool(curve["l2i"][-1] < thr), "d_uniformity": None,
                           "d_alignment": None, "uniformity_ring_middle": None, "uniformity_final": None,
                           "alignment_ring_middle": None, "alignment_final": None, "effect": float("nan"),
                           "reason": ""}
    if ring_steps:
        first, last = record[ring_steps[0]], record[ring_steps[-1]]
        mid = 0.5 * (math.log(first) + math.log(last))
        i_mid = min(ring_steps, key=lambda i: (abs(math.log(record[i]) - mid), i))
        out.update(ring_first=first, ring_last=last, ring_middle=record[i_mid])
        du = float(curve["loss_uniformity"][-1] - curve["loss_uniformity"][i_mid])
        da = float(curve["loss_alignment"][-1] - curve["loss_alignment"][i_mid])
        out.update(d_uniformity=du, d_alignment=da,
                   uniformity_ring_middle=curve["loss_uniformity"][i_mid],
                   uniformity_final=curve["loss_uniformity"][-1],
                   alignment_ring_middle=curve["loss_alignment"][i_mid],
                   alignment_final=curve["loss_alignment"][-1])
    if not ring_steps:
        out["reason"] = "no two rings at any recorded step"
    elif not out["closed_at_end"] or record[ring_steps[-1]] >= record[-1]:
        out["reason"] = f"the gap is not closed at the final step ({record[-1]:,})"
    else:
        out["effect"] = min(out["d_uniformity"], -out["d_alignment"])
    return out


def _claims(ctx: RecipeContext, *, summary: dict[str, dict[str, Any]], ring_flags: dict[str, list[bool]],
            record: list[int], steps: int, seeds: list[int], tau: float, temps: list[float],
            tension: dict[str, dict[str, Any]] | None = None) -> None:
    """State the sphere's claims from the per-run summary (times to close / to uniformity, rings)."""
    # ---- claims: per seed, then a 95 % Student-t interval over seeds ----------------------
    # Times are log10 steps; a run that never gets there within the budget is ranked last
    # (its time is the budget, a lower bound): a ratio is then a *bound*, so a claim that it is
    # large may hold on it, but one built on an unknown fast time stays inconclusive.
    def when(k: str, what: str) -> tuple[float, bool]:
        v = summary[k][what]
        return (math.log10(max(v, 1)), False) if v is not None else (math.log10(steps), True)

    lower_bounds: set[str] = set()  # claims with a per-seed value that is only a lower bound

    def log_ratio(slow: tuple[float, bool], fast: tuple[float, bool], claim: str) -> float:
        """log10(slow / fast) per seed; NaN when the fast time is censored (then unknown)."""
        if slow[1]:
            lower_bounds.add(claim)
        return float("nan") if fast[1] else slow[0] - fast[0]

    def bound(claim: str) -> str:
        """'lower' when a per-seed value of ``claim`` is only a lower bound (see gaplab.runs.decide)."""
        return "lower" if claim in lower_bounds else ""

    def per_seed(fn: Any) -> list[float]:
        return [fn(sd) for sd in seeds]

    rings_claim = ("CLIP (polar init): two separate rings persist for a long time (>= 1 decade of steps) "
                   "before uniformity")

    def ring_span(sd: int) -> float:
        k = key("clip", "polar", tau, sd)
        steps_r = [s for s, r in zip(record, ring_flags[k], strict=True) if r and s > 0]
        tu = summary[k]["t_uniform"]
        if not steps_r or (tu is not None and tu <= steps_r[-1]):
            return 0.0
        if steps_r[-1] == steps:  # still two rings when the budget ends: the span is a lower bound
            lower_bounds.add(rings_claim)
        return math.log10(steps_r[-1] / steps_r[0])

    spans = per_seed(ring_span)
    ctx.claim(
        rings_claim,
        "rings from 10k to >1M steps, uniformity at 2.5M",
        {"rings_log10_span": spans, "budget": steps},
        criterion="log10(last / first step with two rings), before uniformity, above 1 (a decade)",
        per_seed=spans, null=1.0, bound=bound(rings_claim),
    )
    name = "SimCLR (unimodal NT-Xent) reaches uniformity >= 10x sooner than CLIP (polar init)"
    simclr_vs_clip = per_seed(lambda sd: log_ratio(when(key("clip", "polar", tau, sd), "t_uniform"),
                                                   when(key("simclr", "polar", tau, sd), "t_uniform"), name))
    ctx.claim(
        name,
        "< 100k vs 2.5M steps",
        {"simclr": [summary[key("simclr", "polar", tau, sd)]["t_uniform"] for sd in seeds],
         "clip": [summary[key("clip", "polar", tau, sd)]["t_uniform"] for sd in seeds], "budget": steps},
        criterion="log10(CLIP's steps to uniformity / SimCLR's), paired over seeds, above 1; CLIP never "
                  "uniform counts as the budget (a lower bound); SimCLR never uniform: unknown",
        per_seed=simclr_vs_clip, null=1.0, bound=bound(name),
    )
    ctx.claim(
        "Overlapped init: CLIP closes the gap within ~10k steps (<= 20k)",
        "within 10k", [summary[key("clip", "overlapped", tau, sd)]["t_close"] for sd in seeds],
        criterion="log10(steps to close) from the overlapped init below log10(20,000); never closing = the budget",
        per_seed=per_seed(lambda sd: when(key("clip", "overlapped", tau, sd), "t_close")[0]),
        null=math.log10(20_000), side="<",
    )
    name = "Polar and nearby inits both induce the gap: CLIP closes >= 10x slower than from the overlapped init"
    slow_inits = per_seed(lambda sd: min(
        log_ratio(when(key("clip", it, tau, sd), "t_close"), when(key("clip", "overlapped", tau, sd), "t_close"), name)
        for it in ("polar", "nearby")))
    ctx.claim(
        name,
        "polar / nearby keep the gap, overlapped closes in 10k",
        {f"{it}": [summary[key("clip", it, tau, sd)]["t_close"] for sd in seeds] for it in INITS} | {"budget": steps},
        criterion="min over polar, nearby of log10(steps to close / overlapped's), paired over seeds, above 1",
        per_seed=slow_inits, null=1.0, bound=bound(name),
    )
    name = "Nearby init closes slightly faster than polar (CLIP)"
    nearby = per_seed(lambda sd: log_ratio(when(key("clip", "polar", tau, sd), "t_close"),
                                           when(key("clip", "nearby", tau, sd), "t_close"), name))
    ctx.claim(
        name,
        "nearby (purple) converges slightly faster than polar (yellow)",
        {it: [summary[key("clip", it, tau, sd)]["t_close"] for sd in seeds] for it in ("nearby", "polar")},
        criterion="log10(polar's steps to close / nearby's), paired over seeds, above 0",
        per_seed=nearby, bound=bound(name),
    )
    name = "SLIP converges faster than CLIP (polar init)"
    slip = per_seed(lambda sd: log_ratio(when(key("clip", "polar", tau, sd), "t_close"),
                                         when(key("slip", "polar", tau, sd), "t_close"), name))
    ctx.claim(
        name,
        "significantly faster (Fig. 6)",
        {lo: [summary[key(lo, "polar", tau, sd)]["t_close"] for sd in seeds] for lo in ("slip", "clip")} | {"budget": steps},
        criterion="log10(CLIP's steps to close / SLIP's), paired over seeds, above 0",
        per_seed=slip, bound=bound(name),
    )
    sweep = sorted({tau, *temps})
    from scipy.stats import spearmanr

    def tau_rho(sd: int) -> float:
        closes = [when(key("clip", "polar", t, sd), "t_close")[0] for t in sweep]  # never = last
        # fewer than two distinct times (e.g. no run closes within the budget): no ranking to test
        return float(spearmanr(sweep, closes).statistic) if len(set(closes)) > 1 else float("nan")

    t_by_tau = {f"{t:g}": [summary[key("clip", "polar", t, sd)]["t_close"] for sd in seeds] for t in sweep}
    ctx.claim(
        "Temperature matters: lower tau closes the gap sooner, higher tau delays it (CLIP, polar)",
        "lower tau -> gap closes much sooner",
        {"t_close_by_tau": t_by_tau},
        criterion="Spearman rank correlation of (tau, steps to close) per seed above 0.5; a run that never "
                  "closes is ranked last",
        per_seed=per_seed(tau_rho), null=0.5,
    )
    if tension is None:
        return
    # ---- eq. 2 / Fig. 1: the gap phase trades alignment for uniformity (criterion fixed in advance:
    # see the module docstring; effect min(dU, -dA) per seed, held if its interval is above 0)
    ts = [tension[key("clip", "polar", tau, sd)] for sd in seeds]
    missing = [f"seed {sd}: {t['reason']}" for sd, t in zip(seeds, ts, strict=True) if t["reason"]]
    ctx.claim(
        "CLIP (polar init): the gap phase trades alignment for uniformity (eq. 2): from the middle of the "
        "two-rings phase to the final closed state L_alignment falls and L_uniformity rises",
        "stage 2: L_alignment pulls the modalities together, L_uniformity pushes them apart; "
        "stage 3 (closed, uniform) only after escaping (Fig. 1)",
        {f: [t[f] for t in ts] for f in ("ring_first", "ring_last", "ring_middle", "closed_at_end",
                                         "d_uniformity", "d_alignment")} | {"final_step": steps},
        criterion="per seed: ring middle = the recorded two-rings step nearest in log to sqrt(first * last "
                  "two-rings step); dU, dA = L_uniformity, L_alignment (eq. 2 on all pairs) at the final step "
                  "minus at the ring middle; effect min(dU, -dA) (> 0 iff uniformity rose and alignment fell) "
                  "above 0; a seed with no rings or not closed (L2I < close_threshold) at the final step: no "
                  "value (inconclusive)",
        per_seed=[t["effect"] for t in ts], null=0.0,
        note="; ".join(missing),
    )


def _sphere_axes(ax: Any) -> None:
    u, v = np.mgrid[0 : 2 * np.pi : 16j, 0 : np.pi : 9j]
    ax.plot_wireframe(np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v), color="0.85", lw=0.4)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_zlim(-1, 1)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()


def _draw_pairs(ax: Any, x: np.ndarray, y: np.ndarray, show: np.ndarray) -> None:
    xs, ys = x[show], y[show]
    for a, b in zip(xs, ys, strict=True):
        ax.plot([a[0], b[0]], [a[1], b[1]], [a[2], b[2]], color="0.4", lw=0.5)
    ax.scatter(xs[:, 0], xs[:, 1], xs[:, 2], color="tab:red", s=10, depthshade=False)
    ax.scatter(ys[:, 0], ys[:, 1], ys[:, 2], color="tab:blue", s=10, depthshade=False)


@register_recipe(
    "sphere",
    paper="001",
    summary="3-D sphere (Shi et al.): CLIP keeps two rings apart for ~1M steps; SimCLR, SLIP, overlapped init close fast",
    steps=None,
    unit="steps",
    n_points=1000,
    batch_size=10,
    lr=0.01,
    temperature=0.07,
    temperatures=None,
    snapshot_steps=None,
    n_show=30,
    n_curve=None,
    close_threshold=0.05,
    uniform_tol=0.1,
    ring_cv=0.1,
    gif=None,
    seeds=None,
)
def sphere(ctx: RecipeContext) -> dict[str, Any]:
    """Train free point pairs on S² per loss, init, temperature and seed; track the gap closing.

    Returns the measured values for ``run.json``: the steps and their unit, the temperature,
    the recorded and snapshot steps, the seeds, the run grid (``runs``: loss, init, τ, seed),
    per run the metric curves (among them eq. 2's ``loss_alignment``, ``loss_uniformity`` and
    their sum ``loss_clip`` on all pairs) and the steps to close the gap and to reach
    uniformity (``summary``), per CLIP-polar seed the tension reading (``tension``: the
    two-rings steps, the ring middle, the changes of the two terms to the final step), the
    uniformity of a uniform S² and the training time.
    """
    from ..models import sphere_init
    from ..train.fast import train_free_embeddings_fast

    quick = ctx.quick
    unit = str(ctx.param("unit"))
    if unit not in ("steps", "epochs"):
        raise ConfigError(f"sphere: unit must be 'steps' or 'epochs', got {unit!r}")
    n, bsz = int(ctx.param("n_points")), int(ctx.param("batch_size"))
    per = (n // bsz) if unit == "epochs" else 1
    steps = int(ctx.param("steps") or (100_000 if quick else 2_500_000)) * per
    snaps = ctx.param("snapshot_steps") or ((0, 1_000, 10_000, 100_000) if quick else (0, 10_000, 100_000, 1_000_000, 2_500_000))
    snaps = sorted({int(s) * per for s in snaps if int(s) * per <= steps} | {steps})
    temps = [float(t) for t in (ctx.param("temperatures") or ((0.03, 0.3) if quick else (0.03, 0.15, 0.3, 1.0)))]
    tau = float(ctx.param("temperature"))
    n_curve = int(ctx.param("n_curve") or (40 if quick else 80))
    thr, utol, rcv = float(ctx.param("close_threshold")), float(ctx.param("uniform_tol")), float(ctx.param("ring_cv"))
    want_gif = (not quick) if ctx.param("gif") is None else bool(ctx.param("gif"))
    record = _record_steps(steps, n_curve, snaps)

    # one parallel batch: for every seed, the 3 × 3 grid at τ, then CLIP-polar at every sweep
    # temperature. Seed k gives every loss and temperature the same init and batch order (paired).
    n_seeds = int(ctx.param("seeds") or (2 if quick else 5))
    seeds = [ctx.seed + k for k in range(n_seeds)]
    starts = {(it, sd): sphere_init(n, 3, it, seed=sd) for it in INITS for sd in seeds}
    grid = [(lo, it, tau) for lo in LOSSES for it in INITS]
    grid += [("clip", "polar", t) for t in temps if not math.isclose(t, tau)]
    runs = [(lo, it, t, sd) for sd in seeds for lo, it, t in grid]
    print(f"sphere: {len(runs)} runs x {steps:,} steps (numba engine) ...", file=sys.stderr, flush=True)
    fr = train_free_embeddings_fast(
        np.stack([starts[(it, sd)][0] for _, it, _, sd in runs]),
        np.stack([starts[(it, sd)][1] for _, it, _, sd in runs]),
        loss=[lo for lo, _, _, _ in runs], temperature=[t for _, _, t, _ in runs], lr=float(ctx.param("lr")),
        batch_size=bsz, steps=steps, seed=[sd for *_, sd in runs], snapshot_steps=record,
    )
    train_seconds = fr.seconds

    rng = ctx.rng
    sub = np.sort(rng.choice(n, size=min(n, 200), replace=False))  # uniformity on 2 x 200 points
    show = np.sort(rng.choice(n, size=min(n, int(ctx.param("n_show"))), replace=False))
    from tqdm.auto import tqdm

    curves: dict[str, dict[str, list[Any]]] = {}
    for i, (lo, it, t, sd) in enumerate(tqdm(runs, desc="sphere metrics", disable=not ctx.progress)):
        rows = [_state(fr.snapshots[s][0][i], fr.snapshots[s][1][i], sub, t) for s in record]
        curves[key(lo, it, t, sd)] = {k: [r[k] for r in rows] for k in rows[0]}

    def k0(lo: str, it: str, t: float = tau) -> str:  # the first seed: figures
        return key(lo, it, t, seeds[0])

    def t_close(k: str) -> int | None:
        return _first(record, [v < thr for v in curves[k]["l2i"]])

    def t_uniform(k: str) -> int | None:
        c = curves[k]
        return _first(record, [a < thr and abs(u - UNIFORM_S2) < utol for a, u in zip(c["l2i"], c["uniformity"], strict=True)])

    def rings(k: str) -> list[bool]:
        c = curves[k]
        return [bool(s and cx < rcv and cy < rcv) for s, cx, cy in zip(c["separated"], c["ring_cv_x"], c["ring_cv_y"], strict=True)]

    summary = {k: {"t_close": t_close(k), "t_uniform": t_uniform(k), "final_l2i": curves[k]["l2i"][-1]} for k in curves}

    ring_flags = {key("clip", "polar", tau, sd): rings(key("clip", "polar", tau, sd)) for sd in seeds}
    tension = {k: _tension(record, f, curves[k], thr) for k, f in ring_flags.items()}
    _claims(ctx, summary=summary, ring_flags=ring_flags, record=record, steps=steps, seeds=seeds, tau=tau,
            temps=temps, tension=tension)
    sweep = sorted({tau, *temps})

    # ---- figures -------------------------------------------------------------------------
    import matplotlib.pyplot as plt

    def snapshot_grid(rows: list[tuple[str, str]], name: str, title: str) -> None:
        fig = plt.figure(figsize=(2.6 * len(snaps), 2.6 * len(rows)))
        for r, (lo, it) in enumerate(rows):
            i = runs.index((lo, it, tau, seeds[0]))
            for c, s in enumerate(snaps):
                ax = fig.add_subplot(len(rows), len(snaps), r * len(snaps) + c + 1, projection="3d")
                _sphere_axes(ax)
                _draw_pairs(ax, fr.snapshots[s][0][i], fr.snapshots[s][1][i], show)
                ax.set_title(f"{lo}, {it}\nt = {s:,}", fontsize=8)
        fig.suptitle(title)
        ctx.savefig(fig, name)

    snapshot_grid([(lo, "polar") for lo in LOSSES], "sphere_snapshots",
                  f"001 Fig. 2/6: CLIP vs SimCLR vs SLIP from the polar init (τ = {tau:g}, steps)")
    snapshot_grid([("clip", it) for it in INITS], "sphere_inits", f"001 Fig. 3: CLIP from three inits (τ = {tau:g})")

    xs = np.maximum(np.asarray(record), 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for it in INITS:
        axes[0].plot(xs, curves[k0("clip", it)]["l2i"], color=_COLORS[it], label=f"clip, {it}")
    axes[0].set(xscale="log", xlabel="step", ylabel="mean inter-modality distance (L2I)",
                title="001 Fig. 3 (right): CLIP, three inits")
    for lo, ls in zip(LOSSES, ("-", "--", ":"), strict=True):
        axes[1].plot(xs, curves[k0(lo, "polar")]["l2i"], ls, label=f"{lo}, polar")
    axes[1].set(xscale="log", xlabel="step", ylabel="mean inter-modality distance (L2I)",
                title="001 Fig. 2/6: losses, polar init")
    for ax in axes:
        ax.axhline(thr, color="0.6", lw=0.6)
        ax.legend(fontsize=8)
    ctx.savefig(fig, "sphere_distance")

    fig, ax = plt.subplots(figsize=(6, 4))
    for t in sweep:
        ax.plot(xs, curves[k0("clip", "polar", t)]["l2i"], label=f"τ = {t:g}")
    ax.set(xscale="log", xlabel="step", ylabel="mean inter-modality distance (L2I)",
           title="001 Fig. 4: temperature (CLIP, polar)")
    ax.legend(fontsize=8)
    ctx.savefig(fig, "sphere_temperature")

    _tension_figure(ctx, record, {it: curves[k0("clip", it)] for it in INITS},
                    {it: rings(k0("clip", it)) for it in INITS}, {it: summary[k0("clip", it)] for it in INITS},
                    tension[k0("clip", "polar")], tau)

    if want_gif:
        _gif(ctx, fr, runs.index(("clip", "polar", tau, seeds[0])), record, show)

    return {
        "steps": steps, "unit": unit, "temperature": tau, "record_steps": record, "snapshot_steps": snaps,
        "seeds": seeds, "runs": [list(r) for r in runs], "summary": summary, "curves": curves,
        "tension": tension, "uniformity_uniform_s2": UNIFORM_S2, "train_seconds": train_seconds,
    }


def _tension_figure(ctx: RecipeContext, record: list[int], curves: dict[str, dict[str, list[Any]]],
                    flags: dict[str, list[bool]], summary: dict[str, dict[str, Any]], polar: dict[str, Any],
                    tau: float) -> None:
    """``sphere_tension.png``: eq. 2's two terms and their sum against step, one column per init."""
    import matplotlib.pyplot as plt

    xs = np.maximum(np.asarray(record), 1)
    rows = (("loss_alignment", "L_alignment = −E[xᵀy/τ]"), ("loss_uniformity", "L_uniformity (eq. 2)"),
            ("loss_clip", "L_clip = sum (full batch)"))
    fig, axes = plt.subplots(len(rows), len(INITS), figsize=(4.2 * len(INITS), 2.6 * len(rows)),
                             sharex=True, sharey="row", squeeze=False)
    for c, it in enumerate(INITS):
        ring = [s for s, f in zip(record, flags[it], strict=True) if f and s > 0]
        for r, (name, label) in enumerate(rows):
            ax = axes[r, c]
            ax.plot(xs, curves[it][name], color=_COLORS[it])
            if ring:
                ax.axvspan(ring[0], ring[-1], color="0.9", zorder=0,
                           label=f"two rings ({ring[0]:,}–{ring[-1]:,})")
            if summary[it]["t_close"] is not None:
                ax.axvline(summary[it]["t_close"], color="k", ls="--", lw=0.8,
                           label=f"gap closed ({summary[it]['t_close']:,})")
            if summary[it]["t_uniform"] is not None:
                ax.axvline(summary[it]["t_uniform"], color="k", ls=":", lw=0.9,
                           label=f"uniform ({summary[it]['t_uniform']:,})")
            if it == "polar" and polar["ring_middle"] is not None:
                ax.axvline(polar["ring_middle"], color="tab:red", lw=0.8,
                           label=f"ring middle ({polar['ring_middle']:,})")
            ax.set(xscale="log", ylabel=label if c == 0 else "")
            if r == 0:
                ax.set_title(f"CLIP, {it} init")
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(fontsize=7)
        axes[-1, c].set_xlabel("step")
    fig.suptitle(f"001 eq. 2 / Fig. 1: alignment vs uniformity on all pairs (τ = {tau:g}, first seed)")
    ctx.savefig(fig, "sphere_tension")


def _gif(ctx: RecipeContext, fr: Any, i: int, record: list[int], show: np.ndarray) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    frames = [s for s in record if s == 0 or s >= 100]
    fig = plt.figure(figsize=(4, 4))
    ax = fig.add_subplot(projection="3d")

    def draw(k: int) -> None:
        ax.cla()
        _sphere_axes(ax)
        s = frames[k]
        _draw_pairs(ax, fr.snapshots[s][0][i], fr.snapshots[s][1][i], show)
        ax.set_title(f"CLIP, polar init — step {s:,}", fontsize=9)

    anim = FuncAnimation(fig, draw, frames=len(frames))
    path = ctx.add_file("sphere_clip_polar.gif")
    anim.save(path, writer=PillowWriter(fps=4))
    plt.close(fig)
