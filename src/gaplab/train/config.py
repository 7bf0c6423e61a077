"""Training configuration: a dataclass read from YAML, TOML or JSON, and :func:`run_config`.

A config names the model, the data and every :class:`~gaplab.train.Trainer` option::

    # sphere.yaml: paper 001's sphere, CLIP loss, polar init
    model: {kind: free, n: 1000, dim: 3, init: polar}
    loss: clip
    temperature: 0.07
    lr: 0.01
    batch_size: 10
    steps: 20000
    eval_every: 2000

Top-level keys are the fields of :class:`TrainConfig`; unknown keys, unknown model/data
kinds and unknown loss/temperature/schedule names raise :class:`~gaplab.ConfigError` (or
:class:`~gaplab.UnknownNameError`) listing the valid ones.

``model.kind``: ``free`` (:class:`~gaplab.models.FreeEmbeddings`: n, dim, init, seed, spread,
separation), ``mlp`` (two :class:`~gaplab.models.MLPEncoder` towers: embed_dim, hidden, depth,
activation, projection), ``cnn`` (:class:`~gaplab.models.SmallCNN` image tower + MLP text tower).

``data.kind``: ``none`` (free embeddings), ``clusters`` (synthetic paired features of
``n_classes`` Gaussian clusters seen through two random linear maps: n, n_classes, image_dim,
text_dim, latent_dim, noise, seed), ``pairs`` (a paired-features file read by
:func:`gaplab.io.load_pairs`: path, image_key, text_key). ``val_fraction`` holds out pairs for
the metrics.

``engine``: ``torch`` (the Trainer), ``fast`` (:func:`~gaplab.train.train_free_embeddings_fast`:
free model, clip/simclr/slip, SGD without momentum, fixed/scheduled/learnable τ, no swap) or ``auto``
(fast when eligible).

``lr`` and a scheduled ``temperature`` take ``{"name": <schedule>, ...}`` dicts, e.g.
``lr: {name: warmup_cosine, init_value: 0, peak_value: 0.001, warmup_steps: 100}`` (``steps``
is filled in).

Numbers may be written as numeric strings (``"1e-3"``, ``"100"``): YAML files are read with
YAML 1.2's float syntax, so ``lr: 1e-3`` is the number 0.001 (PyYAML alone reads a string).
Integer fields (``steps``, ``seed``, ...) take integral numbers (``1e4``); anything else,
or a value out of range (``seed: -1``, ``steps: 0``), raises :class:`~gaplab.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError

__all__ = ["TrainConfig", "load_config", "run_config", "build_model", "build_data", "ENGINES"]

ENGINES = ("auto", "torch", "fast")
MODEL_KINDS = {
    "free": {"n", "dim", "init", "seed", "spread", "separation", "base"},
    "mlp": {"embed_dim", "hidden", "depth", "activation", "projection", "seed"},
    "cnn": {"embed_dim", "channels", "hidden", "depth", "activation", "projection", "seed"},
}
DATA_KINDS = {
    "none": set(),
    "clusters": {"n", "n_classes", "image_dim", "text_dim", "latent_dim", "noise", "spread", "seed",
                 "val_fraction", "image_size"},
    "pairs": {"path", "image_key", "text_key", "val_fraction", "seed"},
}


@dataclass
class TrainConfig:
    """Everything a training run needs; field names are the Trainer's parameter names."""

    model: dict[str, Any] = field(default_factory=lambda: {"kind": "free"})
    data: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})
    loss: str = "clip"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    temperature: Any = 0.07
    optimizer: str = "sgd"
    lr: Any = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 10
    steps: int | None = None
    epochs: int | None = None
    swap: str = "none"
    swap_p: float = 0.0
    swap_kwargs: dict[str, Any] = field(default_factory=dict)
    mismatch: float = 0.0
    mismatch_mode: str = "fixed"
    seed: int = 0
    eval_every: int | None = None
    metrics: list[str] | None = None
    device: str = "cpu"
    dtype: str = "float32"
    engine: str = "auto"
    checkpoint_every: int | None = None
    progress: bool = False

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build and validate; unknown keys raise :class:`~gaplab.ConfigError` listing the valid ones."""
        if not isinstance(d, dict):
            raise ConfigError(f"a config must be a mapping of keys to values, got {type(d).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        bad = sorted(set(d) - set(names))
        if bad:
            import difflib

            hints = [f"{b!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(b, names, 1)) else repr(b)
                     for b in bad]
            raise ConfigError(f"unknown config key(s) {', '.join(hints)}; valid: {', '.join(names)}")
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        from .losses import check_loss_options, get_loss
        from .swap import SWAPS
        from .trainer import OPTIMIZERS

        self._coerce()
        get_loss(self.loss)
        check_loss_options(self.loss, self.loss_kwargs)
        _kind_check("model", self.model, MODEL_KINDS)
        _kind_check("data", self.data, DATA_KINDS)
        if self.model["kind"] == "free" and self.data["kind"] != "none":
            raise ConfigError("model kind 'free' trains its own points: use data kind 'none'")
        if self.model["kind"] != "free" and self.data["kind"] == "none":
            raise ConfigError(f"model kind {self.model['kind']!r} needs data (kind 'clusters' or 'pairs')")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.swap not in SWAPS:
            raise ConfigError(f"unknown swap {self.swap!r}; valid: {', '.join(SWAPS)}")
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r}; valid: {', '.join(ENGINES)}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"unknown dtype {self.dtype!r}; valid: float32, float64")
        if (self.steps is None) == (self.epochs is None):
            raise ConfigError("give exactly one of steps and epochs")
        if self.metrics is not None:
            from .callbacks import check_metric_names

            check_metric_names(self.metrics)
        self.build_temperature()
        self.build_lr()

    def _coerce(self) -> None:
        """Type-check the scalar fields; numeric strings become numbers (``"1e-3"`` → 0.001)."""
        for name, (lo, optional) in _INT_FIELDS.items():
            v = getattr(self, name)
            if v is None and optional:
                continue
            n = _as_number(v)
            if n is None or not float(n).is_integer() or n < lo:
                bound = "a positive integer" if lo == 1 else f"an integer >= {lo}"
                raise ConfigError(f"{name} must be {bound}, got {v!r}")
            setattr(self, name, int(n))
        for name, (lo, hi) in _FLOAT_FIELDS.items():
            v = getattr(self, name)
            n = _as_number(v)
            if n is None or not lo <= n <= hi:
                raise ConfigError(f"{name} must be a number in [{lo:g}, {hi:g}], got {v!r}")
            setattr(self, name, float(n))
        for name in ("loss", "optimizer", "swap", "mismatch_mode", "device", "dtype", "engine"):
            v = getattr(self, name)
            if not isinstance(v, str):
                raise ConfigError(f"{name} must be a name (a string), got {v!r}")
        for name in ("loss_kwargs", "swap_kwargs"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a mapping of options, got {getattr(self, name)!r}")
        if not isinstance(self.progress, bool):
            raise ConfigError(f"progress must be true or false, got {self.progress!r}")
        if self.metrics is not None and (isinstance(self.metrics, str) or not isinstance(self.metrics, (list, tuple))):
            raise ConfigError(f"metrics must be a list of metric names, got {self.metrics!r}")
        if isinstance(self.lr, dict):
            self.lr = _coerce_schedule(self.lr)
        elif (n := _as_number(self.lr)) is not None:
            self.lr = float(n)
        if isinstance(self.temperature, dict):
            self.temperature = _coerce_schedule(self.temperature)
        elif not isinstance(self.temperature, bool) and (n := _as_number(self.temperature)) is not None:
            self.temperature = float(n)

    def build_lr(self) -> Any:
        if isinstance(self.lr, dict):
            from .schedules import get_schedule, make_schedule

            kw = dict(self.lr)
            name = kw.pop("name", None)
            if name is None:
                raise ConfigError("an lr schedule needs a 'name' key")
            import inspect

            if "steps" in inspect.signature(get_schedule(name)).parameters and "steps" not in kw:
                if self.steps is None:
                    raise ConfigError(f"lr schedule {name!r} needs steps=... when training by epochs")
                kw["steps"] = self.steps
            return make_schedule(name, **kw)
        if isinstance(self.lr, bool) or not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"lr must be a number > 0 or a schedule dict, got {self.lr!r}")
        return float(self.lr)

    def build_temperature(self) -> Any:
        from .temperature import make_temperature

        return make_temperature(self.temperature, total_steps=self.steps if self.steps is not None else 1)


#: integer fields → (smallest valid value, may be None)
_INT_FIELDS = {"batch_size": (2, False), "steps": (1, True), "epochs": (1, True), "seed": (0, False),
               "eval_every": (1, True), "checkpoint_every": (1, True)}
#: float fields → (lowest, highest valid value)
_FLOAT_FIELDS = {"momentum": (0.0, 1.0), "weight_decay": (0.0, math.inf), "swap_p": (0.0, 1.0),
                 "mismatch": (0.0, 1.0)}


def _as_number(v: Any) -> float | int | None:
    """``v`` as a finite int/float (numeric strings parsed), else ``None``; bools are not numbers."""
    if isinstance(v, bool):
        return None
    if isinstance(v, str):
        t = v.strip().replace("_", "")
        try:
            v = int(t)
        except ValueError:
            try:
                v = float(t)
            except ValueError:
                return None
    if isinstance(v, (int, float)) and math.isfinite(v):
        return v
    return None


def _coerce_schedule(d: dict[str, Any]) -> dict[str, Any]:
    """Numeric strings among a schedule dict's values (not its name) become numbers."""
    out = {}
    for k, v in d.items():
        n = _as_number(v) if k != "name" and isinstance(v, str) else None
        out[k] = n if n is not None else v
    return out


