"""``gaplab mitigate``: fit a post-hoc gap fix, show the gap and the tasks before and after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ._common import echo_json, pairs_input

#: table columns: result key → short header
COLUMNS: dict[str, str] = {
    "method": "method",
    "l2m": "L2M",
    "rmg": "RMG",
    "l2i": "L2I",
    "sw": "SW(ctr)",
    "modality_sep": "sep",
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
}


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        low = text.lower()
        if low in ("true", "false"):
            return low == "true"
        return text


def _parse_params(items: tuple[str, ...], methods: list[str]) -> dict[str, dict[str, Any]]:
    """``k=v`` (every chosen method that has k) or ``method.k=v`` → per-method kwargs."""
    from .._errors import ConfigError
    from ..mitigate import get_mitigation

    out: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--param expects NAME=VALUE (or METHOD.NAME=VALUE), got {item!r}")
        key, value = item.split("=", 1)
        key = key.strip()
        target = methods
        if "." in key:
            method, key = key.split(".", 1)
            if method not in out:
                raise ConfigError(f"--param {item!r}: method {method!r} is not among {', '.join(methods)}")
            target = [method]
        takers = [m for m in target if key in get_mitigation(m)._param_names()]
        if not takers:
            valid = sorted({p for m in target for p in get_mitigation(m)._param_names()})
            raise ConfigError(
                f"--param {item!r}: no parameter {key!r} in {', '.join(target)}; "
                f"valid: {', '.join(valid) or '(none)'}"
            )
        for m in takers:
            out[m][key] = _parse_value(value)
    return out


def _load_array(path: Path, what: str) -> Any:
    import numpy as np

    from .._errors import InputError
    from ..io import load_embeddings

    if path.suffix.lower() in (".txt", ".csv"):
        try:
            return np.loadtxt(path, delimiter="," if path.suffix.lower() == ".csv" else None)
        except Exception as e:
            raise InputError(f"{path}: cannot read {what} ({type(e).__name__}: {e})") from None
    a = load_embeddings(path) if path.suffix.lower() != ".npy" else None
    if a is None:
        try:
            a = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except Exception as e:
            raise InputError(f"{path}: cannot read {what} ({type(e).__name__}: {e})") from None
    return a


def _is_array(v: Any) -> bool:
    return v is not None and not isinstance(v, str)


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


def _label(name: str, params: dict[str, Any]) -> str:
    if not params:
        return name
    return name + "(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")"


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
    """
    import numpy as np

    from .._errors import ConfigError, InputError
    from ..evaluate import ROW_KEYS, compare, split_pairs
    from ..io import load_pairs, save_pairs
    from ..mitigate import create_mitigation, list_mitigations

    names: list[str] = []
    for m in methods:
        for part in m.split(","):
            part = part.strip()
            if part == "all":
                names.extend(n for n in list_mitigations() if n not in names)
            elif part and part not in names:
                names.append(part)
    for n in names:  # unknown names fail here, with the valid list
        from ..mitigate import get_mitigation

        get_mitigation(n)
    per_method = _parse_params(params, names)

    # one (label, Mitigation) per table row
    todo: list[tuple[str, Any]] = []
    if sweep is not None:
        if len(names) != 1:
            raise ConfigError("--sweep needs exactly one --method")
        if "=" not in sweep:
            raise ConfigError(f"--sweep expects NAME=V1,V2,..., got {sweep!r}")
        key, values = sweep.split("=", 1)
        for v in values.split(","):
            kw = {**per_method[names[0]], key.strip(): _parse_value(v.strip())}
            todo.append((_label(names[0], {key.strip(): kw[key.strip()]}), create_mitigation(names[0], **kw)))
    else:
        todo = [(_label(n, per_method[n]), create_mitigation(n, **per_method[n])) for n in names]
    if (out is not None or save_state is not None) and len(todo) != 1:
        raise ConfigError("--out and --save-state need a single method (no 'all', no --sweep)")

    pairs = load_pairs(pairs_file, image=image, text=text, image_key=image_key, text_key=text_key)
    labels = _load_array(labels_file, "labels") if labels_file is not None else pairs.meta.get("labels")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != pairs.image.shape[0]:
            raise InputError(
                f"labels must hold one class id per image ({pairs.image.shape[0]}), got shape {labels.shape}"
            )
    if class_text_file is not None and str(class_text_file) == "train-captions":
        class_text: Any = "train-captions"
    elif class_text_file is not None:
        class_text = _load_array(class_text_file, "class prompt embeddings")
    else:
        class_text = pairs.meta.get("class_text")
    x = np.asarray(pairs.image)
    y = np.asarray(pairs.text)

    if do_eval:
        result = compare(
            x, y, dict(todo), labels=labels, class_text=class_text, image_index=pairs.image_index,
            test_fraction=test_fraction, seed=seed,
        )
        split = split_pairs(x.shape[0], image_index=pairs.image_index, test_fraction=test_fraction, seed=seed)
        fit_images, fit_texts = split.train_images, split.train_texts
        result["protocol"] = "fit on the train split, every metric on the held-out test split"
    else:
        from ..evaluate import sliced_wasserstein
        from ..metrics import l2i, l2m, linear_separability, rmg

        fit_images = np.arange(x.shape[0])
        fit_texts = np.arange(y.shape[0])
        rows = []
        for label, m in [("none", None), *todo]:
            if m is None:
                xa, ya = x, y
                p: dict[str, Any] = {}
            else:
                kw = {"query_text": class_text} if "query_text" in m.fit_params and _is_array(class_text) else {}
                m.fit(x, y, image_index=pairs.image_index, **kw)
                xa, ya = m.transform(x, y)
                p = m.get_params()
            idx = pairs.image_index
            rows.append({
                "method": label, "params": p,
                "l2m": l2m(xa, ya, image_index=idx), "rmg": rmg(xa, ya, image_index=idx),
                "l2i": l2i(xa, ya, image_index=idx), "sw": sliced_wasserstein(xa, ya, seed=seed),
                "modality_sep": linear_separability(xa, ya, image_index=idx, seed=seed),
            })
        result = {
            "n_images": int(x.shape[0]), "n_texts": int(y.shape[0]), "dim": int(x.shape[1]),
            "protocol": "in-sample: fit and measured on the same pairs (use --eval for held-out task metrics)",
            "skipped": ["task metrics: run with --eval"], "rows": rows,
            "meanings": {k: ROW_KEYS[k] for k in ("method", "l2m", "rmg", "l2i", "sw", "modality_sep")},
        }

    if out is not None or save_state is not None:
        label, m = todo[0]
        idx = pairs.image_index
        fit_idx = None if idx is None else np.searchsorted(fit_images, np.asarray(idx)[fit_texts])
        kw = {"query_text": class_text} if "query_text" in m.fit_params and _is_array(class_text) else {}
        m.fit(x[fit_images], y[fit_texts], image_index=fit_idx, **kw)
        if save_state is not None:
            result["state_file"] = str(m.save(save_state))
        if out is not None:
            extra: dict[str, Any] = {k: v for k, v in pairs.meta.items() if k != "class_text"}
            if _is_array(class_text):
                extra["class_text"] = getattr(m, "transform_query", m.transform_text)(class_text)
            if do_eval:
                is_test = np.ones(x.shape[0], dtype=np.int8)
                is_test[fit_images] = 0
                extra["is_test"] = is_test
            extra["mitigation"] = json.dumps({"method": m.name, "params": m.get_params()})
            result["out"] = str(save_pairs(out, m.transform_image(x), m.transform_text(y),
                                           image_index=idx, **extra))

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
