"""`keras-losses compare`: train one model with each loss over several seeds and tabulate the results."""

import csv
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from keras_losses.experiments import datasets, loss_specs, metrics, models, training, translation

DEFAULT_LOSSES = "ce,square,encouraging,conservative_encouraging:0.75,squentropy"
BLEU_SENTENCES = 200  # test sentences decoded (greedily) for BLEU on translation sets
METRICS = ("accuracy", "nll", "ece", "train_seconds")
DATASETS = datasets.DATASETS + translation.TRANSLATION_DATASETS
TRANSLATION_MODELS = tuple(f"transformer_{name}" for name in translation.PRESETS)


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
    make_task = _translation_task if dataset in translation.TRANSLATION_DATASETS else _classification_task
    task = make_task(dataset, model, recipe, label_smoothing, mock_data, image_size, steps_per_epoch)

    runs = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        bar_task = bar.add_task("training", total=len(specs) * seeds * recipe.epochs)
        advance = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: bar.advance(bar_task))
        for spec in specs:
            for seed in range(seeds):
                bar.update(bar_task, description=f"{spec} seed {seed}")
                keras.utils.set_random_seed(seed)
                with strategy.scope():
                    network = task.build(spec)
                start = time.perf_counter()
                history = network.fit(
                    task.train.repeat() if steps_per_epoch else task.train,
                    epochs=recipe.epochs,
                    steps_per_epoch=steps_per_epoch,
                    validation_data=task.test,
                    callbacks=[advance],
                    shuffle=False,  # the pipeline shuffles
                    verbose=0,
                )
                train_seconds = time.perf_counter() - start
                run_metrics, true_probabilities = task.evaluate(network)
                run_metrics["train_seconds"] = train_seconds
                accuracy = history.history[f"val_{task.accuracy_metric}"]
                runs.append(Run(spec, seed, run_metrics, [float(a) for a in accuracy], true_probabilities))

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


@dataclass
class Task:
    """What the comparison needs of a data set: pipelines, a compiled model per loss, an evaluation."""

    train: object
    test: object
    build: object  # spec -> compiled keras.Model (called inside the strategy's scope)
    evaluate: object  # model -> (metrics dict, true-class probabilities)
    accuracy_metric: str


def _classification_task(dataset, model, recipe, label_smoothing, mock_data, image_size, steps_per_epoch):
    data = datasets.load(dataset, recipe.batch_size, image_size=image_size, mock_data=mock_data)
    steps = steps_per_epoch or max(1, data.train_size // recipe.batch_size)
    top_k = (1, 5) if data.num_classes >= 100 else (1,)

    def build(spec):
        network = models.build(model, data.input_shape, data.num_classes)
        network.compile(
            optimizer=training.make_optimizer(recipe, steps),
            loss=loss_specs.build_loss(spec, data.num_classes, label_smoothing),
            metrics=["accuracy"],
        )
        return network

    def evaluate(network):
        logits, labels = training.predict_logits(network, data.test)
        return metrics.classification_metrics(logits, labels, top_k=top_k), metrics.true_class_probabilities(logits, labels)

    return Task(data.train, data.test, build, evaluate, "accuracy")


def _translation_task(dataset, model, recipe, label_smoothing, mock_data, image_size, steps_per_epoch):
    """Next-token metrics (accuracy, NLL, ECE over non-padding tokens) and greedy BLEU on the test split."""
    import tempfile

    train_pairs, test_pairs = translation.load_pairs(dataset, mock_data)
    source, target = translation.train_tokenizers(train_pairs, 8000, tempfile.mkdtemp(prefix="keras-losses-vocabulary-"))
    length = translation.SEQUENCE_LENGTH
    train = translation.make_batches(train_pairs, source, target, length, recipe.batch_size, shuffle_seed=0)
    test = translation.make_batches(test_pairs, source, target, length, recipe.batch_size)
    sentences = translation.sentence_pairs(test_pairs, BLEU_SENTENCES)
    preset = translation.PRESETS[model.removeprefix("transformer_")]

    def build(spec):
        return translation.compiled_translator(spec, source, target, length, preset, label_smoothing)

    def evaluate(network):
        batches = ((network.predict_on_batch(x), y.numpy()) for x, y in test)
        results, true_probabilities = metrics.token_metrics(batches, translation.PAD_ID)
        hypotheses = translation.translate(network, source, target, [s for s, _ in sentences], length)
        results["bleu"] = metrics.bleu(hypotheses, [t for _, t in sentences])
        return results, true_probabilities

    return Task(train, test, build, evaluate, "token_accuracy")


def check_arguments(dataset, model, losses, seeds, label_smoothing=0.0):
    """Validates the comparison's arguments before any data is loaded; returns (loss specs, model name)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of: {', '.join(DATASETS)}")
    translating = dataset in translation.TRANSLATION_DATASETS
    model = model or ("transformer_base" if translating else models.DEFAULT_MODEL[dataset])
    allowed = TRANSLATION_MODELS if translating else models.MODELS
    if model not in allowed:
        raise ValueError(f"model {model!r} does not fit {dataset!r}; expected one of: {', '.join(allowed)}")
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
