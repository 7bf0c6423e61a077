r"""Contrastive losses as pure functions: ``loss_fn(x, y, temperature, **options) -> (loss, parts)``.

Every loss takes the two embedding batches ``x`` (images, B×d) and ``y`` (texts, B×d), row i
of one paired with row i of the other, and the temperature τ (a float or a 0-d tensor; the
logits are ``x̂ ŷᵀ / τ``). Rows are L2-normalised inside (``normalize=True``), so a model may
return raw embeddings. The result is the scalar loss tensor and a dict of named parts (0-d
tensors, detached by nobody: callers may log them with ``float(v)``).

Registered names (``list_losses()``): ``clip``, ``siglip``, ``simclr``, ``slip``, ``cua``,
``cuaxu``. Look one up with ``get_loss(name)``; add one with ``@register_loss("name")``.

>>> import torch
>>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); y = x.clone()
>>> loss, parts = clip_loss(x, y, 1.0)
>>> round(float(loss), 4), sorted(parts)
(0.3133, ['alignment', 'i2t', 't2i', 'uniformity'])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .._errors import ConfigError
from .._registry import Registry, check_options

__all__ = [
    "LOSSES",
    "register_loss",
    "list_losses",
    "get_loss",
    "clip_loss",
    "siglip_loss",
    "simclr_loss",
    "slip_loss",
    "cua_loss",
    "cuaxu_loss",
    "nt_xent",
    "uniformity_loss",
    "cross_uniformity_loss",
    "alignment_loss",
]

LossFn = Callable[..., tuple[Tensor, dict[str, Tensor]]]

#: the loss registry (name → function)
LOSSES: Registry[LossFn] = Registry("loss")


def register_loss(name: str) -> Callable[[LossFn], LossFn]:
    """Decorator adding a loss function to :data:`LOSSES` under ``name``."""
    return LOSSES.register(name)


def list_losses(filter: str | None = None) -> list[str]:
    """Names of the registered losses (wildcards allowed)."""
    return LOSSES.list(filter)


def get_loss(name: str) -> LossFn:
    """The loss function registered as ``name`` (:class:`~gaplab.UnknownNameError` lists the valid ones)."""
    return LOSSES.get(name)


def _prep(x: Tensor, y: Tensor, normalize: bool, where: str) -> tuple[Tensor, Tensor]:
    if x.ndim != 2 or y.shape != x.shape:
        raise ConfigError(
            f"{where}: needs two (B, d) batches of the same shape, got x {tuple(x.shape)} and y {tuple(y.shape)}"
        )
    if normalize:
        x = F.normalize(x, dim=-1)
        y = F.normalize(y, dim=-1)
    return x, y


def _tau(temperature: float | Tensor, like: Tensor) -> Tensor:
    return torch.as_tensor(temperature, dtype=like.dtype, device=like.device)


@register_loss("clip")
def clip_loss(
    x: Tensor, y: Tensor, temperature: float | Tensor, *, normalize: bool = True
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""Symmetric InfoNCE of CLIP, split into its alignment and uniformity terms.

    .. math::
        \mathcal{L}_\mathrm{clip} = \underbrace{-\frac1B\sum_i \frac{x_i^\top y_i}{\tau}}_{\mathrm{alignment}}
        + \underbrace{\frac1B\sum_i \Big[\tfrac12\log\sum_j e^{x_i^\top y_j/\tau}
        + \tfrac12\log\sum_j e^{x_j^\top y_i/\tau}\Big]}_{\mathrm{uniformity}}

    which equals ½(cross-entropy image→text + cross-entropy text→image).

    Parameters
    ----------
    x, y : Tensor (B, d)
        Paired image / text embeddings (row i of each is a pair).
    temperature : float or 0-d Tensor
        τ; the logits are :math:`\hat x\hat y^\top/\tau`.
    normalize : bool
        L2-normalise rows first (the papers' setting).

    Returns
    -------
    loss, parts : Tensor, dict
        ``alignment`` + ``uniformity`` = loss; ``i2t`` and ``t2i`` are the two cross-entropies.

    References
    ----------
    Radford et al., ICML 2021; Shi et al., "Towards Understanding the Modality Gap in CLIP",
    ICLR 2023 workshop (paper 001), eq. 1 and its split eq. 2.

    Examples
    --------
    >>> import torch
    >>> l, p = clip_loss(torch.eye(2), torch.eye(2), 1.0)
    >>> round(float(l), 4), round(float(p["alignment"] + p["uniformity"]), 4)
    (0.3133, 0.3133)
    """
    x, y = _prep(x, y, normalize, "clip_loss")
    logits = x @ y.T / _tau(temperature, x)
    diag = logits.diagonal()
    lse_rows = torch.logsumexp(logits, dim=1)  # image i against all texts
    lse_cols = torch.logsumexp(logits, dim=0)  # text j against all images
    align = -diag.mean()
    unif = 0.5 * (lse_rows.mean() + lse_cols.mean())
    i2t = (lse_rows - diag).mean()
    t2i = (lse_cols - diag).mean()
    return align + unif, {"alignment": align, "uniformity": unif, "i2t": i2t, "t2i": t2i}


