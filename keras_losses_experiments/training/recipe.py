"""Training recipes as data: one source of truth for the examples, `keras-losses compare`, `--help` and the
recipe tables of the documentation (docs/examples.md).

A `Recipe` is an optimizer (`SGD`, `Adam`), a learning-rate schedule (`Constant`, `Cosine`, `Step`,
`InverseSqrt`), the peak learning rate, the global batch, the number of epochs and the weight decay; every
field takes effect in `make_optimizer`. `RECIPES` holds the standard one of each data set, `PRESETS` the
translation presets (architecture, recipe, loss and decoding defaults). `Recipe.override` applies
command-line overrides and raises `RecipeError` naming the flag for one that does not apply.
"""

from dataclasses import dataclass, field, replace


class RecipeError(ValueError):
    """An override that does not apply to the recipe; the message names the flag."""


# --- optimizers -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SGD:
    """SGD with momentum (`keras.optimizers.SGD`)."""

    momentum: float = 0.9
    nesterov: bool = True
    kind: str = field(default="sgd", init=False)

    def describe(self):
        return f"SGD, {'Nesterov ' if self.nesterov else ''}momentum {self.momentum:g}"


@dataclass(frozen=True)
class Adam:
    """Adam (`keras.optimizers.Adam`; `AdamW` with weight decay, which Keras applies decoupled as fairseq does)."""

    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    kind: str = field(default="adam", init=False)

    def describe(self):
        return f"Adam β=({self.beta_1:g}, {self.beta_2:g}), ε {self.epsilon:g}"


# --- schedules (each knows how to become a Keras schedule for a run of `total` steps) ----------------------


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
            raise RecipeError(f"Step.at must be increasing fractions in (0, 1). Received: {self.at}")

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


# --- the recipe --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How to train: optimizer, schedule, peak learning rate, global batch, epochs, weight decay.

    `learning_rate` is the peak, for a global batch of `batch_size`; with `scale_learning_rate` it scales
    linearly with the global batch (Goyal et al. 2017), otherwise it is used as is (Adam recipes).
    `weight_decay` is Keras' decoupled decay, `w <- w - lr * weight_decay * w` every step, as fairseq's Adam
    applies it. PyTorch's SGD, where the vision recipes' numbers come from, adds `weight_decay * w` to the
    gradient instead, before the momentum: at momentum 0.9 the same coefficient decays about 10x more there.
    """

    optimizer: object  # SGD() or Adam()
    schedule: object  # Constant(), Cosine(), Step() or InverseSqrt()
    learning_rate: float
    batch_size: int
    epochs: int
    weight_decay: float = 0.0
    scale_learning_rate: bool = False
    source: str = ""  # where the numbers come from, for --help and the docs

    def __post_init__(self):
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        _check(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _check(isinstance(self.epochs, int) and self.epochs >= 1, "epochs", self.epochs, ">= 1")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        warmup = getattr(self.schedule, "warmup_epochs", 0)
        _check(0 <= warmup < self.epochs, "warmup_epochs", warmup, f"in [0, epochs = {self.epochs})")
        _check(
            getattr(self.schedule, "warmup_steps", 1) >= 1,
            "warmup_steps",
            getattr(self.schedule, "warmup_steps", 1),
            ">= 1",
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
    ):
        """This recipe with the command line's overrides (None: keep the recipe's value). `batch_size` is a new
        reference global batch (the examples keep the recipe's and scale; `keras-losses compare` sets its own).

        `schedule` (a name of `SCHEDULES`) keeps the recipe's warm-up epochs; `warmup_epochs` applies to the
        epoch-based schedules, `warmup_steps` to `inverse_sqrt`. Raises `RecipeError` naming the flag.
        """
        recipe_schedule = self.schedule
        if schedule is not None and schedule != recipe_schedule.kind:
            if schedule not in SCHEDULES or schedule == "inverse_sqrt" or recipe_schedule.kind == "inverse_sqrt":
                raise RecipeError(f"--schedule {schedule} does not apply to this recipe ({recipe_schedule.kind})")
            recipe_schedule = SCHEDULES[schedule](warmup_epochs=recipe_schedule.warmup_epochs)
        if warmup_epochs is not None:
            if not hasattr(recipe_schedule, "warmup_epochs"):
                raise RecipeError(
                    f"--warmup-epochs does not apply to the {recipe_schedule.kind} schedule "
                    "(its warm-up is in updates: --warmup-steps)"
                )
            recipe_schedule = replace(recipe_schedule, warmup_epochs=warmup_epochs)
        if warmup_steps is not None:
            if not hasattr(recipe_schedule, "warmup_steps"):
                raise RecipeError(
                    f"--warmup-steps does not apply to the {recipe_schedule.kind} schedule "
                    "(its warm-up is in epochs: --warmup-epochs)"
                )
            recipe_schedule = replace(recipe_schedule, warmup_steps=warmup_steps)
        given = {
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "epochs": epochs,
            "weight_decay": weight_decay,
            "warmup_epochs": warmup_epochs,
            "warmup_steps": warmup_steps,
        }
        for name, value in given.items():
            if value is not None and not (value >= 0 if name in ("weight_decay", "warmup_epochs") else value > 0):
                requirement = ">= 0" if name in ("weight_decay", "warmup_epochs") else "> 0"
                raise RecipeError(f"--{name.replace('_', '-')} must be {requirement}. Received: {value}")
        if getattr(recipe_schedule, "warmup_epochs", 0) >= (epochs or self.epochs):
            raise RecipeError(
                f"--warmup-epochs ({recipe_schedule.warmup_epochs:g}) must be less than --epochs "
                f"({epochs or self.epochs})"
            )
        return replace(
            self,
            schedule=recipe_schedule,
            **{k: v for k, v in given.items() if v is not None and k not in ("warmup_epochs", "warmup_steps")},
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


def _check(condition, name, value, requirement):
    if not condition:
        raise RecipeError(f"`{name}` must be {requirement}. Received: {name}={value!r}")


def make_schedule(recipe, steps_per_epoch, global_batch_size=None):
    """The recipe's learning rate as a Keras schedule (or a float) for `steps_per_epoch` x `recipe.epochs` steps."""
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"`steps_per_epoch` must be an integer >= 1. Received: {steps_per_epoch!r}")
    return recipe.schedule.build(recipe.peak_learning_rate(global_batch_size), steps_per_epoch, recipe.epochs)


