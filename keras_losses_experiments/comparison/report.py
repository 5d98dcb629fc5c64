"""What `keras-losses compare` reports from its finished runs: the summary over seeds, the verdicts against
the baseline, `results.json`, CSV files, `comparison.png` and `report.md`."""

import csv
import json
from pathlib import Path

import numpy as np

from keras_losses_experiments.comparison import verdict

#: Metric columns in display order, with their headers and decimals (present ones only are shown).
COLUMNS = {
    "accuracy": ("accuracy", 4),
    "top5_accuracy": ("top-5", 4),
    "bleu": ("BLEU", 2),
    "nll": ("NLL", 3),
    "ece": ("ECE", 3),
    "calibrated_nll": ("NLL at T", 3),
    "calibrated_ece": ("ECE at T", 3),
    "train_seconds": ("train s", 1),
}
COMPARED = ("accuracy", "top5_accuracy", "bleu", "nll", "ece", "calibrated_nll", "calibrated_ece")


def summarize(runs, baseline):
    """Mean and standard deviation over seeds per loss and metric, the best loss by mean accuracy, and every
    loss against `baseline`, paired by seed."""
    rows = []
    for loss in dict.fromkeys(r.loss for r in runs):
        mine = [r for r in runs if r.loss == loss]
        row = {"loss": loss, "seeds": len(mine)}
        for name in mine[0].metrics:
            values = np.array([r.metrics[name] for r in mine])
            row[f"{name}_mean"] = float(values.mean())
            row[f"{name}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    best = max(rows, key=lambda row: row["accuracy_mean"])["loss"]
    metrics = [m for m in COMPARED if m in runs[0].metrics]
    differences = verdict.compare_with_baseline({(r.loss, r.seed): r.metrics for r in runs}, baseline, metrics)
    return {"losses": rows, "best": best, "baseline": baseline, "differences": [vars(d) for d in differences]}


def columns(summary):
    return [name for name in COLUMNS if f"{name}_mean" in summary["losses"][0]]


def format_table(summary):
    """A rich Table of mean ± std over seeds, the best accuracy marked."""
    from rich.table import Table

    table = Table(
        title="Test metrics, mean ± std over seeds (best accuracy marked *; T: temperature fitted on the "
        "validation split)"
    )
    table.add_column("loss", no_wrap=True)
    for name in columns(summary):
        table.add_column(COLUMNS[name][0], justify="right", no_wrap=True)
    for row in summary["losses"]:
        mark = " *" if row["loss"] == summary["best"] else ""
        table.add_row(row["loss"] + mark, *[_pm(row, name) for name in columns(summary)])
    return table


def verdict_lines(summary, metrics=("accuracy", "bleu")):
    """One sentence per loss against the baseline on the headline metrics."""
    return [verdict.sentence(verdict.Difference(**d)) for d in summary["differences"] if d["metric"] in metrics]


def _pm(row, name):
    digits = COLUMNS[name][1]
    return f"{row[name + '_mean']:.{digits}f}±{row[name + '_std']:.{digits}f}"


def write_all(output_dir, runs, summary, config, plot=True):
    """results.json, runs.csv, summary.csv, verdicts.csv, comparison.png (with `plot`) and report.md."""
    output_dir = Path(output_dir)
    results = {
        "config": config,
        "summary": summary,
        "runs": [{k: v for k, v in vars(r).items() if k != "true_class_probabilities"} for r in runs],
    }
    (output_dir / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    _write_csv(output_dir / "runs.csv", [{"loss": r.loss, "seed": r.seed, **r.metrics} for r in runs])
    _write_csv(output_dir / "summary.csv", summary["losses"])
    if summary["differences"]:
        _write_csv(output_dir / "verdicts.csv", summary["differences"])
    if plot:
        plot_runs(runs, output_dir / "comparison.png", title=f"{config['model']} on {config['dataset']}")
    (output_dir / "report.md").write_text(markdown_report(summary, config, plot))
    return output_dir / "report.md"


def _write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_report(summary, config, plot=True):
    """The configuration, the table, the verdicts and the plot (a relative link) as Markdown."""
    names = columns(summary)
    lines = [
        "# keras-losses compare",
        "",
        f"`{config['command']}`",
        "",
        "## Configuration",
        "",
        "| setting | value |",
        "| --- | --- |",
    ]
    lines += [
        f"| {key.replace('_', ' ')} | {_cell(value)} |"
        for key, value in config.items()
        if key not in ("command", "settings")
    ]
    lines += [
        "",
        "## Test metrics",
        "",
        "Mean ± standard deviation over seeds; the best mean accuracy is marked *.",
        "",
        "| loss | " + " | ".join(COLUMNS[n][0] for n in names) + " |",
        "| --- |" + " ---: |" * len(names),
    ]
    for row in summary["losses"]:
        mark = " \\*" if row["loss"] == summary["best"] else ""
        lines.append(f"| {row['loss']}{mark} | " + " | ".join(_pm(row, n) for n in names) + " |")
    lines += ["", *_calibration_note(names), "", f"## Against {summary['baseline']}", "", verdict.METHOD, ""]
    differences = [verdict.Difference(**d) for d in summary["differences"]]
    lines += [f"- {verdict.sentence(d)}" for d in differences if d.metric in ("accuracy", "bleu")]
    if differences:
        lines += [
            "",
            "| loss | metric | difference | 95% interval | verdict | seeds to resolve |",
            "| --- | --- | ---: | --- | --- | ---: |",
        ]
        lines += [
            f"| {d.loss} | {d.metric} | {d.mean:+.4f} | {_interval(d)} | {d.verdict} | "
            f"{'' if d.seeds_needed is None else d.seeds_needed} |"
            for d in differences
        ]
        lines += ["", "Seeds to resolve: " + verdict.SEEDS_METHOD]
    if plot:
        lines += [
            "",
            "## Plots",
            "",
            (
                "Test accuracy per epoch (mean ± std over seeds) and the distribution of the "
                "true class's probability on the test set."
            ),
            "",
            "![comparison](comparison.png)",
        ]
    return "\n".join(lines) + "\n"


def _calibration_note(names):
    if "calibrated_nll" in names:
        return [
            (
                "NLL and ECE use `softmax(outputs)` for every loss. A square-loss model's outputs are trained "
                "towards `m`, not towards log-odds, so its raw softmax is flat and its NLL/ECE read poorly: the "
                "columns *at T* divide the outputs by the temperature that minimises the NLL on the validation "
                "split (held out from training), for every loss alike."
            )
        ]
    return [
        (
            "NLL and ECE use `softmax(outputs)` for every loss, with no fitted temperature: a square-loss model's "
            "outputs are trained towards `m`, not towards log-odds, so its NLL/ECE read poorly here "
            "(run with a validation split, --validation-fraction > 0, for calibrated figures)."
        )
    ]


def _interval(difference):
    return "–" if difference.seeds == 1 else f"[{difference.low:+.4f}, {difference.high:+.4f}]"


def _cell(value):
    text = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text.replace("|", "\\|")


def plot_runs(runs, path, title=""):
    """Test accuracy per epoch (mean ± std over seeds) and the histogram of the true-class probability."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curves, histogram) = plt.subplots(1, 2, figsize=(12, 4.5))
    bins = np.linspace(0.0, 1.0, 21)
    for loss in dict.fromkeys(r.loss for r in runs):
        mine = [r for r in runs if r.loss == loss]
        accuracy = np.array([r.accuracy_per_epoch for r in mine])
        mean, std = accuracy.mean(0), accuracy.std(0)
        epochs = np.arange(1, accuracy.shape[1] + 1)
        (line,) = curves.plot(epochs, mean, label=loss)
        curves.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.15)
        pooled = np.concatenate([r.true_class_probabilities for r in mine])
        histogram.hist(
            pooled,
            bins=bins,
            histtype="step",
            linewidth=1.5,
            label=loss,
            color=line.get_color(),
            weights=np.full(len(pooled), 1.0 / len(pooled)),
        )
    curves.set(xlabel="epoch", ylabel="test accuracy", title=f"Test accuracy per epoch{' — ' + title if title else ''}")
    curves.xaxis.get_major_locator().set_params(integer=True)
    curves.grid(alpha=0.3)
    curves.legend()
    histogram.set(
        xlabel="probability of the true class (test set)",
        ylabel="fraction of test examples",
        yscale="log",
        title="True-class probability, softmax of the outputs",
    )
    histogram.grid(alpha=0.3)
    histogram.legend(loc="upper center")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
