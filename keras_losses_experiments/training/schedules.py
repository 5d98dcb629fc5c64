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


@dataclass(frozen=True)
class MultiStep:
    """×`decay_rate` at each of the epochs `milestones` (PyTorch's `MultiStepLR`, stepped once per epoch), after an
    optional linear warm-up from 0.

    `step_at` says when the trainer steps the scheduler: "epoch_end" (after each epoch: epoch `e`, counted from 0,
    trains at the rate of `e`, the milestones are the epochs where the new rate starts) or "epoch_start" (as the
    paper's CIFAR trainer, `scheduler.step()` before each epoch's training: epoch `e` trains at the rate of
    `e + 1`, so milestone 30 drops the rate from the 30th epoch, `e = 29`).
    """

    milestones: tuple = (30, 60, 80)
    decay_rate: float = 0.1
    step_at: str = "epoch_end"
    warmup_epochs: float = 0.0
    kind: str = field(default="multistep", init=False)

    def __post_init__(self):
        if not self.milestones or list(self.milestones) != sorted(set(self.milestones)) or self.milestones[0] < 1:
            raise ConfigError("milestones", f"must be increasing epochs >= 1. Received: {self.milestones}")
        if self.step_at not in ("epoch_end", "epoch_start"):
            raise ConfigError("schedule_step_at", f"must be epoch_end or epoch_start. Received: {self.step_at!r}")

    def boundaries(self, steps_per_epoch):
        """The steps where the rate drops."""
        shift = 1 if self.step_at == "epoch_start" else 0
        return [(milestone - shift) * steps_per_epoch for milestone in self.milestones]

    def build(self, learning_rate, steps_per_epoch, epochs):
        from keras_losses.schedules import StepDecay

        warmup = _warmup_steps(self.warmup_epochs, steps_per_epoch, epochs)
        boundaries = self.boundaries(steps_per_epoch)
        if boundaries[0] < warmup:
            raise ConfigError(
                "milestones", f"the first milestone falls inside the {self.warmup_epochs:g} warm-up epochs"
            )
        return StepDecay(learning_rate, boundaries, self.decay_rate, warmup)

    def describe(self, epochs):
        at = ", ".join(map(str, self.milestones))
        started = " (stepped at each epoch's start)" if self.step_at == "epoch_start" else ""
        return f"×{self.decay_rate:g} at epochs {at}{started}" + _describe_warmup(self.warmup_epochs)


@dataclass(frozen=True)
class TimmStep:
    """timm's `StepLRScheduler` (`--sched step`): ×`decay_rate` every `decay_epochs` epochs counted from epoch 0,
    constant within an epoch, after `warmup_epochs` whole epochs of linear warm-up from `warmup_lr`
    (`keras_losses.schedules.EpochStepDecay`)."""

    decay_epochs: float = 30.0
    decay_rate: float = 0.1
    warmup_epochs: float = 0.0
    warmup_lr: float = 0.0
    kind: str = field(default="timm_step", init=False)

    def __post_init__(self):
        if self.warmup_epochs != int(self.warmup_epochs):
            raise ConfigError("warmup_epochs", f"must be whole epochs for timm_step. Received: {self.warmup_epochs}")

    def build(self, learning_rate, steps_per_epoch, epochs):
        from keras_losses.schedules import EpochStepDecay

        try:
            return EpochStepDecay(
                learning_rate,
                self.decay_epochs,
                self.decay_rate,
                steps_per_epoch,
                int(self.warmup_epochs),
                self.warmup_lr,
            )
        except ValueError as error:
            raise ConfigError("decay_epochs", str(error)) from None

    def describe(self, epochs):
        warmup = f", after {self.warmup_epochs:g} warm-up epochs from {self.warmup_lr:g}" if self.warmup_epochs else ""
        return f"×{self.decay_rate:g} every {self.decay_epochs:g} epochs (timm step){warmup}"


SCHEDULES = {
    "constant": Constant,
    "cosine": Cosine,
    "step": Step,
    "multistep": MultiStep,
    "timm_step": TimmStep,
    "inverse_sqrt": InverseSqrt,
}
#: The flags that describe a schedule beyond its kind, as fields of the schedules that take them.
SCHEDULE_FIELDS = {"milestones": "milestones", "decay_rate": "decay_rate", "schedule_step_at": "step_at"}
SCHEDULE_FIELDS |= {"decay_epochs": "decay_epochs", "warmup_lr": "warmup_lr"}


def _warmup_steps(warmup_epochs, steps_per_epoch, epochs):
    return min(round(warmup_epochs * steps_per_epoch), epochs * steps_per_epoch - 1)


def _describe_warmup(warmup_epochs):
    return f", after {warmup_epochs:g} warm-up epochs from 0" if warmup_epochs else ""


def make_schedule(recipe, steps_per_epoch, global_batch_size=None):
    """The recipe's learning rate as a Keras schedule (or a float) for `steps_per_epoch` x `recipe.epochs` steps."""
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"`steps_per_epoch` must be an integer >= 1. Received: {steps_per_epoch!r}")
    return recipe.schedule.build(recipe.peak_learning_rate(global_batch_size), steps_per_epoch, recipe.epochs)
