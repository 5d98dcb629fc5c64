"""`keras-losses compare`: train one model with each loss over several seeds and tabulate the results."""

import csv
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from keras_losses.experiments import datasets, loss_specs, metrics, models, training

DEFAULT_LOSSES = "ce,square,encouraging,conservative_encouraging:0.75,squentropy"
METRICS = ("accuracy", "nll", "ece", "train_seconds")


@dataclass
class Run:
    loss: str
    seed: int
    metrics: dict
    accuracy_per_epoch: list
    true_class_probabilities: np.ndarray = field(repr=False)


def compare(
    dataset="digits",
    model=None,
    losses=DEFAULT_LOSSES,
    seeds=3,
    epochs=None,
    batch_size=None,
    learning_rate=None,
    label_smoothing=0.0,
    output_dir="keras-losses-compare",
    plot=False,
    mock_data=None,
    image_size=None,
    steps_per_epoch=None,
    strategy="default",
    progress=True,
):
    """Runs the comparison, writes results.json, runs.csv, summary.csv (and comparison.png); returns the summary."""
    import keras
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    specs, model = check_arguments(dataset, model, losses, seeds, label_smoothing)
    recipe = training.RECIPES[dataset]
    recipe = replace(
        recipe,
        epochs=epochs or recipe.epochs,
        batch_size=batch_size or recipe.batch_size,
        learning_rate=learning_rate or recipe.learning_rate,
    )
    strategy = training.get_strategy(strategy)
    data = datasets.load(dataset, recipe.batch_size, image_size=image_size, mock_data=mock_data)
    steps = steps_per_epoch or max(1, data.train_size // recipe.batch_size)
    top_k = (1, 5) if data.num_classes >= 100 else (1,)

    runs = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("training", total=len(specs) * seeds * recipe.epochs)
        advance = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: bar.advance(task))
        for spec in specs:
            for seed in range(seeds):
                bar.update(task, description=f"{spec} seed {seed}")
                keras.utils.set_random_seed(seed)
                with strategy.scope():
                    network = models.build(model, data.input_shape, data.num_classes)
                    network.compile(
                        optimizer=training.make_optimizer(recipe, steps),
                        loss=loss_specs.build_loss(spec, data.num_classes, label_smoothing),
                        metrics=["accuracy"],
                    )
                start = time.perf_counter()
                history = network.fit(
                    data.train.repeat() if steps_per_epoch else data.train,
                    epochs=recipe.epochs,
                    steps_per_epoch=steps_per_epoch,
                    validation_data=data.test,
                    callbacks=[advance],
                    shuffle=False,  # the pipeline shuffles
                    verbose=0,
                )
                train_seconds = time.perf_counter() - start
                logits, labels = training.predict_logits(network, data.test)
                run_metrics = metrics.classification_metrics(logits, labels, top_k=top_k)
                run_metrics["train_seconds"] = train_seconds
                runs.append(
                    Run(
                        spec,
                        seed,
                        run_metrics,
                        [float(a) for a in history.history["val_accuracy"]],
                        metrics.true_class_probabilities(logits, labels),
                    )
                )

    summary = summarize(runs)
    output_dir = Path(output_dir)
    config = {
        "dataset": dataset,
        "model": model,
        "losses": specs,
        "seeds": seeds,
        "recipe": recipe,
        "label_smoothing": label_smoothing,
        "mock_data": mock_data,
        "steps_per_epoch": steps_per_epoch,
        "keras_backend": keras.backend.backend(),
    }
    training.write_results(
        output_dir,
        {"config": config, "summary": summary, "runs": [{k: v for k, v in vars(r).items() if k != "true_class_probabilities"} for r in runs]},
    )
    _write_csv(output_dir / "runs.csv", [{"loss": r.loss, "seed": r.seed, **r.metrics} for r in runs])
    _write_csv(output_dir / "summary.csv", summary["losses"])
    if plot:
        summary["plot"] = str(plot_runs(runs, output_dir / "comparison.png", title=f"{model} on {dataset}"))
    return summary


