"""``information-imbalance``: richer captions shrink the modality gap and the object bias.

Schrodi et al., "Two Effects, One Trigger", ICLR 2025, §5, Fig. 1b (and Fig. 7), on the
MAD dataset (:mod:`gaplab.data.mad`, Appendix C).

Setting: one small CLIP model is trained from scratch per information setting and seed,
captions mentioning the digit and k ∈ {1, …, 5} attributes (which attributes is redrawn at
every batch, shuffled word order). On held-out MAD images (unseen handwriting) we measure,
per k and seed:

* the gap: L2M and RMG between each test image and a caption drawn as in training
  (``gaplab.metrics.l2m``, ``rmg``);
* object bias, by both definitions that carry the name MOAD:
  ``moad_img`` — MOAD_img of the ICLR 2025 version (``gaplab.metrics.moad_iclr`` on the
  test image embeddings, the digit as the object and the five attribute factors as
  attributes; ``moad_txt`` is the same on the embeddings of the full-information captions,
  reported only); ``moad`` — the per-sample cross-modal form of paper 004's text
  (``gaplab.metrics.moad``) with the class embedding (below) of the sample's digit as the
  object text and that of its attribute value as the attribute text, averaged over the
  five attributes;
* downstream accuracy: zero-shot accuracy of the digit and of each attribute, class
  embeddings ensembled over 64 captions of the training distribution that mention the
  value (CLIP's prompt ensembling; a one-word prompt such as "7" is out of distribution
  for a model trained on 6-word captions — those accuracies are reported too, as
  ``zero_shot_one_word``), and the ideal-words accuracy (Trager et al., ICCV 2023:
  class vectors = mean full-caption text embedding of a value minus the overall mean,
  images centred), averaged over the six factors.

Claims (Fig. 1b a–f, §5, Fig. 7), criteria fixed before any run, 95 % Student-t intervals
over seeds; every seed trains one model per k from the same initialisation, so comparisons
across k are paired within a seed:

* premise (sanity): the models learned the object — in every setting zero-shot digit
  accuracy above chance (0.1) by :data:`LEARN_MARGIN`. Every evidence claim is judged only
  where it held: a model that has not learned the digit, which every caption mentions, is
  not the paper's trained CLIP (the ``--quick`` models are such models: digit accuracy at
  chance, so the quick verdicts are ``inconclusive``, by design);
* "falls / rises with k": the per-seed Spearman ρ between k and the measure below
  −:data:`TREND_RHO` (above +:data:`TREND_RHO`) — L2M, RMG, both MOADs, digit and attribute
  zero-shot accuracy;
* a MOAD "falls" only where there is an object bias to lose: MOAD above 0 at the sparsest
  setting (its own claim, the premise of the trend claim);
* "ideal-words accuracy drops slightly at full information": the ideal-words accuracy at
  the second-richest setting minus that at full information, paired over seeds, above 0
  (a difference to the neighbouring setting, not to the best of the others: the maximum of
  several noisy values beats a further one by chance);
* "with full information, training closes most of the initial gap": the share of the
  initialisation's L2M closed at full information, 1 − L2M(k=5) / L2M(init), above
  :data:`CLOSE_SHARE`; judged only where L2M falls with k, so that it is about the
  information in the captions and not about training as such (the share closed at the
  sparsest setting is reported beside it).

Scale (CPU): the paper trains 6-layer width-256 ViT/transformer towers for 200 epochs on
MNIST-sized MAD, 3 seeds × 3 learning rates. Here: a conv image tower and a 2-layer width-64
text transformer (:mod:`gaplab.models.mad`), 6,000 training images, 10 epochs, lr 5e-4
(no grid search), ``seeds`` seeds (default 5: a full model trains in about 25 s on a quiet
2-core machine, minutes under load). ``--quick``: 2 seeds, 14-px images, 1,500 training images, 6 epochs, widths 32,
k ∈ {1, 3, 5}. Training goes through the engine (:class:`gaplab.train.Trainer`, see
:mod:`gaplab.recipes._mad`); trained models are cached by config, so a rerun costs only the
evaluation. ``--param image_encoder=vit`` trains the paper's kind of image tower.

``--param model=gaplab-clip-fashion``: the from-scratch Fashion-MNIST CLIP
(:mod:`gaplab.models.clip`) instead of MAD. The knob is the caption richness k, the number
of measured attributes each caption mentions (:mod:`gaplab.data.fashion_captions`,
``min_attributes = max_attributes = k``, of 9): one model per k ∈ {0, 1, 3, 5, 9} and seed,
each the *quick* config (15,000 training images, 4 epochs, width 64) with every other field
at its built-in default (τ fixed at 0.01); chosen before any run and not tuned. Trained
once, then read from the user cache (:func:`gaplab.recipes._fashion.load_run_with`). The
captions of a model's held-out pairs are composed with its own k, so the gap is measured
between each test image and a caption drawn as in training, as on MAD. Measures per
(k, seed) on the 10,000 held-out pairs: L2M, RMG, class zero-shot accuracy (prompt-ensembled
class prompts), mean paired cosine, retrieval R@1 and linear separability (all from
:func:`gaplab.train.fashion_clip.evaluate_fashion_clip`), and MOAD_img
(``gaplab.metrics.moad_iclr`` on the held-out image embeddings, the class as the object and
the nine measured tercile bins each image shows as the attributes,
:func:`gaplab.recipes._fashion.image_attribute_bins`). Claims: those of the MAD version that
these measures allow, with the same criteria — the premise (class zero-shot accuracy above
chance 0.1 by :data:`LEARN_MARGIN` in every setting), L2M, RMG and MOAD_img falling with k
(MOAD_img > 0 at k = 0 first), class zero-shot accuracy rising with k, and the share of the
initial L2M (at step 0 of the k = 9 model) closed at k = 9. Not computed here: the
per-sample MOAD, MOAD_txt, attribute zero-shot and ideal-words accuracy (they need
attribute prompts the Fashion CLIP has no ensemble for). Seeds: ``seed`` … ``seed + seeds
− 1`` (``seeds`` default 3, or a list). ``--quick``: seed ``seed`` alone and k ∈ {0, 9}
(one seed: every claim inconclusive, by design). The MAD parameters (``attributes``,
``epochs``, ``n_train``, ``image_encoder``) do not apply (setting one is an error).
Two properties of the built-in setting bear on the reading: the text tower reads 32 tokens
(``context_length``), and a k = 9 caption has ≈ 39 on average (97 % are cut, so the model
sees ≈ 6–7 of the 9 attributes; k ≤ 5 captions fit, < 1 % cut); and the class zero-shot
prompts are the built-in attribute-free ones ("a photo of a boot."), which resemble the
k = 0 captions more than the rich ones (on MAD the recipe ensembles training-distribution
captions instead). Each uncached model trains in ≈ 65 s on an idle core (minutes under
load); composing the captions of a new k once costs another ≈ 1–2 minutes (cached on disk).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..runs import Claim, Side
from ._base import RecipeContext, register_recipe

#: criteria, fixed before any run: a trend is a per-seed Spearman ρ beyond ±TREND_RHO; the
#: models learned the object when digit zero-shot accuracy exceeds chance (0.1) by LEARN_MARGIN
#: in every setting; "most of the initial gap" is a share above CLOSE_SHARE
TREND_RHO, LEARN_MARGIN, CLOSE_SHARE = 0.8, 0.10, 0.5
#: chance level of the digit (10 classes)
DIGIT_CHANCE = 0.1
#: measures per (k, seed)
KEYS = ("l2m", "rmg", "moad_img", "moad_txt", "moad", "zs_digit", "zs_attributes", "ideal_words",
        "l2m_full_captions")

#: the model choices (``model`` parameter); the first is the default
MODELS = ("mad-clip", "gaplab-clip-fashion")
#: parameters of the MAD models only, with their defaults
_MAD_PARAMS: dict[str, Any] = {"attributes": [1, 2, 3, 4, 5], "epochs": None, "n_train": None, "image_encoder": "cnn"}
#: Fashion CLIP: the caption richness k (attributes per caption, min = max = k) at full scale
#: and with ``--quick``; chance level of the class (10 classes); measures per (k, seed)
FASHION_KS, FASHION_QUICK_KS = (0, 1, 3, 5, 9), (0, 9)
CLASS_CHANCE = 0.1
FASHION_KEYS = ("l2m", "rmg", "moad_img", "zero_shot", "mean_cos_paired", "i2t_r1", "t2i_r1", "linear_separability")


def _trend(ks: list[int], values: list[float]) -> float:
    """Spearman ρ of ``values`` against ``ks`` (0 when the values are all equal)."""
    from scipy.stats import spearmanr

    if len(set(values)) < 2:
        return 0.0
    return float(spearmanr(ks, values).statistic)


class _Sweep:
    """A sweep over caption richness k, over seeds: its statistics, claims and figure.

    ``vals[m][s][i]`` is measure ``m`` of seed ``s`` at setting ``ks[i]``. ``arr[m]`` is that as a
    (n_seeds, n_k) array, ``mean`` / ``std`` over seeds per k, ``rho[m]`` each seed's Spearman ρ
    of ``m`` with k.
    """

    def __init__(self, ctx: RecipeContext, ks: list[int], vals: dict[str, list[list[float]]]) -> None:
        self.ctx, self.ks = ctx, ks
        self.arr = {m: np.array(v) for m, v in vals.items()}
        self.mean = {m: a.mean(0).tolist() for m, a in self.arr.items()}
        self.std = {m: a.std(0).tolist() for m, a in self.arr.items()}
        self.rho = {m: [_trend(ks, list(v)) for v in vals[m]] for m in vals}

    def all_k(self, m: str) -> str:
        """The per-k note of a claim on ``m``."""
        return "mean per k: " + ", ".join(f"{k}: {v:.3f}" for k, v in zip(self.ks, self.mean[m], strict=True))

    def trend_claim(self, text: str, m: str, side: Side, premise: Claim) -> Claim:
        """Per-seed Spearman ρ of ``m`` with k beyond ∓:data:`TREND_RHO` (``side`` "<": falls), judged only where ``premise`` held."""
        ks, mean, rho = self.ks, self.mean, self.rho
        word = "below" if side == "<" else "above"
        return self.ctx.claim(
            text, "decreasing in k" if side == "<" else "increasing in k",
            f"k={ks[0]}: {mean[m][0]:.3f} → k={ks[-1]}: {mean[m][-1]:.3f} (mean ρ {np.mean(rho[m]):+.2f})",
            criterion=f"per-seed Spearman ρ of {m} with k {word} {'−' if side == '<' else '+'}{TREND_RHO}",
            per_seed=rho[m], null=-TREND_RHO if side == "<" else TREND_RHO, side=side,
            depends_on=premise, note=self.all_k(m))

    def learned_claim(self, m: str, chance: float, *, accuracy: str, obj: str, model: str) -> Claim:
        """The sanity premise: per seed, the lowest ``accuracy`` zero-shot accuracy ``m`` over k above chance by :data:`LEARN_MARGIN`.

        ``obj`` names what every caption mentions, ``model`` what a model at chance is not.
        """
        low = self.arr[m].min(1)
        return self.ctx.claim(
            "The trained models learned the object (premise of every claim below)", "well above chance",
            f"min over k of {accuracy} zero-shot accuracy: " + ", ".join(f"{v:.3f}" for v in low),
            criterion=f"per seed, the lowest {accuracy} zero-shot accuracy over the settings − {chance} (chance) above "
                      f"{LEARN_MARGIN}: a model at chance on the {obj}, which every caption mentions, is not {model}, "
                      "and its gap and bias say nothing about caption information",
            per_seed=list(low - chance), null=LEARN_MARGIN, kind="sanity", note=self.all_k(m))

    def bias_claims(self, m: str, name: str, premise: Claim) -> None:
        """An object bias ``m`` (> 0 at the sparsest k, per seed), then its fall with k."""
        k0 = self.ks[0]
        biased = self.ctx.claim(
            f"Sparse captions leave an object bias ({name}: > 0 at k={k0})", "> 0 (bias towards objects)",
            ", ".join(f"{v:+.4f}" for v in self.arr[m][:, 0]),
            criterion=f"{m} at k={k0} above 0, per seed (the premise of its fall)",
            per_seed=list(self.arr[m][:, 0]), depends_on=premise)
        self.trend_claim(f"Object bias ({name}) falls as captions carry more attributes (Fig. 1b b)", m, "<", biased)

    def figure(self, panels: list[tuple[str, str]], init: list[float], title: str, *, xlabel: str,
               errors: bool = True, width: float = 23.0, title_size: float | None = None) -> Any:
        """One panel per ``(measure, title)``: mean over seeds against k (± sd with ``errors``), L2M at init dashed."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.2))
        for ax, (m, sub) in zip(axes, panels, strict=True):
            ax.errorbar(self.ks, self.mean[m], yerr=self.std[m] if errors else None, marker="o", capsize=3)
            ax.set_title(sub, fontsize=9)
            ax.set_xlabel(xlabel)
            ax.set_xticks(self.ks)
        axes[0].axhline(float(np.mean(init)), ls="--", c="gray", label=f"at init (k={self.ks[-1]})")
        axes[0].legend(fontsize=7)
        fig.suptitle(title, fontsize=title_size)
        return fig, axes


