"""Test set-up: two logical CPU devices (TensorFlow's MirroredStrategy, JAX's DataParallel), float64 on JAX.

Both must happen before the backend initialises its devices, hence here, at import.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
elif keras.backend.backend() == "jax":
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    import jax

    jax.config.update("jax_enable_x64", True)


def pytest_terminal_summary(terminalreporter):
    """The pass count of each backend run of tests/test_backends.py."""
    from tests.helpers import BACKEND_SUMMARIES

    for line in BACKEND_SUMMARIES:
        terminalreporter.write_line(line)
