"""The metric catalogue: one entry per registered metric, the single source of metric names.

Every table of metric names (``measure``'s keys and their meanings, the CLI tables, the
report, the README's metric table) is generated from :data:`CATALOGUE`, so a quantity has
one name everywhere. An entry says which output keys the metric produces in
``gaplab measure --json``, what each means, its cost, whether it streams (exact from
mergeable float64 sums), which direction is "better" and which paper it comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .._registry import Registry
from .functional import (
    alignment,
    cka,
    cka_debiased,
    dimension_gap,
    effective_rank,
    frechet_distance,
    frechet_distance_centered,
    gap_vector,
    hubness,
    kendall_tau_distance,
    kmeans_agreement,
    l2i,
    l2m,
    linear_probe,
    linear_separability,
    logit_entropy,
    mean_cosine,
    mean_cosine_cross,
    mean_cosine_paired,
    mixed_modality_retrieval,
    moad,
    moad_iclr,
    mutual_knn,
    procrustes_distance,
    residual_gap,
    retrieval_recall,
    rmg,
    sliced_wasserstein,
    uniformity,
    zero_shot_accuracy,
)

__all__ = [
    "MetricInfo", "CATALOGUE", "register_metric", "BASE_KEYS", "MEASURE_KEYS", "FAST_KEYS", "metric_info", "markdown_table",
    "RESULT_KEYS", "CHANCE_FORMULAS",
]


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one metric (torchmetrics-style class attributes, as data)."""

    name: str  #: registry name = the function's name
    function: Callable[..., object]
    formula: str  #: one line, plain text
    paper: str
    cost: str  #: "O(N·d)", "O(N²·d), blockwise", "fit", ...
    streamable: bool  #: exact from mergeable sums (MetricSuite, sharded dumps)
    higher_is_better: bool | None  #: towards a smaller gap / a better task; None = neither
    keys: dict[str, str] = field(default_factory=dict)  #: output key in ``measure`` → meaning
    in_measure: bool = True  #: whether :func:`gaplab.measure` reports it
    #: output key → its chance level, in words (the numbers: :func:`gaplab.metrics.chance_levels`)
    chance: dict[str, str] = field(default_factory=dict)


CATALOGUE: Registry[MetricInfo] = Registry("metric")


def register_metric(name: str) -> Callable[[MetricInfo], MetricInfo]:
    """Decorator-style registration of a :class:`MetricInfo` under ``name`` (the function's name)."""
    return CATALOGUE.register(name)