def _closing_claim(ctx: RecipeContext, ks: list[int], l2m: np.ndarray, init: list[float], init_sparse: list[float],
                   gap: Claim) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 7's claim: the share of the initial gap closed at full information, per seed.

    ``l2m``: (seeds, k) trained gaps; ``init`` / ``init_sparse``: the step-0 gap of the
    richest / sparsest setting's model. Judged only where ``gap`` (L2M falls with k) held.
    Returns the shares closed at the richest and the sparsest k.
    """
    init_a = np.array(init)
    closed = 1.0 - l2m[:, -1] / init_a
    closed_sparse = 1.0 - l2m[:, 0] / np.array(init_sparse)
    ctx.claim("With full information training closes most of the initial gap (Fig. 7)",
              "gap at init reduced substantially",
              f"L2M init {init_a.mean():.3f} → trained {l2m[:, -1].mean():.3f} at k={ks[-1]} "
              f"(share closed {closed.mean():.2f}; at k={ks[0]}: {closed_sparse.mean():.2f})",
              criterion=f"1 − L2M(k={ks[-1]}) / L2M(init), per seed, above {CLOSE_SHARE}; judged only where L2M "
                        "falls with k (else the closing is training's, not the captions' information)",
              per_seed=list(closed), null=CLOSE_SHARE, depends_on=gap)
    return closed, closed_sparse


def _measure(model: Any, test: Any, cfg: Any) -> dict[str, Any]:
    """The recipe's measures of one trained model on the test set (see the module docstring)."""
    from ..metrics.functional.neighbourhood import moad_iclr
    from . import _mad

    r = _mad.evaluate(model, test, cfg)
    x = _mad.embed_images(model, test.images)
    y_full = _mad.embed_texts(model, test.full_captions(rng=1))
    objects, attributes = test.factors[:, 0], test.factors[:, 1:]
    return {"l2m": r["l2m"], "rmg": r["rmg"], "moad_img": moad_iclr(x, objects, attributes),
            "moad_txt": moad_iclr(y_full, objects, attributes), "moad": r["moad"],
            "zs_digit": r["zero_shot"]["digit"], "zs_attributes": r["zero_shot_attributes_mean"],
            "ideal_words": r["ideal_words_accuracy"], "l2m_full_captions": r["l2m_full_captions"],
            "zero_shot": r["zero_shot"], "zero_shot_one_word": r["zero_shot_one_word"],
            "moad_per_attribute": r["moad_per_attribute"]}


