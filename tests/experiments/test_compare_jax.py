"""`keras-losses compare` on JAX: one process, and two processes data-parallel through keras.distribution
(`--strategy data_parallel` on loopback) with the same global batch, train the same runs to the same numbers,
also when both processes are killed (SIGKILL) and started again; only process 0 writes to the output
directory."""

import json
import math
import signal
from pathlib import Path

import keras
import pytest

from tests.examples.example_runs import finish, jax_cluster, start

KILLING = Path(__file__).parents[1] / "killing.py"
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="runs its own JAX processes")

# Digits, 2 losses x 1 seed, 2 epochs of 2 steps of a global batch of 24. (The per-epoch validation of two
# processes leaves out the last, partial batch of the 359 test examples: `Strategy.distribute_dataset`; the final
# metrics see all.)
COMPARE = [
    "-m",
    "keras_losses_experiments.cli",
    "compare",
    "--losses",
    "ce,square",
    "--seeds",
    "1",
    "--epochs",
    "2",
    "--steps-per-epoch",
    "2",
    "--batch-size",
    "24",
    "--no-progress",
    "--no-plot",
]


def test_one_and_two_jax_processes_compare_to_the_same_numbers(tmp_path):
    one, two = tmp_path / "one-process", tmp_path / "two-processes"
    processes = [start([*COMPARE, "--output-dir", one], env={"KERAS_BACKEND": "jax"})]
    distributed = [*COMPARE, "--strategy", "data_parallel", "--output-dir", two]
    killed = [
        start([KILLING, "after-backup", "0", "--run", "square", "--", *distributed], env=env) for env in jax_cluster(2)
    ]
    for process in killed:  # both, right after the first epoch's backup of the second run
        output = process.communicate(timeout=300)[0]
        assert process.returncode == -signal.SIGKILL, output[-3000:]
    processes += [start(distributed, env=env) for env in jax_cluster(2)]
    outputs = finish(processes)
    assert "2 runs (2 losses x 1 seed): 1 already in" in outputs[1]
    assert "Done: the chief (process 0) wrote the report" in outputs[2]  # process 1 prints no table
    alone, together = (json.loads((folder / "results.json").read_text()) for folder in (one, two))
    assert (alone["config"]["keras_backend"], alone["config"]["strategy"]) == ("jax", "default")
    assert (together["config"]["strategy"], together["config"]["replicas"]) == ("DataParallel", 2)
    assert sorted(p.name for p in two.iterdir()) == [
        "comparison.json",
        "report.md",
        "results.json",
        "runs",
        "runs.csv",
        "summary.csv",
        "verdicts.csv",
    ]  # no worker folder
    for run, reference in zip(together["runs"], alone["runs"]):
        assert (run["loss"], run["seed"]) == (reference["loss"], reference["seed"])
        for name, value in reference["metrics"].items():
            assert math.isfinite(value) and value >= 0, (run["loss"], name)
            if name != "train_seconds":
                assert run["metrics"][name] == pytest.approx(value, rel=1e-5, abs=1e-6), (run["loss"], name)
    assert [r["loss"] for r in alone["runs"]] == ["ce", "square"]
