"""Training that a kill cannot change: a run resumed from its backup ends exactly as if it had never stopped.

`fit(...)` is `model.fit` with three things that make a resumed run equal an uninterrupted one, on one process
or several:

- **The whole state, after every epoch.** Every variable of the model (weights, batch-normalisation statistics
  and the random states of dropout layers, which `Model.save_weights` leaves out) and of the optimizer (its
  step count drives the learning-rate schedule; loss scaling's state too) goes to `epoch-<n>.npz` in the
  backup folder, `n` the number of epochs done. The file is written under another name and renamed, so a file
  of that name is always whole wherever the kill comes; the two newest are kept.
- **Data that depends on the epoch alone.** Each pass over the training data is shuffled and augmented with
  seeds derived from the run's seed and the pass's number (`epoch_seed`), and the passes are joined into one
  stream (`stream`): epoch `e` of a resumed run sees the batches epoch `e` saw, not the first pass's order.
- **One epoch for every process.** Each process of a cluster keeps its own backups; on restart they agree, in
  one all-reduce (`distribution.Strategy.newest_common`), on the newest epoch that every process has, and
  each restores it. (Processes killed at any moment are at most one epoch apart: every step needs all of them.
  So the second newest file is the one the others may still need.)

A run whose processes are all restarted with the same command resumes; so does a run of which a single process
died, once every process is restarted (the others stop on their own: TensorFlow's collective ops and JAX's
coordination service end them when a peer stops answering).
"""

import functools
import os
import re
from pathlib import Path

import keras
import numpy as np

from keras_losses_experiments.training import distribution

BACKUP_NAME = re.compile(r"^epoch-(\d+)\.npz$")
SEED_SPACING = 2**20  # data epochs of one seed before its seeds meet the next seed's


def epoch_seed(seed, data_epoch):
    """The seed of pass `data_epoch` over the training data of run `seed` (Python integers)."""
    return seed * SEED_SPACING + data_epoch


def example_seeds(seed, dataset):
    """`(x, y)` examples as `(x, y, [seed, index])`: a stateless random seed for each example of a pass (for
    augmentation that does not depend on the order in which parallel calls run)."""
    import tensorflow as tf

    return dataset.enumerate().map(lambda index, example: (*example, tf.stack([tf.constant(seed, "int64"), index])))


def batches_in(dataset):
    """The number of elements of a finite dataset (counted once where tf.data cannot tell)."""
    import tensorflow as tf

    count = int(dataset.cardinality())
    if count == tf.data.INFINITE_CARDINALITY:
        raise ValueError("one pass over the training data must be finite")
    if count == tf.data.UNKNOWN_CARDINALITY:
        count = int(dataset.reduce(np.int64(0), lambda total, _: total + 1))
    return count


def stream(epoch_batches, epochs, steps_per_epoch=None, first_epoch=0):
    """`(the training batches of epochs first_epoch to epochs - 1, steps per epoch)`.

    `epoch_batches(data_epoch)` is one pass over the data, its order a function of `data_epoch` (a Python
    integer: tf.data takes no computed shuffle seed) alone. The passes are joined; epoch `e` of
    `steps_per_epoch` steps (None: a pass's batches) starts at batch `e * steps_per_epoch` of the join.
    """
    batches_per_pass = batches_in(epoch_batches(0))
    steps_per_epoch = steps_per_epoch or batches_per_pass
    start, end = first_epoch * steps_per_epoch, max(epochs, first_epoch + 1) * steps_per_epoch  # never empty
    passes = [epoch_batches(d) for d in range(start // batches_per_pass, -(-end // batches_per_pass))]
    return functools.reduce(lambda joined, later: joined.concatenate(later), passes).skip(
        start % batches_per_pass
    ), steps_per_epoch


def state_variables(model):
    """Every variable training changes and `fit` does not reset: the model's and the optimizer's."""
    return [*model.variables, *model.optimizer.variables]


class Backup(keras.callbacks.Callback):
    """After every epoch, the whole training state to `directory/epoch-<epochs done>.npz` (see the module)."""

    def __init__(self, directory):
        super().__init__()
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        values = {f"v{i}": _storable(v.value) for i, v in enumerate(state_variables(self.model))}
        partial = self.directory / f"partial-epoch-{epoch + 1}.npz"
        with open(partial, "wb") as handle:
            np.savez(handle, **values)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.directory / f"epoch-{epoch + 1}.npz")
        for older in saved_epochs(self.directory)[:-2]:
            (self.directory / f"epoch-{older}.npz").unlink(missing_ok=True)


def saved_epochs(directory):
    """The epochs (numbers of epochs done) whose whole state `directory` holds, oldest first."""
    if not Path(directory).is_dir():
        return []
    names = (BACKUP_NAME.match(path.name) for path in Path(directory).iterdir())
    return sorted(int(match.group(1)) for match in names if match)


def restore(model, directory, strategy, epochs):
    """Loads the newest state saved in `directory` that every process of `strategy` holds; returns its epoch.

    0 (nothing loaded) when there is none. Every process must call it (one all-reduce when several).
    """
    epoch = strategy.newest_common(saved_epochs(directory), epochs)
    if epoch == 0:
        return 0
    with strategy.scope():
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    path = Path(directory) / f"epoch-{epoch}.npz"
    with np.load(path) as saved:
        values = [saved[f"v{i}"] for i in range(len(saved.files))]
    variables = state_variables(model)
    shapes = [tuple(v.shape) for v in variables]
    if shapes != [value.shape for value in values]:
        raise ValueError(
            f"{path} holds the state of another model or optimizer ({len(values)} variables, this run has "
            f"{len(variables)} of other shapes): delete {directory}, or train into another output directory"
        )
    for variable, value in zip(variables, values):
        variable.assign(value)
    return epoch


def _storable(value):
    """A variable's value as NumPy that `np.savez` keeps: bfloat16 (a NumPy extension type) as float32, exactly."""
    value = keras.ops.convert_to_numpy(value)
    return value.astype(np.float32) if value.dtype.kind == "V" else value


def fit(
    model, strategy, epoch_batches, global_batch_size, epochs, steps_per_epoch, backup_dir, callbacks, **fit_arguments
):
    """`model.fit` for `epochs` epochs of `steps_per_epoch` steps (None: one pass over the data), resumed from
    `backup_dir` if it holds a state.

    `epoch_batches(data_epoch)`: one pass over the training data, batches of `global_batch_size` (see `stream`);
    each pass and the stream are made ready for `strategy` (`distribute_dataset`: under JAX on several
    processes, a pass's partial batch is left out, never joined with the next pass's first examples).
    `callbacks(first_epoch)` returns the callbacks (a resumed run may need to know where it resumed).
    Returns the `History`; the backups stay in `backup_dir` (the caller removes them once the run's results
    are safe). Raises `errors.LostProcess` when another process of the cluster stopped.
    """
    first_epoch = restore(model, backup_dir, strategy, epochs)
    passes = lambda data_epoch: strategy.distribute_dataset(epoch_batches(data_epoch), global_batch_size)  # noqa: E731
    train, steps_per_epoch = stream(passes, epochs, steps_per_epoch, first_epoch)
    try:
        return model.fit(
            strategy.distribute_dataset(train, global_batch_size),
            epochs=epochs,
            initial_epoch=first_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=False,  # the pipeline shuffles, with the run's seed and the pass's number
            callbacks=[*callbacks(first_epoch), Backup(backup_dir)],
            **fit_arguments,
        )
    except Exception as error:
        lost = distribution.lost_process_error(error)
        if lost is None:
            raise
        raise lost from error
