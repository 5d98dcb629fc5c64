"""What `y_pred` holds: logits or probabilities; softmax outputs are recognised; float16/bfloat16 computed in float32.

Softmax outputs are recognised as Keras' cross-entropies recognise them (see `_keras_private.softmax_logits`):
on TensorFlow and PyTorch; on JAX never (as in Keras' JAX cross-entropies), so that eager and `jax.jit`
values agree.

Every prediction reaches a kernel through `read_predictions`, which reads `y_pred` and the softmax's input
alike with `inputs.as_tensor`: `keras.activations.softmax(v)` keeps its input `v` itself as the output's
`_keras_logits`, so for a variable `v` the logits are a variable too (a `tf.Variable` has no `ndim`, and
`tf.custom_gradient` refuses a `keras.Variable` among its inputs).
"""

import keras
from keras import ops

from keras_losses._keras_private import softmax_logits, without_cached_logits
from keras_losses.inputs import as_tensor
from keras_losses.user_warnings import warn_user

REDUCED_PRECISION = ("float16", "bfloat16")


def upcast(x):
    """float16/bfloat16 tensors are computed in float32; wider ones as they are; integers in Keras' floatx."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in REDUCED_PRECISION:
        return ops.cast(x, "float32")
    if not dtype.startswith("float"):
        return ops.cast(x, keras.config.floatx())
    return x


def read_predictions(y_pred):
    """`(y_pred, the input of the softmax that produced it, or None)`, both read as tensors (`as_tensor`)."""
    y_pred = as_tensor(y_pred)
    logits = softmax_logits(y_pred)
    return y_pred, None if logits is None else as_tensor(logits)


def resolve_logits(y_pred, from_logits, loss_name):
    """`(y_pred, from_logits)`, with a softmax output swapped for the softmax's input and `from_logits=True`.

    This is Keras' handling of softmax outputs in its cross-entropies: the loss is computed from the
    logits, exact where `log(softmax)` would underflow.
    """
    y_pred, logits = read_predictions(y_pred)
    if logits is None:
        return upcast(without_cached_logits(y_pred)), from_logits
    if from_logits:
        warn_user(
            loss_name,
            "received `from_logits=True`, but `y_pred` is the output of a softmax (probabilities, not logits); "
            "the softmax's input is used as the logits. Pass `from_logits=False` (the default), or remove the "
            "softmax from the output layer (`activation=None`).",
        )
    return upcast(logits), True


def raw_outputs_or_softmax_input(y_pred, loss_name):
    """Squentropy's `y_pred`: the raw outputs; given a softmax output, it warns and returns the softmax's input."""
    y_pred, logits = read_predictions(y_pred)
    if logits is None:
        return upcast(without_cached_logits(y_pred))
    warn_user(
        loss_name,
        "is defined on raw outputs (logits), but `y_pred` is the output of a softmax; the softmax's input "
        "is used instead. Use a linear output layer (`activation=None`).",
    )
    return upcast(logits)


def check_raw_outputs(y_pred, loss_name):
    """The square loss's `y_pred`, as given; warns when it is the output of a softmax."""
    y_pred, logits = read_predictions(y_pred)
    if logits is not None:
        warn_user(
            loss_name,
            "is computed on raw outputs (the paper's square loss has no softmax), but `y_pred` is the output "
            "of a softmax. Use a linear output layer (`activation=None`).",
        )
    return upcast(y_pred)


def log_probabilities(y_pred, from_logits):
    """Log-probabilities on the last axis, as Keras' categorical cross-entropy computes them."""
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    epsilon = keras.config.epsilon()
    return ops.log(ops.clip(y_pred, epsilon, 1.0 - epsilon))