def make_optimizer(recipe, steps_per_epoch, global_batch_size=None):
    """The recipe's optimizer with its schedule; the learning rate scaled to `global_batch_size` where the
    recipe says so (default: the recipe's own batch size).

    Under the `mixed_float16` policy it comes wrapped in a `LossScaleOptimizer` (as `compile` would wrap
    it), here so that the `.keras` file records the wrapper: the model then reloads with its whole optimizer
    state under any global policy (`compile`'s own wrapper is not saved: reloaded under float32, the
    optimizer's variables would not match and Keras would skip them all).
    """
    import keras

    schedule = make_schedule(recipe, steps_per_epoch, global_batch_size)
    decay = recipe.weight_decay or None
    if recipe.optimizer.kind == "sgd":
        optimizer = keras.optimizers.SGD(
            schedule, momentum=recipe.optimizer.momentum, nesterov=recipe.optimizer.nesterov, weight_decay=decay
        )
    else:
        adam = keras.optimizers.AdamW if decay else keras.optimizers.Adam
        options = {"weight_decay": decay} if decay else {}
        optimizer = adam(
            schedule,
            beta_1=recipe.optimizer.beta_1,
            beta_2=recipe.optimizer.beta_2,
            epsilon=recipe.optimizer.epsilon,
            **options,
        )
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


# --- translation presets -------------------------------------------------------------------------------------


def transformer_learning_rate(model_dim, warmup_steps):
    """The peak of Vaswani et al.'s schedule `d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)`."""
    return (model_dim * warmup_steps) ** -0.5


