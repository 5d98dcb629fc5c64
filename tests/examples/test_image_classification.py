"""examples/image_classification.py on mock data: a tiny CNN run (shared), ResNet50 and EfficientNet-B0 once
each, two logical CPUs, and resuming after a kill."""

import json
import signal
import time

import keras
import pytest

from tests.examples.example_runs import (
    IMAGE_SCRIPT,
    SMALL_IMAGE_RUN,
    TINY_IMAGE_RUN,
    check_image_run,
    same_training,
    start,
)
from tests.helpers import run_script_on_two_cpus

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute and tf.data")


def test_tiny_run_follows_its_flags_and_recipe(image_run):
    saved, model = check_image_run(image_run, "conservative_encouraging:0.5", test_examples=4)
    assert saved["loss_config"]["log_end"] == 0.5 and saved["label_smoothing"] == 0.1
    assert saved["strategy"] == "default" and saved["replicas"] == 1 and saved["global_batch_size"] == 4
    assert saved["recipe"]["schedule"] == {"kind": "cosine", "warmup_epochs": 0.0} and saved["recipe"]["epochs"] == 2
    assert saved["learning_rate"] == pytest.approx(0.1 * 4 / 128)  # 0.1 per 128, scaled to the global batch
    assert int(model.optimizer.iterations) == 4 and saved["keras_backend"] == "tensorflow"


def test_resnet50_on_cifar100_with_the_papers_square_loss(image_example, tmp_path):
    image_example["main"](
        [
            "--dataset",
            "cifar100",
            "--model",
            "resnet50",
            "--loss",
            "square",
            *SMALL_IMAGE_RUN,
            "--strategy",
            "default",
            "--output-dir",
            str(tmp_path),
        ]
    )
    saved, _ = check_image_run(tmp_path, "square", test_examples=16)
    assert (saved["loss_config"]["k"], saved["loss_config"]["m"]) == (1.0, 15.0)  # the paper's for 100 classes
    assert saved["top5_accuracy"] >= saved["accuracy"]


def test_efficientnet_on_the_imagenet_pipeline_with_mixed_precision(mixed_precision_run):
    # Reloaded here under the float32 policy: the saved LossScaleOptimizer comes back with all its variables.
    saved, model = check_image_run(mixed_precision_run, "square", test_examples=16)
    assert saved["mixed_precision_policy"] == "mixed_float16" and "top5_accuracy" in saved
    assert (saved["loss_config"]["k"], saved["loss_config"]["m"]) == (15.0, 30.0)  # the paper's for 1000 classes
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    # Of the 2 steps, each whose float16 gradients overflowed was skipped and halved the loss scale (from 2^15).
    assert float(model.optimizer.dynamic_scale) == 2.0**15 / 2 ** (2 - int(model.optimizer.iterations))
    assert model.get_layer("logits").compute_dtype == "float32"


def test_mirrored_strategy_on_two_logical_cpus_trains_as_one_device(image_run, tmp_path):
    # Keras' fit under MirroredStrategy draws a batch from an iterator of its own first: each epoch's order does
    # not depend on how often its pipeline is read (`Examples.epoch_batches`), so the run is one device's.
    run_script_on_two_cpus(
        IMAGE_SCRIPT, [*TINY_IMAGE_RUN, "--batch-size", "4", "--strategy", "mirrored", "--output-dir", str(tmp_path)]
    )
    saved, _ = check_image_run(tmp_path, "conservative_encouraging:0.5", test_examples=4)
    assert saved["strategy"] == "MirroredStrategy" and saved["replicas"] == 2 and saved["global_batch_size"] == 4
    same_training(tmp_path, image_run)


def test_a_killed_run_resumes_from_its_backup(tmp_path):
    arguments = [
        IMAGE_SCRIPT,
        "--dataset",
        "cifar10",
        "--model",
        "cnn",
        "--loss",
        "encouraging",
        "--mock-data",
        "8",
        "--image-size",
        "16",
        "--batch-size",
        "2",
        "--epochs",
        "40",
        "--steps-per-epoch",
        "1",
        "--validation-steps",
        "1",
        "--strategy",
        "default",
        "--output-dir",
        str(tmp_path),
    ]
    process = start(arguments)
    log = tmp_path / "training.csv"
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 4:  # header + 3 epochs
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_after = len(log.read_text().splitlines()) - 1
    assert (tmp_path / "backup").exists()

    resumed = start(arguments)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["initial_epoch"] >= killed_after - 1 >= 2  # resumed from the last completed backup
    epochs = [int(line.split(",")[0]) for line in log.read_text().splitlines()[1:] if line and line[0].isdigit()]
    assert epochs[-1] == 39 and len(epochs) < 40 + killed_after
    assert not (tmp_path / "backup").exists()  # a completed run removes its backup
