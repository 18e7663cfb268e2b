"""The typed training configuration shared by every pipeline."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from jaxcnn._checks import is_int, is_real
from jaxcnn.train.precision import COMPUTE_DTYPES

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "warmup_cosine")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything `fit` needs besides the model and the data.

    Attributes:
      epochs: passes over the training set.
      batch_size: training examples per step; must be divisible by the device count.
      eval_batch_size: examples per evaluation batch (rounded up to the device count).
      optimizer: "sgd" (with `momentum`), "adam" or "adamw" (decay skips ndim <= 1 leaves).
      learning_rate: a float, or an optax schedule ``step -> learning rate`` (any callable,
        e.g. ``optax.exponential_decay(1e-3, 100, 0.5)``; ``schedule`` must then be
        "constant"). A schedule is recorded in ``to_dict`` by its name and its values at steps
        0, 1, 10, 100, 1000 and 10000 (what provenance compares).
      momentum, weight_decay: optimiser hyper-parameters.
      schedule: "constant" | "cosine" | "warmup_cosine" (cosine decay to 0 over all steps).
      warmup_steps: linear warm-up steps for "warmup_cosine".
      grad_clip: clip the global gradient norm to this value; None = no clipping.
      label_smoothing: mass moved uniformly over all classes in the cross-entropy target.
      seed: the one seed, in ``[0, 2**63)``; initialisation, shuffling and dropout all derive
        from it.
      steps_per_call: steps run in one compiled `lax.scan`; None = a whole epoch.
      checkpoint_every: save a checkpoint every this many steps (at call boundaries) and at
        the end; None = only at the end of each epoch (when a workdir is given).
      keep_last: checkpoints kept besides the best one.
      frozen: fnmatch patterns over "/"-joined parameter paths that are not trained.
      num_classes: classes for per-class accuracy and the confusion matrix (None = from logits).
      progress: show a tqdm bar; None = only when stderr is a terminal.
      compute_dtype: "float32" or "bfloat16" (mixed precision: parameters and optimiser state
        stay float32; activations, matmuls and convolutions of training steps run in
        bfloat16; logits, softmax and the loss in float32; see `jaxcnn.train.precision`).

    Raises:
      TypeError: an int field not an int, a float field not a number, or ``frozen`` not str
        patterns (from ``__post_init__``).
      ValueError: a field out of range, a NaN or infinite float, or an unknown optimizer or
        schedule.
    """

    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 1024
    optimizer: str = "adam"
    learning_rate: float | Callable[[Any], Any] = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    grad_clip: float | None = None
    label_smoothing: float = 0.0
    seed: int = 0
    steps_per_call: int | None = None
    checkpoint_every: int | None = None
    keep_last: int = 2
    frozen: tuple[str, ...] = ()
    num_classes: int | None = None
    progress: bool | None = None
    compute_dtype: str = "float32"

    def __post_init__(self):
        fn = "TrainConfig"
        for name, low in (
            ("epochs", 1),
            ("batch_size", 1),
            ("eval_batch_size", 1),
            ("warmup_steps", 0),
            ("seed", 0),
            ("keep_last", 1),
        ):
            _int_at_least(getattr(self, name), low, fn, name)
        if self.seed >= 2**63:  # jax.random.key takes a C long
            raise ValueError(f"{fn}: seed must be < 2**63, got {self.seed}")
        for name in ("steps_per_call", "checkpoint_every", "num_classes"):
            if getattr(self, name) is not None:
                _int_at_least(getattr(self, name), 1, fn, name)
        for name in ("learning_rate", "momentum", "weight_decay", "grad_clip", "label_smoothing"):
            if name == "learning_rate" and callable(self.learning_rate):
                if self.schedule != "constant":
                    raise ValueError(
                        f"{fn}: schedule must be 'constant' when learning_rate is a schedule, "
                        f"got {self.schedule!r}"
                    )
                continue
            if name != "grad_clip" or self.grad_clip is not None:
                _finite_number(getattr(self, name), fn, name)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"{fn}: optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}"
            )
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f"{fn}: compute_dtype must be one of {list(COMPUTE_DTYPES)}, "
                f"got {self.compute_dtype!r}"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"{fn}: schedule must be one of {list(SCHEDULES)}, got {self.schedule!r}"
            )
        if not callable(self.learning_rate) and not self.learning_rate > 0:
            raise ValueError(f"{fn}: learning_rate must be > 0, got {self.learning_rate!r}")
        if self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise ValueError(
                f"{fn}: weight_decay must be >= 0 and momentum in [0, 1), "
                f"got {self.weight_decay!r}, {self.momentum!r}"
            )
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"{fn}: grad_clip must be > 0 or None, got {self.grad_clip!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(
                f"{fn}: label_smoothing must be in [0, 1), got {self.label_smoothing!r}"
            )
        if isinstance(self.frozen, str) or not all(isinstance(p, str) for p in self.frozen):
            raise TypeError(f"{fn}: frozen must be a tuple of str patterns, got {self.frozen!r}")

    def to_dict(self) -> dict:
        """The config as a JSON-able dict (for results.json)."""
        d = dataclasses.asdict(self)
        d["frozen"] = list(self.frozen)
        if callable(self.learning_rate):
            d["learning_rate"] = schedule_record(self.learning_rate)
        return d


def schedule_record(schedule: Callable[[Any], Any]) -> dict:
    """A JSON-able record of an optax schedule: its name and values at a few steps."""
    name = getattr(schedule, "__qualname__", type(schedule).__name__)
    module = getattr(schedule, "__module__", None)
    values = [float(schedule(s)) for s in SCHEDULE_PROBES]
    return {"schedule": f"{module}.{name}" if module else name, "values": values}


SCHEDULE_PROBES = (0, 1, 10, 100, 1000, 10000)


def _int_at_least(value, low: int, fn: str, arg: str) -> None:
    if not is_int(value):
        raise TypeError(f"{fn}: {arg} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{fn}: {arg} must be >= {low}, got {value}")


def _finite_number(value, fn: str, arg: str) -> None:
    # NaN passed "weight_decay < 0" and inf passed "learning_rate > 0": both train to NaN.
    if not is_real(value):
        raise TypeError(f"{fn}: {arg} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {arg} must be finite, got {value!r}")