@register_loss("siglip")
def siglip_loss(
    x: Tensor,
    y: Tensor,
    temperature: float | Tensor,
    *,
    bias: float | Tensor = -10.0,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""Sigmoid loss of SigLIP with a (learnable) bias.

    .. math::
        \mathcal{L} = -\frac1B\sum_{i,j}\log\sigma\big(z_{ij}\,(\hat x_i^\top \hat y_j/\tau + b)\big),
        \qquad z_{ij} = 1 \text{ if } i=j \text{ else } -1

    Parameters
    ----------
    bias : float or 0-d Tensor
        b; SigLIP initialises it at −10 (with τ = 1/10). The :class:`~gaplab.train.Trainer`
        owns it as a learnable parameter when the loss is ``siglip``.

    Returns
    -------
    loss, parts : ``positive`` (matched pairs) + ``negative`` (all others) = loss.

    References
    ----------
    Zhai et al., "Sigmoid Loss for Language Image Pre-Training", ICCV 2023, §3.

    Examples
    --------
    >>> import torch
    >>> l, p = siglip_loss(torch.eye(2), torch.eye(2), 1.0, bias=0.0)
    >>> round(float(l), 4)  # 2·softplus(-1) + 2·softplus(0), over B = 2
    1.0064
    """
    x, y = _prep(x, y, normalize, "siglip_loss")
    b = torch.as_tensor(bias, dtype=x.dtype, device=x.device)
    logits = x @ y.T / _tau(temperature, x) + b
    n = logits.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    sign = torch.where(eye, 1.0, -1.0).to(x.dtype)
    nll = F.softplus(-sign * logits)  # −log σ(z·l)
    pos = nll.diagonal().sum() / n
    neg = nll.masked_fill(eye, 0.0).sum() / n
    return pos + neg, {"positive": pos, "negative": neg}


def nt_xent(a: Tensor, b: Tensor, temperature: float | Tensor) -> Tensor:
    r"""NT-Xent on two views ``a``, ``b`` (rows already unit-norm): 2B anchors, j ≠ k negatives.

    .. math::
        \ell = \frac{1}{2B}\sum_{k=1}^{2B}\Big[-z_k^\top z_{k^+}/\tau
        + \log\sum_{j\ne k} e^{z_k^\top z_j/\tau}\Big],\quad z = [a; b]
    """
    z = torch.cat([a, b], dim=0)
    n = a.shape[0]
    logits = z @ z.T / _tau(temperature, z)
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(eye, float("-inf"))
    pos_idx = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, pos_idx)


@register_loss("simclr")
def simclr_loss(
    x: Tensor, y: Tensor, temperature: float | Tensor, *, normalize: bool = True
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""NT-Xent of SimCLR with ``x`` and ``y`` as the two views ("unimodal" contrastive loss).

    .. math::
        \mathcal{L}_\mathrm{SimCLR} = \frac{1}{2B}\sum_{k=1}^{2B}\Big[-\frac{z_k^\top z_{k^+}}{\tau}
        + \log\sum_{j\ne k} e^{z_k^\top z_j/\tau}\Big], \qquad z = [\hat x; \hat y]

    Unlike CLIP, the denominator also holds same-modality negatives. On the sphere of paper 001
    (Fig. 2) this is the unimodal NT-Xent run on the two point sets.

    References
    ----------
    Chen et al., ICML 2020; paper 001, appendix A, eq. 3.

    Examples
    --------
    >>> import torch
    >>> l, p = simclr_loss(torch.eye(2), torch.eye(2), 1.0)
    >>> round(float(l), 4)  # −1 + log(e + 2)
    0.5514
    """
    x, y = _prep(x, y, normalize, "simclr_loss")
    loss = nt_xent(x, y, temperature)
    return loss, {"nt_xent": loss}


@register_loss("slip")
def slip_loss(
    x: Tensor,
    y: Tensor,
    temperature: float | Tensor,
    *,
    views: str = "self",
    x_views: tuple[Tensor, Tensor] | None = None,
    simclr_weight: float = 1.0,
    simclr_temperature: float | Tensor | None = None,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""SLIP: CLIP plus a SimCLR term on two views of the images.

    .. math:: \mathcal{L}_\mathrm{slip} = \mathcal{L}_\mathrm{clip}(x, y) + w\,\mathcal{L}_\mathrm{SimCLR}(x', x'')

    Paper 001 (eq. 4, appendix D) runs SLIP on free points of a sphere, which have no
    augmentations, so which two "views" enter the SimCLR term is a reading we had to take:

    * ``views="self"`` (default): both views are the image embedding itself. The positive term
      is then constant and the SimCLR part is pure uniformity pressure on the images, which is
      how appendix D explains SLIP's faster convergence.
    * ``views="paired"``: SimCLR on ``(x, y)``, i.e. CLIP + unimodal NT-Xent over both sets.
    * ``x_views=(x1, x2)``: two real augmented views (as in Mu et al. 2022); overrides ``views``.

    Parameters
    ----------
    simclr_weight : float
        w (1 in the paper).
    simclr_temperature : float, optional
        τ of the SimCLR term (default: the CLIP τ; SLIP itself uses 0.1).

    References
    ----------
    Mu et al., "SLIP", ECCV 2022; paper 001, eq. 4 and appendix D.

    Examples
    --------
    >>> import torch
    >>> l, p = slip_loss(torch.eye(2), torch.eye(2), 1.0)
    >>> round(float(p["clip"] + p["simclr"]), 4) == round(float(l), 4)
    True
    """
    x, y = _prep(x, y, normalize, "slip_loss")
    clip, parts = clip_loss(x, y, temperature, normalize=False)
    t2 = temperature if simclr_temperature is None else simclr_temperature
    if x_views is not None:
        a, b = x_views
        a, b = _prep(a, b, normalize, "slip_loss (x_views)")
    elif views == "self":
        a, b = x, x
    elif views == "paired":
        a, b = x, y
    else:
        raise ConfigError(f"slip_loss: views must be 'self' or 'paired', got {views!r}")
    sim = nt_xent(a, b, t2)
    out = {"clip": clip, "simclr": sim, **{f"clip_{k}": v for k, v in parts.items()}}
    return clip + simclr_weight * sim, out


def alignment_loss(x: Tensor, y: Tensor, *, alpha: float = 2.0) -> Tensor:
    r"""Alignment of Wang & Isola: :math:`\frac1B\sum_i \lVert x_i - y_i\rVert_2^\alpha` (unit rows in)."""
    return (x - y).norm(dim=1).pow(alpha).mean()


def uniformity_loss(x: Tensor, *, t: float = 2.0) -> Tensor:
    r"""Uniformity of Wang & Isola: :math:`\log \frac{1}{B(B-1)}\sum_{i\ne j} e^{-t\lVert x_i-x_j\rVert^2}`."""
    return cross_uniformity_loss(x, x, t=t)


def cross_uniformity_loss(x: Tensor, y: Tensor, *, t: float = 2.0) -> Tensor:
    r"""Cross-modal uniformity: :math:`\log\frac{1}{B(B-1)}\sum_{i\ne j} e^{-t\lVert x_i-y_j\rVert^2}`.

    With ``y = x`` it is Wang & Isola's uniformity (:func:`uniformity_loss`).
    """
    n = x.shape[0]
    sq = (2.0 - 2.0 * (x @ y.T)).clamp_min(0.0)  # unit rows: ‖a−b‖² = 2 − 2a·b
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    logits = (-t * sq).masked_fill(eye, float("-inf"))
    return torch.logsumexp(logits.reshape(-1), 0) - math.log(n * (n - 1))


@register_loss("cua")
def cua_loss(
    x: Tensor,
    y: Tensor,
    temperature: float | Tensor,
    *,
    uniformity_weight: float = 1.0,
    alignment_weight: float = 1.0,
    t: float = 2.0,
    alpha: float = 2.0,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""CUA: CLIP + in-modal uniformity + cross-modal alignment (Fahim et al., paper 003).

    .. math::
        \mathcal{L}_\mathrm{CUA} = \mathcal{L}_\mathrm{clip}
        + w_U\,\tfrac12\big(\mathcal{L}_\mathrm{unif}(x) + \mathcal{L}_\mathrm{unif}(y)\big)
        + w_A\,\mathcal{L}_\mathrm{align}(x, y)

    with Wang & Isola's :math:`\mathcal{L}_\mathrm{unif}(x)=\log\frac{1}{B(B-1)}\sum_{i\ne j}
    e^{-t\lVert x_i-x_j\rVert^2}` and :math:`\mathcal{L}_\mathrm{align}=\frac1B\sum_i\lVert x_i-y_i\rVert^\alpha`.
    The paper adds the terms with unit weights (our reading of its text); ``uniformity_weight``
    and ``alignment_weight`` change that.

    References
    ----------
    Fahim et al., "It's Not a Modality Gap: Characterizing and Addressing the Contrastive Gap",
    2024 (paper 003); Wang & Isola, ICML 2020, eqs. 4-5.

    Examples
    --------
    >>> import torch
    >>> l, p = cua_loss(torch.eye(2), torch.eye(2), 1.0)
    >>> round(float(p["alignment"]), 4), round(float(p["uniformity"]), 4)  # aligned; ‖e1−e2‖² = 2
    (0.0, -4.0)
    """
    x, y = _prep(x, y, normalize, "cua_loss")
    clip, parts = clip_loss(x, y, temperature, normalize=False)
    unif = 0.5 * (uniformity_loss(x, t=t) + uniformity_loss(y, t=t))
    align = alignment_loss(x, y, alpha=alpha)
    loss = clip + uniformity_weight * unif + alignment_weight * align
    return loss, {"clip": clip, "uniformity": unif, "alignment": align}


@register_loss("cuaxu")
def cuaxu_loss(
    x: Tensor,
    y: Tensor,
    temperature: float | Tensor,
    *,
    uniformity_weight: float = 1.0,
    alignment_weight: float = 1.0,
    cross_uniformity_weight: float = 1.0,
    t: float = 2.0,
    alpha: float = 2.0,
    normalize: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""CUAXU: CUA plus cross-modal uniformity (Fahim et al., paper 003).

    .. math::
        \mathcal{L}_\mathrm{CUAXU} = \mathcal{L}_\mathrm{CUA}
        + w_{XU}\log\frac{1}{B(B-1)}\sum_{i\ne j} e^{-t\lVert x_i-y_j\rVert^2}

    The cross term spreads unmatched image-text pairs apart over the sphere, so the two
    modalities share one uniform distribution instead of two separate ones.

    Reading of the paper. The stored text of paper 003 names the term ("cross-modal
    uniformity", added to CUA) but prints no formula; we take Wang & Isola's uniformity over
    the *unmatched image-text pairs* (i ≠ j, both orders are the same set of pairs since the
    distance is symmetric), with their t = 2, added with a plus sign and unit weight like the
    other terms — the same as the public reference implementation of CUAXU we checked
    (``log mean_{i≠j} exp(−t‖x̂_i − ŷ_j‖²)`` over the off-diagonal of the image-text
    distance matrix, CUAXU = CUA + that term). ``cross_uniformity_weight`` and ``t`` change it.

    Low dimensions. On its own the cross term rewards separating the modalities: its minimum
    over the sphere, −4t, is reached with every image antipodal to every text, while two
    aligned uniform modalities on S² give log((1 − e^{−4t})/4t) ≈ −2.08. The alignment term
    pays for that separation, and the minimiser of the whole loss on S² is gap-free: free
    points trained with CUAXU from a random start end with L2M ≈ 6e-4 (tested). So when a
    trained encoder at 3 dimensions ends with the modalities on opposite sides (L2M ≈ 1.5–2,
    recipe ``contrastive-gap``), that is not where this loss is lowest — with unit weights
    the separated state costs more than the aligned, uniform one (tested). Our hypothesis,
    untested: the towers' optimisation reaches a state where alignment is lost, and the
    cross term then holds unmatched images and texts apart.

    References
    ----------
    Fahim et al., "It's Not a Modality Gap: Characterizing and Addressing the Contrastive
    Gap", 2024 (paper 003); Wang & Isola, ICML 2020, eq. 5 (uniformity).

    Examples
    --------
    >>> import torch
    >>> l, p = cuaxu_loss(torch.eye(2), torch.eye(2), 1.0)
    >>> round(float(p["cross_uniformity"]), 4)
    -4.0
    """
    x, y = _prep(x, y, normalize, "cuaxu_loss")
    base, parts = cua_loss(
        x, y, temperature, uniformity_weight=uniformity_weight,
        alignment_weight=alignment_weight, t=t, alpha=alpha, normalize=False,
    )
    xu = cross_uniformity_loss(x, y, t=t)
    return base + cross_uniformity_weight * xu, {**parts, "cross_uniformity": xu}


def _loss_options(fn: LossFn) -> list[str]:
    import inspect

    sig = inspect.signature(fn)
    return [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]


def check_loss_options(name: str, options: dict[str, Any]) -> None:
    """Raise :class:`~gaplab.ConfigError` if ``options`` holds keys the loss ``name`` does not take."""
    fn = get_loss(name)
    valid = [k for k in _loss_options(fn) if k not in ("bias", "x_views")]
    check_options(options, valid, f"loss {name!r}")
