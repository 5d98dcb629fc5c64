"""Finite input never yields NaN or Inf in a loss or its gradient."""

import numpy as np
import pytest
from keras import ops

import keras_losses
from tests.helpers import value_and_gradient

RNG = np.random.default_rng(2)
C = 7

FUNCTIONS = {
    "encouraging": lambda y, z, **kw: keras_losses.encouraging_loss(y, z, from_logits=True, **kw),
    "conservative": lambda y, z, **kw: keras_losses.encouraging_loss(y, z, log_end=0.75, from_logits=True, **kw),
    "conservative-0.5": lambda y, z, **kw: keras_losses.encouraging_loss(y, z, log_end=0.5, from_logits=True, **kw),
    "square": lambda y, z, **kw: keras_losses.square_loss(y, z, k=15.0, m=30.0, **kw),
    "squentropy": keras_losses.squentropy,
}


def extreme_logits(scale):
    z = RNG.normal(size=(6, C)) * scale
    z[0] = 0.0  # all equal
    z[1, 0] = scale  # one dominant class, true class 0 below: p_y -> 1
    z[2, :] = -scale
    z[2, 3] = scale  # true class far below the others: p_y -> 0
    z[3] = np.linspace(-scale, scale, C)
    return np.clip(z, -scale, scale)  # finite in every dtype tested


@pytest.mark.parametrize("name", FUNCTIONS)
@pytest.mark.parametrize("form", ["sparse", "dense", "smoothed"])
@pytest.mark.parametrize("dtype,scale", [("float32", 1e4), ("float32", 80.0), ("float16", 6e4), ("bfloat16", 1e4)])
def test_loss_and_gradient_are_finite(name, form, dtype, scale):
    y = np.array([0, 0, 0, 6, 2, 5])
    target = np.eye(C, dtype="float32")[y] if form == "dense" else y
    extra = {"label_smoothing": 0.1} if form == "smoothed" else {}
    if name == "square" and dtype == "float16":
        # The square loss's gradient (2k/C)(z - m) must itself fit in float16: with k = 15, C = 7
        # that caps |z| at ~15,000 (documented in docs/losses.md).
        scale = 1.5e4
    z = ops.cast(ops.convert_to_tensor(extreme_logits(scale), "float32"), dtype)
    value, grad = value_and_gradient(lambda t: FUNCTIONS[name](target, t, **extra), z)
    assert np.all(np.isfinite(value)), value
    assert np.all(np.isfinite(np.asarray(grad, np.float32))), grad


@pytest.mark.parametrize("log_end", [1.0, 0.75])
def test_probabilities_with_exact_zeros_and_ones_are_finite(log_end):
    p = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]], "float32")
    for target in (np.array([0, 0, 2]), np.eye(3, dtype="float32")[[0, 0, 2]]):
        value, grad = value_and_gradient(lambda t, y=target: keras_losses.encouraging_loss(y, t, log_end=log_end), p)
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))


def test_encouraging_loss_can_be_negative_and_is_bounded_by_the_clamp():
    # A confident correct prediction: -log p_y ~ 0, bonus = log(1e-5): the loss is ~ -11.51.
    z = np.array([[50.0, 0.0, 0.0]], "float32")
    value = float(keras_losses.encouraging_loss([0], z, from_logits=True)[0])
    assert value == pytest.approx(np.log(keras_losses.BONUS_EPSILON), abs=1e-6)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float64_input_stays_float64_with_its_gradient(name):
    # On PyTorch, Keras' type promotion turns float64 met with a Python float into float32 (e.g. in
    # `ops.maximum`): the losses keep the input's dtype on every backend.
    y = np.array([0, 0, 0, 6, 2, 5])
    z = ops.convert_to_tensor(extreme_logits(30.0), "float64")
    for target, extra in ((y, {}), (np.eye(C)[y], {}), (y, {"label_smoothing": 0.1}), (y, {"ignore_class": 2})):
        value, grad = value_and_gradient(lambda t, target=target, extra=extra: FUNCTIONS[name](target, t, **extra), z)
        assert value.dtype == np.float64 and grad.dtype == np.float64, extra
