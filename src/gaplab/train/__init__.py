"""gaplab.train: contrastive training engine (losses, temperatures, swaps, trainer)."""

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
