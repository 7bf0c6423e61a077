"""gaplab.train: the contrastive training engine (needs torch; the fast path needs numba).

Every loss, temperature strategy and modality swap of the papers, on one trainer that records
the gap over training.

* Losses (:mod:`.losses`): pure ``loss(x, y, temperature, **options) -> (loss, parts)``;
  ``list_losses()`` → clip, cua, cuaxu, siglip, simclr, slip; ``get_loss(name)``,
  ``@register_loss(name)``.
* Temperatures (:mod:`.temperature`): ``list_temperatures()`` → fixed, flt, learnable,
  schedule, slrt, tr, ts; ``create_temperature(spec, total_steps=None)``,
  ``@register_temperature(name)``.
* Schedules (:mod:`.schedules`): pure ``step -> value`` (``linear_schedule(init_value,
  end_value, steps)``, cosine, exponential, step, warmup_cosine, ``join_schedules``);
  ``create_schedule(name, **kwargs)``, ``@register_schedule(name)``.
* Swaps (:mod:`.swap`): ``hard_swap(x, y, p, generator)``, ``soft_swap(..., mode=...)``.
* :class:`TrainSpec` (:mod:`.spec`): every training option, validated once; ``load_spec(path)``
  reads a YAML/TOML/JSON config; ``spec.resolve()`` → run length, temperature, lr.
* :class:`Trainer` (:mod:`.trainer`): ``Trainer(model, *, eval_data, callbacks, **options |
  spec=...).fit(data) -> History`` on one of two engines (:mod:`.engines`: ``torch``,
  ``numba``; ``engine="auto"`` picks numba for eligible free-embedding runs); checkpoint/resume
  bit-identical on CPU on both.
* Batches (:mod:`.batches`): :class:`BatchOrder` (``default_rng(seed)``, one permutation per
  epoch), ``mismatch_index``; shared by both engines.
* History (:mod:`.history`): :class:`History` (``to_json``, ``to_csv``), ``compute_metrics``,
  ``DEFAULT_METRICS`` (output keys as in :data:`gaplab.metrics.MEASURE_KEYS`).
* Callbacks (:mod:`.callbacks`): typed against :class:`TrainerState`; MetricsCallback,
  SnapshotCallback, CheckpointCallback, LambdaCallback, each with ``state_dict()``.
* Fast batch-of-runs API (:mod:`.fast`): ``train_free_embeddings_fast(x0, y0, *, loss,
  temperature, lr, batch_size, steps, seed, mismatch, loss_kwargs, snapshot_steps, loss_every)
  -> FastRun`` and ``sphere_grid_fast(...)`` — the numba engine's kernels and batch order,
  many runs in parallel; equal to the Trainer (SGD) to ~1e-13 in float64.
* Runs (:mod:`.run`): ``run_spec(spec, out)`` — what ``gaplab train CONFIG --out DIR`` runs;
  writes ``run.json`` (:class:`gaplab.runs.RunRecord`) and ``checkpoint.pt``.
"""

from .batches import BatchOrder, mismatch_index
from .callbacks import (
    Callback,
    CheckpointCallback,
    LambdaCallback,
    MetricsCallback,
    SnapshotCallback,
    TrainerState,
)
from .engines import Engine, NumbaEngine, TorchEngine, choose_engine, numba_reason
from .fast import FAST_LOSSES, FastRun, sphere_grid_fast, train_free_embeddings_fast
from .history import (
    DEFAULT_METRICS,
    METRIC_FUNCTIONS,
    METRIC_KEYS,
    History,
    NonFiniteLossError,
    compute_metrics,
)
from .losses import (
    LOSSES,
    alignment_loss,
    clip_loss,
    cross_uniformity_loss,
    cua_loss,
    cuaxu_loss,
    get_loss,
    list_losses,
    nt_xent,
    register_loss,
    siglip_loss,
    simclr_loss,
    slip_loss,
    uniformity_loss,
)
from .run import run_spec
from .schedules import (
    Schedule,
    constant_schedule,
    cosine_schedule,
    create_schedule,
    exponential_schedule,
    get_schedule,
    join_schedules,
    linear_schedule,
    list_schedules,
    register_schedule,
    step_schedule,
    warmup_cosine_schedule,
)
from .spec import OPTIMIZERS, TrainPlan, TrainSpec, load_spec
from .swap import apply_swap, hard_swap, soft_swap
from .temperature import (
    FixedTemperature,
    LearnableTemperature,
    ScheduledTemperature,
    Temperature,
    create_temperature,
    get_temperature,
    list_temperatures,
    register_temperature,
)
from .trainer import Trainer, resolve_device

__all__ = [
    "TrainSpec", "TrainPlan", "load_spec", "run_spec",
    "train_free_embeddings_fast", "sphere_grid_fast", "FastRun", "FAST_LOSSES",
    "Trainer", "NonFiniteLossError", "OPTIMIZERS", "mismatch_index", "resolve_device", "BatchOrder",
    "Engine", "TorchEngine", "NumbaEngine", "choose_engine", "numba_reason",
    "TrainerState", "Callback", "CheckpointCallback", "History", "LambdaCallback", "MetricsCallback",
    "SnapshotCallback", "compute_metrics", "DEFAULT_METRICS", "METRIC_FUNCTIONS", "METRIC_KEYS",
    "LOSSES", "alignment_loss", "clip_loss", "cross_uniformity_loss", "cua_loss", "cuaxu_loss",
    "get_loss", "list_losses", "nt_xent", "register_loss", "siglip_loss", "simclr_loss",
    "slip_loss", "uniformity_loss",
    "Schedule", "constant_schedule", "cosine_schedule", "exponential_schedule", "get_schedule",
    "join_schedules", "linear_schedule", "list_schedules", "create_schedule", "register_schedule", "step_schedule",
    "warmup_cosine_schedule",
    "apply_swap", "hard_swap", "soft_swap",
    "FixedTemperature", "LearnableTemperature", "ScheduledTemperature", "Temperature",
    "get_temperature", "list_temperatures", "create_temperature", "register_temperature",
]