def _yaml_loader():
    """A safe YAML loader that reads YAML 1.2 floats: ``1e-3`` is a number, not a string."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$""", re.X),
        list("-+0123456789"),
    )
    return Loader


def _kind_check(what: str, d: Any, kinds: dict[str, set[str]]) -> None:
    if not isinstance(d, dict) or "kind" not in d:
        raise ConfigError(f"{what} must be a mapping with a 'kind' key; kinds: {', '.join(kinds)}")
    kind = d["kind"]
    if kind not in kinds:
        raise ConfigError(f"unknown {what} kind {kind!r}; valid: {', '.join(kinds)}")
    bad = sorted(set(d) - kinds[kind] - {"kind"})
    if bad:
        raise ConfigError(f"{what} kind {kind!r} got unknown key(s) {bad}; valid: {', '.join(sorted(kinds[kind]))}")


def load_config(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML (.yaml/.yml), TOML (.toml) or JSON (.json) config file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    text = p.read_text()
    suffix = p.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            import yaml

            d = yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass
        elif suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            d = tomllib.loads(text)
        elif suffix == ".json":
            d = json.loads(text)
        else:
            raise ConfigError(f"config {str(p)!r}: unknown format {suffix!r}; valid: .yaml, .yml, .toml, .json")
    except ConfigError:
        raise
    except Exception as e:  # parse errors of the three formats
        raise ConfigError(f"config {str(p)!r} could not be parsed: {e}") from None
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"config {str(p)!r} must be a mapping of keys to values (key: value lines), "
                          f"got a {type(d).__name__}")
    d = {**d, **(overrides or {})}
    return TrainConfig.from_dict(d)


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