def check_arguments(dataset, model, losses, seeds, label_smoothing=0.0):
    """Validates the comparison's arguments before any data is loaded; returns (loss specs, model name)."""
    if dataset not in datasets.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of: {', '.join(datasets.DATASETS)}")
    model = model or models.DEFAULT_MODEL[dataset]
    if model not in models.MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of: {', '.join(models.MODELS)}")
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1. Received: {seeds}")
    specs = loss_specs.split_specs(losses)
    for spec in specs:
        loss_specs.build_loss(spec, num_classes=2, label_smoothing=label_smoothing)
    return specs, model


def summarize(runs):
    """Mean and standard deviation over seeds of each metric, per loss; the best loss by mean accuracy."""
    rows = []
    for spec in dict.fromkeys(r.loss for r in runs):
        mine = [r for r in runs if r.loss == spec]
        row = {"loss": spec, "seeds": len(mine)}
        for name in mine[0].metrics:
            values = np.array([r.metrics[name] for r in mine])
            row[f"{name}_mean"] = float(values.mean())
            row[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    best = max(rows, key=lambda row: row["accuracy_mean"])
    within = [
        row["loss"]
        for row in rows
        if row is not best
        and best["accuracy_mean"] - row["accuracy_mean"] <= max(best["accuracy_std"], row["accuracy_std"])
    ]
    return {"losses": rows, "best": best["loss"], "within_one_std_of_best": within}


def format_table(summary):
    """A rich Table of the summary, the best loss marked."""
    from rich.table import Table

    extra = [m for m in summary["losses"][0] if m.endswith("_mean") and m[: -len("_mean")] not in METRICS]
    table = Table(title="Test metrics, mean ± std over seeds (best accuracy marked *)")
    for header in ("loss", "accuracy", *[m[: -len("_mean")] for m in extra], "NLL", "ECE", "train s"):
        table.add_column(header, justify="left" if header == "loss" else "right", no_wrap=True)
    for row in summary["losses"]:
        cells = [
            _pm(row, "accuracy", 4),
            *[_pm(row, m[: -len("_mean")], 4) for m in extra],
            _pm(row, "nll", 3),
            _pm(row, "ece", 3),
            _pm(row, "train_seconds", 1),
        ]
        mark = " *" if row["loss"] == summary["best"] else ""
        table.add_row(row["loss"] + mark, *cells)
    return table


def note(summary):
    if all(row["seeds"] == 1 for row in summary["losses"]):
        return f"Best: {summary['best']}, from one seed: run --seeds 3 or more to compare with the seed-to-seed spread."
    if not summary["within_one_std_of_best"]:
        return f"Best: {summary['best']}, by more than one standard deviation."
    others = ", ".join(summary["within_one_std_of_best"])
    return (
        f"Best: {summary['best']}; within one standard deviation of it: {others} "
        "(not a significant difference at this number of seeds)."
    )


def _pm(row, name, digits):
    return f"{row[name + '_mean']:.{digits}f}±{row[name + '_std']:.{digits}f}"


def _write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_runs(runs, path, title=""):
    """Test accuracy per epoch (mean ± std over seeds) and the histogram of the true-class probability."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curves, histogram) = plt.subplots(1, 2, figsize=(12, 4.5))
    bins = np.linspace(0.0, 1.0, 21)
    for spec in dict.fromkeys(r.loss for r in runs):
        mine = [r for r in runs if r.loss == spec]
        accuracy = np.array([r.accuracy_per_epoch for r in mine])
        epochs = np.arange(1, accuracy.shape[1] + 1)
        (line,) = curves.plot(epochs, accuracy.mean(0), label=spec)
        curves.fill_between(epochs, accuracy.mean(0) - accuracy.std(0), accuracy.mean(0) + accuracy.std(0), color=line.get_color(), alpha=0.15)
        pooled = np.concatenate([r.true_class_probabilities for r in mine])
        histogram.hist(pooled, bins=bins, histtype="step", linewidth=1.5, label=spec, color=line.get_color(),
                       weights=np.full(len(pooled), 1.0 / len(pooled)))
    curves.set(xlabel="epoch", ylabel="test accuracy", title=f"Test accuracy per epoch{' — ' + title if title else ''}")
    curves.xaxis.get_major_locator().set_params(integer=True)
    curves.grid(alpha=0.3)
    curves.legend()
    histogram.set(xlabel="probability of the true class (test set)", ylabel="fraction of test examples", yscale="log",
                  title="True-class probability, softmax of the outputs")
    histogram.grid(alpha=0.3)
    histogram.legend(loc="upper center")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
