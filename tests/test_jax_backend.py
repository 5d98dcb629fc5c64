"""The core test modules pass on the JAX backend too (a separate process: the backend is fixed at import)."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

CORE_TESTS = [
    "test_losses.py",
    "test_keras_integration.py",
    "test_numerics.py",
    "test_validation.py",
    "test_serialization.py",
    "test_docs.py",
]


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="this is the JAX run itself")
def test_core_suite_passes_on_jax_backend():
    tests = Path(__file__).parent
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CORE_TESTS],
        cwd=tests,
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary
