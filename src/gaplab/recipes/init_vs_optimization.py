r"""``init-vs-optimization``: amend the gap at initialisation, train, and watch it come back.

Liang et al., "Mind the Gap", NeurIPS 2022, §4.4 "Initialization vs Optimization" (paper 000).
The paper trains CLIP from scratch on MSCOCO twice (batch 64, τ = 1/100, three seeds): once
from the random initialisation (gap ‖Δ‖ 1.1891 ± 0.0017 → 1.2991 ± 0.0389) and once with the
gap *amended at initialisation* — the text embeddings multiplied by the orthogonal matrix
:math:`W = \arg\min_{W\in O(D)}\lVert X - YW\rVert` that best maps the initial text
embeddings onto the image embeddings (gap 0.0388 ± 0.0351 → 0.7457 ± 0.0633, i.e. the
amended model ends at 57 % of the original's gap).

Our setting (CPU scale, real paired data):

* data: sklearn digits as image–caption pairs (:func:`gaplab.data.load_digits_pairs`, one
  templated caption per image), its train split (1,347 pairs) for training and its test
  split (450 pairs) for measuring the gap (:func:`~gaplab.metrics.l2m`, as the paper
  measures on the validation set);
* model: a :class:`~gaplab.models.TwoTower` of two random relu MLPs
  (:class:`~gaplab.models.MLPEncoder`, ``depth`` layers of width ``width``, PyTorch's default
  init) with linear projections to ``embed_dim``; the image MLP reads the 64 pixels, the text
  MLP reads the frozen MiniLM sentence embedding of the caption
  (:class:`~gaplab.models.text.MiniLMTextEncoder`, computed once) — MiniLM plays the role of
  the tokeniser/embedding layer, everything after it is random and trained;
* the amendment: ``W`` from :func:`scipy.linalg.orthogonal_procrustes` on the normalised
  initial embeddings of the training pairs, then frozen and applied after the text
  projection for the whole run (the loss sees x and yW, as in the paper);
* training: the engine's :class:`~gaplab.train.Trainer`, CLIP loss, fixed τ = 1/100, batch 64,
  AdamW with weight decay 0.2, ``epochs`` epochs, the gap recorded every few steps on the test
  pairs; ``seeds`` seeds (the paper's three), both runs of a seed sharing the initial weights.
  The paper's code (``train_clip_toy`` in its repository) uses Adam, lr 1e-5, weight decay
  0.2, 5 epochs of 50k COCO pairs ≈ 19.5k steps, i.e. lr × steps ≈ 0.2; we keep that product
  for our 40 × 21 = 840 steps, hence the default lr 2e-4 (AdamW's betas are torch's defaults,
  not the paper's (0.9, 0.98)).

Claims, each judged by the 95 % Student-t interval over seeds (both runs of a seed share
its initial weights, so comparisons are paired): the amendment brings the initial gap to
almost zero (amended / original below 0.1); training keeps the original's gap large (final /
initial above 0.8); the amended gap grows again (final − initial above 0.1); and ends below the
original's (paired difference above 0) — judged only where the original gap is kept, since
otherwise it ends lower only because the original collapsed (the paper's 57 % is reported
next to ours).

Scale: default 5 seeds × 40 epochs (≈ 840 steps per run); ``--quick``: 2 seeds, 10 epochs.

``--param model=gaplab-clip-fashion``: the from-scratch Fashion-MNIST CLIP
(:mod:`gaplab.models.clip`) — both towers random at the start, as the paper's CLIP (a conv
image tower; a transformer text tower over MiniLM's WordPiece ids, its weights fresh), linear
heads to 32 dimensions — in its *quick* config: its 15,000 training pairs of the seed, 4 epochs
(232 steps) at batch 256, AdamW lr 3e-3 (warm-up, then cosine decay), weight decay 0.1, τ fixed
at 0.01 (the paper's 1/100). *Original*: the cached trained model of the seed
(:func:`gaplab.recipes._fashion.load_run`); its initial gap is that of the same config's
seeded initialisation, step 0 of that very run (:func:`~gaplab.recipes._fashion.build_init`).
*Amended*: the same initial weights, then ``W`` from orthogonal Procrustes on the normalised
initial embeddings of the 15,000 training pairs, frozen after the text projection (as above),
and trained exactly as the original (:func:`~gaplab.recipes._fashion.fit_fashion`: the same
schedule, batch order and seed, which retrains the cached original bit for bit), its L2M
recorded every 11 steps on the first 2,000 held-out pairs; trained once, then read from the
user cache (:func:`~gaplab.recipes._fashion.cached_variant`). Gaps (L2M; RMG reported beside
it) on the 10,000 held-out pairs. Seeds ``seed`` … ``seed + seeds − 1`` (``seeds`` default 3,
or a list: 0, 1, 2 at the default ``seed``). Claims and criteria as above, fixed before the
first Fashion run. The quick config and not the full one (60,000 pairs, 6 epochs, also cached)
because the amended run has to be trained: ≈ 1 CPU-minute a seed against ≈ 6 (≈ 11 minutes of
wall time each on the shared 2-core machine). ``--quick``: seed ``seed`` alone (one seed: every
claim inconclusive, no interval). The digits parameters (``epochs``, ``batch_size``,
``temperature``, ``lr``, ``weight_decay``, ``width``, ``depth``, ``embed_dim``) do not apply
(setting one is an error). Measured wall time (the record is
``docs/results/full/fashion/init-vs-optimization-fashion.json``): 1,774 s for the first full
run on the shared 2-core machine, which trains the three amended models (76 s and 114 s for two
of them; the third ran while the process was stopped from outside for a while), and 68 s for a
rerun that reads them from the cache (one thread).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe


def _text_features(captions: list[str]) -> np.ndarray:
    import torch

    from ..models.text import MiniLMTextEncoder

    enc = MiniLMTextEncoder()
    uniq = sorted(set(captions))
    with torch.no_grad():
        feats = enc(uniq).numpy().astype(np.float32)
    pos = {c: i for i, c in enumerate(uniq)}
    return feats[[pos[c] for c in captions]]


def _build(seed: int, img_dim: int, txt_dim: int, width: int, depth: int, embed_dim: int) -> Any:
    import torch

    from ..models import MLPEncoder, TwoTower

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TwoTower(
            MLPEncoder(img_dim, width, hidden=width, depth=depth),
            MLPEncoder(txt_dim, width, hidden=width, depth=depth),
            image_dim=width, text_dim=width, embed_dim=embed_dim, projection="linear",
        )


def _rotate_text(model: Any, w: np.ndarray) -> None:
    """Append the frozen orthogonal map ``y ↦ y W`` to the text projection."""
    import torch
    from torch import nn

    class _Rotate(nn.Module):
        w: torch.Tensor  # the buffer registered below

        def __init__(self, m: np.ndarray) -> None:
            super().__init__()
            self.register_buffer("w", torch.as_tensor(m, dtype=torch.float32))

        def forward(self, y: torch.Tensor) -> torch.Tensor:
            return y @ self.w.to(y.dtype)

    model.text_projection = nn.Sequential(model.text_projection, _Rotate(w))


def _embed(model: Any, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    import torch

    with torch.no_grad():
        x, y = model(a, b)
    return x.numpy().astype(np.float64), y.numpy().astype(np.float64)


#: the model choices (``model`` parameter); the first is the default
MODELS = ("digits-mlp", "gaplab-clip-fashion")
#: parameters of the digits two-tower only, with their defaults
_DIGITS_PARAMS: dict[str, Any] = {"epochs": None, "batch_size": 64, "temperature": 0.01, "lr": 2e-4,
                                  "weight_decay": 0.2, "width": 256, "depth": 4, "embed_dim": 64}
#: criteria, fixed in advance: amended / original initial gap below AMEND_RATIO; the original's
#: final / initial gap above KEEP_RATIO; the amended gap grows by more than REGROW
AMEND_RATIO, KEEP_RATIO, REGROW = 0.1, 0.8, 0.1


@register_recipe(
    "init-vs-optimization",
    paper="000",
    summary="Train a two-tower twice on digits: random-init gap vs gap amended by orthogonal Procrustes; the gap returns",
    model=MODELS[0],
    seeds=None,
    **_DIGITS_PARAMS,
)
def init_vs_optimization(ctx: RecipeContext) -> dict[str, Any]:
    """Train a two-tower from its random init and from a Procrustes-amended init; track the gap.

    ``model``: ``digits-mlp`` (default: the MLP two-tower on digits, trained here) or
    ``gaplab-clip-fashion`` (the from-scratch Fashion-MNIST CLIP, quick config; see the module
    docstring). Returns the measured values for ``run.json``: the seeds, the epochs (digits)
    or steps, the initial and final gap of both runs (``table``, ``runs``) and the ratio of the
    amended run's final gap to the original's.
    """
    from ._fashion import check_model, reject_other_params

    if check_model("init-vs-optimization", ctx.param("model"), MODELS) == "gaplab-clip-fashion":
        reject_other_params("init-vs-optimization", ctx, _DIGITS_PARAMS, MODELS[0])
        return _fashion_init_vs_optimization(ctx)
    return _digits_init_vs_optimization(ctx)


def _digits_init_vs_optimization(ctx: RecipeContext) -> dict[str, Any]:
    """The digits two-tower (``model=digits-mlp``): trained here, twice per seed."""
    import torch
    from scipy.linalg import orthogonal_procrustes

    from ..data import load_digits_pairs
    from ..metrics import l2m
    from ..train import Trainer

    seeds = [int(s) for s in (ctx.param("seeds") or ((ctx.seed, ctx.seed + 1) if ctx.quick else
                                                      tuple(ctx.seed + k for k in range(5))))]
    epochs = int(ctx.param("epochs") or (10 if ctx.quick else 40))
    bsz, tau, lr = int(ctx.param("batch_size")), float(ctx.param("temperature")), float(ctx.param("lr"))
    wd = float(ctx.param("weight_decay"))
    width, depth, edim = int(ctx.param("width")), int(ctx.param("depth")), int(ctx.param("embed_dim"))

    train = load_digits_pairs(split="train", seed=ctx.seed)
    test = load_digits_pairs(split="test", seed=ctx.seed)
    feats = _text_features(list(train.captions) + list(test.captions))
    ntr = len(train.captions)
    img_tr = torch.as_tensor(train.images.reshape(len(train.images), -1)[train.image_index])
    img_te = torch.as_tensor(test.images.reshape(len(test.images), -1)[test.image_index])
    txt_tr, txt_te = torch.as_tensor(feats[:ntr]), torch.as_tensor(feats[ntr:])
    every = max(1, (epochs * (ntr // bsz)) // 20)

    from tqdm.auto import tqdm

    runs: dict[str, list[dict[str, Any]]] = {"original": [], "amended": []}
    for seed in tqdm(seeds, desc="init-vs-optimization", disable=not ctx.progress):
        for kind in ("original", "amended"):
            model = _build(seed, img_tr.shape[1], txt_tr.shape[1], width, depth, edim)
            if kind == "amended":
                x, y = _embed(model, img_tr, txt_tr)
                xh = x / np.linalg.norm(x, axis=1, keepdims=True)
                yh = y / np.linalg.norm(y, axis=1, keepdims=True)
                w, _ = orthogonal_procrustes(yh, xh)  # argmin ‖Ŷ W − X̂‖ over orthogonal W
                _rotate_text(model, w)
            x0, y0 = _embed(model, img_te, txt_te)
            tr = Trainer(model, loss="clip", temperature=tau, optimizer="adamw", lr=lr, weight_decay=wd, batch_size=bsz,
                         epochs=epochs, eval_every=every, eval_data=(img_te, txt_te), metrics=["l2m"],
                         seed=seed, progress=False)
            hist = tr.fit((img_tr, txt_tr))
            x1, y1 = _embed(model, img_te, txt_te)
            runs[kind].append({
                "seed": seed, "gap_init": l2m(x0, y0), "gap_final": l2m(x1, y1),
                "step": list(hist["step"]), "l2m": list(hist["l2m"]), "steps": tr.step,
                "emb_init": (x0, y0), "emb_final": (x1, y1),
            })

    _figure(ctx, runs, f"CLIP loss, τ = {tau:g}, batch {bsz}", "000 §4.4: initialisation vs optimisation")
    for kind in runs:
        for r in runs[kind]:
            r.pop("emb_init"), r.pop("emb_final")
    return {"seeds": seeds, "epochs": epochs, **_table_and_claims(ctx, runs)}


def _table_and_claims(ctx: RecipeContext, runs: dict[str, list[dict[str, Any]]], note: str = "") -> dict[str, Any]:
    """The four claims (paired over seeds) and the table of mean initial / final gaps of both runs."""
    def mean(kind: str, key: str) -> float:
        return float(np.mean([r[key] for r in runs[kind]]))

    def ci(kind: str, key: str) -> float:
        v = np.array([r[key] for r in runs[kind]])
        if v.size < 2:
            return float("nan")
        from scipy.stats import t as student

        return float(student.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))

    o0, o1, a0, a1 = mean("original", "gap_init"), mean("original", "gap_final"), mean("amended", "gap_init"), mean("amended", "gap_final")
    table = {k: {"init": mean(k, "gap_init"), "init_ci95": ci(k, "gap_init"),
                 "final": mean(k, "gap_final"), "final_ci95": ci(k, "gap_final")} for k in runs}

    def paired(fn: Any) -> list[float]:  # both runs of a seed share its initial weights
        return [fn(o, a) for o, a in zip(runs["original"], runs["amended"], strict=True)]

    ctx.claim("Amending at initialisation (orthogonal Procrustes) brings the gap to almost zero (<= 0.1 x original)",
              {"original": 1.1891, "amended": 0.0388}, {"original": o0, "amended": a0},
              criterion=f"amended / original gap at initialisation, paired over seeds, below {AMEND_RATIO}",
              per_seed=paired(lambda o, a: a["gap_init"] / o["gap_init"]), null=AMEND_RATIO, side="<", note=note)
    kept = ctx.claim("Training keeps the random-init model's gap large (final >= 0.8 x initial)",
                     "1.1891 -> 1.2991", {"initial": o0, "final": o1},
                     criterion=f"original model's final / initial gap over seeds above {KEEP_RATIO}",
                     per_seed=paired(lambda o, a: o["gap_final"] / o["gap_init"]), null=KEEP_RATIO, note=note)
    ctx.claim("The amended model's gap grows again during training (final >= initial + 0.1)",
              "0.0388 -> 0.7457", {"initial": a0, "final": a1},
              criterion=f"amended model's final − initial gap over seeds above {REGROW}",
              per_seed=paired(lambda o, a: a["gap_final"] - a["gap_init"]), null=REGROW, note=note)
    ctx.claim(
        "...and ends below the original model's gap", "0.7457 / 1.2991 = 57 %",
        {"ratio": a1 / o1, "amended": a1, "original": o1},
        criterion="original − amended final gap, paired over seeds, above 0; judged only where the original "
                  "gap is kept (else it ends lower only because the original collapsed)",
        per_seed=paired(lambda o, a: o["gap_final"] - a["gap_final"]), depends_on=kept, note=note)
    return {"table": table, "runs": runs, "final_ratio_amended_over_original": a1 / o1}


def _figure(ctx: RecipeContext, runs: dict[str, list[dict[str, Any]]], left_title: str, suptitle: str,
            ylabel: str = "gap ‖Δ‖ (L2M, test pairs)") -> None:
    """Gap over training of both runs, and a PCA panel of the first seed's initial and final embeddings per run."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for kind, color in (("original", "tab:red"), ("amended", "tab:blue")):
        for i, r in enumerate(runs[kind]):
            axes[0].plot(r["step"], r["l2m"], color=color, alpha=0.8, label=kind if i == 0 else None,
                         **({"ls": "--", "marker": "o"} if len(r["step"]) == 2 else {}))
    axes[0].set(xlabel="step", ylabel=ylabel, title=left_title)
    axes[0].legend()
    for ax, kind in zip(axes[1:], ("original", "amended"), strict=True):
        r = runs[kind][0]
        (xa, ya), (xb, yb) = r["emb_init"], r["emb_final"]
        _pca_panel(ax, xa, ya, xb, yb, ctx.rng)
        ax.set_title(f"{kind}: PCA of test embeddings\ngap {r['gap_init']:.3f} → {r['gap_final']:.3f} (seed {r['seed']})")
    fig.suptitle(suptitle, y=1.06)
    ctx.savefig(fig, "init_vs_optimization")


