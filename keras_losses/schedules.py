"""Learning-rate schedules of the papers' training recipes, as Keras `LearningRateSchedule`s.

Registered with Keras' serialization (package "keras_losses"), so that a model compiled with an optimizer
that uses one of them is saved in its `.keras` file and loads with `keras.models.load_model` after
`import keras_losses` alone.

`step` is the optimizer's iteration count: 0 for the first update. A warm-up rises linearly from 0 at step 0
to the peak at `warmup_steps`, as in Keras' `CosineDecay(warmup_steps=...)` and fairseq's `inverse_sqrt`.
"""

import math

import keras
from keras import ops


def _check_positive(name, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0. Received: {name}={value!r}")


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
