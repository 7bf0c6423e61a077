"""``gaplab mitigate``: fit a post-hoc gap fix, show the gap and the tasks before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import echo_json, pairs_input, parse_params, parse_value, split_param

#: table columns: result key → short header
COLUMNS: dict[str, str] = {
    "method": "method",
    "l2m": "L2M",
    "rmg": "RMG",
    "l2i": "L2I",
    "sw": "SW(ctr)",
    "linear_separability": "sep",
    "zero_shot": "zs",
    "i2t_r1": "i2t@1",
    "i2t_r5": "i2t@5",
    "i2t_r10": "i2t@10",
    "t2i_r1": "t2i@1",
    "t2i_r5": "t2i@5",
    "t2i_r10": "t2i@10",
    "probe_image": "probe",
    "probe_cross": "probe_x",
    "kmeans_ari": "km_ARI",
    "kmeans_vmeasure": "km_V",
    "kmeans_modality_ari": "km_mod",
    "mixed_same_modality": "mix_same",
    "mixed_same_modality_img": "mix_img",
    "mixed_pair_r1": "mix_pair",
    "residual_gap": "resid",
    "hubness_image": "hub_img",
    "antihub_image": "anti_img",
    "hubness_text": "hub_txt",
    "antihub_text": "anti_txt",
    "mixed_ndcg10": "mix_ndcg",
    "mixed_own_share10": "mix_own",
    "flip_rate": "flip",
    "flip_rate_zs": "flip_zs",
}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def format_table(rows: list[dict[str, Any]], columns: dict[str, str] = COLUMNS) -> str:
    """Rows as an aligned text table; columns that are ``None`` in every row are left out."""
    keys = [k for k in columns if any(r.get(k) is not None for r in rows)]
    cells = [[columns[k] for k in keys]] + [[_fmt(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    lines = []
    for j, c in enumerate(cells):
        lines.append("  ".join(s.ljust(w) if i == 0 else s.rjust(w) for i, (s, w) in enumerate(zip(c, widths, strict=True))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command()
@pairs_input
@click.option("--method", "methods", multiple=True, default=("center",), show_default=True,
              help="Mitigation name (repeatable), or 'all' for every registered method.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Method parameter (repeatable); METHOD.NAME=VALUE targets one method.")
@click.option("--sweep", default=None, metavar="NAME=V1,V2,...",
              help="One row per value of a parameter of the (single) method, e.g. alpha=0,0.5,1.")
@click.option("--eval", "do_eval", is_flag=True,
              help="Fit on a train split, report gap and task metrics on the held-out test split.")
@click.option("--labels", "labels_file", type=click.Path(path_type=Path),
              help="Class id per image (.npy/.txt/.csv); default: the pairs file's 'labels' entry.")
@click.option("--class-text", "class_text_file", type=click.Path(path_type=Path),
              help="Class prompt embeddings (C, d) for zero-shot; default: the pairs file's "
                   "'class_text'. 'train-captions': class means of the train-split captions.")
@click.option("--test-fraction", default=0.5, show_default=True, type=float, help="Share of images held out.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the split and the metrics.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Write the transformed pairs (.npz); needs a single method.")
@click.option("--save-state", type=click.Path(path_type=Path),
              help="Write the fitted mitigation (.npz or .json); needs a single method.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def mitigate(
    pairs_file: Path | None,
    image: Path | None,
    text: Path | None,
    image_key: str,
    text_key: str,
    methods: tuple[str, ...],
    params: tuple[str, ...],
    sweep: str | None,
    do_eval: bool,
    labels_file: Path | None,
    class_text_file: Path | None,
    test_fraction: float,
    seed: int,
    out: Path | None,
    save_state: Path | None,
    as_json: bool,
) -> None:
    """Close the modality gap post hoc and show what it does to the gap and to the tasks.

    PAIRS_FILE as for `gaplab measure`. Without --eval the method is fit on all pairs and the
    gap metrics are shown in-sample; with --eval it is fit on a train split and the gap and
    task metrics (zero-shot, retrieval, probes, k-means, mixed-modality search) are reported
    on the held-out test split, before and after.

    \b
    Examples:
      gaplab mitigate pairs.npz --method center --eval
      gaplab mitigate pairs.npz --method all --eval --json
      gaplab mitigate pairs.npz --method gap-shift --sweep alpha=0,0.5,1,1.5 --eval
      gaplab mitigate pairs.npz --method remove-dims --param k=4 --out fixed.npz
    """  # noqa: D301 - a raw string would break click's \b (keep-formatting) marker
    from .._errors import ConfigError
    from ..io import load_pairs
    from ..io.arrays import load_array
    from ..mitigate import resolve_mitigations, run_mitigation, write_mitigated

    param_map = parse_params(params, forms="NAME=VALUE (or METHOD.NAME=VALUE)")
    todo = resolve_mitigations(methods, param_map)  # unknown names and parameters fail here
    sweep_arg = None
    if sweep is not None:
        if len(todo) != 1:
            raise ConfigError("--sweep needs exactly one --method")
        key, values = split_param(sweep, option="--sweep", forms="NAME=V1,V2,...")
        sweep_arg = (key, [parse_value(v.strip()) for v in values.split(",")])
        todo = resolve_mitigations(methods, param_map, sweep=sweep_arg)
    if (out is not None or save_state is not None) and len(todo) != 1:
        raise ConfigError("--out and --save-state need a single method (no 'all', no --sweep)")

    pairs = load_pairs(pairs_file, image=image, text=text, image_key=image_key, text_key=text_key)
    labels = load_array(labels_file, what="labels") if labels_file is not None else None
    if class_text_file is not None and str(class_text_file) == "train-captions":
        class_text: Any = "train-captions"
    elif class_text_file is not None:
        class_text = load_array(class_text_file, what="class prompt embeddings")
    else:
        class_text = None
    res = run_mitigation(pairs, todo, eval=do_eval, labels=labels, class_text=class_text,
                         test_fraction=test_fraction, seed=seed)
    result = res.table
    if out is not None or save_state is not None:
        (fitted,) = res.fitted.values()
        if save_state is not None:
            result["state_file"] = str(fitted.save(save_state))
        if out is not None:
            result["out"] = str(write_mitigated(pairs, fitted, out, class_text=res.class_text, split=res.split))

    if as_json:
        echo_json(result)
        return
    click.echo(f"{result['protocol']}; {result['n_images']} images, {result['n_texts']} texts, d={result['dim']}")
    if "split" in result:
        s = result["split"]
        click.echo(f"split: {s['n_train_images']} train / {s['n_test_images']} test images (seed {s['seed']})")
    click.echo(format_table(result["rows"]))
    shown = [k for k in COLUMNS if k != "method" and any(r.get(k) is not None for r in result["rows"])]
    click.echo("")
    for k in shown:
        click.echo(f"  {COLUMNS[k]:<9} {result['meanings'][k]}")
    for note in result.get("notes", []):
        click.echo(f"note: {note}")
    for note in result["skipped"]:
        click.echo(f"skipped: {note}")
    for k in ("state_file", "out"):
        if k in result:
            click.echo(f"wrote {result[k]}")
