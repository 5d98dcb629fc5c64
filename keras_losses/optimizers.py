"""Optimizers with the update rules of the papers' PyTorch training scripts, as Keras optimizers.

Keras' optimizers apply `weight_decay` decoupled, `w <- w - lr * weight_decay * w`, beside the update. The
vision scripts the papers ran use PyTorch's L2 penalty instead: `weight_decay * w` is added to the gradient
before the momentum (and, for RMSprop, before the square average), so the decay is scaled by the adaptive
denominator and carried by the momentum. Both optimizers here apply it that way by default
(`decoupled_decay=False`) and Keras' decoupled decay with `decoupled_decay=True`.

- `PyTorchSGD`: `torch.optim.SGD` (momentum, Nesterov, dampening 0). Keras' `SGD` keeps the learning rate
  inside its velocity (`v <- m * v - lr * g`), PyTorch outside (`b <- m * b + g`, `w <- w - lr * b`): equal
  under a constant learning rate, different after each change of it (a step schedule's milestone, a warm-up).
- `RMSpropTF`: timm's `RMSpropTF` (TensorFlow 1's `RMSPropOptimizer`): Keras' `RMSprop` (epsilon inside the
  square root, the learning rate inside the momentum buffer) with the square average initialised to ones,
  as TensorFlow and timm do, instead of zeros.

`exclude_1d_from_weight_decay=True` skips the decay on one-dimensional variables (biases, normalisation scales
and offsets), as timm's `create_optimizer(filter_bias_and_bn=True)` does; unlike Keras'
`exclude_from_weight_decay()`, it is part of the optimizer's config and survives a `.keras` round trip.
Keras' `exclude_from_weight_decay(var_names=...)` works too.

Registered with Keras' serialization (package "keras_losses"): a model compiled with one of them reloads
with `keras.models.load_model` after `import keras_losses`.
"""

import keras
from keras import ops


def _check_weight_decay(weight_decay):
    if weight_decay is not None and (
        not isinstance(weight_decay, (int, float)) or isinstance(weight_decay, bool) or not weight_decay >= 0
    ):
        raise ValueError(f"`weight_decay` must be None or a number >= 0. Received: weight_decay={weight_decay!r}")


class _L2WeightDecay:
    """The weight-decay semantics shared by both optimizers: PyTorch's L2 into the gradient, or Keras' own."""

    def _init_weight_decay(self, decoupled_decay, exclude_1d_from_weight_decay):
        for name, value in (
            ("decoupled_decay", decoupled_decay),
            ("exclude_1d_from_weight_decay", exclude_1d_from_weight_decay),
        ):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
        self.decoupled_decay = bool(decoupled_decay)
        self.exclude_1d_from_weight_decay = bool(exclude_1d_from_weight_decay)

    def _use_weight_decay(self, variable):
        if self.exclude_1d_from_weight_decay and len(variable.shape) == 1:
            return False
        return super()._use_weight_decay(variable)

    def _apply_weight_decay(self, variables):
        # Keras' decoupled decay, applied before the update step; the coupled one is in `_with_l2`.
        if self.decoupled_decay:
            super()._apply_weight_decay(variables)

    def _with_l2(self, gradient, variable):
        gradient = ops.cast(gradient, variable.dtype)
        if self.weight_decay and not self.decoupled_decay and self._use_weight_decay(variable):
            return ops.add(gradient, ops.multiply(ops.cast(self.weight_decay, variable.dtype), variable))
        return gradient

    def _weight_decay_config(self):
        return {
            "decoupled_decay": self.decoupled_decay,
            "exclude_1d_from_weight_decay": self.exclude_1d_from_weight_decay,
        }


