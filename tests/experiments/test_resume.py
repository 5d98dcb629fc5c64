"""A comparison killed with SIGKILL and run again ends with exactly the numbers of a run never interrupted: on one
process, killed mid-epoch, right after an epoch's backup and while a backup is being written; on two TensorFlow
workers, both killed, or one (the other stops with a message naming it) and then both restarted. No finished run
is trained again, and no epoch is logged twice with other numbers."""

import json
import os
import signal
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.examples.example_runs import finish, start, tf_cluster

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="runs its own TensorFlow processes")

ROOT = Path(__file__).parents[2]
KILLING = ROOT / "tests" / "killing.py"
LOSSES = ["ce", "square", "encouraging:0.75"]
ENV = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def compare_arguments(data, output):
    return [
        "compare",
        "--data",
        str(data),
        "--losses",
        ",".join(LOSSES),
        "--seeds",
        "1",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--output-dir",
        str(output),
        "--no-progress",
        "--no-plot",
    ]


def killed(when, epoch, run, *arguments, batch=0, process=None):
    """The command line of `keras-losses compare` killed at that point (tests/killing.py)."""
    where = ["--batch", str(batch), "--run", run] + ([] if process is None else ["--process", str(process)])
    return [KILLING, when, str(epoch), *where, "--", "-m", "keras_losses_experiments.cli", *arguments]


def run_folder(output, loss):
    return output / "runs" / loss.replace(":", "-") / "seed-0"


def epochs_logged(output, loss):
    return [json.loads(line) for line in (run_folder(output, loss) / "epochs.jsonl").read_text().splitlines()]


def assert_same_results(output, reference):
    """Every run's metrics to 1e-6 (relative), and every logged epoch's training loss, equal to the reference's."""
    got, expected = (json.loads((folder / "results.json").read_text())["runs"] for folder in (output, reference))
    assert [(r["loss"], r["seed"]) for r in got] == [(r["loss"], r["seed"]) for r in expected]
    for run, reference_run in zip(got, expected):
        for name, value in reference_run["metrics"].items():
            if name != "train_seconds":
                assert run["metrics"][name] == pytest.approx(value, rel=1e-6, abs=1e-9), (run["loss"], name)
        reference_losses = {e["epoch"]: e["loss"] for e in epochs_logged(reference, run["loss"])}
        for entry in epochs_logged(output, run["loss"]):  # an epoch trained again logs the same numbers
            assert entry["loss"] == pytest.approx(reference_losses[entry["epoch"]], rel=1e-6), (run["loss"], entry)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    # 66 examples: 48 to train on, six full batches of 8 (two workers split a partial batch unevenly, and their
    # per-replica means then differ from one device's mean: not what these tests are about).
    x = rng.normal(size=(66, 4)).astype("float32")
    np.savez(folder / "data.npz", x_train=x, y_train=(x[:, 0] > 0).astype("int32") + (x[:, 1] > 0))
    return folder / "data.npz"


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """The comparison on one process, never interrupted."""
    output = tmp_path_factory.mktemp("uninterrupted")
    finish([start(["-m", "keras_losses_experiments.cli", *compare_arguments(data, output)], env=ENV)])
    return output


def test_killed_on_one_process_at_any_point_resumes_exactly(data, reference, tmp_path):
    arguments = compare_arguments(data, tmp_path)
    kills = [  # one kill in each run: the runs before it are finished, the one it hits resumes
        ("mid-epoch", 1, "ce", 2),  # during the 2nd epoch, after its 3rd batch
        ("writing-backup", 1, "square", 0),  # the 2nd epoch's backup cut short
        ("after-backup", 0, "encouraging", 0),  # just after the 1st epoch's backup
    ]
    for when, epoch, run, batch in kills:
        process = start(killed(when, epoch, run, *arguments, batch=batch), env=ENV)
        output = process.communicate(timeout=300)[0]
        assert process.returncode == -signal.SIGKILL, output[-3000:]
        if when == "writing-backup":  # the cut-short file is never taken for a backup
            backup = run_folder(tmp_path, run) / "backup"
            assert sorted(p.name for p in backup.iterdir()) == ["epoch-1.npz", "partial-epoch-2.npz"]
    finished = run_folder(tmp_path, "ce")
    before = {path: path.read_bytes() for path in finished.iterdir()}

    process = start(["-m", "keras_losses_experiments.cli", *arguments], env=ENV)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-3000:]
    assert "3 runs (3 losses x 1 seed): 2 already in" in output
    assert {path: path.read_bytes() for path in finished.iterdir()} == before  # not trained again
    assert_same_results(tmp_path, reference)
    for loss in LOSSES:
        assert sorted({e["epoch"] for e in epochs_logged(tmp_path, loss)}) == [0, 1, 2]
        assert not (run_folder(tmp_path, loss) / "backup").exists()


