"""Backend-neutral helpers for the tests."""

import functools

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
    if backend == "torch":
        x = x.detach().clone().requires_grad_(True)
        value = fn(x)
        value.sum().backward()
        return ops.convert_to_numpy(value.detach()), ops.convert_to_numpy(x.grad)
    raise NotImplementedError(backend)


#: Relative tolerance for values reduced by Keras' own averaging reductions of float64 losses: on PyTorch
#: `ops.divide_no_nan` (in `reduce_values` and `apply_mask`) returns float32 for float64 input, so a
#: reduced value is exact to float32 precision only there. Per-example values keep float64 everywhere.
REDUCED_FLOAT64_RTOL = 1e-6 if keras.backend.backend() == "torch" else 1e-10


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
    """Runs `fn` traced: under `tf.function` on TensorFlow, `jax.jit` on JAX; eagerly on PyTorch."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


@functools.cache
def mirrored_strategy_on_two_cpus():
    """One `tf.distribute.MirroredStrategy` over the two logical CPUs (conftest.py), shared by the whole process:
    the collective ops of one strategy can collide with those of another created later in the same process
    ("Shape mismatch in the collective instance ...")."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def run_script_on_two_cpus(script, arguments, timeout=900):
    """Runs an example script in a fresh process with two logical CPU devices (for MirroredStrategy).

    A process of its own: TensorFlow's collective ops of one MirroredStrategy can collide with those of
    another created later in the same process.
    """
    import os
    import subprocess
    import sys

    bootstrap = (
        "import runpy, sys, tensorflow as tf; "
        "cpu = tf.config.list_physical_devices('CPU')[0]; "
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", bootstrap, str(script), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def gradient_through_variable(fn, variable):
    """The gradient of `sum(fn(variable))` with respect to a `keras.Variable` or `tf.Variable`, as NumPy."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            total = tf.reduce_sum(fn(variable))
        target = variable.value if isinstance(variable, keras.Variable) else variable
        return ops.convert_to_numpy(tape.gradient(total, target))
    if backend == "jax":  # as Keras' JAX trainer does: the variable's value traced through a StatelessScope
        import jax

        def of_value(value):
            with keras.StatelessScope(state_mapping=[(variable, value)]):
                return ops.sum(fn(variable))

        return np.asarray(jax.grad(of_value)(variable.value))
    ops.sum(fn(variable)).backward()
    return ops.convert_to_numpy(variable.value.grad)