@keras.saving.register_keras_serializable(package="keras_losses")
class PyTorchSGD(_L2WeightDecay, keras.optimizers.SGD):
    """Stochastic gradient descent as `torch.optim.SGD` computes it (dampening 0):

        g <- g + weight_decay * w          (unless decoupled_decay; not on excluded variables)
        b <- momentum * b + g              (b = 0 before the first step)
        w <- w - lr * (g + momentum * b)   nesterov=True
        w <- w - lr * b                    nesterov=False

    With `momentum=0`, `w <- w - lr * g`. The buffer `b` holds gradients, not steps: a new learning rate
    applies at once to the whole update, as in PyTorch (Keras' `SGD` keeps the old rate inside its velocity).
    The papers' vision recipes: `PyTorchSGD(lr, momentum=0.9, nesterov=True, weight_decay=1e-4)` (CIFAR) and
    the same without Nesterov (ImageNet ResNet-50).

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`. Defaults to 0.01.
        momentum: float in [0, 1]. Defaults to 0.
        nesterov: bool, PyTorch's Nesterov update above; needs `momentum > 0`. Defaults to False.
        weight_decay: None or float >= 0, the L2 coefficient (PyTorch's `weight_decay`). Defaults to None.
        decoupled_decay: bool. If True, Keras' decoupled decay `w <- w - lr * weight_decay * w` instead.
            Defaults to False.
        exclude_1d_from_weight_decay: bool. If True, no decay on one-dimensional variables (biases,
            normalisation weights). Defaults to False (PyTorch decays every parameter it is given).
        **kwargs: the other arguments of `keras.optimizers.Optimizer` (`use_ema`, `gradient_accumulation_steps`,
            `clipnorm`, `name`, ...).

    Examples:

        >>> import numpy as np
        >>> import keras_losses
        >>> w = keras.Variable(np.array([1.0, -2.0], "float32"))
        >>> sgd = keras_losses.optimizers.PyTorchSGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.5)
        >>> sgd.apply([np.array([0.2, 0.4], "float32")], [w])  # g = grad + 0.5 * w = [0.7, -0.6], b = g
        >>> [round(float(x), 4) for x in keras.ops.convert_to_numpy(w)]  # w - 0.1 * (g + 0.9 * b)
        [0.867, -1.886]
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        weight_decay=None,
        decoupled_decay=False,
        exclude_1d_from_weight_decay=False,
        **kwargs,
    ):
        _check_weight_decay(weight_decay)
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        self.weight_decay = weight_decay
        self._init_weight_decay(decoupled_decay, exclude_1d_from_weight_decay)
        if not isinstance(nesterov, bool):
            raise ValueError(f"`nesterov` must be True or False. Received: nesterov={nesterov!r}")
        if nesterov and momentum == 0:
            raise ValueError("`nesterov=True` needs `momentum` > 0 (as in PyTorch). Received: momentum=0.0")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = self._with_l2(gradient, variable)
        if self.momentum != 0:
            momentum = ops.cast(self.momentum, variable.dtype)
            buffer = self.momentums[self._get_variable_index(variable)]
            self.assign(buffer, ops.add(ops.multiply(buffer, momentum), gradient))
            gradient = ops.add(gradient, ops.multiply(buffer, momentum)) if self.nesterov else buffer
        self.assign_sub(variable, ops.multiply(gradient, learning_rate))

    def get_config(self):
        return {**super().get_config(), **self._weight_decay_config()}


@keras.saving.register_keras_serializable(package="keras_losses")
class RMSpropTF(_L2WeightDecay, keras.optimizers.RMSprop):
    """RMSprop as TensorFlow 1 and timm's `RMSpropTF` compute it (`--opt rmsproptf`):

        g <- g + weight_decay * w                        (unless decoupled_decay; not on excluded variables)
        s <- rho * s + (1 - rho) * g**2                  (s = 1 before the first step)
        b <- momentum * b + lr * g / sqrt(s + epsilon)   (b = 0 before the first step)
        w <- w - b

    (`w <- w - lr * g / sqrt(s + epsilon)` with `momentum=0`; `centered=True` subtracts the square of the
    gradient's moving average from `s` inside the root, as in Keras and timm.) Keras' `RMSprop` with the square
    average initialised to ones: Keras starts it at zeros, which divides the first steps by `sqrt(epsilon)`-sized
    numbers. The defaults are timm's and TensorFlow's; the EfficientNet-B0 ImageNet recipe (timm's
    `train.py --opt rmsproptf --opt-eps .001 --momentum 0.9 --weight-decay 1e-5`) is
    `RMSpropTF(0.048, momentum=0.9, epsilon=1e-3, weight_decay=1e-5, exclude_1d_from_weight_decay=True)`.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`. Defaults to 0.01.
        rho: float in [0, 1), the square average's decay (timm's `alpha`). Defaults to 0.9.
        momentum: float >= 0. Defaults to 0.
        epsilon: float > 0, added inside the square root. Defaults to 1e-10.
        centered: bool. Defaults to False.
        weight_decay: None or float >= 0, the L2 coefficient (timm's `weight_decay`). Defaults to None.
        decoupled_decay: bool. If True, Keras' decoupled decay `w <- w - lr * weight_decay * w` instead (timm's
            `decoupled_decay=True` of timm >= 0.5). Defaults to False.
        exclude_1d_from_weight_decay: bool. If True, no decay on one-dimensional variables (biases,
            normalisation weights), as timm's optimizer factory. Defaults to False.
        **kwargs: the other arguments of `keras.optimizers.Optimizer`.

    Examples:

        >>> import numpy as np
        >>> import keras_losses
        >>> w = keras.Variable(np.array([1.0], "float32"))
        >>> rmsprop = keras_losses.optimizers.RMSpropTF(0.1, epsilon=1e-3)
        >>> rmsprop.apply([np.array([2.0], "float32")], [w])  # s = 0.9 + 0.1 * 4 = 1.3
        >>> round(float(keras.ops.convert_to_numpy(w)[0]), 5)  # 1 - 0.1 * 2 / sqrt(1.301)
        0.82466
    """

    def __init__(
        self,
        learning_rate=0.01,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-10,
        centered=False,
        weight_decay=None,
        decoupled_decay=False,
        exclude_1d_from_weight_decay=False,
        **kwargs,
    ):
        _check_weight_decay(weight_decay)
        super().__init__(
            learning_rate=learning_rate, rho=rho, momentum=momentum, epsilon=epsilon, centered=centered, **kwargs
        )
        self.weight_decay = weight_decay
        self._init_weight_decay(decoupled_decay, exclude_1d_from_weight_decay)
        if not isinstance(rho, (int, float)) or not 0 <= rho < 1:
            raise ValueError(f"`rho` must be in [0, 1). Received: rho={rho!r}")
        if not isinstance(momentum, (int, float)) or not momentum >= 0:
            raise ValueError(f"`momentum` must be a number >= 0. Received: momentum={momentum!r}")
        if not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"`epsilon` must be a number > 0. Received: epsilon={epsilon!r}")

    def build(self, var_list):
        if self.built:
            return
        # The base class's variables, then RMSprop's with the square average at ones (RMSprop.build: zeros).
        super(keras.optimizers.RMSprop, self).build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity", initializer="ones")
        self._momentums = self.add_optimizer_variables(var_list, "momentum") if self.momentum > 0 else []
        self._average_gradients = self.add_optimizer_variables(var_list, "average_gradient") if self.centered else []

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(self._with_l2(gradient, variable), variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), **self._weight_decay_config()}