def build_data(cfg: TrainConfig):
    """``(train, val)`` pairs of tensors for the config's data (``(None, None)`` for free embeddings)."""
    import torch

    d = dict(cfg.data)
    kind = d.pop("kind")
    if kind == "none":
        return None, None
    val_fraction = float(d.pop("val_fraction", 0.2))
    seed = int(d.get("seed", cfg.seed))
    if kind == "clusters":
        if cfg.model["kind"] == "cnn":
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
    perm = np.random.default_rng([seed, 7]).permutation(n)
    n_val = int(round(val_fraction * n))
    tr, va = perm[n_val:], perm[:n_val]
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    train = (t(img[tr]), t(txt[tr]))
    val = (t(img[va]), t(txt[va])) if n_val >= 2 else None
    return train, val


def build_model(cfg: TrainConfig, train: Any = None):
    """The model a config names (its input widths read off the training data)."""
    import torch

    from ..models import FreeEmbeddings, MLPEncoder, SmallCNN, TwoTower

    m = dict(cfg.model)
    kind = m.pop("kind")
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    if kind == "free":
        m.setdefault("seed", cfg.seed)
        return FreeEmbeddings(**m, dtype=dtype)
    torch.manual_seed(int(m.pop("seed", cfg.seed)))
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


def fast_eligible(cfg: TrainConfig) -> str | None:
    """``None`` when the fast engine can run ``cfg``, else the reason it cannot."""
    from .fast import FAST_LOSSES

    checks = [
        (cfg.model["kind"] == "free", "model kind is not 'free'"),
        (cfg.loss in FAST_LOSSES, f"loss {cfg.loss!r} has no fast path (valid: {', '.join(FAST_LOSSES)})"),
        (cfg.optimizer == "sgd" and cfg.momentum == 0 and cfg.weight_decay == 0, "needs plain SGD"),
        (cfg.swap == "none", "modality swapping is torch-only"),
        (cfg.mismatch_mode == "fixed", "mismatch_mode 'batch' is torch-only"),
        (not isinstance(cfg.lr, dict), "lr schedules are torch-only"),
        (cfg.steps is not None, "give steps"),
        (cfg.device in ("cpu", "auto") , "the fast engine runs on the CPU"),
    ]
    for ok, why in checks:
        if not ok:
            return why
    return None


