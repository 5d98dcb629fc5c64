"""Every input Keras' losses accept, on every loss: NumPy arrays, Python lists, backend tensors, `keras.Variable`s,
`tf.Variable`s, integer or float class ids. Values equal the NumPy references, and gradients reach the
variables equal to the gradients of the same values given as a tensor."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from tests import reference as ref
from tests.helpers import value_and_gradient

BACKEND = keras.backend.backend()
RNG = np.random.default_rng(3)
C = 5
LOGITS = (RNG.normal(size=(6, C)) * 3.0).astype("float32")
IDS = RNG.integers(0, C, size=6)

# name -> (loss object, reference of (dense labels q, logits z)); smoothing 0.1 sends every loss through the
# fused kernels with smoothing, 0 through the unsmoothed ones (and Keras' own for the plain cross-entropy).
LOSSES = {
    "encouraging": (lambda s: keras_losses.EncouragingLoss(from_logits=True, label_smoothing=s), ref.encouraging),
    "conservative": (
        lambda s: keras_losses.ConservativeEncouragingLoss(log_end=0.5, from_logits=True, label_smoothing=s),
        lambda q, z: ref.encouraging(q, z, log_end=0.5),
    ),
    "square": (
        lambda s: keras_losses.SquareLoss(k=2.0, m=3.0, label_smoothing=s),
        lambda q, z: ref.square(q, z, 2.0, 3.0),
    ),
    "squentropy": (lambda s: keras_losses.Squentropy(label_smoothing=s), ref.squentropy),
    "ce": (lambda s: keras_losses.CrossEntropy(from_logits=True, label_smoothing=s), ref.cross_entropy),
}


def expected(name, smoothing):
    q = ref.smooth(ref.one_hot(IDS, C), smoothing)
    return float(np.mean(LOSSES[name][1](q, LOGITS)))


def prediction_kinds():
    """name -> function returning `y_pred` in that form."""
    kinds = {
        "numpy": lambda: LOGITS,
        "list": lambda: LOGITS.tolist(),
        "tensor": lambda: ops.convert_to_tensor(LOGITS),
        "keras.Variable": lambda: keras.Variable(LOGITS),
    }
    if BACKEND == "tensorflow":
        import tensorflow as tf

        kinds["tf.Variable"] = lambda: tf.Variable(LOGITS)
    return kinds


LABEL_KINDS = {
    "int numpy": lambda: IDS,
    "float numpy": lambda: IDS.astype("float32"),
    "list": lambda: IDS.tolist(),
    "int tensor": lambda: ops.convert_to_tensor(IDS, "int32"),
    "keras.Variable": lambda: keras.Variable(IDS.astype("float32"), trainable=False),
}


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("kind", sorted(prediction_kinds()))
def test_every_prediction_kind_gives_the_reference_value(name, smoothing, kind):
    loss = LOSSES[name][0](smoothing)
    value = float(ops.convert_to_numpy(loss(IDS, prediction_kinds()[kind]())))
    np.testing.assert_allclose(value, expected(name, smoothing), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("kind", sorted(LABEL_KINDS))
def test_every_label_kind_gives_the_reference_value(name, kind):
    loss = LOSSES[name][0](0.1)
    value = float(ops.convert_to_numpy(loss(LABEL_KINDS[kind](), LOGITS)))
    np.testing.assert_allclose(value, expected(name, 0.1), rtol=1e-5)


@pytest.mark.parametrize("function", ["encouraging_loss", "square_loss", "squentropy", "cross_entropy"])
def test_function_forms_take_lists_and_integer_predictions(function):
    fn = getattr(keras_losses, function)
    kwargs = {"from_logits": True} if function in ("encouraging_loss", "cross_entropy") else {}
    as_lists = ops.convert_to_numpy(fn(IDS.tolist(), np.round(LOGITS).astype("int64").tolist(), **kwargs))
    as_floats = ops.convert_to_numpy(fn(IDS, np.round(LOGITS).astype("float32"), **kwargs))
    np.testing.assert_allclose(as_lists, as_floats, rtol=1e-6)


def variable_gradient(loss, variable):
    """d loss(IDS, variable) / d variable, the way each backend's trainer differentiates a variable."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            value = loss(IDS, variable)
        target = variable if isinstance(variable, tf.Variable) else variable.value
        return ops.convert_to_numpy(tape.gradient(value, target))
    if BACKEND == "jax":  # as Keras' JAX trainer does: the variable's value traced through a StatelessScope
        import jax

        def of_value(value):
            with keras.StatelessScope(state_mapping=[(variable, value)]):
                return loss(IDS, variable)

        return np.asarray(jax.grad(of_value)(variable.value))
    value = loss(IDS, variable)
    value.backward()
    return ops.convert_to_numpy(variable.value.grad)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("kind", [k for k in sorted(prediction_kinds()) if "Variable" in k])
def test_gradients_reach_variables(name, smoothing, kind):
    loss = LOSSES[name][0](smoothing)
    _, tensor_gradient = value_and_gradient(lambda z: loss(IDS, z), LOGITS)
    np.testing.assert_allclose(
        variable_gradient(loss, prediction_kinds()[kind]()), tensor_gradient, rtol=1e-5, atol=1e-7
    )
