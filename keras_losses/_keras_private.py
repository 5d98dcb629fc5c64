"""Everything keras-losses takes from Keras' internals, in one place.

Keras exports no API for these; this module is the only one that touches them:

- `keras.src.backend.common.masking.get_keras_mask` / `set_keras_mask`: the mask attached to a tensor.
  `Loss.__call__` reads the mask of `y_pred` and of the values `call()` returns, and averages over the
  valid entries only; `SparseCategoricalCrossentropy(ignore_class=...)` attaches its mask the same way.
- `_keras_logits`: the attribute on which `keras.activations.softmax` (and `sigmoid`) caches its input,
  on TensorFlow and PyTorch tensors (on JAX only outside `jax.jit`, so it is not used on JAX at all, as
  Keras' own JAX cross-entropies do not use it).
- In a TensorFlow graph, a softmax output is recognised by its op (`tensor.op.type == "Softmax"`), as
  Keras' TensorFlow cross-entropies do. Those also take any `_keras_logits` for softmax logits, a
  sigmoid's included: outputs that are not a softmax's reach them without the attribute.
- `keras.src.backend.common.tensor_attributes.get_tensor_attr` / `set_tensor_attr`: an attribute on a tensor
  (a global table by id where the tensor takes no attribute, e.g. JAX's), as Keras keeps masks; a `LossHead`
  sets on the logits it returns in training what a loss computes them from (`loss.CHUNKED_SOURCE`). On JAX the
  tensor the metrics of `train_step` receive is the primal of the model's output (`jax_primal`: JAX's `tracer.primal`).
- `keras.src.losses.loss.squeeze_or_expand_to_same_rank` and `scale_loss_for_distribution`: how
  `Loss.__call__` shapes sample weights and scales averaging reductions; `loss.reduction_weights` spells out
  `Loss.__call__`'s reduction per token with them.
- Under `tf.distribute`, `Loss.__call__` divides the averaging reductions by `num_replicas_in_sync`
  (`keras.src.losses.loss.scale_loss_for_distribution`) and the replicas' gradients are summed.

If a Keras release moves one of the imports, importing keras_losses raises an `ImportError` that names the
Keras version and what moved; `tests/test_keras_private.py` checks that each piece still behaves as used.
"""

import importlib

import keras
from keras import ops

from keras_losses.version import __version__

#: The Keras releases this module was written and tested against.
TESTED_KERAS_VERSIONS = "3.10 to 3.15"


def import_private(module, names):
    """`getattr(module, name)` for each name, or an `ImportError` naming the Keras version and what moved."""
    try:
        imported = importlib.import_module(module)
        return tuple(getattr(imported, name) for name in names)
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"keras-losses {__version__} uses Keras' private `{module}.{'`, `'.join(names)}` (present in Keras "
            f"{TESTED_KERAS_VERSIONS}), which Keras {keras.__version__} has moved or removed ({error}). Install "
            f"Keras {TESTED_KERAS_VERSIONS}, or a keras-losses release that supports Keras {keras.__version__}."
        ) from error


get_keras_mask, set_keras_mask = import_private(
    "keras.src.backend.common.masking", ("get_keras_mask", "set_keras_mask")
)
get_tensor_attr, set_tensor_attr = import_private(
    "keras.src.backend.common.tensor_attributes", ("get_tensor_attr", "set_tensor_attr")
)


def jax_primal(x):
    """`x` without JAX's autodiff wrappers (`tracer.primal`, repeatedly); `x` itself elsewhere.

    Under `jax.value_and_grad(..., has_aux=True)` (Keras' JAX `train_step`), the `y_pred` handed to the
    metrics is the primal of the tensor the model returned: an attribute meant for the metrics must be on it.
    """
    while keras.backend.backend() == "jax" and hasattr(x, "primal"):
        x = x.primal
    return x


def set_tensor_attr_for_metrics(x, name, value):
    """`set_tensor_attr(x, name, value)`, also on `x`'s JAX primal, where `train_step`'s metrics find it."""
    set_tensor_attr(x, name, value)
    primal = jax_primal(x)
    if primal is not x:
        set_tensor_attr(primal, name, jax_primal(value))


scale_loss_for_distribution, squeeze_or_expand_to_same_rank = import_private(
    "keras.src.losses.loss", ("scale_loss_for_distribution", "squeeze_or_expand_to_same_rank")
)


def softmax_logits(y_pred):
    """The input of the softmax (over the last axis) that produced `y_pred`, or None.

    TensorFlow graphs: the `Softmax` op's input. TensorFlow eager and PyTorch tensors: the `_keras_logits`
    cached by `keras.activations.softmax`, only if its softmax reproduces `y_pred` (the attribute is also
    set by `sigmoid`, and by a softmax over another axis; taking their input as logits would be a silently
    wrong loss). JAX: always None, in eager mode and under `jax.jit` alike.
    """
    if keras.backend.backend() == "jax":
        return None
    op = getattr(y_pred, "op", None)  # only symbolic TensorFlow tensors have one
    if op is not None:
        return op.inputs[0] if op.type == "Softmax" and len(op.inputs) == 1 else None
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is None or tuple(logits.shape) != tuple(y_pred.shape):
        return None
    reproduced = ops.softmax(logits, axis=-1)
    return logits if bool(ops.all(ops.isclose(reproduced, ops.cast(y_pred, reproduced.dtype)))) else None


def without_cached_logits(y_pred):
    """`y_pred`, or a copy of it without `_keras_logits` when it carries some.

    Keras' TensorFlow cross-entropy ops take any cached `_keras_logits` for softmax logits: a sigmoid
    output, or a softmax over another axis, must reach them without it.
    """
    return ops.copy(y_pred) if getattr(y_pred, "_keras_logits", None) is not None else y_pred


def replicas_and_global_sum(local_value):
    """`(num_replicas_in_sync, local_value summed over the replicas of the step)`.

    On TensorFlow inside a replica context of a multi-replica `tf.distribute` strategy, this is one
    all-reduce of `local_value`; elsewhere (one device, cross-replica context, JAX, where the loss sees
    the global batch under `keras.distribution`, and PyTorch) `(num_replicas, local_value)`.
    `num_replicas` is the factor Keras divides averaging reductions by.
    """
    if keras.backend.backend() != "tensorflow":
        return 1, local_value
    import tensorflow as tf

    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    context = tf.distribute.get_replica_context()
    if num_replicas == 1 or context is None:
        return num_replicas, local_value
    return num_replicas, context.all_reduce(tf.distribute.ReduceOp.SUM, local_value)
