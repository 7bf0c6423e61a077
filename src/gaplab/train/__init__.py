"""gaplab.train: the contrastive training engine (needs torch; the fast path needs numba).

Every loss, temperature strategy and modality swap of the papers, on one trainer that records
the gap over training.

* Losses (:mod:`.losses`): pure ``loss(x, y, temperature, **options) -> (loss, parts)``;
  ``list_losses()`` → clip, cua, cuaxu, siglip, simclr, slip; ``get_loss(name)``,
  ``@register_loss(name)``.
* Temperatures (:mod:`.temperature`): ``list_temperatures()`` → fixed, flt, learnable,
  schedule, slrt, tr, ts; ``make_temperature(spec, total_steps=None)``.
* Schedules (:mod:`.schedules`): pure ``step -> value`` (``linear_schedule(init_value,
  end_value, steps)``, cosine, exponential, step, warmup_cosine, ``join_schedules``).
* Swaps (:mod:`.swap`): ``hard_swap(x, y, p, generator)``, ``soft_swap(..., mode=...)``.
* :class:`Trainer` (:mod:`.trainer`): ``Trainer(model, *, loss, temperature, lr, batch_size,
  steps | epochs, swap, swap_p, mismatch, seed, eval_every, eval_data, ...).fit(data) -> History``;
  checkpoint/resume bit-identical on CPU.
* Callbacks (:mod:`.callbacks`): MetricsCallback, SnapshotCallback, CheckpointCallback,
  LambdaCallback; :class:`History` (``to_json``, ``to_csv``).
* Fast path (:mod:`.fast`): ``train_free_embeddings_fast(x0, y0, *, loss, temperature, lr,
  batch_size, steps, seed, mismatch, loss_kwargs, snapshot_steps, loss_every) -> FastRun`` and
  ``sphere_grid_fast(...)`` — numba, hand-derived gradient, many runs in parallel; equal to the
  Trainer (SGD) to ~1e-15 in float64.
* Config (:mod:`.config`): ``load_config(path)``, ``TrainConfig``, ``run_config(cfg, out)``
  (what ``gaplab train CONFIG --out DIR`` runs).
"""

from .callbacks import (
    DEFAULT_METRICS,
    METRIC_FUNCTIONS,
    Callback,
    CheckpointCallback,
    History,
    LambdaCallback,
    MetricsCallback,
    SnapshotCallback,
    compute_metrics,
)
from .config import TrainConfig, load_config, run_config
from .fast import FAST_LOSSES, FastRun, sphere_grid_fast, train_free_embeddings_fast
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
from .schedules import (
    Schedule,
    constant_schedule,
    cosine_schedule,
    exponential_schedule,
    get_schedule,
    join_schedules,
    linear_schedule,
    list_schedules,
    make_schedule,
    step_schedule,
    warmup_cosine_schedule,
)
from .swap import apply_swap, hard_swap, soft_swap
from .temperature import (
    FixedTemperature,
    LearnableTemperature,
    ScheduledTemperature,
    Temperature,
    get_temperature,
    list_temperatures,
    make_temperature,
)
from .trainer import OPTIMIZERS, NonFiniteLossError, Trainer, mismatch_index, resolve_device

__all__ = [
    "TrainConfig", "load_config", "run_config",
    "train_free_embeddings_fast", "sphere_grid_fast", "FastRun", "FAST_LOSSES",
    "Trainer", "NonFiniteLossError", "OPTIMIZERS", "mismatch_index", "resolve_device",
    "Callback", "CheckpointCallback", "History", "LambdaCallback", "MetricsCallback",
    "SnapshotCallback", "compute_metrics", "DEFAULT_METRICS", "METRIC_FUNCTIONS",
    "LOSSES", "alignment_loss", "clip_loss", "cross_uniformity_loss", "cua_loss", "cuaxu_loss",
    "get_loss", "list_losses", "nt_xent", "register_loss", "siglip_loss", "simclr_loss",
    "slip_loss", "uniformity_loss",
    "Schedule", "constant_schedule", "cosine_schedule", "exponential_schedule", "get_schedule",
    "join_schedules", "linear_schedule", "list_schedules", "make_schedule", "step_schedule",
    "warmup_cosine_schedule",
    "apply_swap", "hard_swap", "soft_swap",
    "FixedTemperature", "LearnableTemperature", "ScheduledTemperature", "Temperature",
    "get_temperature", "list_temperatures", "make_temperature",
]
