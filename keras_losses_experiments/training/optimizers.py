"""The optimizers of the training recipes (`Recipe.optimizer`), as data, and the Keras optimizer of a recipe."""

from dataclasses import dataclass, field

from keras_losses_experiments.training.schedules import make_schedule


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
