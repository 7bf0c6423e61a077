"""``caption-presence-bias``: a factor that is always in the caption wins the model's attention.

Schrodi et al., "Two Effects, One Trigger", ICLR 2025, §4–5, Fig. 3c, on MAD
(:mod:`gaplab.data.mad`).

Setting: per seed, for each factor F (the digit and the five attributes) one small CLIP
model is trained on MAD captions in which F is *always* mentioned and every other factor
only with probability ``rare_p`` (default 0.2; the paper says "less often" without a
number). On held-out MAD images we measure, for every run and every factor f:

* the matching score of f — the bracket of the per-sample MOAD of paper 004's text
  (``gaplab.metrics.moad``, not the ICLR version's MOAD_img ``gaplab.metrics.moad_iclr``):
  mean cosine of an image with the class embedding of its own value of f minus its mean
  cosine with the other samples' — "the model is biased towards it" (Fig. 3c left);
* zero-shot accuracy of f — "achieves higher accuracy for it" (Fig. 3c right).
  Class embeddings for both are averaged over 64 captions per value that mention it, each
  other factor with probability 1/2 — the same prompts for every run, so no run is
  favoured by prompts that look like its training captions;
* per encoder, the matching score of f computed from that encoder's embedding of the
  sample: the image embedding (image encoder) or the embedding of the sample's
  full-information caption (text encoder), each against the same class embeddings. The
  paper does not say how it measures each encoder's bias; this is our reading (the text
  encoder "can simply encode all given information", so its score should barely depend on
  which factor was always present). As a second view we report, per encoder, the share of
  embedding variance explained by f (R², between-value over total variance of the
  normalised embeddings).

The bias towards F (per seed) is the run-F value minus the mean over that seed's runs in
which F was rare, so a factor that is easy or hard for every model does not count as bias.

Which factors count, decided before any run and never from the runs-with-F-always values:

* floor — a factor this scale cannot learn even when every caption mentions it is no
  evidence: per seed a *reference* model is trained on full-information captions (every
  factor always mentioned; the same model as ``information-imbalance``'s k = 5, cached);
  a factor whose zero-shot accuracy there is not above chance (1 / its number of values) by
  :data:`LEARN_MARGIN` (mean over seeds) is left out of every claim;
* ceiling — a factor whose zero-shot accuracy in the runs where it was rare (mean over
  seeds and those runs) is :data:`CEILING_ACC` (0.95) or more has no room to be recognised
  better and is left out of the accuracy claim (an increase of +0.003 at 0.99 is not
  evidence).

Claims (Fig. 3c), 95 % Student-t intervals over seeds, each seed's runs paired (same data,
initialisation, prompts): (1) every counted factor's matching score is higher when it is
always present (per seed: the smallest bias over the counted factors, above 0); (2) likewise
its zero-shot accuracy; (3) the bias is larger for the image encoder than for the text
encoder (per seed: mean over the counted factors of image − text matching-score bias, above
0; the R² view is reported beside it). With no factor left to count a claim is
``inconclusive``.

Scale (CPU): the paper trains ViT/transformer towers of width 256 for 200 epochs; here the
towers of :mod:`gaplab.models.mad` (conv image tower, 2-layer width-64 text transformer),
6,000 images, 10 epochs, ``seeds`` seeds (default 5: a model trains in about 25 s on a quiet
2-core machine), seven models per seed. ``--quick``:
2 seeds, 14-px images, 1,500 training images, 6 epochs (the quick models do not learn the
digit at all, so the floor leaves it out there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe

#: floor: a factor counts only if the full-information reference model's zero-shot accuracy
#: exceeds its chance level by this (mean over seeds)
LEARN_MARGIN = 0.10
#: ceiling: a factor whose accuracy in its rare runs is this or more is left out of the accuracy claim
CEILING_ACC = 0.95
MEASURES = ("matching_score", "matching_score_text", "zero_shot", "variance_share_image", "variance_share_text")


@register_recipe(
    "caption-presence-bias",
    paper="004",
    summary="MAD with one factor always in captions, others rare: the model (and more the image encoder) is biased towards it",
    factors=["digit", "thickness", "swelling", "fracture", "scale", "colour"],
    rare_p=0.2,
    seeds=None,
    epochs=None,
    n_train=None,
    image_encoder="cnn",
)
def caption_presence_bias(ctx: RecipeContext) -> dict[str, Any]:
    """Train one MAD CLIP per always-mentioned factor and seed and measure the model's bias towards it.

    Returns the measured values for ``run.json``: per seed, measure, run and factor the
    matching score, zero-shot accuracy and variance share (``tables``), per measure the bias
    towards each factor when it is the always-mentioned one (``bias``: mean over seeds;
    ``bias_per_seed``), the reference models' accuracies, the factors left out at the floor
    and the ceiling, and the per-seed values of each claim.
    See the module docstring for the setting and the claims.
    """
    import matplotlib.pyplot as plt

    from .._errors import ConfigError
    from ..data.mad import FACTOR_NAMES, FACTORS
    from . import _mad

    factors = list(ctx.param("factors"))
    unknown = [f for f in factors if f not in FACTOR_NAMES]
    if unknown or len(factors) < 2:
        raise ConfigError(f"caption-presence-bias: factors must be at least 2 of {', '.join(FACTOR_NAMES)}, "
                          f"got {factors}")
    rare = float(ctx.param("rare_p"))
    n_seeds = int(ctx.param("seeds") or (2 if ctx.quick else 5))
    seeds = [ctx.seed + s for s in range(n_seeds)]
    common = dict(epochs=ctx.param("epochs"), n_train=ctx.param("n_train"), image_encoder=ctx.param("image_encoder"))

    def trained(cfg: Any) -> dict[str, Any]:
        model, _ = _mad.train_mad(cfg, progress=ctx.progress, cache_dir=_mad.cache_dir(ctx.out))
        _, test = _mad.mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
        return _mad.evaluate(model, test, cfg)

    tables: list[dict[str, dict[str, dict[str, float]]]] = []
    reference: list[dict[str, float]] = []
    for seed in seeds:
        table: dict[str, dict[str, dict[str, float]]] = {m: {} for m in MEASURES}
        for f_always in factors:
            presence = {f: (1.0 if f == f_always else rare) for f in FACTOR_NAMES}
            r = trained(_mad.scaled_config(ctx.quick, presence=presence, n_attributes=None, seed=seed, **common))
            for m in MEASURES:
                table[m][f_always] = {f: float(r[m][f]) for f in FACTOR_NAMES}
        tables.append(table)
        ref = trained(_mad.scaled_config(ctx.quick, n_attributes=5, seed=seed, **common))
        reference.append({f: float(ref["zero_shot"][f]) for f in FACTOR_NAMES})

    def bias(table: dict[str, dict[str, dict[str, float]]], m: str) -> dict[str, float]:
        return {f: table[m][f][f] - float(np.mean([table[m][r][f] for r in factors if r != f])) for f in factors}

    per_seed_bias = [{m: bias(t, m) for m in MEASURES} for t in tables]
    biases = {m: {f: float(np.mean([b[m][f] for b in per_seed_bias])) for f in factors} for m in MEASURES}

    chance = {f: 1.0 / len(FACTORS[f]) for f in FACTOR_NAMES}
    ref_mean = {f: float(np.mean([r[f] for r in reference])) for f in factors}
    rare_acc = {f: float(np.mean([t["zero_shot"][r][f] for t in tables for r in factors if r != f])) for f in factors}
    at_floor = [f for f in factors if ref_mean[f] - chance[f] <= LEARN_MARGIN]
    at_ceiling = [f for f in factors if f not in at_floor and rare_acc[f] >= CEILING_ACC]
    counted = [f for f in factors if f not in at_floor]
    counted_acc = [f for f in counted if f not in at_ceiling]

    fig, axes = plt.subplots(1, 3, figsize=(18, 5), layout="constrained")
    for ax, m, title in ((axes[0], "matching_score", "matching score (bias towards factor)"),
                         (axes[1], "zero_shot", "zero-shot accuracy")):
        mat = np.array([[np.mean([t[m][r][f] for t in tables]) for f in factors] for r in factors])
        im = ax.imshow(mat, cmap="viridis")
        ax.set_xticks(range(len(factors)), factors, rotation=45)
        ax.set_yticks(range(len(factors)), [f"always {f}" for f in factors] if ax is axes[0] else [])
        ax.set_xlabel("measured factor")
        ax.set_title(f"{title}, mean of {n_seeds} seeds", fontsize=10)
        for i in range(len(factors)):
            for j in range(len(factors)):
                ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
        fig.colorbar(im, ax=ax, fraction=0.046)
    xs = np.arange(len(factors))
    axes[2].bar(xs - 0.2, [biases["matching_score"][f] for f in factors], 0.4, label="image encoder")
    axes[2].bar(xs + 0.2, [biases["matching_score_text"][f] for f in factors], 0.4, label="text encoder")
    axes[2].set_xticks(xs, [f + (" (floor)" if f in at_floor else "") for f in factors], rotation=45)
    axes[2].axhline(0, c="k", lw=0.5)
    axes[2].set_title("matching score: always present − rare", fontsize=10)
    axes[2].legend(fontsize=8)
    fig.suptitle("caption presence bias on MAD (Schrodi et al. 2025, Fig. 3c)")
    ctx.savefig(fig, "caption_presence_bias")

    def per_factor(d: dict[str, float]) -> str:
        return "Δ per factor (mean over seeds): " + ", ".join(f"{f} {v:+.3f}" for f, v in d.items())

    left_out = (f"left out at the floor: {', '.join(at_floor) or 'none'}"
                f" (reference accuracy − chance ≤ {LEARN_MARGIN})")

    def smallest(m: str, among: list[str]) -> list[float] | None:
        return [min(b[m][f] for f in among) for b in per_seed_bias] if among else None

    ms, zs = biases["matching_score"], biases["zero_shot"]
    ps_ms, ps_zs = smallest("matching_score", counted), smallest("zero_shot", counted_acc)
    ctx.claim("A factor always present in captions gets a higher matching score (bias towards it, Fig. 3c left)",
              "biased towards the always-present factor",
              f"{sum(ms[f] > 0 for f in counted)}/{len(counted)} counted factors, "
              f"mean Δ={np.mean([ms[f] for f in counted]) if counted else float('nan'):+.3f}",
              criterion="per seed, the smallest matching-score bias over the counted factors, above 0",
              per_seed=ps_ms, note=f"{per_factor(ms)}; {left_out}")
    ctx.claim("A factor always present in captions gets higher zero-shot accuracy (Fig. 3c right)",
              "higher accuracy for it",
              f"{sum(zs[f] > 0 for f in counted_acc)}/{len(counted_acc)} counted factors, "
              f"mean Δ={np.mean([zs[f] for f in counted_acc]) if counted_acc else float('nan'):+.3f}",
              criterion=f"per seed, the smallest zero-shot accuracy bias over the counted factors, above 0; factors "
                        f"with accuracy ≥ {CEILING_ACC} in their rare runs are at the ceiling and not counted",
              per_seed=ps_zs,
              note=f"{per_factor(zs)}; {left_out}; at the ceiling: {', '.join(at_ceiling) or 'none'}")
    diff = ([float(np.mean([b["matching_score"][f] - b["matching_score_text"][f] for f in counted]))
             for b in per_seed_bias] if counted else None)

    def mean_over(m: str) -> float:
        return float(np.mean([biases[m][f] for f in counted])) if counted else float("nan")

    bi, bt = mean_over("matching_score"), mean_over("matching_score_text")
    ri, rt = mean_over("variance_share_image"), mean_over("variance_share_text")
    ctx.claim("The caption presence bias is larger for the image encoder than for the text encoder",
              "image > text", f"Δmatch image {bi:+.3f} vs text {bt:+.3f} (ΔR² {ri:+.3f} vs {rt:+.3f})",
              criterion="per seed, the mean over the counted factors of image − text matching-score bias, above 0",
              per_seed=diff, note="text " + per_factor(biases["matching_score_text"]))
    return {"factors": factors, "rare_p": rare, "seeds": seeds, "tables": tables, "bias": biases,
            "bias_per_seed": per_seed_bias, "reference_zero_shot": reference, "rare_run_accuracy": rare_acc,
            "at_floor": at_floor, "at_ceiling": at_ceiling, "counted": counted, "counted_accuracy": counted_acc,
            "claim_per_seed": {"matching_score_min": ps_ms, "zero_shot_min": ps_zs, "image_minus_text": diff},
            "bias_image_mean": bi, "bias_text_mean": bt, "r2_bias_image_mean": ri, "r2_bias_text_mean": rt}
