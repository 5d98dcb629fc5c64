"""The core test modules pass on every Keras backend: each other backend runs them in a process of its own
(the backend is fixed when keras is imported). Each run's pass count is printed in the terminal summary."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

ROOT = Path(__file__).parent.parent
CORE_TESTS = [
    "test_api.py",
    "test_closed_form_gradients.py",
    "test_docs.py",
    "test_inputs.py",
    "test_keras_integration.py",
    "test_keras_private.py",
    "test_language_models.py",
    "test_loss_head.py",
    "test_losses.py",
    "test_mean_over_global_batch.py",
    "test_numerics.py",
    "test_optimizers.py",
    "test_properties.py",
    "test_schedules.py",
    "test_serialization.py",
    "test_unknown_class_count.py",
    "test_validation.py",
    "test_warnings.py",
]


#: Top-level test modules that are not about the losses: this one, the style check, and the tutorials, the
#: documentation site and the release (they use the package as a user does, on the default backend).
NOT_CORE = {Path(__file__).name, "test_style.py", "test_tutorials.py", "test_docs_site.py", "test_packaging.py"}


def test_core_tests_are_every_core_module():
    assert sorted(CORE_TESTS) == sorted(p.name for p in (ROOT / "tests").glob("test_*.py") if p.name not in NOT_CORE)


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_core_tests_pass_on_backend(backend, record_property):
    if backend == keras.backend.backend():
        pytest.skip("this is the run on that backend itself")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", *(f"tests/{name}" for name in CORE_TESTS)],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    summary = lines[-1] if lines else result.stderr[-2000:]
    record_property("backend_summary", f"core tests on {backend}: {summary}")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary
