"""Scale-out on loopback: two TensorFlow workers (MultiWorkerMirroredStrategy, with the workaround; killed and
restarted too) and two JAX processes (keras.distribution.DataParallel) train the examples exactly as one process
with the same global batch; Keras' plain `fit` under two workers (strict xfail); strategies refused where they do
not apply."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.training import distribution, multi_worker_workaround
from tests.examples.example_runs import (
    IMAGE_SCRIPT,
    TINY_IMAGE_RUN,
    TINY_TRANSLATION_RUN,
    TRANSLATION_SCRIPT,
    check_image_run,
    finish,
    jax_cluster,
    same_training,
    start,
    tf_cluster,
)

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="runs its own JAX processes")

LOOPBACK_FIT = Path(__file__).with_name("loopback_fit.py")
KILLING = Path(__file__).parents[1] / "killing.py"


def test_two_tensorflow_workers_killed_and_restarted_train_as_one_device(image_run, tmp_path):
    """Both workers killed while writing the first epoch's backup, then started again: the run ends as one device's,
    never interrupted, does."""
    arguments = [
        IMAGE_SCRIPT,
        *TINY_IMAGE_RUN,
        "--batch-size",
        "4",  # the global batch: 2 per worker
        "--strategy",
        "multi_worker",
        "--output-dir",
        tmp_path,
    ]
    killed = [start([KILLING, "writing-backup", "0", "--", *arguments], env={"TF_CONFIG": c}) for c in tf_cluster(2)]
    for process in killed:
        output = process.communicate(timeout=300)[0]
        assert process.returncode == -signal.SIGKILL, output[-3000:]
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["partial-epoch-1.npz"]
    finish([start(arguments, env={"TF_CONFIG": config}) for config in tf_cluster(2)])
    saved, model = check_image_run(tmp_path, "conservative_encouraging:0.5", test_examples=4)
    assert saved["strategy"] == "MultiWorkerMirroredStrategy" and saved["replicas"] == 2
    assert saved["global_batch_size"] == 4
    assert type(model).__module__.startswith("keras.")  # loaded without custom objects: the patch was per instance
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.keras",
        "checkpoints",
        "logs",
        "model.keras",
        "results.json",
        "training.csv",
    ]  # the chief's only: scratch removed
    same_training(tmp_path, image_run)


class KerasMultiWorkerDefect(Exception):
    """Keras' fit failed under MultiWorkerMirroredStrategy as keras-team/keras#20585 describes."""


KNOWN_FAILURES = (
    "with an unsupported type (<class 'tensorflow.python.distribute.values.PerReplica'>)",
    "Invalid reduction dimension 0 for input with 0 dimensions",
)


@pytest.mark.xfail(
    strict=True,
    raises=KerasMultiWorkerDefect,
    reason="Keras 3.15's plain model.fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585, "
    "tensorflow/tensorflow#72388); strict: the day it trains two workers as one device, this test fails "
    "and keras_losses/experiments/multi_worker_workaround.py can go",
)
def test_plain_keras_fit_under_two_workers(tmp_path):
    from tests.examples import loopback_fit

    output = tmp_path / "plain.npz"
    workers = [
        start([LOOPBACK_FIT, "multi_worker", output, "--plain"], env={"TF_CONFIG": config}) for config in tf_cluster(2)
    ]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    if any(worker.returncode for worker in workers):  # any other failure fails this test for real
        assert any(known in text for text in outputs for known in KNOWN_FAILURES), outputs[0][-3000:]
        raise KerasMultiWorkerDefect(next(known for known in KNOWN_FAILURES for text in outputs if known in text))
    got = np.load(output)
    assert str(got["strategy"]) == "MultiWorkerMirroredStrategy" and int(got["replicas"]) == 2
    for name, reference in loopback_fit.train(distribution.get_strategy("default")).items():
        np.testing.assert_allclose(got[name], reference, rtol=1e-5, atol=1e-6, err_msg=name)


