"""Test set-up: two logical CPU devices (TensorFlow's MirroredStrategy, JAX's DataParallel), float64 on JAX.

Both must happen before the backend initialises its devices, hence here, at import.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

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

#: Hypothesis profiles (README, Development): `ci`, the default, is derandomized (the same examples on every run)
#: and small, to keep the whole suite within its time; `dev` (`HYPOTHESIS_PROFILE=dev`) draws new, more examples
#: on every run. `print_blob` prints how to reproduce a failure (`@reproduce_failure`).
_COMMON = {"deadline": None, "print_blob": True, "suppress_health_check": [HealthCheck.too_slow]}
#: JAX compiles every operation anew for each new shape: fewer examples there keep its run of the core tests short.
settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=8 if keras.backend.backend() == "jax" else 40, **_COMMON
)
settings.register_profile("dev", max_examples=300, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")

#: The modules whose tests share the session's example runs (tests/examples/conftest.py: `image_run`,
#: `translation_run`, `mixed_precision_run`): pytest-xdist runs them in one worker, so each run trains once.
SHARED_RUN_MODULES = {
    "tests/examples/test_image_classification.py",
    "tests/examples/test_saved_models.py",
    "tests/examples/test_translation.py",
}
#: Modules whose tests share nothing (each starts its own kernel or process): scheduled test by test, so that
#: their long tests spread over both workers.
TEST_BY_TEST_MODULES = {"tests/test_tutorials.py"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's `loadscope` (a module's tests in one worker, so that no module fixture runs twice), with
    the modules of the shared example runs as one scope and the tests of `TEST_BY_TEST_MODULES` each a scope of
    its own. (`--dist loadgroup` would do it with marks, but
    pytest-xdist 3.8 cannot rename pytest 9's node ids.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndSharedRuns(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::")[0]
            if module in TEST_BY_TEST_MODULES:
                return nodeid
            return "example runs" if module in SHARED_RUN_MODULES else module

    return ModulesAndSharedRuns(config, log)


def pytest_terminal_summary(terminalreporter):
    """The pass count of each backend run of tests/test_backends.py (a property of its report)."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", ()):
            if name == "backend_summary":
                terminalreporter.write_line(value)