@dataclass(frozen=True)
class TranslationPreset:
    """An encoder-decoder transformer, its training recipe, and the loss and decoding defaults."""

    layers: int  # encoder layers = decoder layers
    model_dim: int
    heads: int
    feedforward_dim: int
    dropout: float
    recipe: Recipe
    loss: str  # a loss specification (loss_specs): "ce", "conservative_encouraging:0.5", ...
    label_smoothing: float
    beams: int  # beam size of the test translations (1: greedy)
    #: True: the peak learning rate is Vaswani's (model_dim * warmup_steps)^-0.5, recomputed by `override`.
    learning_rate_from_model_dim: bool = False
    source: str = ""

    def override(
        self,
        layers=None,
        model_dim=None,
        heads=None,
        feedforward_dim=None,
        dropout=None,
        learning_rate=None,
        warmup_steps=None,
        **recipe_flags,
    ):
        """This preset with the command line's overrides (None: keep); `recipe_flags` go to `Recipe.override`."""
        for name, value in {
            "layers": layers,
            "model_dim": model_dim,
            "heads": heads,
            "feedforward_dim": feedforward_dim,
        }.items():
            if value is not None and value < 1:
                raise RecipeError(f"--{name.replace('_', '-')} must be >= 1. Received: {value}")
        if dropout is not None and not 0 <= dropout < 1:
            raise RecipeError(f"--dropout must be in [0, 1). Received: {dropout}")
        if (model_dim or self.model_dim) % (heads or self.heads):
            raise RecipeError(
                f"--model-dim ({model_dim or self.model_dim}) must be a multiple of --heads ({heads or self.heads})"
            )
        architecture = {
            "layers": layers,
            "model_dim": model_dim,
            "heads": heads,
            "feedforward_dim": feedforward_dim,
            "dropout": dropout,
        }
        preset = replace(self, **{k: v for k, v in architecture.items() if v is not None})
        recipe = preset.recipe.override(learning_rate=learning_rate, warmup_steps=warmup_steps, **recipe_flags)
        following = self.learning_rate_from_model_dim and learning_rate is None
        if following:
            recipe = replace(
                recipe, learning_rate=transformer_learning_rate(preset.model_dim, recipe.schedule.warmup_steps)
            )
        return replace(preset, recipe=recipe, learning_rate_from_model_dim=following)

    def describe(self):
        loss = f"{self.loss}, label smoothing {self.label_smoothing:g}, beam {self.beams}"
        return (
            f"{self.layers}+{self.layers} layers, d_model {self.model_dim}, ff {self.feedforward_dim}, "
            f"{self.heads} heads, dropout {self.dropout:g}; {self.recipe.describe()}; {loss}"
        )


def _translation_recipe(learning_rate, batch_size, epochs, weight_decay=0.0, epsilon=1e-9, source=""):
    return Recipe(
        Adam(0.9, 0.98, epsilon), InverseSqrt(4000), learning_rate, batch_size, epochs, weight_decay, source=source
    )


PRESETS = {
    # The encouraging-loss paper's IWSLT'14 De-En setup: fairseq's `transformer_iwslt_de_en`.
    "iwslt": TranslationPreset(
        6,
        512,
        4,
        1024,
        0.3,
        _translation_recipe(
            5e-4,
            128,
            30,
            weight_decay=1e-4,
            epsilon=1e-8,
            source="fairseq transformer_iwslt_de_en, as trained in Zhao et al. 2022; fairseq batches "
            "by tokens (--max-tokens 4096, about 150 IWSLT sentences), we by sentences",
        ),
        "conservative_encouraging:0.5",
        0.1,
        5,
        source="the encouraging-loss paper's IWSLT De-En setup (Zhao et al. 2022, fairseq)",
    ),
    # Transformer-base (Vaswani et al. 2017): d_model^-0.5 schedule, 4000 warm-up steps.
    "base": TranslationPreset(
        6,
        512,
        8,
        2048,
        0.1,
        _translation_recipe(
            transformer_learning_rate(512, 4000),
            512,
            12,
            source="Vaswani et al. 2017; they batch ~25,000 source + 25,000 target tokens "
            "(~900 WMT sentences) for 100k steps, we 512 sentences for 12 epochs",
        ),
        "ce",
        0.1,
        4,
        learning_rate_from_model_dim=True,
        source="Transformer-base (Vaswani et al. 2017)",
    ),
    # Transformer-base's recipe on a model small enough for a CPU (smoke tests).
    "tiny": TranslationPreset(
        1,
        32,
        2,
        64,
        0.1,
        _translation_recipe(transformer_learning_rate(32, 4000), 64, 30, source="for CPUs and tests"),
        "ce",
        0.1,
        4,
        learning_rate_from_model_dim=True,
        source="a small model with Transformer-base's recipe, for CPUs",
    ),
}
PAPER_PRESET = "iwslt"  # the preset of the encouraging-loss paper's translation experiments
#: The translator's output layers: `chunked` is `keras_losses.LossHead` (the loss in chunks of tokens, never the
#: `[tokens, V]` logits: the same training to float32 rounding, less memory), `dense` the plain `Dense` layer.
HEADS = ("chunked", "dense")
DEFAULT_HEAD = "chunked"
HEAD_HELP = (
    "the translator's logits layer: chunked, keras_losses.LossHead (the loss computed in chunks of tokens, never "
    "the [tokens, vocabulary] logits: the same training as dense to float32 rounding, in less memory), or dense, "
    "keras.layers.Dense"
)


# --- the standard recipe of each data set -----------------------------------------------------------------

_SGD_NESTEROV = SGD(0.9, nesterov=True)
RECIPES = {
    "digits": Recipe(Adam(), Constant(), 1e-3, 64, 20, source="a small network on 1,437 images: a minute on a CPU"),
    "cifar10": Recipe(
        _SGD_NESTEROV,
        Cosine(),
        0.1,
        128,
        200,
        5e-4,
        scale_learning_rate=True,
        source="the standard CIFAR ResNet recipe",
    ),
    "cifar100": Recipe(
        _SGD_NESTEROV,
        Cosine(),
        0.1,
        128,
        200,
        5e-4,
        scale_learning_rate=True,
        source="the standard CIFAR ResNet recipe",
    ),
    "imagenet2012": Recipe(
        _SGD_NESTEROV,
        Step(warmup_epochs=5),
        0.1,
        256,
        90,
        1e-4,
        scale_learning_rate=True,
        source="Goyal et al. 2017 (their warm-up starts at 0.1, ours at 0)",
    ),
    "ted_hrlr_translate/pt_to_en": PRESETS["iwslt"].recipe,
    "wmt14_translate/de-en": PRESETS["base"].recipe,
}
DEFAULT_PRESET = {"ted_hrlr_translate/pt_to_en": "iwslt", "wmt14_translate/de-en": "base"}


def recipe_table():
    """The recipe tables of docs/examples.md (Markdown), generated from `RECIPES` and `PRESETS`:
    `python -m keras_losses_experiments.training.recipe` prints them."""
    rows = [
        "| recipe | optimizer | peak learning rate | schedule | weight decay | global batch | epochs | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    named = [(f"`{name}`", recipe, False) for name, recipe in RECIPES.items() if name not in DEFAULT_PRESET]
    named += [
        (f"translation, `--preset {name}`", preset.recipe, preset.learning_rate_from_model_dim)
        for name, preset in PRESETS.items()
    ]
    for name, recipe, from_model_dim in named:
        rate = f"{recipe.learning_rate:.3g}" + (f" × batch / {recipe.batch_size}" if recipe.scale_learning_rate else "")
        rate = f"(d_model · warm-up)^-0.5 = {rate}" if from_model_dim else rate
        rows.append(
            f"| {name} | {recipe.optimizer.describe()} | {rate} | {recipe.schedule.describe(recipe.epochs)} "
            f"| {recipe.weight_decay:g} | {recipe.batch_size} | {recipe.epochs} | {recipe.source} |"
        )
    header = (
        "| translation preset | layers (encoder + decoder) | d_model | heads | feed-forward | dropout | loss "
        "| label smoothing | beam | default for | what it is |"
    )
    rows += ["", header, "| --- |" + " --- |" * 10]
    for name, preset in PRESETS.items():
        default_for = ", ".join(f"`{d}`" for d, p in DEFAULT_PRESET.items() if p == name) or "-"
        rows.append(
            f"| `{name}` | {preset.layers} + {preset.layers} | {preset.model_dim} | {preset.heads} "
            f"| {preset.feedforward_dim} | {preset.dropout:g} | `{preset.loss}` | {preset.label_smoothing:g} "
            f"| {preset.beams} | {default_for} | {preset.source} |"
        )
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(recipe_table(), end="")
