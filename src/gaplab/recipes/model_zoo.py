r"""``model-zoo``: over a zoo of small CLIP models, does the modality gap track performance.

Schrodi et al., "Two Effects, One Trigger", ICLR 2025 (paper 004), §2 Fig. 2a and
Takeaway 1, §4 Fig. 3b, Appendix D Fig. 6, redone on a zoo of small CLIP models trained on
MAD (004's own controlled dataset, Appendix C) instead of the paper's 113 OpenCLIP models.

What the paper says (its exact statements; it gives plots, no correlation coefficients):

* Fig. 2a / Takeaway 1: "the increase of the modality gap distance co-occurs with the
  improvement of DTP" — "The modality gap distance (according to L2M) increases as DTP
  improves" (113 contrastive VLMs; DTP = ImageNet zero-shot accuracy, MS COCO image
  retrieval R@1, MIT-States / UT-Zappos attribute accuracy). A *positive* relation, not a
  weak one.
* Fig. 3b: "a bias towards objects (mostly positive MOAD values) but only a weak
  correlation with DTP".
* Fig. 6: "a strong relation between object and attribute performance".

(Table 1 of 004 is the Kendall-τ distance of class-neighbour orderings between the
modalities, the ``neighbourhoods`` recipe, not a model-zoo result.) Inside MAD the paper
itself finds the opposite sign along one axis: richer captions shrink the gap and raise
accuracy (Fig. 1b, the ``information-imbalance`` recipe). A zoo that varies caption
richness therefore tests whether Takeaway 1 survives when the gap's cause is controlled.

The zoo (:func:`zoo_specs`): one base model (:func:`gaplab.recipes._mad.scaled_config`:
conv image tower, width-64 2-layer text transformer, 32-d embedding, 6,000 training images,
10 epochs, captions with the digit and all five attributes, CLIP's learnable τ from 0.07)
and one-factor-at-a-time variants along six axes — embedding dimension, width, depth,
training-set size, caption richness (attributes per caption) and temperature strategy
(τ fixed at 0.01 … 0.1 instead of learnable) — plus three crossed variants: 24 models
(``--quick``: 10 models at the quick scale). Every model uses the run's seed, so every
model is tested on the same held-out MAD images (unseen handwriting) and the zoo's spread
comes from its configurations alone. Per model, on the held-out set:

* gap measures: L2M and RMG between each image and its full caption (all five attributes,
  the same text for every model, as the paper evaluates all models on the same data;
  the gap on the model's own caption distribution is in ``measured`` too); object bias
  MOAD, the per-sample cross-modal form of 004's text (:func:`gaplab.metrics.moad`, class
  embeddings from prompt ensembles, averaged over the five attributes, as
  ``information-imbalance``), and MOAD_img of the ICLR version
  (:func:`gaplab.metrics.moad_iclr`);
* task metrics: zero-shot accuracy (mean over the six factors; digit = object; mean of the
  five attributes), image→text and text→image recall@1 and @5 against the full captions
  (:func:`gaplab.metrics.retrieval_recall`).

Statistics: Kendall τ-b of every gap measure with every task metric over the models
(:func:`kendall_tau_b`, equal to ``scipy.stats.kendalltau``), its two-sided permutation
p-value from ``scipy.stats.permutation_test`` (``permutation_type="pairings"``: the gap
values are shuffled against the fixed task values; exact enumeration when n! ≤
``n_perm``, otherwise ``n_perm`` seeded random pairings, p with scipy's +1 correction) and
a 95 % percentile bootstrap interval over models (``n_boot`` resamples of the models with
replacement, seeded; resamples where a measure is constant are dropped and counted).

Claims, criteria fixed before any run (:data:`WEAK`, :data:`STRONG`), each judged by the
bootstrap interval:

* premise: the models learned the object — the median digit zero-shot accuracy over the
  zoo exceeds chance (0.1) by ``information-imbalance``'s margin (0.1). Every claim below is
  judged only where it held: a model at chance on the digit, which every caption mentions,
  is not the paper's trained CLIP (the ``--quick`` models are such models, so the quick
  verdicts are ``inconclusive`` by design);
* Takeaway 1: τ(L2M, zero-shot mean) > 0, and τ(L2M, text→image R@1) > 0 (the paper's
  COCO "image retrieval R@1");
* Fig. 3b: |τ(MOAD, zero-shot mean)| < :data:`WEAK` ("only a weak correlation"; the
  interval is that of |τ|);
* Fig. 3b: MOAD > 0 on average over the zoo ("mostly positive MOAD values");
* Fig. 6: τ(digit zero-shot, attribute zero-shot) > :data:`STRONG` ("strong relation");
* sanity (true by construction): :func:`kendall_tau_b` equals ``scipy.stats.kendalltau``
  on every cell of the table.

Scale: 24 models of 6–52 s of CPU each (n = 1000 to n = 9000; about 28 s on average,
11 min in all), trained in ``workers`` processes (one torch thread each, default 2): about
6 min on 2 quiet cores; measured 24 min on 2 cores shared at a load of about 12, with 5 of
the 24 models already cached.
Each model is seeded by its configuration alone, so results do not depend on scheduling;
trained models are cached by config (:func:`gaplab.recipes._mad.train_mad`), shared with the
other MAD recipes (the base model is ``information-imbalance``'s k = 5 model). ``--quick``:
10 models at the quick scale (14-px images, 1,500 training images, 6 epochs, widths 32),
whose digit accuracy is at chance (see the premise above).

Temperature: a fixed τ is asked for with ``MADConfig.extra["fixed_temperature"]`` (part of
the cache key; :func:`gaplab.recipes._mad.train_options`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe
from .information_imbalance import DIGIT_CHANCE, LEARN_MARGIN

#: "weak correlation": |τ| below this; "strong relation": τ above STRONG (fixed before any run)
WEAK, STRONG = 0.3, 0.3
#: the gap measures and the task metrics of the τ table (keys of :func:`measure_member`)
GAP_KEYS = ("l2m", "rmg", "moad", "moad_img")
TASK_KEYS = ("zs_mean", "zs_digit", "zs_attributes", "i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5")
#: the key in ``MADConfig.extra`` that asks for a fixed temperature
FIXED_KEY = "fixed_temperature"


# --------------------------------------------------------------------------- statistics


def kendall_tau_b(a: Any, b: Any) -> np.ndarray:
    r"""Kendall τ-b of ``a`` and ``b`` along the last axis (broadcast over the others).

    .. math:: \tau_b = \frac{\sum_{i<j} s^a_{ij} s^b_{ij}}
                            {\sqrt{\sum_{i<j} |s^a_{ij}| \,\sum_{i<j} |s^b_{ij}|}},
              \qquad s^a_{ij} = \operatorname{sign}(a_i - a_j)

    equal to ``scipy.stats.kendalltau`` (variant ``"b"``, ties counted once per side);
    NaN where one side is constant. O(n²) per row, vectorised: meant for tens of models.

    Examples
    --------
    >>> float(kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]))
    0.6666666666666666
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    sa = np.sign(a[..., :, None] - a[..., None, :])
    sb = np.sign(b[..., :, None] - b[..., None, :])
    num = (sa * sb).sum((-1, -2))
    den = np.sqrt(np.abs(sa).sum((-1, -2)) * np.abs(sb).sum((-1, -2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def tau_permutation_p(a: Any, b: Any, *, n_perm: int = 9999, seed: int = 0) -> float:
    """Two-sided permutation p-value of Kendall τ-b(a, b) from ``scipy.stats.permutation_test``.

    ``permutation_type="pairings"`` with ``a`` the permuted sample, ``b`` fixed: exact
    enumeration of all n! pairings when n! ≤ ``n_perm``, else ``n_perm`` random pairings from
    ``seed`` (p then carries scipy's +1 correction, so it is never 0).

    Examples
    --------
    >>> round(tau_permutation_p([1, 2, 3, 4], [1, 2, 3, 4]), 4)  # exact: 2 of 24 pairings as extreme
    0.0833
    """
    from scipy.stats import permutation_test

    b = np.asarray(b, dtype=np.float64)
    res = permutation_test((np.asarray(a, dtype=np.float64),), lambda x, axis=-1: kendall_tau_b(x, b),
                           permutation_type="pairings", vectorized=True, n_resamples=int(n_perm),
                           alternative="two-sided", rng=np.random.default_rng(seed), batch=500)
    return float(res.pvalue)


def tau_bootstrap(a: Any, b: Any, *, n_boot: int = 2000, seed: int = 0, absolute: bool = False
                  ) -> tuple[list[float], int]:
    """95 % percentile interval of τ-b (or |τ-b|) over ``n_boot`` resamples of the rows with replacement.

    Returns ``([lo, hi], dropped)``; ``dropped`` resamples had a constant side (τ undefined).
    Where the percentile interval misses the full-sample estimate (possible with few rows and
    many ties) it is widened to include it, which can only make a verdict less decisive.

    Examples
    --------
    >>> ci, dropped = tau_bootstrap(np.arange(10.0), np.arange(10.0), n_boot=200)
    >>> ci, dropped
    ([1.0, 1.0], 0)
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, a.shape[0], size=(int(n_boot), a.shape[0]))
    t = kendall_tau_b(a[idx], b[idx])
    if absolute:
        t = np.abs(t)
    ok = t[np.isfinite(t)]
    if ok.size == 0:
        return [float("nan"), float("nan")], int(t.size)
    lo, hi = float(np.percentile(ok, 2.5)), float(np.percentile(ok, 97.5))
    point = float(kendall_tau_b(a, b))
    point = abs(point) if absolute else point
    if np.isfinite(point):  # a percentile interval can miss the estimate itself: widen it to cover it
        lo, hi = min(lo, point), max(hi, point)
    return [lo, hi], int(t.size - ok.size)


def stat_bootstrap(v: Any, *, stat: str = "mean", n_boot: int = 2000, seed: int = 0) -> list[float]:
    """95 % percentile bootstrap interval of the ``stat`` ("mean" or "median") of ``v``, resampled with replacement.

    Widened, like :func:`tau_bootstrap`, to cover the full-sample value.

    Examples
    --------
    >>> stat_bootstrap([1.0, 1.0, 1.0], stat="median", n_boot=50)
    [1.0, 1.0]
    """
    v = np.asarray(v, dtype=np.float64)
    fn: Callable[..., Any] = np.median if stat == "median" else np.mean
    idx = np.random.default_rng(seed).integers(0, v.size, size=(int(n_boot), v.size))
    m = fn(v[idx], axis=1)
    point = float(fn(v))
    return [min(float(np.percentile(m, 2.5)), point), max(float(np.percentile(m, 97.5)), point)]


# --------------------------------------------------------------------------- the zoo


@dataclass(frozen=True)
class ZooMember:
    """One model of the zoo: the axis it varies, a label, its config overrides and its temperature."""

    axis: str
    label: str
    overrides: dict[str, Any] = field(default_factory=dict)
    fixed_temperature: float | None = None


def zoo_specs(quick: bool) -> list[ZooMember]:
    """The zoo: a base model and one-factor-at-a-time variants (plus crossed ones at full scale).

    Examples
    --------
    >>> len(zoo_specs(False)), len(zoo_specs(True))
    (24, 10)
    """
    m = ZooMember
    if quick:  # base: scaled_config(True): embed 16, width 32, 1 layer, 1,500 images, k = 5
        return [
            m("base", "base"),
            m("embed_dim", "d=4", {"embed_dim": 4}), m("width", "w=16", {"width": 16}),
            m("depth", "L=2", {"layers": 2}),
            m("n_train", "n=600", {"n_train": 600}), m("n_train", "n=3000", {"n_train": 3000}),
            m("captions", "k=1", {"n_attributes": 1}), m("captions", "k=3", {"n_attributes": 3}),
            m("temperature", "τ=0.07 fixed", fixed_temperature=0.07),
            m("temperature", "τ=0.01 fixed", fixed_temperature=0.01),
        ]
    return [
        m("base", "base"),
        *[m("embed_dim", f"d={d}", {"embed_dim": d}) for d in (4, 8, 16, 64)],
        m("width", "w=32", {"width": 32}), m("width", "w=96", {"width": 96}),
        m("depth", "L=1", {"layers": 1}), m("depth", "L=3", {"layers": 3}),
        *[m("n_train", f"n={n}", {"n_train": n}) for n in (1000, 2000, 4000, 9000)],
        *[m("captions", f"k={k}", {"n_attributes": k}) for k in (1, 2, 3, 4)],
        *[m("temperature", f"τ={t:g} fixed", fixed_temperature=t) for t in (0.01, 0.03, 0.07, 0.1)],
        m("crossed", "k=1, τ=0.07 fixed", {"n_attributes": 1}, 0.07),
        m("crossed", "k=1, d=8", {"n_attributes": 1, "embed_dim": 8}),
        m("crossed", "k=2, n=2000", {"n_attributes": 2, "n_train": 2000}),
    ]


def member_config(spec: ZooMember, *, quick: bool, seed: int, epochs: int | None = None,
                  image_encoder: str = "cnn") -> Any:
    """The :class:`~gaplab.recipes._mad.MADConfig` of one zoo member."""
    from . import _mad

    extra = {} if spec.fixed_temperature is None else {FIXED_KEY: float(spec.fixed_temperature)}
    return _mad.scaled_config(quick, seed=seed, epochs=epochs, image_encoder=image_encoder, extra=extra,
                              **spec.overrides)


def measure_member(model: Any, test: Any, cfg: Any) -> dict[str, Any]:
    """Gap measures and task metrics of one trained model on the held-out MAD set."""
    from ..metrics import moad_iclr, retrieval_recall
    from . import _mad

    r = _mad.evaluate(model, test, cfg)
    x = _mad.embed_images(model, test.images)
    y_full = _mad.embed_texts(model, test.full_captions(rng=1))
    rec = retrieval_recall(x, y_full, ks=(1, 5))
    return {
        "l2m": r["l2m_full_captions"], "rmg": r["rmg_full_captions"], "moad": r["moad"],
        "moad_img": moad_iclr(x, test.factors[:, 0], test.factors[:, 1:]),
        "zs_mean": float(np.mean(list(r["zero_shot"].values()))), "zs_digit": r["zero_shot"]["digit"],
        "zs_attributes": r["zero_shot_attributes_mean"],
        **{k: rec[k] for k in ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5")},
        "l2m_own_captions": r["l2m"], "rmg_own_captions": r["rmg"], "zero_shot": r["zero_shot"],
        "ideal_words": r["ideal_words_accuracy"],
    }


def train_member(job: tuple[ZooMember, Any, Any]) -> dict[str, Any]:
    """Train (or load from the cache) and measure one zoo member; runs in a worker process.

    ``job`` = (spec, config, cache folder or None). One torch thread, seeded by the config
    alone (``train_mad`` seeds from ``cfg.seed``), so the result does not depend on which
    worker runs it or when.
    """
    import torch

    from . import _mad

    spec, cfg, cache = job
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    model, hist = _mad.train_mad(cfg, cache_dir=cache)
    _, test = _mad.mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
    r = measure_member(model, test, cfg)
    return {"axis": spec.axis, "label": spec.label, "config": {**spec.overrides,
            "temperature": "learnable" if spec.fixed_temperature is None else spec.fixed_temperature},
            **r, "final_temperature": float(hist["temperature"][-1]), "final_loss": float(hist["loss"][-1]),
            "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "pid": os.getpid()}


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def run_zoo(jobs: list[tuple[ZooMember, Any, Any]], *, workers: int, progress: bool) -> list[dict[str, Any]]:
    """:func:`train_member` of every job, in ``workers`` spawned processes (1: in this one); job order kept."""
    done: list[dict[str, Any]] = []

    def say(r: dict[str, Any]) -> None:
        done.append(r)
        if progress:
            print(f"  model-zoo: {len(done)}/{len(jobs)} {r['label']}: L2M {r['l2m']:.3f}, zero-shot "
                  f"{r['zs_mean']:.3f}, {r['wall_s']:.0f} s", flush=True)

    if workers <= 1:
        for job in jobs:
            say(train_member(job))
        return done
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init) as pool:
        out = []
        for r in pool.map(train_member, jobs):
            say(r)
            out.append(r)
    return out


# --------------------------------------------------------------------------- the recipe


def tau_table(rows: list[dict[str, Any]], *, n_perm: int, n_boot: int, seed: int) -> dict[str, Any]:
    """τ-b, permutation p and bootstrap interval of every (gap measure, task metric) over the models."""
    out: dict[str, Any] = {}
    for g in GAP_KEYS:
        a = np.array([r[g] for r in rows])
        for t in TASK_KEYS:
            b = np.array([r[t] for r in rows])
            ci, dropped = tau_bootstrap(a, b, n_boot=n_boot, seed=seed)
            out[f"{g}|{t}"] = {"tau": float(kendall_tau_b(a, b)), "p": tau_permutation_p(a, b, n_perm=n_perm,
                               seed=seed), "ci95": ci, "boot_dropped": dropped}
    return out


def _figures(ctx: RecipeContext, rows: list[dict[str, Any]], table: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    axes_names = list(dict.fromkeys(r["axis"] for r in rows))
    colours = {a: plt.get_cmap("tab10")(i) for i, a in enumerate(axes_names)}
    fig, grid = plt.subplots(len(GAP_KEYS), len(TASK_KEYS), figsize=(2.6 * len(TASK_KEYS), 2.4 * len(GAP_KEYS)),
                             squeeze=False)
    for i, g in enumerate(GAP_KEYS):
        for j, t in enumerate(TASK_KEYS):
            ax = grid[i][j]
            for a in axes_names:
                sel = [r for r in rows if r["axis"] == a]
                ax.scatter([r[g] for r in sel], [r[t] for r in sel], s=16, color=colours[a], label=a)
            c = table[f"{g}|{t}"]
            ax.set_title(f"τ={c['tau']:+.2f}, p={c['p']:.2g}", fontsize=8)
            ax.tick_params(labelsize=6)
            if i == len(GAP_KEYS) - 1:
                ax.set_xlabel(g, fontsize=8)
            ax.set_ylabel(f"{g} row: {t}" if j == 0 else t, fontsize=7)
    grid[0][0].legend(fontsize=6, loc="best")
    fig.suptitle(f"model zoo on MAD ({len(rows)} models): gap measure (x) vs task metric (y), colour = axis "
                 "varied (Schrodi et al. 2025, Fig. 2a / 3b)", fontsize=10)
    fig.tight_layout()
    ctx.savefig(fig, "model_zoo_scatter")

    tau = np.array([[table[f"{g}|{t}"]["tau"] for t in TASK_KEYS] for g in GAP_KEYS])
    fig, ax = plt.subplots(figsize=(1.2 * len(TASK_KEYS) + 1.5, 0.8 * len(GAP_KEYS) + 1.5))
    im = ax.imshow(tau, cmap="RdBu_r", vmin=-1, vmax=1)
    for i, g in enumerate(GAP_KEYS):
        for j, t in enumerate(TASK_KEYS):
            c = table[f"{g}|{t}"]
            ax.text(j, i, f"{c['tau']:+.2f}\np={c['p']:.2g}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(TASK_KEYS)), TASK_KEYS, rotation=30, fontsize=8)
    ax.set_yticks(range(len(GAP_KEYS)), GAP_KEYS, fontsize=8)
    fig.colorbar(im, ax=ax, label="Kendall τ-b")
    ax.set_title(f"Kendall τ over {len(rows)} models (two-sided permutation p)", fontsize=9)
    ctx.savefig(fig, "model_zoo_tau")


@register_recipe(
    "model-zoo",
    paper="004",
    summary="24 small MAD CLIPs: Kendall-τ of L2M / RMG / MOAD with zero-shot and retrieval over the zoo",
    workers=2,
    n_perm=9999,
    n_boot=2000,
    epochs=None,
    image_encoder="cnn",
)
def model_zoo(ctx: RecipeContext) -> dict[str, Any]:
    """Train the zoo, measure every model, correlate gap measures with task metrics.

    Returns the measured values for ``run.json``: each model's axis, config, gap measures,
    task metrics and training time; the τ table (τ-b, permutation p, bootstrap interval per
    cell); the number of models, the permutation and bootstrap settings, and the zoo's wall
    and CPU time.
    """
    from scipy.stats import kendalltau

    from . import _mad

    workers = int(ctx.param("workers"))
    n_perm, n_boot = int(ctx.param("n_perm")), int(ctx.param("n_boot"))
    specs = zoo_specs(ctx.quick)
    cache = _mad.cache_dir(ctx.out)
    jobs = [(s, member_config(s, quick=ctx.quick, seed=ctx.seed, epochs=ctx.param("epochs"),
                              image_encoder=ctx.param("image_encoder")), cache) for s in specs]
    t0 = time.perf_counter()
    rows = run_zoo(jobs, workers=workers, progress=ctx.progress)
    zoo_wall = time.perf_counter() - t0
    table = tau_table(rows, n_perm=n_perm, n_boot=n_boot, seed=ctx.seed)
    _figures(ctx, rows, table)

    n = len(rows)
    perm_kind = "exact (all n! pairings)" if np.prod(np.arange(1, n + 1, dtype=float)) <= n_perm \
        else f"{n_perm} seeded random pairings"
    how = f"95 % percentile bootstrap over the {n} models ({n_boot} resamples, seed {ctx.seed})"

    def cell(g: str, t: str) -> dict[str, Any]:
        return table[f"{g}|{t}"]

    def shown(g: str, t: str) -> str:
        c = cell(g, t)
        return f"τ-b({g}, {t}) = {c['tau']:+.3f}, permutation p = {c['p']:.3g} ({perm_kind}), {n} models"

    digit = np.array([r["zs_digit"] for r in rows])
    learned = ctx.claim(
        "The zoo's models learned the object (premise of every claim below)", "trained CLIP models",
        f"median digit zero-shot accuracy {np.median(digit):.3f} (range {digit.min():.3f}–{digit.max():.3f}, "
        f"chance {DIGIT_CHANCE})",
        criterion=f"median over the zoo of digit zero-shot accuracy − {DIGIT_CHANCE} (chance) above {LEARN_MARGIN}, "
                  "by its bootstrap interval: models at chance on the object, which every caption mentions, are "
                  "not the paper's trained CLIPs (the criterion of information-imbalance)",
        effect=float(np.median(digit)) - DIGIT_CHANCE,
        ci95=[v - DIGIT_CHANCE for v in stat_bootstrap(digit, stat="median", n_boot=n_boot, seed=ctx.seed)],
        null=LEARN_MARGIN, side=">", interval=how)
    for t, what in (("zs_mean", "zero-shot accuracy (mean of the six factors)"),
                    ("t2i_r1", "text→image R@1 (the paper's COCO image retrieval R@1)")):
        c = cell("l2m", t)
        ctx.claim(f"The modality gap (L2M) increases as {what} improves (Takeaway 1, Fig. 2a)",
                  "positive relation over 113 OpenCLIP models (plot, no coefficient)", shown("l2m", t),
                  criterion=f"Kendall τ-b(L2M, {t}) over the zoo above 0, by its bootstrap interval",
                  effect=c["tau"], ci95=c["ci95"], null=0.0, side=">", interval=how, depends_on=learned)
    c = cell("moad", "zs_mean")
    abs_ci, _ = tau_bootstrap([r["moad"] for r in rows], [r["zs_mean"] for r in rows], n_boot=n_boot,
                              seed=ctx.seed, absolute=True)
    ctx.claim("Object bias (MOAD) is only weakly correlated with downstream performance (Fig. 3b)",
              "only a weak correlation (113 models, plot)", shown("moad", "zs_mean"),
              criterion=f"|Kendall τ-b(MOAD, zero-shot mean)| below {WEAK}, by the bootstrap interval of |τ|",
              effect=abs(c["tau"]), ci95=abs_ci, null=WEAK, side="<", interval=how, depends_on=learned)
    moads = [r["moad"] for r in rows]
    ctx.claim("Models are biased towards objects: MOAD mostly positive (Fig. 3b)",
              "mostly positive MOAD values", f"mean MOAD {np.mean(moads):+.4f}, positive in "
              f"{sum(v > 0 for v in moads)}/{n} models",
              criterion="mean MOAD over the zoo above 0, by its bootstrap interval",
              effect=float(np.mean(moads)), ci95=stat_bootstrap(moads, n_boot=n_boot, seed=ctx.seed), null=0.0,
              side=">", interval=how, depends_on=learned)
    a, b = np.array([r["zs_digit"] for r in rows]), np.array([r["zs_attributes"] for r in rows])
    ci, _ = tau_bootstrap(a, b, n_boot=n_boot, seed=ctx.seed)
    tau_ob = float(kendall_tau_b(a, b))
    ctx.claim("Object performance and attribute performance are strongly related (Fig. 6)",
              "strong relation (ImageNet/COCO vs MIT-States/UT-Zappos, plot)",
              f"τ-b(digit zero-shot, attribute zero-shot) = {tau_ob:+.3f}, permutation p = "
              f"{tau_permutation_p(a, b, n_perm=n_perm, seed=ctx.seed):.3g}; digit accuracy "
              f"{a.min():.3f}–{a.max():.3f} (chance 0.1)",
              criterion=f"Kendall τ-b(zs_digit, zs_attributes) above {STRONG}, by its bootstrap interval",
              effect=tau_ob, ci95=ci, null=STRONG, side=">", interval=how, depends_on=learned)
    diffs = []
    for g in GAP_KEYS:
        for t in TASK_KEYS:
            ref = kendalltau([r[g] for r in rows], [r[t] for r in rows]).statistic
            diffs.append(abs(float(ref) - cell(g, t)["tau"]) if np.isfinite(ref) else 0.0)
    ctx.claim("Our Kendall τ-b is scipy.stats.kendalltau's", "—", f"largest difference {max(diffs):.2e} over "
              f"{len(diffs)} cells", held=max(diffs) < 1e-9, kind="sanity",
              criterion="every cell of the τ table within 1e-9 of scipy.stats.kendalltau (true by construction)")
    return {
        "n_models": n, "axes": sorted({r["axis"] for r in rows}), "gap_measures": list(GAP_KEYS),
        "task_metrics": list(TASK_KEYS), "tau": table,
        "permutation": {"method": "scipy.stats.permutation_test, permutation_type='pairings', two-sided",
                        "kind": perm_kind, "n_perm": n_perm, "seed": ctx.seed},
        "bootstrap": {"n_boot": n_boot, "seed": ctx.seed, "interval": "percentile 95 %"},
        "models": rows, "workers": workers, "zoo_wall_s": zoo_wall,
        "zoo_cpu_s": float(sum(r["cpu_s"] for r in rows)),
    }
