"""Backend-neutral helpers for the tests."""

import keras
import numpy as np
from keras import ops


def value_and_gradient(fn, x):
    """`fn(x)` and the gradient of `sum(fn(x))` with respect to `x`, as NumPy."""
    backend = keras.backend.backend()
    x = ops.convert_to_tensor(x)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
            total = tf.reduce_sum(value)
        return value.numpy(), tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax

        value = fn(x)
        return np.asarray(value), np.asarray(jax.grad(lambda t: fn(t).sum())(x))
    raise NotImplementedError(backend)


def finite_differences(fn, x, h=1e-6):
    """Central differences of `sum(fn(x))` in float64."""
    x = np.asarray(x, np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (np.sum(np.asarray(fn(up), np.float64)) - np.sum(np.asarray(fn(down), np.float64))) / (2 * h)
    return grad


def run_function(fn):
    """Runs `fn` traced: under `tf.function` on TensorFlow, `jax.jit` on JAX."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn
