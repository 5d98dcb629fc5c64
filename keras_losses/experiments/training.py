"""The training run shared by the example programs: set-up (strategy, precision, seed), `fit` with
checkpoints and logs (backup and restore, best model, TensorBoard, CSV), and the results, which only the
chief writes; every other worker writes to a scratch folder of its own and removes it at the end.
"""

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras

from keras_losses.experiments import distribution


def set_up(run):
    """The `Strategy` of `run` (`arguments.RunOptions`), the mixed-precision policy, the seed and determinism.

    Returns the strategy. Raises `ValueError` naming the flag that does not apply.
    """
    strategy = distribution.get_strategy(run.strategy, run.coordinator_address, run.num_processes, run.process_id)
    strategy.check_steps_per_execution(run.steps_per_execution)
    distribution.set_mixed_precision(run.mixed_precision, strategy)
    keras.utils.set_random_seed(run.seed)
    if run.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return strategy


def worker_dir(output_dir, strategy):
    """`output_dir` on the chief; `output_dir/workers/<task>` on every other worker (stable across restarts,
    so that a restarted worker finds its own backup)."""
    target = Path(output_dir) if strategy.is_chief else Path(output_dir) / "workers" / strategy.task
    target.mkdir(parents=True, exist_ok=True)
    return target


def callbacks(directory, monitor="val_accuracy"):
    """BackupAndRestore (resume a killed run), the best model as `best.keras`, TensorBoard and CSV logs.

    The backup keeps the previous epoch's copy too (`double_checkpoint`): a run killed while writing its
    backup resumes from the one before instead of failing on a truncated file.
    """
    directory = Path(directory)
    return [
        keras.callbacks.BackupAndRestore(str(directory / "backup"), double_checkpoint=True),
        keras.callbacks.ModelCheckpoint(
            str(directory / "best.keras"),
            monitor=monitor,
            mode="max" if "accuracy" in monitor else "min",
            save_best_only=True,
        ),
        keras.callbacks.TensorBoard(str(directory / "logs")),
        keras.callbacks.CSVLogger(str(directory / "training.csv"), append=True),
    ]


def fit(model, strategy, train, validation, epochs, steps_per_epoch, output_dir, monitor="val_accuracy"):
    """`model.fit` with `callbacks` in this worker's folder (the model patched by `strategy.prepare`).

    Returns (history, the run's summary for results.json: backend, strategy, replicas, precision, epochs,
    steps, the epoch it resumed from, training seconds).
    """
    model = strategy.prepare(model)
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation,
        shuffle=False,
        callbacks=callbacks(worker_dir(output_dir, strategy), monitor),
        verbose="auto",
    )
    seconds = time.perf_counter() - start
    summary = {
        "keras_backend": keras.backend.backend(),
        "strategy": strategy.name,
        "replicas": strategy.replicas,
        "mixed_precision_policy": keras.mixed_precision.global_policy().name,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "initial_epoch": history.epoch[0] if history.epoch else None,  # > 0: resumed from a backup
        "train_seconds": seconds,
    }
    return history, summary


def predict_logits(model, dataset):
    """Logits and labels for every example of a batched `(x, y)` dataset, as NumPy."""
    import numpy as np

    with distribution.undistributed():
        logits = model.predict(dataset.map(lambda x, y: x), verbose=0)
    labels = np.concatenate([np.asarray(y) for _, y in dataset.as_numpy_iterator()])
    return logits, labels


def finish(model, results, output_dir, strategy):
    """Saves `model.keras` and, on the chief, `results.json` (with the model's path); every other worker
    saves too (Keras reads synchronised variables collectively) and then removes its scratch folder."""
    target = worker_dir(output_dir, strategy)
    model.save(target / "model.keras")
    if strategy.is_chief:
        results["model_path"] = str(target / "model.keras")
        write_results(output_dir, results)
    else:
        shutil.rmtree(target)
        if not any(target.parent.iterdir()):
            target.parent.rmdir()


def write_results(output_dir, results):
    """Writes `results.json` (indented, keys sorted) and returns its path."""
    path = Path(output_dir) / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True, default=_jsonable) + "\n")
    return path


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