for _info in (
    MetricInfo("gap_vector", gap_vector, "Δ = mean(x̂) − mean(ŷ)", "Liang et al. 2022 (000); Schrodi et al. 2025 (004)",
               "O(N·d)", True, None, {"top_dims": "dimensions with the largest mean difference"}),
    MetricInfo("l2m", l2m, "L2M = ‖Δ‖", "Liang et al. 2022 (000); Schrodi et al. 2025 (004)", "O(N·d)", True, False,
               {"l2m": "distance between modality means (the gap; 0 = same centre)"}),
    MetricInfo("l2i", l2i, "(1/K) Σ ‖x̂_π(k) − ŷ_k‖", "004's code (\"instance-wise\")", "O(N·d)", True, False,
               {"l2i": "mean distance between matched pairs"}),
    MetricInfo("rmg", rmg, "match / (½(intra_x + intra_y) + match), d(u,v) = (1 − cos)/2, intra over i ≠ j; "
               "exact via Σ_{i≠j} cos = ‖Σx̂‖² − N", "Schrodi et al. 2025 (004)", "O(N·d)", True, False,
               {"rmg": "relative modality gap: pair distance relative to within-modality spread"}),
    MetricInfo("mean_cosine", mean_cosine, "(‖Σx̂‖² − N)/(N(N−1)): the cone effect", "Liang et al. 2022 (000) §2",
               "O(N·d)", True, None,
               {"mean_cos_image": "mean cosine between images (cone effect; 0 = isotropic)",
                "mean_cos_text": "mean cosine between texts (cone effect)"}),
    MetricInfo("mean_cosine_paired", mean_cosine_paired, "mean cos of matched pairs", "Liang et al. 2022 (000)",
               "O(N·d)", True, True, {"mean_cos_paired": "mean cosine of matched pairs"}),
    MetricInfo("mean_cosine_cross", mean_cosine_cross, "mean cos of unmatched (i ≠ j) pairs", "Liang et al. 2022 (000)",
               "O(N·d)", True, None, {"mean_cos_cross": "mean cosine of unmatched image-text pairs"}),
    MetricInfo("alignment", alignment, "(1/K) Σ ‖x̂_π(k) − ŷ_k‖^α", "Wang & Isola 2020; 001, 003", "O(N·d)", True, False,
               {"alignment": "mean squared distance of matched pairs (lower = aligned)"}),
    MetricInfo("residual_gap", residual_gap, "tr Cov(x̂_π(k) − ŷ_k) = mean‖x̂ − ŷ‖² − ‖mean(x̂ − ŷ)‖²; alignment = l2m² + residual_gap",
               "this package; cf. Schrodi et al. 2025 (004)", "O(N·d)", True, False,
               {"residual_gap": "pair distance left once the centroid gap is closed (what centering cannot remove)"}),
    MetricInfo("cka", cka, "‖X̄ᵀȲ‖_F² / (‖X̄ᵀX̄‖_F ‖ȲᵀȲ‖_F), centred normalised rows", "Kornblith et al. 2019",
               "O(N·d²)", True, True, {"cka": "linear CKA between the modalities (1 = same structure)"}),
    MetricInfo("cka_debiased", cka_debiased, "CKA with the unbiased HSIC estimator on zero-diagonal linear kernels",
               "Song et al. 2012; Kornblith et al. 2019", "O(N·d²)", True, True,
               {"cka_debiased": "linear CKA, unbiased HSIC (less inflated at small N)"}),
    MetricInfo("procrustes_distance", procrustes_distance, "√max(0, 2 − 2‖X̄ᵀȲ‖_*), X̄, Ȳ centred, unit Frobenius",
               "Williams et al. 2021", "O(N·d²)", True, False,
               {"procrustes_distance": "orthogonal Procrustes distance of the centred modalities (0 = a rotation)"}),
    MetricInfo("frechet_distance", frechet_distance, "‖μx − μy‖² + tr(Σx + Σy − 2(Σx^½ Σy Σx^½)^½)",
               "Heusel et al. 2017 (FID formula)", "O(N·d²)", True, False,
               {"frechet_distance": "Fréchet distance of Gaussians fitted to the modalities"}),
    MetricInfo("frechet_distance_centered", frechet_distance_centered, "tr(Σx + Σy − 2(Σx^½ Σy Σx^½)^½)",
               "Heusel et al. 2017", "O(N·d²)", True, False,
               {"frechet_distance_centered": "its trace part: the distribution gap left after centering"}),
    MetricInfo("effective_rank", effective_rank, "exp(−Σ p log p), p = σ/Σσ of the normalised rows",
               "Roy & Vetterli 2007; Garrido et al. 2023 (RankMe)", "O(N·d²)", True, None,
               {"erank_image": "effective rank of the images (1 = collapsed, d = flat)",
                "erank_text": "effective rank of the texts"}),
    MetricInfo("mutual_knn", mutual_knn, "mean_i |N_x(i) ∩ N_y(i)| / k, k = 10 cosine neighbours j ≠ i",
               "Huh et al. 2024", "O(N²·d), blockwise", False, True,
               {"mutual_knn": "shared share of the 10 nearest neighbours, image vs text space",
                "mutual_knn_chance": "its chance level k/(N − 1)"}, chance={"mutual_knn": "k/(N − 1)"}),
    MetricInfo("hubness", hubness, "skewness of the k-occurrence N_k (k = 10) over cross-modal queries; share with N_k = 0",
               "Radovanović et al. 2010; Bogolin et al. 2022", "O(N²·d), blockwise", False, False,
               {"hubness_image": "skewness of how often each image is in a text's top 10 (0 = no hubs)",
                "antihub_image": "share of images in no text's top 10",
                "hubness_text": "skewness of how often each text is in an image's top 10",
                "antihub_text": "share of texts in no image's top 10"}),
    MetricInfo("uniformity", uniformity, "log (2/(N(N−1))) Σ_{i<j} exp(−t‖x̂_i − x̂_j‖²)", "Wang & Isola 2020; 001, 003",
               "O(N²·d), blockwise", False, False,
               {"uniformity_image": "log mean Gaussian potential of images (lower = uniform)",
                "uniformity_text": "log mean Gaussian potential of texts (lower = uniform)"}),
    MetricInfo("linear_separability", linear_separability,
               "held-out accuracy of a logistic regression image vs text (split by image)",
               "Shi et al. 2023 (001) §4; 003", "fit", False, False,
               {"linear_separability": "held-out accuracy telling image from text (0.5 = no gap)"},
               chance={"linear_separability": "0.5; with image_index the larger modality's share of the rows"}),
    MetricInfo("logit_entropy", logit_entropy, "mean entropy of softmax(cos/τ), both directions",
               "Schrodi et al. 2025 (004)", "O(N²·d), blockwise", False, None,
               {"logit_entropy_i2t": "entropy of image->text softmax at the given temperature (nats)",
                "logit_entropy_t2i": "entropy of text->image softmax (nats)"}),
    MetricInfo("retrieval_recall", retrieval_recall, "R@K image→text and text→image (any own caption in top K)",
               "Radford et al. 2021 (CLIP)", "O(N²·d), blockwise", False, True,
               {f"{d}_r{k}": f"{'image->text' if d == 'i2t' else 'text->image'} recall@{k}"
                for d in ("i2t", "t2i") for k in (1, 5, 10)},
               chance={**{f"i2t_r{k}": f"{k}/N; with image_index mean_i 1 − C(N_t − c_i, {k})/C(N_t, {k})"
                          for k in (1, 5, 10)}, **{f"t2i_r{k}": f"{k}/N_images" for k in (1, 5, 10)}}),
    MetricInfo("dimension_gap", dimension_gap, "per-dim Δ_j, top-k share of ‖Δ‖², best 2-dim separator",
               "Schrodi et al. 2025 (004) Fig. 2b, 3a", "O(N·d) + fits", False, None,
               {"top_dims_share": "share of ‖Δ‖² carried by the top dimensions",
                "best_pair_dims": "the two dimensions that best separate the modalities",
                "best_pair_accuracy": "held-out accuracy of a separator on those two dimensions"},
               chance={"best_pair_accuracy": "0.5; with image_index the larger modality's share of the rows"}),
    MetricInfo("zero_shot_accuracy", zero_shot_accuracy, "top-k of cos(x̂, class prompts)",
               "Radford et al. 2021 (CLIP); 000, 004", "O(N·C·d)", False, True,
               {"zero_shot": "zero-shot top-1 accuracy with one prompt embedding per class"}, in_measure=False,
               chance={"zero_shot": "1/C for C balanced classes"}),
    MetricInfo("moad", moad, "per-sample, image vs text: (1/4n)Σ(x·y_o − mean_{j≠i} x·y_o,j) − same for attributes",
               "Schrodi et al. (004) §4, the text of the arXiv versions", "O(N·d)", False, None,
               {"moad": "object bias (> 0) or attribute bias (< 0) of the per-sample matching"}, in_measure=False),
    MetricInfo("moad_iclr", moad_iclr,
               "MOAD_img: mean_o (s⁺_o − s⁻_o)/2 − mean_a (s⁺_a − s⁻_a)/2 over objects o and attribute values a; "
               "s⁺/s⁻ = mean cos of pairs sharing / not sharing the concept, within one modality",
               "Schrodi et al. 2025 (ICLR) §4", "O(N·d) per factor", False, None,
               {"moad_iclr": "object bias (> 0) or attribute bias (< 0) within one modality (MOAD_img / MOAD_txt)"},
               in_measure=False),
    MetricInfo("kendall_tau_distance", kendall_tau_distance,
               "mean (1 − τ_b)/2 of class-neighbour orderings, image vs text", "Schrodi et al. 2025 (004) Table 1",
               "O(C²)", False, False,
               {"kendall_tau_distance": "disagreement of class-neighbour orderings, image vs text (0 = same)"},
               in_measure=False),
    MetricInfo("sliced_wasserstein", sliced_wasserstein,
               "(1/P Σ_p W₂²(θ_pᵀ(x̂ − μx), θ_pᵀ(ŷ − μy)))^½, θ_p uniform on the sphere, P = 128; 1-D W₂ exact by sorting",
               "Rabin et al. 2011; Bonneel et al. 2015", "O((N+K)·d·P + P·(N+K)·log(N+K))", False, False,
               {"sw": "sliced Wasserstein-2 between the centred modalities (what centring leaves)"}, in_measure=False),
    MetricInfo("mixed_modality_retrieval", mixed_modality_retrieval,
               "each row of [x̂; ŷ] queries the rest: share whose top hit has its modality / is its pair (ties to the query)",
               "Li, Zhang et al. 2025 (arXiv:2507.19054)", "O((N+K)²·d), blockwise", False, None,
               {"mixed_same_modality": "mixed corpus: top hit has the query's modality (gap-free ~0.5)",
                "mixed_same_modality_img": "the same, image queries only (no duplicate captions involved)",
                "mixed_same_modality_txt": "the same, text queries only (stays high when captions repeat)",
                "mixed_pair_r1": "mixed corpus: top hit is the query's pair",
                "mixed_ndcg10": "mixed search (search_k=10): text queries over images + other captions, "
                                "NDCG@10 of the query's own image",
                "mixed_own_share10": "mixed search (search_k=10): share of the top 10 that are texts "
                                     "(the query's own modality)"}, in_measure=False,
               chance={"mixed_same_modality": "(N − 1)/(2N − 1) ≈ 0.5", "mixed_pair_r1": "1/(2N − 1)"}),
    MetricInfo("kmeans_agreement", kmeans_agreement,
               "k-means (k = #classes) on [x̂; ŷ]: ARI and V-measure vs the classes, ARI vs the modality",
               "Lloyd 1982; Hubert & Arabie 1985; Rosenberg & Hirschberg 2007", "fit", False, None,
               {"kmeans_ari": "k-means on images+texts vs class labels (ARI)",
                "kmeans_vmeasure": "k-means on images+texts vs class labels (V-measure)",
                "kmeans_modality_ari": "k-means clusters vs modality (ARI; 0 = clusters ignore modality)"},
               in_measure=False, chance={"kmeans_ari": "0", "kmeans_modality_ari": "0"}),
    MetricInfo("linear_probe", linear_probe,
               "test accuracy of a logistic regression fit on the train rows (images → images; texts → images)",
               "Radford et al. 2021 (CLIP) §3.2", "fit", False, True,
               {"probe_image": "linear probe: train on train images, test on test images",
                "probe_cross": "cross-modal probe: train on train texts, test on test images"}, in_measure=False),
):
    register_metric(_info.name)(_info)