@register_recipe(
    "information-imbalance",
    paper="004",
    summary="MAD with 1..5 attributes per caption: gap, object bias and accuracy vs caption information",
    attributes=[1, 2, 3, 4, 5],
    seeds=None,
    epochs=None,
    n_train=None,
    image_encoder="cnn",
    model=MODELS[0],
)
def information_imbalance(ctx: RecipeContext) -> dict[str, Any]:
    """Train one CLIP per number of caption attributes k and seed; measure gap, object bias, accuracy.

    ``model``: ``mad-clip`` (default, MAD CLIPs trained here) or ``gaplab-clip-fashion`` (the
    from-scratch Fashion-MNIST CLIP, one quick-config model per k; see the module docstring).
    Returns the measured values for ``run.json``: the attribute counts and seeds, the mean and
    std over seeds of each measure per k, every seed's Spearman ρ with k, the L2M at
    initialisation per seed and the per-run values.
    """
    from ._fashion import check_model, reject_other_params

    if check_model("information-imbalance", ctx.param("model"), MODELS) == "gaplab-clip-fashion":
        reject_other_params("information-imbalance", ctx, _MAD_PARAMS, MODELS[0])
        return _fashion_information_imbalance(ctx)
    return _mad_information_imbalance(ctx)


def _mad_information_imbalance(ctx: RecipeContext) -> dict[str, Any]:
    """The MAD models (``model=mad-clip``): the recipe as before the model choice."""
    from . import _mad

    ks = [1, 3, 5] if ctx.quick else sorted(int(k) for k in ctx.param("attributes"))
    if len(ks) < 3:
        from .._errors import ConfigError

        raise ConfigError(f"information-imbalance: attributes needs at least 3 settings for a trend, got {ks}")
    n_seeds = int(ctx.param("seeds") or (2 if ctx.quick else 5))
    seeds = [ctx.seed + s for s in range(n_seeds)]
    # vals[m][s][i]: measure m, seed s, setting ks[i]
    vals: dict[str, list[list[float]]] = {m: [] for m in KEYS}
    runs, init = [], []
    for seed in seeds:
        row_of_seed: dict[str, list[float]] = {m: [] for m in KEYS}
        for k in ks:
            cfg = _mad.scaled_config(ctx.quick, n_attributes=k, seed=seed, epochs=ctx.param("epochs"),
                                     n_train=ctx.param("n_train"), image_encoder=ctx.param("image_encoder"))
            model, hist = _mad.train_mad(cfg, progress=ctx.progress, cache_dir=_mad.cache_dir(ctx.out))
            _, test = _mad.mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
            r = _measure(model, test, cfg)
            for m in KEYS:
                row_of_seed[m].append(float(r[m]))
            runs.append({"k": k, "seed": seed, **r, "final_loss": hist["loss"][-1],
                         "final_temperature": hist["temperature"][-1]})
            if k == ks[-1]:
                init.append(_mad.init_gap(cfg)["l2m"])
        for m in KEYS:
            vals[m].append(row_of_seed[m])
    sw = _Sweep(ctx, ks, vals)
    arr, mean, std, rho = sw.arr, sw.mean, sw.std, sw.rho
    panels = [("l2m", "(a) modality gap L2M"), ("rmg", "RMG"), ("moad_img", "(b) object bias MOAD_img (ICLR)"),
              ("moad", "object bias MOAD (per-sample)"), ("zs_digit", "(d) zero-shot digit acc."),
              ("zs_attributes", "(e) zero-shot attribute acc."), ("ideal_words", "(f) ideal-words acc.")]
    fig, _ = sw.figure(panels, init, f"information imbalance on MAD (Schrodi et al. 2025, Fig. 1b), {n_seeds} seeds",
                       xlabel="attributes in caption")
    ctx.savefig(fig, "information_imbalance")

    learned = sw.learned_claim("zs_digit", DIGIT_CHANCE, accuracy="digit", obj="object",
                               model="the paper's trained CLIP")
    gap = sw.trend_claim("Modality gap (L2M) falls as captions carry more attributes (Fig. 1b a)", "l2m", "<", learned)
    sw.trend_claim("Relative modality gap (RMG) falls as captions carry more attributes", "rmg", "<", learned)
    for m, name in (("moad_img", "MOAD_img, ICLR 2025 definition"), ("moad", "per-sample MOAD, 004 §4 text")):
        sw.bias_claims(m, name, learned)
    sw.trend_claim("Zero-shot digit accuracy rises with caption information (Fig. 1b d)", "zs_digit", ">", learned)
    sw.trend_claim("Zero-shot attribute accuracy rises with caption information (Fig. 1b e)", "zs_attributes", ">",
                   learned)
    iw = arr["ideal_words"]
    ctx.claim("Ideal-words accuracy drops slightly in the full-information setting (Fig. 1b f)",
              f"slight drop at k={ks[-1]}", f"k={ks[-2]}: {iw[:, -2].mean():.3f} → k={ks[-1]}: {iw[:, -1].mean():.3f}",
              criterion=f"ideal-words accuracy at k={ks[-2]} − at k={ks[-1]}, paired over seeds, above 0",
              per_seed=list(iw[:, -2] - iw[:, -1]), depends_on=learned, note=sw.all_k("ideal_words"))
    closed, closed_sparse = _closing_claim(ctx, ks, arr["l2m"], init, init, gap)
    return {"attributes": ks, "seeds": seeds, "mean": mean, "std": std, "per_seed": {m: vals[m] for m in KEYS},
            "spearman_vs_k": rho, "l2m_at_init": init, "share_closed_full": closed.tolist(),
            "share_closed_sparse": closed_sparse.tolist(), "runs": runs}


