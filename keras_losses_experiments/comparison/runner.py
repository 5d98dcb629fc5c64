"""Trains the (loss, seed) runs a comparison still lacks, each saved as soon as it ends.

A run with seed `s` calls `keras.utils.set_random_seed(s)` and then builds its model and its training
pipeline: every loss starts from the same initial weights and sees the batches in the same order for the same
seed. `resume.fit` keeps the run's whole state after every epoch in its own folder, so a killed comparison,
run again, resumes each interrupted run from its last finished epoch and ends with the numbers it would have
had without the kill (on one process or several).
"""

import contextlib
import json
import time

import keras

from keras_losses_experiments.training import resume


class EpochLog(keras.callbacks.Callback):
    """Appends one JSON line per finished epoch: `epoch` (0-based), `seconds` and the epoch's logs.

    It runs before the epoch's backup is saved: a run killed between the two trains that epoch again (to the
    same numbers) and logs it twice, which is what happened.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": epoch, "seconds": time.perf_counter() - self.start, **{k: float(v) for k, v in logs.items()}}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(entry) + "\n")


def pending(store, losses, seeds, strategy=None):
    """The (loss, seed) runs of `losses` x `seeds` (a list) that `store` has not finished. Under a strategy of
    several processes, the chief's answer on every process (`distribution.Strategy.chief_flags`), so that
    every process trains the same runs whatever its own file system holds."""
    runs = [(loss, seed) for loss in losses for seed in seeds]
    finished = [store.finished(loss, seed) for loss, seed in runs]
    if strategy is not None:
        finished = strategy.chief_flags(finished)
    return [run for run, done in zip(runs, finished) if not done]


def run_pending(task, store, todo, progress=True, save=True):
    """Trains the runs of `todo` (see `train_one`); returns how many it trained."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not progress) as bar:
        done = sum(len(store.epochs(loss, seed)) for loss, seed in todo)
        bar_task = bar.add_task("training", total=len(todo) * task.epochs, completed=done)
        advance = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: bar.advance(bar_task))
        for loss, seed in todo:
            bar.update(bar_task, description=f"{loss} seed {seed}")
            train_one(task, store, loss, seed, [advance], save)
    return len(todo)


def train_one(task, store, loss, seed, callbacks=(), save=True):
    """Trains (or resumes) one run and evaluates it; `save`: keeps it in `store` (the chief), else removes
    its folder (the other processes of a cluster, whose `store` is a scratch folder)."""
    folder = store.folder(loss, seed)
    folder.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    network = task.build(loss)
    averaged = []  # --ema-decay: validated and evaluated with the moving average of the weights
    if task.ema_decay is not None:
        from keras_losses_experiments.training.ema import ExponentialMovingAverage

        averaged = [ExponentialMovingAverage(task.ema_decay)]
    resume.fit(
        network,
        task.strategy,
        lambda data_epoch: task.epoch_batches(seed, data_epoch),
        task.batch_size,
        task.epochs,
        task.steps_per_epoch,
        folder / "backup",
        lambda first_epoch: [*averaged, EpochLog(folder / "epochs.jsonl"), *callbacks],
        validation_data=task.test_batches,
        verbose=0,
    )
    with averaged[0].swapped_in() if averaged else contextlib.nullcontext():
        results, true_class_probabilities = task.evaluate(network)
    if not save:
        store.discard(loss, seed)
        return
    epochs = store.epochs(loss, seed)
    results["train_seconds"] = sum(entry["seconds"] for entry in epochs)
    store.save(loss, seed, results, [entry[task.accuracy_log] for entry in epochs], true_class_probabilities)
