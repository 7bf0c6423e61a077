"""``run_spec``: a :class:`~gaplab.train.TrainSpec` → model and data → Trainer → ``run.json``.

What ``gaplab train CONFIG --out DIR`` runs. The folder ends up holding

* ``run.json`` — the :class:`~gaplab.runs.RunRecord` (``kind="train"``: the spec as config,
  seed, engine, history ``{"records": [...]}``, final metrics, wall time, versions);
* ``checkpoint.pt`` — the resumable checkpoint of either engine (tensors + JSON,
  :mod:`gaplab.train._state`).

``gaplab report DIR`` reads the run record only.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError
from .._split import seeded_split
from .spec import TrainSpec

__all__ = ["run_spec", "create_model_from_spec", "create_data_from_spec", "OUTPUT_FILES"]

#: what ``run_spec`` writes into ``out`` (and, removed by ``overwrite``, what older versions wrote there)
OUTPUT_FILES = ("run.json", "checkpoint.pt", "history.json", "history.csv", "final_metrics.json", "config.json",
                "checkpoint.npz")


def _synthetic_clusters(n: int = 512, n_classes: int = 2, image_dim: int = 16, text_dim: int = 12,
                        latent_dim: int = 4, noise: float = 0.1, spread: float = 2.0, seed: int = 0,
                        image_size: int | None = None):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    centers = rng.normal(size=(n_classes, latent_dim)) * spread
    latent = centers[labels] + rng.normal(size=(n, latent_dim)) * 0.5
    if image_size:
        img = (latent @ rng.normal(size=(latent_dim, image_size * image_size))).reshape(n, 1, image_size, image_size)
    else:
        img = latent @ rng.normal(size=(latent_dim, image_dim))
    img = img + noise * rng.normal(size=img.shape)
    txt = latent @ rng.normal(size=(latent_dim, text_dim)) + noise * rng.normal(size=(n, text_dim))
    return img.astype(np.float32), txt.astype(np.float32), labels


def create_data_from_spec(spec: TrainSpec):
    """``(train, val)`` pairs of tensors for the spec's data (``(None, None)`` for free embeddings)."""
    import torch

    d = dict(spec.data or {"kind": "none"})
    kind = d.pop("kind")
    if kind == "none":
        return None, None
    val_fraction = float(d.pop("val_fraction", 0.2))
    seed = int(d.get("seed", spec.seed))
    if kind == "clusters":
        if (spec.model or {}).get("kind") == "cnn":
            d.setdefault("image_size", 8)
        img, txt, _ = _synthetic_clusters(**d)
    else:
        from ..io import load_pairs

        if "path" not in d:
            raise ConfigError("data kind 'pairs' needs path=...")
        pairs = load_pairs(d["path"], image_key=d.get("image_key", "image"), text_key=d.get("text_key", "text"))
        if pairs.image_index is not None:
            raise ConfigError("data kind 'pairs': files with image_index (several captions per image) are not supported for training")
        img, txt = np.asarray(pairs.image, dtype=np.float32), np.asarray(pairs.text, dtype=np.float32)
    n = img.shape[0]
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    va, tr = seeded_split(n, val_fraction, [seed, 7], name="val_fraction", allow_empty=True, sort=False)
    n_val = va.size
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    train = (t(img[tr]), t(txt[tr]))
    val = (t(img[va]), t(txt[va])) if n_val >= 2 else None
    return train, val


def create_model_from_spec(spec: TrainSpec, train: Any = None, *, engine: str = "torch"):
    """The model the spec names (its input widths read off the training data).

    Free embeddings are float64 on the numba engine, else of the spec's ``dtype`` (float32 by default).
    """
    import torch

    from ..models import FreeEmbeddings, MLPEncoder, SmallCNN, TwoTower

    m = dict(spec.model or {"kind": "free"})
    kind = m.pop("kind")
    dtype = torch.float64 if engine == "numba" or spec.dtype == "float64" else torch.float32
    if kind == "free":
        m.setdefault("seed", spec.seed)
        return FreeEmbeddings(**m, dtype=dtype)
    torch.manual_seed(int(m.pop("seed", spec.seed)))
    embed_dim = int(m.pop("embed_dim", 32))
    hidden = m.pop("hidden", 64)
    depth = int(m.pop("depth", 2))
    activation = m.pop("activation", "relu")
    projection = m.pop("projection", "linear")
    img, txt = train
    width = hidden if isinstance(hidden, int) else int(hidden[-1])
    text_enc = MLPEncoder(int(txt.shape[1]), width, hidden=hidden, depth=depth, activation=activation)
    if kind == "cnn":
        channels = tuple(m.pop("channels", (16, 32)))
        in_ch = int(img.shape[1]) if img.ndim == 4 else 1
        image_enc: torch.nn.Module = SmallCNN(in_ch, width, channels=channels, activation=activation)
    else:
        image_enc = MLPEncoder(int(np.prod(img.shape[1:])), width, hidden=hidden, depth=depth, activation=activation)
    return TwoTower(image_enc, text_enc, image_dim=width, text_dim=width, embed_dim=embed_dim, projection=projection)


def run_spec(spec: TrainSpec, out: str | os.PathLike[str], *, device: str | None = None,
             resume: bool = False, progress: bool | None = None, overwrite: bool = True) -> dict[str, Any]:
    """Train ``spec``, write ``run.json`` and ``checkpoint.pt`` under ``out``; return the final metrics.

    ``out`` is claimed for this run (:func:`gaplab._fs.run_folder`): another run writing to it
    now is an error, and so is a folder holding another run's outputs unless ``overwrite``
    (the Python default; ``gaplab train`` refuses unless ``--overwrite``), which removes them
    first. ``resume`` continues ``out/checkpoint.pt`` when it exists, on either engine (refusing
    one written with other settings, see :data:`~gaplab.train.spec.RESUME_FIELDS`, or by the
    other engine). A NaN/inf loss stops training with :class:`~gaplab.train.NonFiniteLossError`
    after writing ``run.json`` with the history so far.
    """
    from .._fs import run_folder

    out_dir = Path(out)
    ck = out_dir / "checkpoint.pt"
    resuming = resume and ck.is_file()
    with run_folder(out_dir, overwrite=overwrite, resume=resuming, stale=lambda _: OUTPUT_FILES):
        return _run_spec(spec, out_dir, device=device, resuming=resuming, progress=progress)


def _run_spec(spec: TrainSpec, out_dir: Path, *, device: str | None, resuming: bool,
              progress: bool | None) -> dict[str, Any]:
    from ..runs import RunRecord
    from .callbacks import CheckpointCallback
    from .engines import choose_engine
    from .history import NonFiniteLossError
    from .trainer import Trainer

    # (gaplab train puts --device/--progress into the spec before it is validated: built once)
    changes: dict[str, Any] = {k: v for k, v in (("device", device), ("progress", progress)) if v is not None}
    if changes:
        spec = dataclasses.replace(spec, **changes).validate()
    engine = choose_engine(spec)
    t0 = time.perf_counter()
    train, val = create_data_from_spec(spec)
    model = create_model_from_spec(spec, train, engine=engine)
    ck = out_dir / "checkpoint.pt"
    total = spec.steps  # None when training by epochs: the last step writes it then
    tr = Trainer(model, spec=spec, eval_data=val, callbacks=[CheckpointCallback(ck, spec.checkpoint_every or total or 10**12)])

    def record(final: dict[str, Any]) -> RunRecord:
        rec = RunRecord(kind="train", name="train", config=spec.to_dict(), seed=spec.seed, engine=tr.engine.name,
                        history=tr.history.to_dict(), final_metrics=final, figures=[],
                        wall_time_s=time.perf_counter() - t0)
        rec.write(out_dir)
        return rec

    try:
        tr.fit(train, resume_from=ck if resuming else None)
    except NonFiniteLossError as e:  # keep what was learnt about the run up to the failure
        record({"step": tr.step, "error": str(e)})
        raise NonFiniteLossError(f"{e}; the history up to then is in {out_dir / 'run.json'}") from None
    final = {"step": tr.step, **tr.evaluate(val)}
    if tr.history.records and "loss" in tr.history.last:
        final["loss"] = tr.history.last["loss"]
    final = {**final, "engine": tr.engine.name, "seconds": time.perf_counter() - t0}
    record(final)
    return final