#: config fields a resumed run must keep (steps/epochs may grow; eval, device, engine may change)
RESUME_FIELDS = ("model", "data", "loss", "loss_kwargs", "temperature", "optimizer", "lr", "momentum",
                 "weight_decay", "batch_size", "swap", "swap_p", "swap_kwargs", "mismatch", "mismatch_mode",
                 "seed", "dtype")

#: what ``run_config`` writes into ``out`` (removed first by ``overwrite``)
OUTPUT_FILES = ("history.json", "history.csv", "final_metrics.json", "config.json", "checkpoint.pt",
                "checkpoint.npz")


def run_config(cfg: TrainConfig, out: str | os.PathLike[str], *, device: str | None = None,
               resume: bool = False, progress: bool | None = None, overwrite: bool = True) -> dict[str, Any]:
    """Train as ``cfg`` says and write ``history.json``, ``history.csv``, the checkpoint,
    ``final_metrics.json`` and ``config.json`` under ``out``. Returns the final metrics.

    ``out`` is claimed for this run (:func:`gaplab._fs.run_folder`): another run writing to it
    now is an error, and so is a folder holding another run's outputs unless ``overwrite``
    (the Python default; ``gaplab train`` refuses unless ``--overwrite``), which removes them
    first. ``resume`` continues ``out/checkpoint.pt`` when it exists (refusing one written with
    other settings, see :data:`RESUME_FIELDS`). A NaN/inf loss stops training with
    :class:`~gaplab.train.NonFiniteLossError` after writing the history so far.
    """
    from .._fs import run_folder

    out_dir = Path(out)
    ck = out_dir / "checkpoint.pt"
    resuming = resume and ck.is_file()
    with run_folder(out_dir, overwrite=overwrite, resume=resuming, stale=lambda _: OUTPUT_FILES):
        return _run_config(cfg, out_dir, device=device, resuming=resuming, progress=progress)


