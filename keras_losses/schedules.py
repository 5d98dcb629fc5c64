"""Learning-rate schedules of the papers' training recipes, as Keras `LearningRateSchedule`s.

Registered with Keras' serialization (package "keras_losses"), so that a model compiled with an optimizer
that uses one of them is saved in its `.keras` file and loads with `keras.models.load_model` after
`import keras_losses` alone.

`step` is the optimizer's iteration count: 0 for the first update. A warm-up rises linearly from 0 at step 0
to the peak at `warmup_steps`, as in Keras' `CosineDecay(warmup_steps=...)` and fairseq's `inverse_sqrt`
(`EpochStepDecay`'s, timm's, from a start rate).

With `gradient_accumulation_steps=N` Keras calls the schedule with the number of batches, not of updates:
wrap it in `ScheduleOnUpdates(schedule, N)` to count updates.
"""

import math
from fractions import Fraction

import keras
from keras import ops


def _check_positive(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0. Received: {name}={value!r}")


def _check_non_negative(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")


def _check_steps(name, value, minimum):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")


@keras.saving.register_keras_serializable(package="keras_losses")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then the learning rate multiplied by `factor` at every boundary:

        lr(step) = learning_rate * step / warmup_steps                        step < warmup_steps
        lr(step) = learning_rate * factor ** #{b in boundaries : b <= step}   otherwise

    The ImageNet recipe of Goyal et al. 2017 (*Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour*,
    arXiv 1706.02677): 5 warm-up epochs, x0.1 at epochs 30, 60 and 80 of 90. With no boundaries it is a
    constant learning rate after the warm-up.

    Args:
        learning_rate: float > 0, the learning rate after the warm-up (the peak).
        boundaries: integer steps in increasing order, each >= `warmup_steps`, where the rate is multiplied
            by `factor` (twice at a step given twice). Defaults to none.
        factor: float in (0, 1], the multiplier at each boundary. Defaults to 0.1.
        warmup_steps: integer >= 0, the length of the linear warm-up from 0. Defaults to 0 (none).

    Examples:

        >>> import keras_losses
        >>> schedule = keras_losses.schedules.StepDecay(0.1, boundaries=[30, 60], warmup_steps=10)
        >>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 29, 30, 60)]
        [0.0, 0.05, 0.1, 0.1, 0.01, 0.001]
    """

    def __init__(self, learning_rate, boundaries=(), factor=0.1, warmup_steps=0):
        _check_positive("learning_rate", learning_rate)
        _check_steps("warmup_steps", warmup_steps, 0)
        boundaries = list(boundaries)
        for boundary in boundaries:
            _check_steps("boundaries", boundary, warmup_steps)
        if boundaries != sorted(boundaries):
            raise ValueError(f"`boundaries` must be in increasing order. Received: boundaries={boundaries}")
        if not isinstance(factor, (int, float)) or not 0 < factor <= 1:
            raise ValueError(f"`factor` must be in (0, 1]. Received: factor={factor!r}")
        self.learning_rate, self.boundaries = float(learning_rate), boundaries
        self.factor, self.warmup_steps = float(factor), warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        passed = sum(ops.cast(ops.greater_equal(step, float(b)), "float32") for b in self.boundaries)
        decayed = self.learning_rate * ops.power(self.factor, passed)
        if not self.warmup_steps:
            return decayed
        return ops.where(step < self.warmup_steps, self.learning_rate * step / self.warmup_steps, decayed)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "boundaries": self.boundaries,
            "factor": self.factor,
            "warmup_steps": self.warmup_steps,
        }


@keras.saving.register_keras_serializable(package="keras_losses")
class EpochStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """timm's `StepLRScheduler` (`train.py --sched step`): a linear warm-up from a start rate, then the rate
    multiplied by `decay_rate` every `decay_epochs` epochs, constant within each epoch:

        epoch    = step // steps_per_epoch
        lr(step) = warmup_learning_rate + epoch * (learning_rate - warmup_learning_rate) / warmup_epochs
                                                                        epoch < warmup_epochs
        lr(step) = learning_rate * decay_rate ** (epoch // decay_epochs)  otherwise

    As timm computes it, the decay counts epochs from 0, not from the end of the warm-up: the first epoch
    after the warm-up already has `learning_rate * decay_rate ** (warmup_epochs // decay_epochs)`, and the
    peak `learning_rate` itself is used only where `warmup_epochs < decay_epochs`. `epoch // decay_epochs` is
    Python's floor division of floats (timm's), computed exactly with integers: `12 // 2.4 == 5`. timm updates
    the rate at the end of each epoch (`t_in_epochs=True`, its default), hence the constant rate within one.
    The EfficientNet-B0 ImageNet recipe (timm's `--lr .048 --decay-epochs 2.4 --decay-rate .97
    --warmup-lr 1e-6`, 3 warm-up epochs by default) is `EpochStepDecay(0.048, 2.4, 0.97, steps_per_epoch,
    warmup_epochs=3, warmup_learning_rate=1e-6)`. With `warmup_epochs=0` and an integer `decay_epochs` it is
    PyTorch's `StepLR(step_size=decay_epochs, gamma=decay_rate)` stepped once per epoch.

    Args:
        learning_rate: float > 0, the rate `decay_rate` multiplies (timm's `--lr`).
        decay_epochs: float > 0, the decay period in epochs; a ratio of integers with a denominator of at most
            10000 (2.4 = 12/5).
        decay_rate: float in (0, 1], the multiplier of each period.
        steps_per_epoch: integer >= 1, the optimizer updates of one epoch.
        warmup_epochs: integer >= 0, the epochs of the warm-up. Defaults to 0 (none).
        warmup_learning_rate: float >= 0, the rate of the first epoch of the warm-up (timm's `--warmup-lr`).
            Defaults to 0.

    Examples:

        >>> import keras_losses
        >>> schedule = keras_losses.schedules.EpochStepDecay(0.048, 2.4, 0.97, steps_per_epoch=10, warmup_epochs=3,
        ...                                                  warmup_learning_rate=1e-6)
        >>> [round(float(schedule(step)), 6) for step in (0, 9, 10, 20, 30, 50, 120)]  # epochs 0, 0, 1, 2, 3, 5, 12
        [1e-06, 1e-06, 0.016001, 0.032, 0.04656, 0.045163, 0.041219]
    """

    def __init__(
        self, learning_rate, decay_epochs, decay_rate, steps_per_epoch, warmup_epochs=0, warmup_learning_rate=0.0
    ):
        _check_positive("learning_rate", learning_rate)
        _check_positive("decay_epochs", decay_epochs)
        if not isinstance(decay_rate, (int, float)) or isinstance(decay_rate, bool) or not 0 < decay_rate <= 1:
            raise ValueError(f"`decay_rate` must be in (0, 1]. Received: decay_rate={decay_rate!r}")
        _check_steps("steps_per_epoch", steps_per_epoch, 1)
        _check_steps("warmup_epochs", warmup_epochs, 0)
        _check_non_negative("warmup_learning_rate", warmup_learning_rate)
        period = Fraction(decay_epochs).limit_denominator(10_000)
        if float(period) != decay_epochs:
            raise ValueError(
                "`decay_epochs` must be a ratio of integers with a denominator of at most 10000 (e.g. 2.4 = 12/5). "
                f"Received: decay_epochs={decay_epochs!r}"
            )
        self.learning_rate, self.decay_epochs, self.decay_rate = float(learning_rate), decay_epochs, float(decay_rate)
        self.steps_per_epoch, self.warmup_epochs = steps_per_epoch, warmup_epochs
        self.warmup_learning_rate = float(warmup_learning_rate)
        # epoch // decay_epochs = floor(epoch * q / p) for decay_epochs = p / q, less one at the exact multiples
        # where the float decay_epochs is above p / q (Python divides by the float: 11 // 1.1 == 9).
        self._period = (period.numerator, period.denominator, int(Fraction(decay_epochs) > period))

    def __call__(self, step):
        epoch = ops.floor_divide(ops.cast(step, "int32"), self.steps_per_epoch)
        numerator, denominator, above = self._period
        periods = ops.maximum(ops.floor_divide(epoch * denominator - above, numerator), 0)
        # exp(n * log(rate)) with the log in float64: power() of a float32 0.97 drifts by 5e-6 after 187 periods.
        decayed = self.learning_rate * ops.exp(ops.cast(periods, "float32") * math.log(self.decay_rate))
        if not self.warmup_epochs:
            return decayed
        slope = (self.learning_rate - self.warmup_learning_rate) / self.warmup_epochs
        warmup = self.warmup_learning_rate + ops.cast(epoch, "float32") * slope
        return ops.where(epoch < self.warmup_epochs, warmup, decayed)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "decay_epochs": self.decay_epochs,
            "decay_rate": self.decay_rate,
            "steps_per_epoch": self.steps_per_epoch,
            "warmup_epochs": self.warmup_epochs,
            "warmup_learning_rate": self.warmup_learning_rate,
        }


@keras.saving.register_keras_serializable(package="keras_losses")
class ScheduleOnUpdates(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule evaluated at the number of optimizer updates when gradients are accumulated:

        lr(step) = schedule(step // gradient_accumulation_steps)

    Keras' optimizers with `gradient_accumulation_steps=N` update the weights once every N batches but call
    their learning-rate schedule with the number of batches (`optimizer._iterations`). At the k-th update
    (0-based) that count is `k * N + N - 1`, so this wrapper gives the k-th update `schedule(k)`: the schedule
    counts updates, as fairseq's `--update-freq N` does (a warm-up of 4000 updates lasts 4000 updates).

    Args:
        schedule: a `keras.optimizers.schedules.LearningRateSchedule` over updates.
        gradient_accumulation_steps: integer >= 1, the optimizer's (1: the schedule itself).

    Examples:

        >>> import keras_losses
        >>> inner = keras_losses.schedules.StepDecay(1.0, boundaries=[2], factor=0.5)
        >>> schedule = keras_losses.schedules.ScheduleOnUpdates(inner, 4)
        >>> [float(schedule(batch)) for batch in (3, 7, 11, 15)]  # the last batch of updates 0, 1, 2, 3
        [1.0, 1.0, 0.5, 0.5]
    """

    def __init__(self, schedule, gradient_accumulation_steps):
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError(
                f"`schedule` must be a keras.optimizers.schedules.LearningRateSchedule. Received: schedule={schedule!r}"
            )
        _check_steps("gradient_accumulation_steps", gradient_accumulation_steps, 1)
        self.schedule, self.gradient_accumulation_steps = schedule, gradient_accumulation_steps

    def __call__(self, step):
        return self.schedule(ops.floor_divide(step, self.gradient_accumulation_steps))

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["schedule"]), config["gradient_accumulation_steps"])


@keras.saving.register_keras_serializable(package="keras_losses")
class InverseSquareRootSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `learning_rate`, then decay with the inverse square root of the step:

        lr(step) = learning_rate * min(step / warmup_steps, sqrt(warmup_steps / step))

    fairseq's `inverse_sqrt` scheduler (the encouraging-loss paper's IWSLT setup: peak 5e-4 after 4000
    updates). The Transformer's schedule (Vaswani et al. 2017, *Attention Is All You Need*, arXiv 1706.03762),
    `d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)`, is this one with
    `learning_rate = (d_model * warmup_steps)^-0.5`.

    Args:
        learning_rate: float > 0, the peak, reached at `warmup_steps`.
        warmup_steps: integer >= 1. Defaults to 4000.

    Examples:

        >>> import keras_losses
        >>> schedule = keras_losses.schedules.InverseSquareRootSchedule(5e-4, warmup_steps=4000)
        >>> [round(float(schedule(step)) * 1e4, 4) for step in (0, 2000, 4000, 16000)]
        [0.0, 2.5, 5.0, 2.5]
    """

    def __init__(self, learning_rate, warmup_steps=4000):
        _check_positive("learning_rate", learning_rate)
        _check_steps("warmup_steps", warmup_steps, 1)
        self.learning_rate, self.warmup_steps = float(learning_rate), warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / self.warmup_steps
        decay = ops.sqrt(self.warmup_steps / ops.maximum(step, 1.0))
        return self.learning_rate * ops.minimum(warmup, decay)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}