def test_two_jax_processes_train_as_one_process(tmp_path):
    one, two = tmp_path / "one-process", tmp_path / "two-processes"
    flags = [IMAGE_SCRIPT, *TINY_IMAGE_RUN]
    processes = [
        start([*flags, "--batch-size", "4", "--strategy", "default", "--output-dir", one], env={"KERAS_BACKEND": "jax"})
    ]
    processes += [
        start([*flags, "--batch-size", "4", "--strategy", "data_parallel", "--output-dir", two], env=env)
        for env in jax_cluster(2)
    ]
    finish(processes)
    alone, _ = check_image_run(one, "conservative_encouraging:0.5", test_examples=4)
    saved, _ = check_image_run(two, "conservative_encouraging:0.5", test_examples=4)
    assert (alone["keras_backend"], alone["strategy"], alone["replicas"]) == ("jax", "default", 1)
    assert (saved["keras_backend"], saved["strategy"], saved["replicas"]) == ("jax", "DataParallel", 2)
    assert saved["global_batch_size"] == alone["global_batch_size"] == 4
    assert saved["accuracy"] == alone["accuracy"] and saved["nll"] == pytest.approx(alone["nll"], rel=1e-5)
    same_training(two, one)


def test_translation_on_two_jax_processes(tmp_path):
    arguments = [
        TRANSLATION_SCRIPT,
        *TINY_TRANSLATION_RUN,
        "--epochs",
        "1",
        "--batch-size",
        "4",  # the global batch: 2 per process
        "--strategy",
        "data_parallel",
        "--mixed-precision",
        "bfloat16",
        "--output-dir",
        tmp_path,
    ]
    finish([start(arguments, env=env) for env in jax_cluster(2)])
    results = json.loads((tmp_path / "results.json").read_text())
    assert (results["keras_backend"], results["strategy"], results["replicas"]) == ("jax", "DataParallel", 2)
    assert results["mixed_precision_policy"] == "mixed_bfloat16" and results["global_batch_size"] == 4
    assert 0.0 <= results["bleu"] <= 100.0 and len(results["samples"]) == 3 and np.isfinite(results["test_loss"])
    assert not (tmp_path / "workers").exists()


def test_strategies_of_the_other_backend_are_refused():
    with pytest.raises(ConfigError, match=r"data_parallel is keras.distribution on JAX") as refused:
        distribution.get_strategy("data_parallel")
    assert refused.value.field == "strategy"
    with pytest.raises(ConfigError, match="applies to JAX") as refused:
        distribution.get_strategy("default", coordinator_address="127.0.0.1:1234")
    assert refused.value.field == "coordinator_address"
    jax = subprocess.run(
        [sys.executable, IMAGE_SCRIPT, "--strategy", "mirrored", "--mock-data", "8"],
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert jax.returncode == 2 and "--strategy: mirrored is a tf.distribute strategy" in jax.stderr


def test_several_steps_per_execution_are_refused_where_keras_fails():
    mirrored = distribution.Strategy("MirroredStrategy", 2, tf_strategy=object())
    with pytest.raises(ConfigError, match=r"4 fails .* under MirroredStrategy with 2 replicas") as refused:
        mirrored.check_steps_per_execution(4)
    assert refused.value.field == "steps_per_execution"
    mirrored.check_steps_per_execution(1)
    distribution.Strategy("default", 1, tf_strategy=object()).check_steps_per_execution(4)


def test_the_workaround_leaves_other_strategies_alone():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert multi_worker_workaround.apply(model, distribution.get_strategy("default").tf_strategy) is model
    assert "train_step" not in vars(model) and "_maybe_symbolic_build" not in vars(model)


def test_the_global_batch_must_divide_among_the_replicas():
    """--batch-size is the global batch in every program; one that does not divide evenly is refused."""
    mirrored = distribution.Strategy("MirroredStrategy", 4, tf_strategy=object())
    assert mirrored.check_global_batch(8) == 8
    with pytest.raises(ConfigError, match="the global batch 6 does not divide among the 4 replicas") as refused:
        mirrored.check_global_batch(6)
    assert refused.value.field == "batch_size"