def _procrustes_amend(model: Any, pairs: tuple[Any, Any]) -> None:
    """Amend ``model``'s gap at initialisation: ``W`` from the normalised embeddings of ``pairs``, frozen after the text projection."""
    from scipy.linalg import orthogonal_procrustes

    from ._fashion import embed_pairs

    x, y = embed_pairs(model, pairs)  # normalised
    w, _ = orthogonal_procrustes(y, x)  # argmin ‖Ŷ W − X̂‖ over orthogonal W
    _rotate_text(model, w)


def _fashion_init_vs_optimization(ctx: RecipeContext) -> dict[str, Any]:
    """The Fashion CLIP (``model=gaplab-clip-fashion``, quick config): cached original run, amended run trained here."""
    import time

    from ..metrics import l2m, rmg
    from ._fashion import (
        build_init,
        cached_variant,
        embed_pairs,
        fit_fashion,
        held_out_pairs,
        load_run,
        seed_list,
        training_pairs,
    )

    seeds = seed_list(ctx, 3)
    runs: dict[str, list[dict[str, Any]]] = {"original": [], "amended": []}
    trained: list[bool] = []
    from tqdm.auto import tqdm

    for seed in tqdm(seeds, desc="init-vs-optimization", disable=not ctx.progress):
        run = load_run(seed, True, progress=ctx.progress)  # the original: the cached trained model of the seed
        cfg, steps = run.config, int(run.metrics["steps"])
        test = held_out_pairs(cfg)
        every = max(1, steps // 20)
        emb = {"original": (embed_pairs(build_init(cfg), test), embed_pairs(run.model, test))}
        amended = build_init(cfg)  # the same initial weights, then W
        _procrustes_amend(amended, training_pairs(cfg))
        a_init = embed_pairs(amended, test)

        def train(model: Any, cfg: Any = cfg, every: int = every) -> dict[str, Any]:
            t0 = time.perf_counter()
            tr = fit_fashion(model, cfg, eval_every=every, progress=ctx.progress)
            return {"history": list(tr.history.records), "train_seconds": time.perf_counter() - t0, "steps": tr.step}

        info, cached = cached_variant(cfg, "procrustes-amended", amended, train)
        trained.append(not cached)
        emb["amended"] = (a_init, embed_pairs(amended, test))
        hist = info["history"]
        for kind, ((x0, y0), (x1, y1)) in emb.items():
            g0, g1 = l2m(x0, y0), l2m(x1, y1)
            traj = (([int(h["step"]) for h in hist], [float(h["l2m"]) for h in hist]) if kind == "amended"
                    else ([0, steps], [g0, g1]))
            runs[kind].append({
                "seed": seed, "gap_init": g0, "gap_final": g1, "rmg_init": rmg(x0, y0), "rmg_final": rmg(x1, y1),
                "step": traj[0], "l2m": traj[1], "steps": steps, "emb_init": (x0, y0), "emb_final": (x1, y1),
                **({"train_seconds": float(info["train_seconds"]), "cached": cached} if kind == "amended" else
                   {"train_seconds": float(run.train_seconds)}),
            })

    _figure(ctx, runs, f"Fashion CLIP (quick config), τ = {cfg.temperature:g}, batch {cfg.batch_size}",
            "000 §4.4 on the from-scratch Fashion-MNIST CLIP: initialisation vs optimisation",
            ylabel="gap ‖Δ‖ (L2M; amended: first 2,000 test pairs)")
    for kind in runs:
        for r in runs[kind]:
            r.pop("emb_init"), r.pop("emb_final")
    note = "Fashion-MNIST CLIP, quick config; gaps on the 10,000 held-out pairs"
    return {"model": {"name": "gaplab-clip-fashion", "config": "quick", "quick": ctx.quick, "seeds": seeds,
                      "amended_trained_here": trained},
            "seeds": seeds, "steps": steps, **_table_and_claims(ctx, runs, note=note)}


def _pca_panel(ax: Any, xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray, rng: np.random.Generator) -> None:
    """PCA (fit on the final embeddings) of initial (faint) and final points, 40 pair lines."""
    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    xa, ya, xb, yb = unit(xa), unit(ya), unit(xb), unit(yb)
    z = np.vstack([xb, yb])
    mu = z.mean(axis=0)
    _, _, vt = np.linalg.svd(z - mu, full_matrices=False)

    def p(a: np.ndarray) -> np.ndarray:
        return (a - mu) @ vt[:2].T

    pick = rng.choice(len(xb), size=min(40, len(xb)), replace=False)
    for a, b in zip(p(xb[pick]), p(yb[pick]), strict=True):
        ax.plot([a[0], b[0]], [a[1], b[1]], color="0.7", lw=0.5)
    ax.scatter(*p(xa).T, s=4, color="tab:red", alpha=0.15, label="image (init)")
    ax.scatter(*p(ya).T, s=4, color="tab:blue", alpha=0.15, label="text (init)")
    ax.scatter(*p(xb).T, s=6, color="tab:red", label="image (trained)")
    ax.scatter(*p(yb).T, s=6, color="tab:blue", label="text (trained)")
    ax.legend(fontsize=7, markerscale=2)
