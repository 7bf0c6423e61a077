"""TrainSpec: the one source of training options, read from YAML, TOML or JSON or given in Python.

Every option of a training run is a field of :class:`TrainSpec`; ``gaplab train CONFIG``
reads one from a file (:func:`load_spec`), ``Trainer(model, loss=..., ...)`` builds one from
its keywords. Checks live in :meth:`TrainSpec.validate` only, which runs once when a spec is
made (:meth:`TrainSpec.from_dict`, :meth:`TrainSpec.from_options`). :meth:`TrainSpec.resolve`
turns the spec into a :class:`TrainPlan` once the run length is known: the number of steps
(``steps``, or ``epochs`` × steps per epoch), the temperature strategy and the learning rate
(a number or a schedule), each built once::

    # sphere.yaml: paper 001's sphere, CLIP loss, polar init
    model: {kind: free, n: 1000, dim: 3, init: polar}
    loss: clip
    temperature: 0.07
    lr: 0.01
    batch_size: 10
    steps: 20000
    eval_every: 2000

Unknown keys, unknown model/data kinds and unknown loss/temperature/schedule names raise
:class:`~gaplab.ConfigError` (or :class:`~gaplab.UnknownNameError`) listing the valid ones.

``model.kind``: ``free`` (:class:`~gaplab.models.FreeEmbeddings`: n, dim, init, seed, spread,
separation, base), ``mlp`` (two :class:`~gaplab.models.MLPEncoder` towers: embed_dim, hidden,
depth, activation, projection), ``cnn`` (:class:`~gaplab.models.SmallCNN` image tower + MLP
text tower). ``model: null`` (Python only) means the model handed to the Trainer.

``data.kind``: ``none`` (free embeddings), ``clusters`` (synthetic paired features of
``n_classes`` Gaussian clusters seen through two random linear maps: n, n_classes, image_dim,
text_dim, latent_dim, noise, seed), ``pairs`` (a paired-features file read by
:func:`gaplab.io.load_pairs`: path, image_key, text_key). ``val_fraction`` holds out pairs for
the metrics.

``engine``: ``torch`` (autograd), ``numba`` (compiled loops with the hand-derived gradient:
free embeddings, clip/simclr/slip, SGD without momentum or weight decay, a constant lr,
fixed/scheduled/learnable τ, fixed mismatch, no swap, ``drop_last``, CPU, float64) or ``auto``
(numba when eligible, see :func:`gaplab.train.engines.numba_reason`). ``fast`` is the former
name of ``numba``.

``dtype``: float type of the torch engine (``float32`` or ``float64``; default: the model's
own, ``float32`` for models built from a config). The numba engine computes in float64, so
``auto`` picks it only when ``dtype`` is unset or ``float64``.

``lr`` and a scheduled ``temperature`` take ``{"name": <schedule>, ...}`` dicts, e.g.
``lr: {name: warmup_cosine, init_value: 0, peak_value: 0.001, warmup_steps: 100}`` (``steps``
is filled in with the run length).

Numbers may be written as numeric strings (``"1e-3"``, ``"100"``): YAML files are read with
YAML 1.2's float syntax, so ``lr: 1e-3`` is the number 0.001 (PyYAML alone reads a string).
Integer fields (``steps``, ``seed``, ...) take integral numbers (``1e4``); anything else,
or a value out of range (``seed: -1``, ``steps: 0``), raises :class:`~gaplab.ConfigError`.

>>> spec = TrainSpec.from_dict({"steps": 100, "lr": "1e-3", "temperature": "learnable"})
>>> plan = spec.resolve()
>>> plan.total_steps, plan.lr, round(plan.temperature.value(0), 2)
(100, 0.001, 0.07)
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError

__all__ = ["TrainSpec", "TrainPlan", "load_spec", "ENGINES", "OPTIMIZERS", "MODEL_KINDS", "DATA_KINDS",
           "RESUME_FIELDS"]

#: engine names (``fast``: the former name of ``numba``, still read)
ENGINES = ("auto", "torch", "numba")
_ENGINE_ALIASES = {"fast": "numba"}
#: optimizer names
OPTIMIZERS = ("sgd", "adamw")
DTYPES = ("float32", "float64")
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

#: options a resumed run must share with its checkpoint (steps/epochs may grow; eval, metrics,
#: device, engine, checkpoint_every and progress may change)
RESUME_FIELDS = ("seed", "model", "data", "loss", "loss_kwargs", "temperature", "optimizer", "lr", "momentum",
                 "weight_decay", "batch_size", "drop_last", "swap", "swap_p", "swap_kwargs", "mismatch",
                 "mismatch_mode", "siglip_bias", "dtype")

#: integer fields → (smallest valid value, may be None, hint)
_INT_FIELDS = {"batch_size": (2, False, " (contrastive losses need negatives)"), "steps": (1, True, ""),
               "epochs": (1, True, ""), "seed": (0, False, ""), "eval_every": (1, True, ""),
               "checkpoint_every": (1, True, "")}
#: float fields → (lowest, highest valid value)
_FLOAT_FIELDS = {"momentum": (0.0, 1.0), "weight_decay": (0.0, math.inf), "swap_p": (0.0, 1.0),
                 "mismatch": (0.0, 1.0), "siglip_bias": (-math.inf, math.inf)}
_NAME_FIELDS = ("optimizer", "swap", "mismatch_mode", "device", "engine")
_BOOL_FIELDS = ("drop_last", "progress")


@dataclass(frozen=True)
class TrainPlan:
    """A spec with its run length resolved: what an engine runs (see :meth:`TrainSpec.resolve`)."""

    total_steps: int
    steps_per_epoch: int | None
    temperature: Any  #: a :class:`~gaplab.train.Temperature`
    lr: Any  #: a float or a schedule (step → lr)

    def lr_at(self, step: int) -> float:
        """The learning rate at optimizer step ``step`` (the constant lr, or the schedule's value)."""
        return float(self.lr(step)) if callable(self.lr) else float(self.lr)


@dataclass
class TrainSpec:
    """Every option of a training run; the field names are the Trainer's keyword names.

    In Python, ``loss`` may also be a loss function, ``temperature`` a schedule callable or a
    :class:`~gaplab.train.Temperature`, ``lr`` a schedule callable, ``dtype`` a torch dtype,
    ``device`` a torch device. Make one with :meth:`from_dict` or :meth:`from_options`, which
    validate it; a spec built directly must be validated with :meth:`validate`.
    """

    model: dict[str, Any] | None = field(default_factory=lambda: {"kind": "free"})
    data: dict[str, Any] | None = field(default_factory=lambda: {"kind": "none"})
    loss: Any = "clip"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    temperature: Any = 0.07
    optimizer: str = "sgd"
    lr: Any = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 10
    steps: int | None = None
    epochs: int | None = None
    drop_last: bool = True
    swap: str = "none"
    swap_p: float = 0.0
    swap_kwargs: dict[str, Any] = field(default_factory=dict)
    mismatch: float = 0.0
    mismatch_mode: str = "fixed"
    siglip_bias: float = -10.0
    seed: int = 0
    eval_every: int | None = None
    metrics: list[str] | None = None
    device: Any = "cpu"
    dtype: Any = None
    engine: str = "auto"
    checkpoint_every: int | None = None
    progress: bool = False

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        """The option names, in field order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def _check_keys(cls, keys: Any, what: str) -> None:
        names = cls.field_names()
        bad = sorted(set(keys) - set(names))
        if bad:
            hints = [f"{b!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(b, names, 1)) else repr(b)
                     for b in bad]
            raise ConfigError(f"unknown {what}(s) {', '.join(hints)}; valid: {', '.join(names)}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainSpec:
        """Build and validate; unknown keys raise :class:`~gaplab.ConfigError` listing the valid ones."""
        if not isinstance(d, dict):
            raise ConfigError(f"a config must be a mapping of keys to values, got {type(d).__name__}")
        cls._check_keys(d, "config key")
        spec = cls(**d)
        spec.validate()
        return spec

    @classmethod
    def from_options(cls, **options: Any) -> TrainSpec:
        """The spec of ``Trainer(model, **options)``: the model is an object, so no model/data dicts."""
        cls._check_keys(options, "Trainer option")
        options.setdefault("model", None)
        options.setdefault("data", None)
        for k in ("loss_kwargs", "swap_kwargs"):
            if options.get(k, 0) is None:
                options[k] = {}
        spec = cls(**options)
        spec.validate()
        return spec

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON values (a callable or object given in Python appears as its repr)."""
        from .._json import to_jsonable

        return {k: _jsonable(getattr(self, k), to_jsonable) for k in self.field_names()}

    def signature(self) -> dict[str, Any]:
        """The :data:`RESUME_FIELDS` as JSON values; ``None`` where a Python object stands (not compared)."""
        from .._json import to_jsonable

        out: dict[str, Any] = {}
        for k in RESUME_FIELDS:
            v = getattr(self, k)
            if k == "loss" and callable(v):
                v = getattr(v, "__name__", "custom")
            out[k] = None if _is_object(v) else json.loads(json.dumps(_jsonable(v, to_jsonable)))
        return out

    @property
    def loss_name(self) -> str:
        """The loss as a name: the string itself, or a loss function's ``__name__`` (else ``"custom"``)."""
        return self.loss if isinstance(self.loss, str) else getattr(self.loss, "__name__", "custom")

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The metrics to record: ``metrics``, or :data:`~gaplab.train.history.DEFAULT_METRICS` if unset."""
        from .history import DEFAULT_METRICS

        return tuple(self.metrics) if self.metrics is not None else DEFAULT_METRICS

    # -- the one validation --------------------------------------------------------------------
    def validate(self) -> TrainSpec:
        """Check (and normalise) every option; raises :class:`~gaplab.ConfigError` naming the first bad one.

        When the run length is known (``steps``), the temperature strategy and the lr are built
        here, once, and kept for :meth:`resolve`.
        """
        from .history import check_metric_names
        from .losses import check_loss_options, get_loss
        from .swap import SWAPS

        self._coerce()
        if isinstance(self.loss, str):
            get_loss(self.loss)
            check_loss_options(self.loss, self.loss_kwargs)
        elif not callable(self.loss):
            raise ConfigError(f"loss must be a name (a string), got {self.loss!r}")
        if self.model is not None:
            _kind_check("model", self.model, MODEL_KINDS)
        if self.data is not None:
            _kind_check("data", self.data, DATA_KINDS)
        if self.model is not None and self.data is not None:
            if self.model["kind"] == "free" and self.data["kind"] != "none":
                raise ConfigError("model kind 'free' trains its own points: use data kind 'none'")
            if self.model["kind"] != "free" and self.data["kind"] == "none":
                raise ConfigError(f"model kind {self.model['kind']!r} needs data (kind 'clusters' or 'pairs')")
        for name, valid in (("optimizer", OPTIMIZERS), ("swap", SWAPS), ("mismatch_mode", ("fixed", "batch")),
                            ("engine", ENGINES)):
            if getattr(self, name) not in valid:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}; valid: {', '.join(valid)}")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; valid: {', '.join(DTYPES)}")
        if not (self.device in ("auto", "cpu") or re.fullmatch(r"cuda(:\d+)?", self.device)):
            raise ConfigError(f"unknown device {self.device!r}; valid: auto, cpu, cuda")
        if self.steps is not None and self.epochs is not None:
            raise ConfigError(f"give exactly one of steps and epochs, got both (steps={self.steps}, "
                              f"epochs={self.epochs})")
        if self.steps is None and self.epochs is None:
            raise ConfigError("give exactly one of steps and epochs, got neither")
        if self.metrics is not None:
            self.metrics = list(check_metric_names(self.metrics))
        if not (isinstance(self.lr, dict) or callable(self.lr) or (isinstance(self.lr, float) and self.lr > 0)):
            raise ConfigError(f"lr must be a number > 0 or a schedule dict, got {self.lr!r}")
        self._plan: TrainPlan | None = None
        if self.steps is not None:
            self._plan = self._build_plan(self.steps, None)
        return self

    def _coerce(self) -> None:
        """Type-check the scalar fields; numeric strings become numbers (``"1e-3"`` → 0.001)."""
        for name, (lo, optional, hint) in _INT_FIELDS.items():
            v = getattr(self, name)
            if v is None and optional:
                continue
            n = _as_number(v)
            if n is None or not float(n).is_integer() or n < lo:
                bound = "a positive integer" if lo == 1 else f"an integer >= {lo}"
                raise ConfigError(f"{name} must be {bound}, got {v!r}{hint}")
            setattr(self, name, int(n))
        for name, (low, high) in _FLOAT_FIELDS.items():
            v = getattr(self, name)
            n = _as_number(v)
            if n is None or not low <= n <= high:
                raise ConfigError(f"{name} must be a number in [{low:g}, {high:g}], got {v!r}")
            setattr(self, name, float(n))
        self.engine = _ENGINE_ALIASES.get(self.engine, self.engine) if isinstance(self.engine, str) else self.engine
        self.device = _device_name(self.device)
        self.dtype = _dtype_name(self.dtype)
        if not isinstance(self.loss, str) and not callable(self.loss):
            raise ConfigError(f"loss must be a name (a string), got {self.loss!r}")
        for name in _NAME_FIELDS:
            v = getattr(self, name)
            if not isinstance(v, str):
                raise ConfigError(f"{name} must be a name (a string), got {v!r}")
        for name in ("loss_kwargs", "swap_kwargs"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a mapping of options, got {getattr(self, name)!r}")
        for name in _BOOL_FIELDS:
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
            setattr(self, name, bool(getattr(self, name)))
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

    # -- the run length, the temperature and the lr --------------------------------------------
    def resolve(self, steps_per_epoch: int | None = None) -> TrainPlan:
        """The :class:`TrainPlan` of this spec: steps, or epochs × ``steps_per_epoch``.

        The temperature strategy and the lr are built here (or were, in :meth:`validate`, when
        ``steps`` was given); each plan is handed out once, so two runs never share a learnable
        temperature.
        """
        plan = getattr(self, "_plan", None)
        if plan is not None:
            self._plan = None
            return dataclasses.replace(plan, steps_per_epoch=steps_per_epoch)
        if self.steps is not None:
            return self._build_plan(self.steps, steps_per_epoch)
        if steps_per_epoch is None:
            raise ConfigError("epochs=... needs data with a length; give steps=... instead")
        return self._build_plan(int(self.epochs) * int(steps_per_epoch), steps_per_epoch)  # type: ignore[arg-type]

    def _build_plan(self, total: int, steps_per_epoch: int | None) -> TrainPlan:
        from .temperature import create_temperature

        return TrainPlan(total_steps=total, steps_per_epoch=steps_per_epoch,
                         temperature=create_temperature(self.temperature, total_steps=total),
                         lr=self._build_lr(total))

    def _build_lr(self, total: int) -> Any:
        if not isinstance(self.lr, dict):
            return self.lr
        from .._registry import option_names
        from .schedules import create_schedule, get_schedule

        kw = dict(self.lr)
        name = kw.pop("name", None)
        if name is None:
            raise ConfigError("an lr schedule needs a 'name' key")
        if "steps" in (option_names(get_schedule(name)) or []) and "steps" not in kw:
            kw["steps"] = total
        return create_schedule(name, **kw)


def _is_object(v: Any) -> bool:
    """A Python object standing for an option (a function, a Temperature), not a JSON value."""
    return not isinstance(v, (type(None), bool, int, float, str, list, tuple, dict))


def _jsonable(v: Any, to_jsonable: Any) -> Any:
    if _is_object(v):
        return repr(v) if not callable(v) or not hasattr(v, "__name__") else f"<{v.__name__}>"
    return to_jsonable(v)


def _device_name(d: Any) -> Any:
    return str(d) if type(d).__name__ == "device" else d


def _dtype_name(d: Any) -> Any:
    if d is None or isinstance(d, str):
        return d
    name = str(d).removeprefix("torch.")  # a torch dtype
    if name not in DTYPES:
        raise ConfigError(f"unknown dtype {d!r}; valid: {', '.join(DTYPES)}")
    return name


def _as_number(v: Any) -> float | int | None:
    """``v`` as a finite int/float (numeric strings parsed), else ``None``; bools are not numbers."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, np.integer):
        v = int(v)
    elif isinstance(v, np.floating):
        v = float(v)
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


def _kind_check(what: str, d: Any, kinds: dict[str, set[str]]) -> None:
    if not isinstance(d, dict) or "kind" not in d:
        raise ConfigError(f"{what} must be a mapping with a 'kind' key; kinds: {', '.join(kinds)}")
    kind = d["kind"]
    if kind not in kinds:
        raise ConfigError(f"unknown {what} kind {kind!r}; valid: {', '.join(kinds)}")
    bad = sorted(set(d) - kinds[kind] - {"kind"})
    if bad:
        raise ConfigError(f"{what} kind {kind!r} got unknown key(s) {bad}; valid: {', '.join(sorted(kinds[kind]))}")


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


def load_spec(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> TrainSpec:
    """Read a YAML (.yaml/.yml), TOML (.toml) or JSON (.json) config file into a validated spec."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise ConfigError(f"config {str(p)!r}: unknown format {suffix!r}; valid: .yaml, .yml, .toml, .json")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config {str(p)!r} cannot be read as text ({type(e).__name__}: {e})") from None
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
        else:  # .json (the suffix was checked above)
            d = json.loads(text)
    except Exception as e:  # parse errors of the three formats
        raise ConfigError(f"config {str(p)!r} could not be parsed: {e}") from None
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"config {str(p)!r} must be a mapping of keys to values (key: value lines), "
                          f"got a {type(d).__name__}")
    return TrainSpec.from_dict({**d, **(overrides or {})})
