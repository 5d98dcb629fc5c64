"""A comparison killed with SIGKILL in the middle of a run, then rerun: it ends with exactly the expected runs,
the finished run untouched and no epoch trained twice."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from keras_losses import cli

# Runs the command in a child process that kills itself (SIGKILL: no cleanup of any kind) in the second epoch of
# the second run (square, seed 0), after its first batch.
CHILD = """
import os, signal, sys
import keras
from keras_losses import cli

def on_epoch_begin(self, epoch, logs=None):
    self.epoch_now = epoch

def on_train_batch_end(self, batch, logs=None):
    if self.backup_dir.endswith(os.path.join("square", "seed-0", "backup")) and self.epoch_now == 1:
        os.kill(os.getpid(), signal.SIGKILL)

keras.callbacks.BackupAndRestore.on_epoch_begin = on_epoch_begin
keras.callbacks.BackupAndRestore.on_train_batch_end = on_train_batch_end
sys.exit(cli.main(sys.argv[1:]))
"""
ROOT = Path(__file__).parents[2]


def epochs_logged(output, loss, seed):
    lines = (output / "runs" / loss / f"seed-{seed}" / "epochs.jsonl").read_text().splitlines()
    return [json.loads(line)["epoch"] for line in lines]


def test_killed_comparison_resumes_without_training_anything_twice(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x_train=rng.normal(size=(40, 4)).astype("float32"), y_train=np.arange(40) % 2)
    arguments = [
        "compare",
        "--data",
        str(tmp_path / "data.npz"),
        "--losses",
        "ce,square",
        "--seeds",
        "1",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *arguments],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]

    output = tmp_path / "out"
    finished = output / "runs/ce/seed-0"
    assert (finished / "result.json").exists() and epochs_logged(output, "ce", 0) == [0, 1, 2]
    assert not (output / "runs/square/seed-0/result.json").exists() and epochs_logged(output, "square", 0) == [0]
    assert (output / "runs/square/seed-0/backup").is_dir()
    before = {path: path.read_bytes() for path in finished.iterdir()}

    assert cli.main(arguments) == 0
    assert "2 runs (2 losses x 1 seed): 1 already in" in capsys.readouterr().out
    assert {path: path.read_bytes() for path in finished.iterdir()} == before  # not trained again
    for loss in ("ce", "square"):
        assert epochs_logged(output, loss, 0) == [0, 1, 2]  # every epoch once: square went on from epoch 1
        assert not (output / "runs" / loss / "seed-0" / "backup").exists()
    results = json.loads((output / "results.json").read_text())
    assert sorted((r["loss"], r["seed"]) for r in results["runs"]) == [("ce", 0), ("square", 0)]
    assert all(len(r["accuracy_per_epoch"]) == 3 for r in results["runs"])