#: keys every ``measure`` result starts with
BASE_KEYS: dict[str, str] = {"n": "number of pairs (captions)", "dim": "embedding dimension"}

#: keys of :func:`gaplab.measure`'s result, in display order, with a one-line meaning each
MEASURE_KEYS: dict[str, str] = dict(BASE_KEYS)
for _name in ("l2m", "l2i", "rmg", "mean_cosine", "mean_cosine_paired", "mean_cosine_cross", "alignment",
              "residual_gap", "uniformity", "linear_separability", "logit_entropy", "retrieval_recall",
              "cka", "cka_debiased", "procrustes_distance", "frechet_distance", "frechet_distance_centered",
              "effective_rank", "mutual_knn", "hubness", "gap_vector", "dimension_gap"):
    MEASURE_KEYS.update(CATALOGUE.get(_name).keys)


#: keys ``measure(include_pairwise=False)`` (``gaplab measure --fast``) reports: the exact O(N·d) ones
FAST_KEYS: dict[str, str] = dict(BASE_KEYS)
for _name in CATALOGUE.list():
    if CATALOGUE.get(_name).in_measure and CATALOGUE.get(_name).cost == "O(N·d)":
        FAST_KEYS.update(CATALOGUE.get(_name).keys)


#: keys of :func:`gaplab.measure`'s result beyond the metrics: chance levels, intervals, nulls, reading
RESULT_KEYS: dict[str, str] = {
    "temperature": "τ of the logit entropy",
    "seed": "seed of the split, the subsamples and the resamples",
    "chance": "chance level of each metric that has one (key → value)",
    "ci95": "95% bootstrap interval of each scalar metric covered (key → [lo, hi]); with ci= only",
    "ci": "how ci95 was formed: method, resamples, seed, resampling unit, subsample, the re-centring of the structure and hubness keys",
    "null": "permutation nulls (mutual_knn, linear_separability): mean, 95% range, p-value; with ci= only",
    "warnings": "diagnostics: collapsed modality, duplicate rows, wild norms, float16, small N",
    "reading": "plain-English sentences: what the numbers say and what to try",
}

#: output key → its chance level in words, over every catalogue entry
CHANCE_FORMULAS: dict[str, str] = {k: v for _n in CATALOGUE.list() for k, v in CATALOGUE.get(_n).chance.items()}


def metric_info(name: str) -> MetricInfo:
    """The catalogue entry of metric ``name`` (the function name, e.g. ``"rmg"``)."""
    return CATALOGUE.get(name)


def markdown_table() -> str:
    """The README's metric table, generated from the catalogue."""
    lines = ["| metric | keys in `measure --json` | formula | paper | cost | chance |", "|---|---|---|---|---|---|"]
    for name in CATALOGUE.list():
        m = CATALOGUE.get(name)
        keys = ", ".join(f"`{k}`" for k in m.keys) if m.in_measure else "—"
        chance = "; ".join(f"`{k}`: {v}" for k, v in m.chance.items()) or "—"
        lines.append(f"| `{m.name}` | {keys} | {m.formula} | {m.paper} | {m.cost} | {chance} |")
    return "\n".join(lines)
