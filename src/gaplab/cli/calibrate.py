"""``gaplab calibrate``: turn image–text cosines into P(match), and say which cosine means a match.

Two commands under one group, the first the default::

    gaplab calibrate PAIRS ...            # = gaplab calibrate fit PAIRS ...
    gaplab calibrate apply CAL SCORES     # probabilities from a saved calibrator

The group routes any first word that is not a subcommand (a pairs file, an option) to
``fit``, the way ``click-default-group`` does, so the common form needs no extra word and
``apply`` stays a plain subcommand with its own arguments. (A pairs file literally named
``fit`` or ``apply`` is written ``./apply``.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._errors import InputError
from ._common import echo_json, pairs_input

_FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


class _DefaultGroup(click.Group):
    """A click group whose first word, when it is not a subcommand, goes to ``fit``."""

    default_command = "fit"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]},
             no_args_is_help=True)
def calibrate() -> None:
    """Calibrate image–text cosines into P(match) at a stated base rate.

    \b
    gaplab calibrate PAIRS [options]       fit and report (the same as 'calibrate fit')
    gaplab calibrate apply CAL SCORES      apply a saved calibrator (--out) to cosines

    \b
    Examples:
      gaplab calibrate pairs.npz
      gaplab calibrate pairs.npz --prior 0.1 --out cal.json --figure reliability.png
      gaplab calibrate siglip.npz --logit-scale 112.6 --logit-bias -16.5 --json
      gaplab calibrate apply cal.json cosines.npy --out probs.npy
    """  # noqa: D301 - a raw string would break click's \b (keep-formatting) marker


def _format_report(s: dict[str, Any]) -> str:
    n_neg = s["n_negative"]
    auc_how = (f"exact, {s['n_positive']:,} matched vs {n_neg:,} unmatched pairs" if s["auc_exact"]
               else f"± {s['auc_se']:.4f} (s.e.), {s['n_negative_used']:,} of {n_neg:,} unmatched pairs sampled")
    sp = s["split"]
    other = [f"{m} {v['ece_test']:.4f}" for m, v in s["methods"].items() if m != s["method"]]
    score = "cosine" if s["score"] == "cosine" else f"logit {s['logit_scale']:g}·cos {s['logit_bias']:+g}"
    lines = [
        f"calibrate: {s['n_images']} images, {s['n_texts']} texts; score: {score}; "
        f"prior {s['prior']:g} (probabilities and precision at this base rate)",
        f"auc       {s['auc']:.4f}  {auc_how}",
        f"ece_test  {s['ece_test']:.4f}  {s['method']} ({', '.join(other)}); held-out {sp['n_test_images']} images, "
        "15 equal-mass bins",
    ]
    if "model_ece_test" in s:
        lines.append(f"model     {s['model_ece_test']:.4f}  ECE of the model's own sigmoid(s·cos+b) at the prior "
                     f"({s['model_ece_test_natural']:.4f} at the data's base rate)")
    lines.append(f"thresholds on the cosine (chosen on the {sp['n_train_images']} fit images; held-out in brackets):")
    for r in s["thresholds"]:
        head = f"  {r['target']} >= {r['value']:.2f}".ljust(21)
        if r["cosine"] is None:
            lines.append(f"{head} not reached")
            continue
        pt = "-" if r["precision_test"] is None else f"{r['precision_test']:.3f}"
        lines.append(f"{head} cos >= {r['cosine']:.4f}  precision {r['precision']:.3f} ({pt})  "
                     f"recall {r['recall']:.3f} ({r['recall_test']:.3f})  P(match) at it {r['probability']:.3f}")
    return "\n".join(lines)


@calibrate.command(name="fit")
@pairs_input
@click.option("--method", default="isotonic", show_default=True, type=click.Choice(["isotonic", "platt"]),
              help="The map reported as ece_test and written by --out (both are fitted and shown).")
@click.option("--prior", default=0.5, show_default=True, type=float,
              help="Base rate the probabilities are for (0.5: balanced; weights pi/n+ and (1-pi)/n-).")
@click.option("--logit-scale", type=float, default=None,
              help="Score the model's logit s·cos + b (e.g. SigLIP's scale s) and report its own ECE.")
@click.option("--logit-bias", type=float, default=None, help="The logit's bias b (needs --logit-scale; default 0).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the image split and negative samples.")
@click.option("--max-negatives", default=1_000_000, show_default=True, type=int,
              help="Unmatched pairs used per half at most (a seeded sample beyond).")
@click.option("--test-fraction", default=0.5, show_default=True, type=float, help="Share of images held out.")
@click.option("--out", type=click.Path(path_type=Path), help="Write the fitted calibrator (.json).")
@click.option("--figure", type=click.Path(path_type=Path), help="Write the reliability diagram (.png/.pdf/.svg).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def fit(
    pairs_file: Path | None,
    image: Path | None,
    text: Path | None,
    image_key: str,
    text_key: str,
    method: str,
    prior: float,
    logit_scale: float | None,
    logit_bias: float | None,
    seed: int,
    max_negatives: int,
    test_fraction: float,
    out: Path | None,
    figure: Path | None,
    as_json: bool,
) -> None:
    """Fit cosine → P(match) on half the images; report auc, held-out ECE and thresholds.

    PAIRS_FILE as for `gaplab measure` (or --image A --text B; an 'image_index' entry maps
    captions to images). Positives are the matched pairs, negatives every unmatched
    image–text pair (at most --max-negatives per half, seeded). Images are split in two
    (--test-fraction, --seed); isotonic and Platt maps are fitted on one half and their ECE
    measured on the other, at base rate --prior. The thresholds are the cosines that reach
    precision 0.9 / 0.95 / 0.99 (at the prior) and recall 0.9.
    """
    from ..io import load_pairs
    from ..mitigate.calibrate import calibrate_pairs, reliability_figure

    if figure is not None and figure.suffix.lower() not in _FIGURE_SUFFIXES:
        raise InputError(f"--figure {figure} must end in {', '.join(_FIGURE_SUFFIXES)}")
    if out is not None and out.suffix.lower() != ".json":
        raise InputError(f"--out {out} must end in .json")
    pairs = load_pairs(pairs_file, image=image, text=text, image_key=image_key, text_key=text_key)
    res = calibrate_pairs(pairs.image, pairs.text, image_index=pairs.image_index, method=method, prior=prior,
                          logit_scale=logit_scale, logit_bias=logit_bias, max_negatives=max_negatives,
                          test_fraction=test_fraction, seed=seed)
    summary = res.summary
    if out is not None:
        summary["out"] = str(res.calibrators[method].save(out))
    if figure is not None:
        from .._fs import atomic_write

        fig = reliability_figure(res.reliability)
        summary["figure"] = str(atomic_write(figure, lambda tmp: fig.savefig(tmp, dpi=120)))
    if as_json:
        echo_json(summary)
        return
    click.echo(_format_report(summary))
    for key, what in (("out", "calibrator"), ("figure", "reliability diagram")):
        if key in summary:
            click.echo(f"{what}: {summary[key]}")


@calibrate.command(name="apply")
@click.argument("cal_file", type=click.Path(path_type=Path))
@click.argument("scores_file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Write the probabilities (.npy, .txt or .csv) instead of printing them.")
def apply(cal_file: Path, scores_file: Path, out: Path | None) -> None:
    """P(match) for each cosine in SCORES_FILE (.npy/.txt/.csv), from a calibrator saved by --out.

    The probabilities keep the scores' shape (a vector, or an image × text matrix) and are
    printed one row per line, or written to --out.
    """
    import numpy as np

    from .._fs import atomic_write
    from ..io.arrays import load_array
    from ..mitigate.calibrate import load_calibrator

    if out is not None and out.suffix.lower() not in (".npy", ".txt", ".csv"):
        raise InputError(f"--out {out} must end in .npy, .txt or .csv")
    cal = load_calibrator(cal_file)
    scores = np.atleast_1d(load_array(scores_file, what="scores"))
    if scores.size == 0 or scores.ndim > 2:
        raise InputError(f"{scores_file}: scores must be a non-empty vector or matrix, got shape {scores.shape}")
    try:
        p = cal.predict_proba(scores)
    except InputError as e:
        raise InputError(f"{scores_file}: {e}") from None
    if out is None:
        for row in np.atleast_2d(p.reshape(p.shape[0], -1)):
            click.echo(" ".join(repr(float(v)) for v in row))
        return
    if out.suffix.lower() == ".npy":
        atomic_write(out, lambda tmp: np.save(tmp, p))
    else:
        sep = "," if out.suffix.lower() == ".csv" else " "
        atomic_write(out, lambda tmp: np.savetxt(tmp, p, fmt="%.17g", delimiter=sep))
    click.echo(f"wrote {p.size} probabilities to {out}", err=True)