def test_two_tensorflow_workers_killed_resume_exactly(data, reference, tmp_path):
    """Both workers killed mid-epoch; later worker 1 alone, after a backup: worker 0 stops on its own within
    seconds, naming it; restarted, the cluster ends with the numbers of one uninterrupted process."""
    arguments = [*compare_arguments(data, tmp_path), "--strategy", "multi_worker"]
    cluster = tf_cluster(2)
    both = [start(killed("mid-epoch", 1, "square", *arguments, batch=1), env={**ENV, "TF_CONFIG": c}) for c in cluster]
    for process in both:  # killed, or stopped by the other's death before reaching the point: named, one line
        output = process.communicate(timeout=300)[0]
        stopped = process.returncode == 1 and "error: lost worker-" in output and "Traceback" not in output
        assert process.returncode == -signal.SIGKILL or stopped, output[-3000:]
    for folder in (run_folder(tmp_path, "square"), run_folder(tmp_path / "workers" / "worker-1", "square")):
        assert sorted(p.name for p in (folder / "backup").iterdir()) == ["epoch-1.npz"]  # each process its own

    cluster = tf_cluster(2)
    one = [
        start(killed("after-backup", 1, "encouraging", *arguments, process=1), env={**ENV, "TF_CONFIG": c})
        for c in cluster
    ]
    began = time.monotonic()
    outputs = [process.communicate(timeout=300)[0] for process in one]
    assert one[1].returncode == -signal.SIGKILL, outputs[1][-3000:]
    assert one[0].returncode == 1, outputs[0][-3000:]
    assert "error: lost worker-1 of the cluster" in outputs[0] and "Traceback" not in outputs[0], outputs[0][-3000:]
    assert time.monotonic() - began < 120
    worker_1 = run_folder(tmp_path / "workers" / "worker-1", "encouraging:0.75")
    assert sorted(p.name for p in (worker_1 / "backup").iterdir()) == ["epoch-1.npz", "epoch-2.npz"]

    finish(
        [start(["-m", "keras_losses_experiments.cli", *arguments], env={**ENV, "TF_CONFIG": c}) for c in tf_cluster(2)]
    )
    assert_same_results(tmp_path, reference)  # two workers equal one process to float rounding
    assert not (tmp_path / "workers").exists()


def test_the_processes_agree_on_the_newest_epoch_every_one_holds():
    from keras_losses_experiments.training import distribution

    alone = distribution.Strategy("default", 1)
    assert alone.newest_common([2, 3], epochs=5) == 3 and alone.newest_common([], epochs=5) == 0
    assert alone.newest_common([7], epochs=5) == 0  # a backup of a longer run is not this run's

    class TwoProcesses(distribution.Strategy):
        def sum_over_processes(self, values):  # the other process holds epochs 2 and 3
            return [a + b for a, b in zip(values, [1, 0, 1, 1, 0, 0])]

    two = TwoProcesses("MultiWorkerMirroredStrategy", 2, task="worker-0")
    assert two.newest_common([3, 4], epochs=5) == 3
    assert two.newest_common([1, 4], epochs=5) == 0


def tiny_run(directory, epochs, steps_per_epoch=2, width=8):
    """Dropout, batch normalisation, momentum and a decaying learning rate, resumable from `directory`: 3 batches a
    pass, 2 steps an epoch (epochs and passes out of step)."""
    import tensorflow as tf

    from keras_losses_experiments.training import distribution, resume

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 4)).astype("float32"), np.arange(24) % 3
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(3),
        ]
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9)
    model.compile(keras.optimizers.SGD(schedule, momentum=0.9), loss="sparse_categorical_crossentropy")

    def epoch_batches(data_epoch):
        examples = tf.data.Dataset.from_tensor_slices((x, y))
        return examples.shuffle(24, seed=resume.epoch_seed(0, data_epoch), reshuffle_each_iteration=False).batch(8)

    strategy = distribution.Strategy("default", 1)
    resume.fit(model, strategy, epoch_batches, 8, epochs, steps_per_epoch, directory, lambda first: [], verbose=0)
    return model