def _fashion_information_imbalance(ctx: RecipeContext) -> dict[str, Any]:
    """The Fashion CLIP (``model=gaplab-clip-fashion``): one quick-config model per caption richness k and seed."""
    import time

    from tqdm.auto import tqdm

    from ..metrics.functional.neighbourhood import moad_iclr
    from ._fashion import held_out_of, image_attribute_bins, load_run_with, seed_list

    ks = list(FASHION_QUICK_KS if ctx.quick else FASHION_KS)
    seeds = seed_list(ctx, 3)
    # the image side of MOAD_img: the class as the object, the nine measured attribute bins as attributes
    shows = image_attribute_bins()
    attributes = np.stack([shows[a] for a in shows], axis=1)
    # vals[m][s][i]: measure m, seed s, setting ks[i]
    vals: dict[str, list[list[float]]] = {m: [] for m in FASHION_KEYS}
    runs: list[dict[str, Any]] = []
    init: list[float] = []
    init_sparse: list[float] = []
    jobs = tqdm(total=len(seeds) * len(ks), desc="information-imbalance: runs", disable=not ctx.progress)
    for seed in seeds:
        row: dict[str, list[float]] = {m: [] for m in FASHION_KEYS}
        for k in ks:
            t0 = time.perf_counter()
            run = load_run_with(seed, True, progress=False, min_attributes=k, max_attributes=k)
            emb = held_out_of(run)
            if len(emb.labels) != len(attributes):
                raise RuntimeError("information-imbalance: held-out rows and attribute bins disagree")
            r = {**{m: float(run.metrics[m]) for m in FASHION_KEYS if m != "moad_img"},
                 "moad_img": float(moad_iclr(emb.image, emb.labels, attributes))}
            for m in FASHION_KEYS:
                row[m].append(r[m])
            runs.append({"k": k, "seed": seed, **r, "temperature": float(run.metrics.get("temperature", 0.0)),
                         "steps": int(run.metrics.get("steps", 0)), "l2m_at_init": float(run.init_metrics["l2m"]),
                         "train_seconds": float(run.train_seconds), "cached": bool(run.cached),
                         "seconds": time.perf_counter() - t0, "example_caption": emb.captions[0]})
            if k == ks[-1]:
                init.append(float(run.init_metrics["l2m"]))
            if k == ks[0]:
                init_sparse.append(float(run.init_metrics["l2m"]))
            jobs.update(1)
        for m in FASHION_KEYS:
            vals[m].append(row[m])
    jobs.close()
    sw = _Sweep(ctx, ks, vals)
    arr, mean, std, rho = sw.arr, sw.mean, sw.std, sw.rho
    panels = [("l2m", "(a) modality gap L2M"), ("rmg", "RMG"), ("moad_img", "(b) object bias MOAD_img (ICLR)"),
              ("zero_shot", "(d) zero-shot class acc.")]
    fig, axes = sw.figure(panels, init, "information imbalance on the Fashion-MNIST CLIP (cf. Schrodi et al. 2025, "
                          f"Fig. 1b), quick config, τ = 0.01, {len(seeds)} seed(s)", xlabel="attributes in caption (k)",
                          errors=len(seeds) > 1, width=14.0, title_size=9)
    axes[3].axhline(CLASS_CHANCE, ls=":", c="gray")
    fig.tight_layout()
    ctx.savefig(fig, "information_imbalance")

    learned = sw.learned_claim("zero_shot", CLASS_CHANCE, accuracy="class", obj="class", model="a trained CLIP")
    gap = sw.trend_claim("Modality gap (L2M) falls as captions carry more attributes (Fig. 1b a)", "l2m", "<", learned)
    sw.trend_claim("Relative modality gap (RMG) falls as captions carry more attributes", "rmg", "<", learned)
    sw.bias_claims("moad_img", "MOAD_img, ICLR 2025 definition", learned)
    sw.trend_claim("Zero-shot class accuracy rises with caption information (Fig. 1b d)", "zero_shot", ">", learned)
    closed, closed_sparse = _closing_claim(ctx, ks, arr["l2m"], init, init_sparse, gap)
    return {"attributes": ks, "seeds": seeds, "mean": mean, "std": std, "per_seed": {m: vals[m] for m in FASHION_KEYS},
            "spearman_vs_k": rho, "l2m_at_init": init, "l2m_at_init_sparse": init_sparse,
            "share_closed_full": closed.tolist(), "share_closed_sparse": closed_sparse.tolist(), "runs": runs,
            "model": {"name": "gaplab-clip-fashion", "config": "quick", "quick": ctx.quick, "seeds": seeds,
                      "temperature": "fixed 0.01 (built-in default)", "min_attributes = max_attributes": ks}}
