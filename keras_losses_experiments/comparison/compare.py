"""`keras-losses compare`: train one model with each loss over several seeds and tell which loss to use.

    from keras_losses_experiments.comparison.compare import Settings, compare
    summary = compare(Settings(data="my_data.npz", losses="ce,square", seeds=5, epochs=30))

`prepare(settings)` checks the settings and reads the user's data (NumPy only: fast, no TensorFlow);
`run(plan)` trains the runs the output directory lacks (`tasks`, `runner`, `run_store`) where `--strategy`
says (`distribution`) and writes the reports (`report`). `compare(settings)` does both.
"""

import shlex
from dataclasses import asdict, dataclass

from keras_losses_experiments.classification import datasets, models, user_data
from keras_losses_experiments.comparison.settings import DEFAULT_LOSSES, DEFAULT_OUTPUT_DIR, Settings
from keras_losses_experiments.errors import ConfigError

__all__ = ["DEFAULT_LOSSES", "DEFAULT_OUTPUT_DIR", "Plan", "Settings", "compare", "prepare", "run"]


@dataclass
class Plan:
    """Checked settings, the user's data as read (`user_data.Arrays` or `Folder`; None for named sets) and what
    identifies the runs (`comparison.json`)."""

    settings: Settings
    data: object
    identity: dict


def prepare(settings):
    """Raises `ConfigError` (a bad setting) or `DataError` (bad data) before anything is trained."""
    settings.check()
    data, identity = None, settings.identity()
    if settings.source in ("npz", "csv", "folder"):
        data = user_data.read(settings.data, settings.label_column, settings.test_fraction)
        identity["data_fingerprint"] = user_data.fingerprint(settings.data)
        if settings.image_size is not None and data.kind != "image":
            raise ConfigError("image_size", f"{settings.data} has no images to resize ({data.kind} inputs)")
        if settings.model != "auto":
            try:
                models.check(settings.model, data.kind, _input_shape(settings, data))
            except ValueError as error:
                raise ConfigError("model", f"{settings.data}: {error}") from None
    return Plan(settings, data, identity)


def _input_shape(settings, data):
    """One example's shape as the model will see it (`datasets.from_arrays`, `datasets.from_folder`)."""
    if isinstance(data, user_data.Arrays):
        return data.x_train.shape[1:]
    if data.kind == "text":
        return (datasets.TEXT_LENGTH,)
    size = settings.image_size or datasets.DEFAULT_IMAGE_SIZE
    return (size, size, 3)


def run(plan, console=None):
    """Trains what is missing, writes the reports; returns the summary (see `report.summarize`).

    Under a strategy of several processes (`--strategy multi_worker` or `data_parallel`) every process trains
    every run; only the chief (process 0) writes to the output directory and returns the summary, the others
    keep their backups in `output_dir/workers/<task>` (removed at the end) and return None.
    """
    import keras

    from keras_losses_experiments.comparison import report, runner, tasks
    from keras_losses_experiments.comparison.run_store import RunStore
    from keras_losses_experiments.training import distribution, harness

    settings = plan.settings
    strategy = strategy_for(settings)
    distribution.set_mixed_precision(settings.mixed_precision, strategy)
    identity = {**plan.identity, "keras_backend": keras.backend.backend()}
    store = RunStore(settings.output_dir)
    workspace = store if strategy.is_chief else RunStore(harness.worker_dir(settings.output_dir, strategy))
    workspace.check(identity, settings.overwrite)
    task = tasks.make_task(settings, plan.data, strategy, workspace.path)
    workspace.start(identity, settings.overwrite)
    todo = runner.pending(store, settings.specs, settings.seed_list, strategy)
    losses, seeds = len(settings.specs), len(settings.seed_list)
    if strategy.is_chief:
        _say(
            console,
            f"{task.description}\n{losses * seeds} runs ({losses} loss{'es' * (losses > 1)} x {seeds} seed"
            f"{'s' * (seeds > 1)}): {losses * seeds - len(todo)} already in {settings.output_dir}, "
            f"{len(todo)} to train",
        )
    runner.run_pending(task, workspace, todo, settings.progress and strategy.is_chief, save=strategy.is_chief)
    if not strategy.is_chief:
        workspace.remove()
        return None
    runs = store.load(settings.specs, settings.seed_list)
    summary = report.summarize(runs, settings.baseline)
    config = {
        "command": command_line(settings),
        "dataset": settings.dataset_name,
        "model": task.model,
        "head": settings.translation_head,  # translation sets: the translator's logits layer; else None
        "setup": task.description,
        "losses": list(settings.specs),
        "seeds": settings.seeds,
        "baseline": settings.baseline,
        "label_smoothing": settings.label_smoothing,
        "strategy": strategy.name,
        "replicas": strategy.replicas,
        "keras_backend": identity["keras_backend"],
        "settings": asdict(settings),
    }
    summary["report"] = str(report.write_all(settings.output_dir, runs, summary, config, settings.plot))
    return summary


def strategy_for(settings):
    """`distribution.get_strategy` of the settings (a `ConfigError` for one that does not apply)."""
    from keras_losses_experiments.training import distribution

    return distribution.get_strategy(
        settings.strategy, settings.coordinator_address, settings.num_processes, settings.process_id
    )


def compare(settings=None, console=None, **kwargs):
    """`run(prepare(settings))`; `settings` may be given as keyword arguments of `Settings` instead."""
    return run(prepare(settings or Settings(**kwargs)), console)


def _say(console, text):
    if console is not None:
        console.print(text, highlight=False)


def command_line(settings):
    """The `keras-losses compare` command that gives `settings` (non-default flags only)."""
    defaults, words = Settings(), ["keras-losses", "compare"]
    for name, value in asdict(settings).items():
        if value == getattr(defaults, name) or name == "overwrite":
            continue
        flag = "--" + {"plot": "no-plot", "progress": "no-progress"}.get(name, name).replace("_", "-")
        words += [flag] if isinstance(value, bool) else [flag, str(value)]
    return shlex.join(words)
