"""What the example tests share: the scripts, the tiny runs' flags, and subprocess helpers (clusters on loopback)."""

import csv
import json
import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_losses  # noqa: F401  (registers what the saved models name)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IMAGE_SCRIPT = EXAMPLES / "image_classification.py"
TRANSLATION_SCRIPT = EXAMPLES / "translation.py"

# A small CNN on 16x16 mock images: 2 epochs of 2 steps at a global batch of 4, one validation batch;
# deterministic, so that runs on one device, two replicas, two workers or two processes can be compared.
TINY_IMAGE_RUN = [
    "--dataset",
    "cifar10",
    "--model",
    "cnn",
    "--loss",
    "conservative_encouraging",
    "--log-end",
    "0.5",
    "--label-smoothing",
    "0.1",
    "--mock-data",
    "8",
    "--image-size",
    "16",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "2",
    "--validation-steps",
    "1",
    "--seed",
    "3",
    "--deterministic",
]
# ResNet50 and EfficientNet-B0 on 32x32 mock images: one epoch of 2 steps, two validation batches. Per-replica
# batches of 8: smaller ones make batch normalisation (and so ResNet50) diverge in two steps.
SMALL_IMAGE_RUN = [
    "--mock-data",
    "16",
    "--image-size",
    "32",
    "--batch-size",
    "8",
    "--epochs",
    "1",
    "--steps-per-epoch",
    "2",
    "--validation-steps",
    "2",
]
# The iwslt_sentences preset shrunk to one small layer: its loss, smoothing, dropout and optimizer apply.
TINY_TRANSLATION_RUN = [
    "--preset",
    "iwslt_sentences",
    "--layers",
    "1",
    "--model-dim",
    "32",
    "--heads",
    "2",
    "--feedforward-dim",
    "64",
    "--mock-data",
    "24",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "2",
    "--vocabulary-size",
    "150",
    "--sequence-length",
    "12",
    "--test-sentences",
    "6",
    "--beams",
    "2",
]


def training_log(output_dir):
    """training.csv as a list of dicts."""
    with open(Path(output_dir) / "training.csv") as handle:
        return list(csv.DictReader(handle))


def check_image_run(output_dir, loss, test_examples):
    """An image run's results.json against its model and log; returns (results, reloaded model)."""
    output_dir = Path(output_dir)
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["loss"] == loss and 0.0 <= saved["accuracy"] <= 1.0 and 0.0 <= saved["ece"] <= 1.0
    assert np.isfinite(saved["nll"]) and saved["train_seconds"] > 0 and saved["test_examples"] == test_examples
    # The final model is the one the last validation measured: the same accuracy on the same test batches.
    assert saved["accuracy"] == pytest.approx(float(training_log(output_dir)[-1]["val_accuracy"]), abs=1e-6)
    model = keras.models.load_model(output_dir / "model.keras")
    assert model.loss.get_config() == saved["loss_config"] and (output_dir / "best.keras").exists()
    assert not (output_dir / "backup").exists() and not (output_dir / "workers").exists()
    return saved, model


def same_training(output_dir, reference_dir):
    """Final weights (model.keras) and logged losses (training.csv) of two runs agree to 1e-5."""
    for a, b in zip(
        keras.models.load_model(Path(output_dir) / "model.keras").get_weights(),
        keras.models.load_model(Path(reference_dir) / "model.keras").get_weights(),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for column in ("loss", "val_loss"):
        logged = [[float(row[column]) for row in training_log(d)] for d in (output_dir, reference_dir)]
        np.testing.assert_allclose(*logged, rtol=1e-5, atol=1e-6)


def load_example(script):
    """The example's module namespace (its `build_parser`, `configure`, `main`)."""
    return runpy.run_path(str(script), run_name=script.stem)


def free_ports(count):
    ports = []
    for _ in range(count):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return ports


def start(arguments, env=None):
    """A Python subprocess (stdout and stderr together), TensorFlow's logs quiet."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen(
        [sys.executable, *map(str, arguments)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(processes, timeout=600):
    """Waits for every process (killing all of them if one hangs); asserts each succeeded; returns their outputs."""
    try:
        outputs = [process.communicate(timeout=timeout)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()  # a process waiting for a collective ignores SIGTERM
                process.wait()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]
    return outputs


def tf_cluster(count):
    """`TF_CONFIG` values for `count` workers on loopback."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(count)]}
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(count)]


def jax_cluster(count):
    """`KERAS_DISTRIBUTION_*` environments for `count` JAX processes on loopback."""
    address = f"127.0.0.1:{free_ports(1)[0]}"
    return [
        {
            "KERAS_BACKEND": "jax",
            "KERAS_DISTRIBUTION_JOB_ADDRESSES": address,
            "KERAS_DISTRIBUTION_NUM_PROCESSES": str(count),
            "KERAS_DISTRIBUTION_PROCESS_ID": str(i),
        }
        for i in range(count)
    ]
