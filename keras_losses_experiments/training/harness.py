"""The training run shared by the example programs: set-up (strategy, precision, seed), `fit` with
checkpoints and logs (exact backup and resume: `resume`; best model, TensorBoard, CSV), and the results, which
only the chief writes; every other worker writes to a scratch folder of its own and removes it at the end.
"""

import csv
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras

from keras_losses_experiments.errors import LostProcess
from keras_losses_experiments.training import distribution, resume


def set_up(run):
    """The `Strategy` of `run` (`flags.RunOptions`), the mixed-precision policy, the seed and determinism.

    Returns the strategy. Raises `ConfigError` naming the field that does not apply.
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


def callbacks(directory, monitor="val_accuracy", first_epoch=0):
    """The best model as `best.keras`, TensorBoard and CSV logs, for a run that starts (or resumes) at `first_epoch`.

    A resumed run's `training.csv` keeps the rows of the epochs before `first_epoch` only (a kill after an
    epoch's row and before its backup would list that epoch twice), and `best.keras` is replaced only by a
    model better than the best of those epochs.
    """
    directory = Path(directory)
    mode = "max" if "accuracy" in monitor else "min"
    return [
        keras.callbacks.ModelCheckpoint(
            str(directory / "best.keras"),
            monitor=monitor,
            mode=mode,
            save_best_only=True,
            initial_value_threshold=_best_logged(directory / "training.csv", monitor, mode, first_epoch),
        ),
        keras.callbacks.TensorBoard(str(directory / "logs")),
        keras.callbacks.CSVLogger(str(directory / "training.csv"), append=True),
    ]


def _best_logged(log, monitor, mode, first_epoch):
    """Cuts the CSV `log` to the epochs before `first_epoch`; returns the best `monitor` there (None if none)."""
    if not log.exists():
        return None
    with open(log, newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [row for row in rows if int(row["epoch"]) < first_epoch]
    with open(log, "w", newline="") as handle:
        if kept:
            writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
            writer.writeheader()
            writer.writerows(kept)
    values = [float(row[monitor]) for row in kept if row.get(monitor)]
    return (max if mode == "max" else min)(values) if values else None


def fit(
    model,
    strategy,
    epoch_batches,
    global_batch_size,
    validation,
    epochs,
    steps_per_epoch,
    output_dir,
    monitor,
    extra_callbacks=(),
):
    """`resume.fit` with `callbacks` in this worker's folder (the model patched by `strategy.prepare`), after
    `extra_callbacks` (a moving average of the weights evaluated in their place, the epoch checkpoints; a callback
    adding a metric to the logs comes before those reading it): a killed run, started again, resumes from its last
    backup (`backup/`, removed once the run is done) exactly (a moving average of the weights starts again from
    the weights it resumes with).

    `epoch_batches(data_epoch)`: one pass over the training data (see `resume.stream`). Returns (history, the
    run's summary for results.json: backend, strategy, replicas, precision, epochs, steps, the epoch it resumed
    from, training seconds).
    """
    model = strategy.prepare(model)
    directory = worker_dir(output_dir, strategy)
    start = time.perf_counter()
    history = resume.fit(
        model,
        strategy,
        epoch_batches,
        global_batch_size,
        epochs,
        steps_per_epoch,
        directory / "backup",
        lambda first_epoch: [*extra_callbacks, *callbacks(directory, monitor, first_epoch)],
        validation_data=validation,
        verbose="auto",
    )
    seconds = time.perf_counter() - start
    shutil.rmtree(directory / "backup", ignore_errors=True)
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


def over_seeds(config, seeds, strategy, train, metrics):
    """Runs `train(config)` once per seed, each with `config.run`'s seed and its output directory's `seed-<s>/`
    (the seed set anew before each run: `set_up`; the strategy and precision stay), then on the chief
    `summarize`s `metrics` of their results into `summary.json`. Returns the summary (None off the chief)."""
    from dataclasses import replace

    runs = {}
    for seed in seeds:
        run = replace(config.run, seed=seed, output_dir=f"{str(config.run.output_dir).rstrip('/')}/seed-{seed}")
        if seed != seeds[0]:
            set_up(run)
        runs[seed] = train(replace(config, run=run))
    return summarize(runs, config.run.output_dir, metrics) if strategy.is_chief else None


def summarize(runs, output_dir, metrics):
    """`summary.json` in `output_dir`: each of `metrics`' mean and standard deviation (ddof 1) over the seeds'
    runs ({seed: results}; a metric a run lacks or has as None is left out), and the runs' folders; printed as
    mean ± std. Returns the summary."""
    import numpy as np

    summary = {"seeds": list(runs), "runs": {seed: f"seed-{seed}" for seed in runs}}
    for metric in metrics:
        values = [r[metric] for r in runs.values() if r.get(metric) is not None]
        if values:
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            summary[metric] = {"mean": float(np.mean(values)), "std": std, "values": values}
    path = Path(output_dir) / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    shown = ", ".join(f"{m} {summary[m]['mean']:.4f} ± {summary[m]['std']:.4f}" for m in metrics if m in summary)
    print(f"over seeds {', '.join(map(str, runs))}: {shown} ({path})")
    return summary


def run_main(main, program):
    """Runs an example's `main()`; a lost process of the cluster ends it with one line naming it (exit code 1)."""
    try:
        main()
    except LostProcess as error:
        raise SystemExit(f"{program}: error: {error}") from None
