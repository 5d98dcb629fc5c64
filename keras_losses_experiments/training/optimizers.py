"""The optimizers of the training recipes (`Recipe.optimizer`), as data, and the Keras optimizer of a recipe."""

from dataclasses import dataclass, field

from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.training.schedules import make_schedule


@dataclass(frozen=True)
class SGD:
    """SGD with momentum (`keras.optimizers.SGD`: the learning rate inside the velocity)."""

    momentum: float = 0.9
    nesterov: bool = True
    kind: str = field(default="sgd", init=False)

    def describe(self):
        return f"SGD, {'Nesterov ' if self.nesterov else ''}momentum {self.momentum:g}"


@dataclass(frozen=True)
class PyTorchSGD:
    """`torch.optim.SGD`'s update (`keras_losses.optimizers.PyTorchSGD`: the learning rate outside the buffer)."""

    momentum: float = 0.9
    nesterov: bool = False
    kind: str = field(default="pytorch_sgd", init=False)

    def describe(self):
        return f"PyTorch SGD, {'Nesterov ' if self.nesterov else ''}momentum {self.momentum:g}"


@dataclass(frozen=True)
class Adam:
    """Adam (`keras.optimizers.Adam`; `AdamW` with weight decay, which Keras applies decoupled as fairseq does)."""

    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    kind: str = field(default="adam", init=False)

    def describe(self):
        return f"Adam β=({self.beta_1:g}, {self.beta_2:g}), ε {self.epsilon:g}"


@dataclass(frozen=True)
class RMSpropTF:
    """TensorFlow's / timm's RMSprop (`keras_losses.optimizers.RMSpropTF`: epsilon inside the square root, the
    square average from ones)."""

    momentum: float = 0.9
    epsilon: float = 1e-3
    rho: float = 0.9
    kind: str = field(default="rmsprop_tf", init=False)

    def describe(self):
        return f"RMSpropTF, momentum {self.momentum:g}, ε {self.epsilon:g}, ρ {self.rho:g}"


OPTIMIZERS = {"sgd": SGD, "pytorch_sgd": PyTorchSGD, "adam": Adam, "rmsprop_tf": RMSpropTF}
#: The optimizers that apply weight decay as PyTorch's L2 and can spare one-dimensional weights.
L2_OPTIMIZERS = ("pytorch_sgd", "rmsprop_tf")


def optimizer_with(optimizer, kind=None, momentum=None, nesterov=None, epsilon=None):
    """`optimizer` (a description above) turned into `kind` and/or given new hyper-parameters (None: keep). A
    new kind keeps the momentum, Nesterov and epsilon it shares with the old one. Raises `ConfigError` naming
    the flag of a hyper-parameter the optimizer lacks."""
    fields = {"momentum": momentum, "nesterov": nesterov, "epsilon": epsilon}
    target = OPTIMIZERS[kind or optimizer.kind]
    if target.kind == optimizer.kind:  # every hyper-parameter kept
        values = {name: getattr(optimizer, name) for name in target.__dataclass_fields__ if name != "kind"}
    else:
        kept = {name: getattr(optimizer, name) for name in fields if hasattr(optimizer, name)}
        values = {name: value for name, value in kept.items() if name in target.__dataclass_fields__}
    for name, value in fields.items():
        if value is None:
            continue
        if name not in target.__dataclass_fields__:
            flag = "optimizer_epsilon" if name == "epsilon" else name
            raise ConfigError(flag, f"does not apply to the {target.kind} optimizer")
        values[name] = value
    if values.get("nesterov") and values.get("momentum") == 0:
        raise ConfigError("nesterov", "needs --momentum > 0")
    return target(**values)


def make_optimizer(recipe, steps_per_epoch, global_batch_size=None):
    """The recipe's optimizer with its schedule; the learning rate scaled to `global_batch_size` where the
    recipe says so (default: the recipe's own batch size).

    Under the `mixed_float16` policy it comes wrapped in a `LossScaleOptimizer` (as `compile` would wrap
    it), here so that the `.keras` file records the wrapper: the model then reloads with its whole optimizer
    state under any global policy (`compile`'s own wrapper is not saved: reloaded under float32, the
    optimizer's variables would not match and Keras would skip them all).
    """
    import keras

    import keras_losses.optimizers

    schedule = make_schedule(recipe, steps_per_epoch, global_batch_size)
    decay = recipe.weight_decay or None
    kind = recipe.optimizer.kind
    if kind in L2_OPTIMIZERS:
        decay_options = {
            "weight_decay": decay,
            "decoupled_decay": recipe.weight_decay_mode == "decoupled",
            "exclude_1d_from_weight_decay": not recipe.weight_decay_on_1d,
        }
    if kind == "sgd":
        optimizer = keras.optimizers.SGD(
            schedule, momentum=recipe.optimizer.momentum, nesterov=recipe.optimizer.nesterov, weight_decay=decay
        )
    elif kind == "pytorch_sgd":
        optimizer = keras_losses.optimizers.PyTorchSGD(
            schedule, momentum=recipe.optimizer.momentum, nesterov=recipe.optimizer.nesterov, **decay_options
        )
    elif kind == "rmsprop_tf":
        optimizer = keras_losses.optimizers.RMSpropTF(
            schedule,
            rho=recipe.optimizer.rho,
            momentum=recipe.optimizer.momentum,
            epsilon=recipe.optimizer.epsilon,
            **decay_options,
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
