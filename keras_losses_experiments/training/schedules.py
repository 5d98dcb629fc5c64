"""The learning-rate schedules of the training recipes (`Recipe.schedule`), as data: each becomes a Keras
schedule for a run of a given number of steps (`make_schedule`)."""

from dataclasses import dataclass, field

from keras_losses_experiments.errors import ConfigError


@dataclass(frozen=True)
class Constant:
    """The peak learning rate throughout, after an optional linear warm-up from 0."""

    warmup_epochs: float = 0.0
    kind: str = field(default="constant", init=False)

    def build(self, learning_rate, steps_per_epoch, epochs):
        from keras_losses.schedules import StepDecay

        warmup = _warmup_steps(self.warmup_epochs, steps_per_epoch, epochs)
        return StepDecay(learning_rate, warmup_steps=warmup) if warmup else learning_rate

    def describe(self, epochs):
        return "constant" + _describe_warmup(self.warmup_epochs)


@dataclass(frozen=True)
class Cosine:
    """Cosine decay to 0 at the end of training (Loshchilov & Hutter 2017), after an optional linear warm-up."""

    warmup_epochs: float = 0.0
    kind: str = field(default="cosine", init=False)

    def build(self, learning_rate, steps_per_epoch, epochs):
        import keras

        total = epochs * steps_per_epoch
        warmup = _warmup_steps(self.warmup_epochs, steps_per_epoch, epochs)
        if not warmup:
            return keras.optimizers.schedules.CosineDecay(learning_rate, total)
        return keras.optimizers.schedules.CosineDecay(
            0.0, total - warmup, warmup_target=learning_rate, warmup_steps=warmup
        )

    def describe(self, epochs):
        return "cosine to 0" + _describe_warmup(self.warmup_epochs)


@dataclass(frozen=True)
class Step:
    """×`factor` at fixed fractions of training, after an optional linear warm-up (Goyal et al. 2017).

    `at` holds fractions of the run, so that the boundaries scale with the number of epochs: the ImageNet
    recipe's epochs 30, 60 and 80 of 90 become 15, 30 and 40 of 45.
    """

    at: tuple = (1 / 3, 2 / 3, 8 / 9)
    factor: float = 0.1
    warmup_epochs: float = 0.0
    kind: str = field(default="step", init=False)

    def __post_init__(self):
        if not all(0 < a < 1 for a in self.at) or list(self.at) != sorted(set(self.at)):
            raise ConfigError("at", f"must be increasing fractions in (0, 1). Received: {self.at}")

    def build(self, learning_rate, steps_per_epoch, epochs):
        from keras_losses.schedules import StepDecay

        warmup = _warmup_steps(self.warmup_epochs, steps_per_epoch, epochs)
        boundaries = [max(warmup, round(a * epochs * steps_per_epoch)) for a in self.at]
        return StepDecay(learning_rate, boundaries, self.factor, warmup)

    def describe(self, epochs):
        at = ", ".join(f"{a * epochs:g}" for a in self.at)
        return f"×{self.factor:g} at epochs {at} of {epochs}" + _describe_warmup(self.warmup_epochs)


@dataclass(frozen=True)
class InverseSqrt:
    """Linear warm-up over `warmup_steps` updates, then `peak * sqrt(warmup_steps / step)` (fairseq, Vaswani)."""

    warmup_steps: int = 4000
    kind: str = field(default="inverse_sqrt", init=False)

    def build(self, learning_rate, steps_per_epoch, epochs):
        from keras_losses.schedules import InverseSquareRootSchedule

        return InverseSquareRootSchedule(learning_rate, self.warmup_steps)

    def describe(self, epochs):
        return f"inverse square root, {self.warmup_steps} warm-up updates"


SCHEDULES = {"constant": Constant, "cosine": Cosine, "step": Step, "inverse_sqrt": InverseSqrt}


def _warmup_steps(warmup_epochs, steps_per_epoch, epochs):
    return min(round(warmup_epochs * steps_per_epoch), epochs * steps_per_epoch - 1)


def _describe_warmup(warmup_epochs):
    return f", after {warmup_epochs:g} warm-up epochs from 0" if warmup_epochs else ""


def make_schedule(recipe, steps_per_epoch, global_batch_size=None):
    """The recipe's learning rate as a Keras schedule (or a float) for `steps_per_epoch` x `recipe.epochs` steps."""
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"`steps_per_epoch` must be an integer >= 1. Received: {steps_per_epoch!r}")
    return recipe.schedule.build(recipe.peak_learning_rate(global_batch_size), steps_per_epoch, recipe.epochs)