def _run_config(cfg: TrainConfig, out_dir: Path, *, device: str | None, resuming: bool,
                progress: bool | None) -> dict[str, Any]:
    from .._fs import atomic_write
    from .._json import write_json
    from .callbacks import DEFAULT_METRICS, CheckpointCallback, History, compute_metrics

    if device is not None:
        cfg = dataclasses.replace(cfg, device=device)
    metrics = tuple(cfg.metrics) if cfg.metrics is not None else DEFAULT_METRICS
    reason = fast_eligible(cfg)
    if cfg.engine == "fast" and reason is not None:
        raise ConfigError(f"engine 'fast' cannot run this config: {reason}; use engine 'torch' or 'auto'")
    use_fast = cfg.engine == "fast" or (cfg.engine == "auto" and reason is None)
    if use_fast and resuming:
        raise ConfigError(f"{out_dir / 'checkpoint.pt'} is a torch-engine checkpoint, but this config runs on the "
                          "fast engine, which cannot resume: add --engine torch")
    t0 = time.perf_counter()
    if use_fast:
        from ..models import sphere_init
        from .fast import train_free_embeddings_fast

        m = dict(cfg.model)
        m.pop("kind")
        n, dim = int(m.pop("n", 1000)), int(m.pop("dim", 3))
        m.setdefault("seed", cfg.seed)
        x0, y0 = sphere_init(n, dim, m.pop("init", "polar"), **m)
        every = cfg.eval_every or cfg.steps
        snaps = list(range(0, cfg.steps + 1, every))
        tau = cfg.build_temperature()
        run = train_free_embeddings_fast(
            x0, y0, loss=cfg.loss, loss_kwargs=cfg.loss_kwargs,
            temperature=tau,
            lr=float(cfg.lr), batch_size=cfg.batch_size, steps=cfg.steps, seed=cfg.seed, mismatch=cfg.mismatch,
            snapshot_steps=snaps, loss_every=every,
        )
        hist = History()
        for s in sorted(run.snapshots):
            x, y = run.snapshots[s]
            rec: dict[str, Any] = {"step": s}
            if s > 0 and run.losses is not None:
                rec["loss"] = float(run.losses[(s - 1) // every])
            rec["temperature"], rec["lr"] = run.temperatures[s], float(cfg.lr)
            rec.update(compute_metrics(x, y, metrics))
            hist.append(rec)
        atomic_write(out_dir / "checkpoint.npz",
                     lambda tmp: np.savez(tmp, x=run.params_x, y=run.params_y, step=cfg.steps))
        final = dict(hist.last)
        engine = "fast"
    else:
        import torch

        from .trainer import NonFiniteLossError, Trainer

        train, val = build_data(cfg)
        model = build_model(cfg, train)
        ck = out_dir / "checkpoint.pt"
        cbs = [CheckpointCallback(ck, cfg.checkpoint_every or (cfg.steps or 10**12))]
        tr = Trainer(
            model, loss=cfg.loss, loss_kwargs=cfg.loss_kwargs, temperature=cfg.temperature,
            optimizer=cfg.optimizer, lr=cfg.build_lr(), momentum=cfg.momentum, weight_decay=cfg.weight_decay,
            batch_size=cfg.batch_size, steps=cfg.steps, epochs=cfg.epochs, swap=cfg.swap, swap_p=cfg.swap_p,
            swap_kwargs=cfg.swap_kwargs, mismatch=cfg.mismatch, mismatch_mode=cfg.mismatch_mode, seed=cfg.seed,
            eval_every=cfg.eval_every, eval_data=val, metrics=metrics, callbacks=cbs, device=cfg.device,
            dtype=torch.float64 if cfg.dtype == "float64" else None,
            progress=cfg.progress if progress is None else progress,
        )
        full = cfg.to_dict()
        tr.run_info = {"train_config": {k: full[k] for k in RESUME_FIELDS}}
        try:
            hist = tr.fit(train, resume_from=ck if resuming else None)
        except NonFiniteLossError as e:  # keep what was learnt about the run up to the failure
            tr.history.to_json(out_dir / "history.json")
            tr.history.to_csv(out_dir / "history.csv")
            write_json(out_dir / "config.json", cfg.to_dict())
            raise NonFiniteLossError(f"{e}; the history up to then is in {out_dir / 'history.json'}") from None
        final = {"step": tr.step, **tr.evaluate(val), "loss": hist.last.get("loss")} if hist.records else \
            {"step": tr.step, **tr.evaluate(val)}
        engine = "torch"
    seconds = time.perf_counter() - t0
    hist.to_json(out_dir / "history.json")
    hist.to_csv(out_dir / "history.csv")
    final = {**final, "engine": engine, "seconds": seconds}
    write_json(out_dir / "final_metrics.json", final)
    write_json(out_dir / "config.json", cfg.to_dict())
    return final
