"""A training recipe as data: optimizer, learning-rate schedule, peak learning rate, global batch, epochs and
weight decay; one source of truth for the examples, `keras-losses compare`, `--help` and the docs' tables.

The recipes themselves are where their data sets are: `classification.recipes.RECIPES` and the translation
presets' (`translation.presets.PRESETS`). `Recipe.override` applies a run's overrides; every problem raises a
`ConfigError` naming the field.
"""

from dataclasses import dataclass, replace

from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.training.optimizers import L2_OPTIMIZERS, optimizer_with
from keras_losses_experiments.training.schedules import SCHEDULE_FIELDS, SCHEDULES


@dataclass(frozen=True)
class Recipe:
    """How to train: optimizer, schedule, peak learning rate, global batch, epochs, weight decay.

    `learning_rate` is the peak, for a global batch of `batch_size`; with `scale_learning_rate` it scales
    linearly with the global batch (Goyal et al. 2017), otherwise it is used as is (Adam recipes).
    `weight_decay` is Keras' decoupled decay, `w <- w - lr * weight_decay * w` every step, as fairseq's Adam
    applies it (`weight_decay_mode="decoupled"`). PyTorch's SGD adds `weight_decay * w` to the gradient instead,
    before the momentum (`weight_decay_mode="l2"`, with the `pytorch_sgd` and `rmsprop_tf` optimizers): at
    momentum 0.9 the same coefficient decays about 10x more there. `weight_decay_on_1d=False` spares biases and
    normalisation weights (timm's optimizer factory).
    """

    optimizer: object  # SGD() or Adam()
    schedule: object  # Constant(), Cosine(), Step() or InverseSqrt()
    learning_rate: float
    batch_size: int
    epochs: int
    weight_decay: float = 0.0
    scale_learning_rate: bool = False
    source: str = ""  # where the numbers come from, for --help and the docs
    weight_decay_mode: str = "decoupled"  # or "l2"
    weight_decay_on_1d: bool = True

    def __post_init__(self):
        warmup_epochs = getattr(self.schedule, "warmup_epochs", 0)
        warmup_steps = getattr(self.schedule, "warmup_steps", 1)
        _check("learning_rate", self.learning_rate, self.learning_rate > 0, "> 0")
        _check("batch_size", self.batch_size, isinstance(self.batch_size, int) and self.batch_size >= 1, ">= 1")
        _check("epochs", self.epochs, isinstance(self.epochs, int) and self.epochs >= 1, ">= 1")
        _check("weight_decay", self.weight_decay, self.weight_decay >= 0, ">= 0")
        _check("warmup_epochs", warmup_epochs, warmup_epochs >= 0, ">= 0")
        _check("warmup_epochs", warmup_epochs, warmup_epochs < self.epochs, f"less than the {self.epochs} epochs")
        _check("warmup_steps", warmup_steps, warmup_steps >= 1, ">= 1")
        kind = self.optimizer.kind
        if self.weight_decay_mode == "l2" and kind not in L2_OPTIMIZERS:
            raise ConfigError("weight_decay_mode", f"l2 needs --optimizer {' or '.join(L2_OPTIMIZERS)}, not {kind}")
        if not self.weight_decay_on_1d and kind not in L2_OPTIMIZERS:
            raise ConfigError(
                "weight_decay_on_1d", f"--no-weight-decay-on-1d needs --optimizer {' or '.join(L2_OPTIMIZERS)}"
            )

    def override(
        self,
        learning_rate=None,
        batch_size=None,
        epochs=None,
        weight_decay=None,
        schedule=None,
        warmup_epochs=None,
        warmup_steps=None,
        optimizer=None,
        momentum=None,
        nesterov=None,
        optimizer_epsilon=None,
        weight_decay_mode=None,
        weight_decay_on_1d=None,
        **schedule_options,
    ):
        """This recipe with a run's overrides (None: keep the recipe's value). `batch_size` is a new reference
        global batch (the examples keep the recipe's and scale; `keras-losses compare` sets its own).

        `schedule` (a name of `SCHEDULES`) keeps the recipe's warm-up epochs; `warmup_epochs` applies to the
        epoch-based schedules, `warmup_steps` to `inverse_sqrt`; `schedule_options` (`milestones`, `decay_rate`,
        `schedule_step_at`, `decay_epochs`, `warmup_lr`) to the schedules that have them. `optimizer` (a name of
        `optimizers.OPTIMIZERS`) keeps the momentum, Nesterov and epsilon it shares with the recipe's. Raises
        `ConfigError` naming the field.
        """
        recipe_schedule = self.schedule
        if schedule is not None and schedule != recipe_schedule.kind:
            if schedule not in SCHEDULES or "inverse_sqrt" in (schedule, recipe_schedule.kind):
                raise ConfigError("schedule", f"{schedule} does not apply to this recipe ({recipe_schedule.kind})")
            recipe_schedule = SCHEDULES[schedule](warmup_epochs=recipe_schedule.warmup_epochs)
        unknown = set(schedule_options) - set(SCHEDULE_FIELDS)
        if unknown:
            raise TypeError(f"override() got unexpected arguments {sorted(unknown)}")
        given = {"warmup_epochs": warmup_epochs, "warmup_steps": warmup_steps, **schedule_options}
        for name, value in given.items():
            if value is None:
                continue
            attribute = SCHEDULE_FIELDS.get(name, name)
            if attribute not in recipe_schedule.__dataclass_fields__ or attribute == "kind":
                raise ConfigError(name, f"does not apply to the {recipe_schedule.kind} schedule")
            recipe_schedule = replace(recipe_schedule, **{attribute: value})
        warmup, total = getattr(recipe_schedule, "warmup_epochs", 0), epochs or self.epochs
        if epochs is not None and warmup_epochs is None and warmup >= epochs:
            raise ConfigError("epochs", f"must be more than the recipe's {warmup:g} warm-up epochs. Received: {total}")
        given = {
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "epochs": epochs,
            "weight_decay": weight_decay,
            "weight_decay_mode": weight_decay_mode,
            "weight_decay_on_1d": weight_decay_on_1d,
        }
        chosen = optimizer_with(self.optimizer, optimizer, momentum, nesterov, optimizer_epsilon)
        return replace(
            self, optimizer=chosen, schedule=recipe_schedule, **{k: v for k, v in given.items() if v is not None}
        )

    def peak_learning_rate(self, global_batch_size=None):
        """The peak learning rate at `global_batch_size` (default: the recipe's)."""
        if not self.scale_learning_rate or global_batch_size is None:
            return self.learning_rate
        return self.learning_rate * global_batch_size / self.batch_size

    def describe(self):
        """One line for `--help` and the docs."""
        decay = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        scaled = f" per {self.batch_size}" if self.scale_learning_rate else f", batch {self.batch_size}"
        return (
            f"{self.optimizer.describe()}, lr {self.learning_rate:.3g}{scaled}, "
            f"{self.schedule.describe(self.epochs)}{decay}, {self.epochs} epochs"
        )


def _check(field, value, condition, requirement):
    if not condition:
        raise ConfigError(field, f"must be {requirement}. Received: {value!r}")
