"""``caption-presence-bias``: a factor that is always in the caption wins the model's attention.

Schrodi et al., "Two Effects, One Trigger", ICLR 2025, §4–5, Fig. 3c, on MAD
(:mod:`gaplab.data.mad`).

Setting: for each factor F (the digit or one of the five attributes) one small CLIP model is
trained on MAD captions in which F is *always* mentioned and every other factor only with
probability ``rare_p`` (default 0.2; the paper says "less often" without a number). On held-
out MAD images we measure, for every run and every factor f:

* the matching score of f — MOAD's bracket, mean cosine of an image with the class
  embedding of its own value of f minus its mean cosine with the other samples' (computed
  with ``gaplab.metrics.moad``) — "the model is biased towards it" (Fig. 3c left);
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

The bias towards F is the run-F value minus the mean over the runs where F was rare, so a
factor that is easy or hard for every model does not count as bias. Claims (Fig. 3c):
(1) every factor's matching score is higher when it is always present; (2) likewise its
zero-shot accuracy; (3) the bias is larger for the image encoder than for the text encoder
(mean over factors of the matching-score bias; the R² view is reported beside it).

Scale (CPU): the paper trains ViT/transformer towers of width 256 for 200 epochs; here the
towers of :mod:`gaplab.models.mad` (conv image tower, 2-layer width-64 text transformer),
6,000 images, 10 epochs, one seed, six runs. ``--quick``: three runs (thickness, scale,
colour), 14-px images, 1,500 training images, 6 epochs. The digit is left out of the quick
runs because the quick model does not learn it at all (digit zero-shot accuracy at chance
in every quick run), which makes its bias a coin toss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe


@register_recipe(
    "caption-presence-bias",
    paper="004",
    summary="MAD with one factor always in captions, others rare: the model (and more the image encoder) is biased towards it",
    factors=["digit", "thickness", "swelling", "fracture", "scale", "colour"],
    rare_p=0.2,
    epochs=None,
    n_train=None,
    image_encoder="cnn",
)
def caption_presence_bias(ctx: RecipeContext) -> dict[str, Any]:
    """Train one MAD CLIP per always-mentioned factor and measure the model's bias towards it.

    Returns the measured values for ``run.json``: per measure, run and factor the matching
    score, zero-shot accuracy and variance share (``table``), per measure the bias towards
    each factor when it is the always-mentioned one (``bias``) and the mean biases and their
    R² for the image and text sides.
    See the module docstring for the setting and the claims.
    """
    import matplotlib.pyplot as plt

    from ..data.mad import FACTOR_NAMES
    from . import _mad

    factors = ["thickness", "scale", "colour"] if ctx.quick else list(ctx.param("factors"))
    rare = float(ctx.param("rare_p"))
    measures = ("matching_score", "matching_score_text", "zero_shot", "variance_share_image",
                "variance_share_text")
    table: dict[str, dict[str, dict[str, float]]] = {m: {} for m in measures}
    for f_always in factors:
        presence = {f: (1.0 if f == f_always else rare) for f in FACTOR_NAMES}
        cfg = _mad.scaled_config(ctx.quick, presence=presence, n_attributes=None, seed=ctx.seed,
                                 epochs=ctx.param("epochs"), n_train=ctx.param("n_train"),
                                 image_encoder=ctx.param("image_encoder"))
        model, _ = _mad.train_mad(cfg, progress=ctx.progress, cache_dir=_mad.cache_dir(ctx.out))
        _, test = _mad.mad_data(cfg.n_train, cfg.n_test, cfg.image_size, cfg.seed)
        r = _mad.evaluate(model, test, cfg)
        for m in measures:
            table[m][f_always] = {f: float(r[m][f]) for f in FACTOR_NAMES}

    def bias(m: str) -> dict[str, float]:
        out = {}
        for f in factors:
            others = [table[m][r][f] for r in factors if r != f]
            out[f] = table[m][f][f] - float(np.mean(others))
        return out

    biases = {m: bias(m) for m in measures}

    fig, axes = plt.subplots(1, 3, figsize=(18, 5), layout="constrained")
    for ax, m, title in ((axes[0], "matching_score", "matching score (bias towards factor)"),
                         (axes[1], "zero_shot", "zero-shot accuracy")):
        mat = np.array([[table[m][r][f] for f in factors] for r in factors])
        im = ax.imshow(mat, cmap="viridis")
        ax.set_xticks(range(len(factors)), factors, rotation=45)
        ax.set_yticks(range(len(factors)), [f"always {f}" for f in factors] if ax is axes[0] else [])
        ax.set_xlabel("measured factor")
        ax.set_title(title, fontsize=10)
        for i in range(len(factors)):
            for j in range(len(factors)):
                ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
        fig.colorbar(im, ax=ax, fraction=0.046)
    xs = np.arange(len(factors))
    axes[2].bar(xs - 0.2, [biases["matching_score"][f] for f in factors], 0.4, label="image encoder")
    axes[2].bar(xs + 0.2, [biases["matching_score_text"][f] for f in factors], 0.4, label="text encoder")
    axes[2].set_xticks(xs, factors, rotation=45)
    axes[2].axhline(0, c="k", lw=0.5)
    axes[2].set_title("matching score: always present − rare", fontsize=10)
    axes[2].legend(fontsize=8)
    fig.suptitle("caption presence bias on MAD (Schrodi et al. 2025, Fig. 3c)")
    ctx.savefig(fig, "caption_presence_bias")

    def count_pos(d: dict[str, float]) -> int:
        return sum(v > 0 for v in d.values())

    def per_factor(d: dict[str, float]) -> str:
        return "Δ per factor: " + ", ".join(f"{f} {v:+.3f}" for f, v in d.items())

    ms, zs = biases["matching_score"], biases["zero_shot"]
    ctx.claim("A factor always present in captions gets a higher matching score (bias towards it, Fig. 3c left)",
              "biased towards the always-present factor",
              f"{count_pos(ms)}/{len(factors)} factors, mean Δ={np.mean(list(ms.values())):+.3f}",
              count_pos(ms) == len(factors), note=per_factor(ms))
    ctx.claim("A factor always present in captions gets higher zero-shot accuracy (Fig. 3c right)",
              "higher accuracy for it",
              f"{count_pos(zs)}/{len(factors)} factors, mean Δ={np.mean(list(zs.values())):+.3f}",
              count_pos(zs) == len(factors), note=per_factor(zs))
    bi = float(np.mean(list(biases["matching_score"].values())))
    bt = float(np.mean(list(biases["matching_score_text"].values())))
    ri = float(np.mean(list(biases["variance_share_image"].values())))
    rt = float(np.mean(list(biases["variance_share_text"].values())))
    ctx.claim("The caption presence bias is larger for the image encoder than for the text encoder",
              "image > text", f"Δmatch image {bi:+.3f} vs text {bt:+.3f} (ΔR² {ri:+.3f} vs {rt:+.3f})", bi > bt,
              note="text " + per_factor(biases["matching_score_text"]))
    return {"factors": factors, "rare_p": rare, "table": table, "bias": biases,
            "bias_image_mean": bi, "bias_text_mean": bt, "r2_bias_image_mean": ri, "r2_bias_text_mean": rt}