def test_a_resumed_run_restores_every_variable_and_sees_the_same_batches(tmp_path):
    uninterrupted = tiny_run(tmp_path / "a", epochs=4)
    tiny_run(tmp_path / "b", epochs=1)  # stopped after one epoch: its backup is the whole state then
    (tmp_path / "b" / "partial-epoch-2.npz").write_bytes(b"cut short")  # a kill while writing the next backup
    resumed = tiny_run(tmp_path / "b", epochs=4)
    assert int(resumed.optimizer.iterations) == int(uninterrupted.optimizer.iterations) == 8
    for a, b in zip(uninterrupted.variables, resumed.variables):  # the dropout layer's random state included
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a.value), keras.ops.convert_to_numpy(b.value), a.path)
    assert sorted(p.name for p in (tmp_path / "b").iterdir() if p.name.startswith("epoch")) == [
        "epoch-3.npz",
        "epoch-4.npz",
    ]
    finished = tiny_run(tmp_path / "b", epochs=4)  # killed after its last backup: nothing left to train
    assert int(finished.optimizer.iterations) == 8
    np.testing.assert_array_equal(finished.get_weights()[0], uninterrupted.get_weights()[0])


def test_a_backup_of_another_model_is_refused(tmp_path):
    tiny_run(tmp_path, epochs=1)
    with pytest.raises(ValueError, match="holds the state of another model or optimizer"):
        tiny_run(tmp_path, epochs=2, width=16)


def test_each_pass_over_the_data_has_its_own_order_and_augmentation_seeds():
    """Pass `e` of run `s` is a function of (s, e) alone, and passes differ: an uninterrupted and a resumed run
    would agree even if every pass were the first one, so this is checked here, on the passes themselves."""
    import tensorflow as tf

    from keras_losses_experiments.classification import datasets
    from keras_losses_experiments.training import resume

    x = np.arange(40, dtype="float32")[:, None]
    train = tf.data.Dataset.from_tensor_slices((x, np.zeros(40, "int32")))

    def augment(x, y, seed):  # records each example's augmentation seed in its features
        return tf.concat(
            [x, tf.cast(tf.random.stateless_uniform([1], seed, maxval=2**20, dtype="int32"), x.dtype)], 0
        ), y

    examples = datasets.Examples("t", "vector", 2, (1,), train, None, None, {"train": 40}, augment=augment)

    def one_pass(seed, data_epoch):
        return np.concatenate([b[0].numpy() for b in examples.epoch_batches(8, seed, data_epoch)])

    first, again, second, other_seed = one_pass(0, 0), one_pass(0, 0), one_pass(0, 1), one_pass(1, 0)
    np.testing.assert_array_equal(first, again)  # reproducible
    for passed in (first, second, other_seed):
        assert sorted(passed[:, 0]) == list(range(40))  # every example once
    assert list(first[:, 0]) != list(second[:, 0]) and list(first[:, 0]) != list(other_seed[:, 0])  # orders differ
    by_example = [dict(zip(p[:, 0], p[:, 1])) for p in (first, second)]
    assert all(by_example[0][i] != by_example[1][i] for i in range(40))  # each example augmented anew each pass

    # A run resumed at epoch 2 sees exactly the batches epoch 2 of the uninterrupted run saw (5 batches a pass,
    # 3 steps an epoch: epochs and passes out of step).
    def joined(first_epoch):
        stream, steps = resume.stream(lambda e: examples.epoch_batches(8, 0, e), 4, 3, first_epoch)
        return np.concatenate([b[0].numpy() for b in stream]), steps

    (whole, steps), (resumed, _) = joined(0), joined(2)
    np.testing.assert_array_equal(resumed, whole[2 * steps * 8 :])


def test_a_backup_cut_short_never_takes_a_backup_s_name(tmp_path, monkeypatch):
    """The whole state is written under another name and renamed: a kill while writing leaves the previous
    backup the newest, and the run resumes from it."""
    from keras_losses_experiments.training import distribution, resume

    model = tiny_run(tmp_path, epochs=1)
    assert resume.saved_epochs(tmp_path) == [1]
    real_savez = np.savez

    def killed_while_writing(handle, **values):
        real_savez(handle, **values)
        handle.truncate(handle.tell() // 2)
        raise KeyboardInterrupt  # stands for the kill

    monkeypatch.setattr(resume.np, "savez", killed_while_writing)
    backup = resume.Backup(tmp_path)
    backup.set_model(model)
    with pytest.raises(KeyboardInterrupt):
        backup.on_epoch_end(1)
    assert resume.saved_epochs(tmp_path) == [1]
    assert not (tmp_path / "epoch-2.npz").exists()
    monkeypatch.undo()
    assert resume.restore(model, tmp_path, distribution.Strategy("default", 1), epochs=2) == 1
