"""The `keras-losses` command: `keras-losses compare` trains a model with each loss and tells which to use.

Its flags come from the table of `flags`. Arguments and the user's data are checked before TensorFlow is imported
(several seconds): this module and what it imports at module level use only the standard library and NumPy.
Every lower layer's `ConfigError` names a field; this command reports it as its flag (`flags.usage`).
"""

import argparse
import sys

from keras_losses_experiments import flags, papers
from keras_losses_experiments.classification.models import MODELS
from keras_losses_experiments.classification.recipes import RECIPES
from keras_losses_experiments.classification.vision import VISION_FLAGS
from keras_losses_experiments.comparison import compare
from keras_losses_experiments.comparison.settings import (
    DEFAULT_LOSSES,
    DEFAULT_OUTPUT_DIR,
    TRANSLATION_DATASETS,
    TRANSLATION_MODELS,
    Settings,
)
from keras_losses_experiments.errors import ConfigError, DataError, LostProcess
from keras_losses_experiments.flags import HEAD_HELP
from keras_losses_experiments.training import quiet
from keras_losses_experiments.translation.presets import DEFAULT_HEAD, DEFAULT_PRESET

DATA_FLAGS = ("dataset", "data", "label_column", "test_fraction", "validation_fraction", "mock_data", "image_size")
TRAINING_FLAGS = (
    "preset",
    "model",
    "head",
    "losses",
    "seeds",
    "epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "schedule",
    "warmup_epochs",
    "label_smoothing",
    "steps_per_epoch",
    "strategy",
    "coordinator_address",
    "num_processes",
    "process_id",
    "mixed_precision",
)
OUTPUT_FLAGS = ("output_dir", "overwrite", "plot", "progress")

DESCRIPTION = """Train the same model on the same data with each loss and several seeds. Prints per loss the mean
± std of test accuracy, NLL, ECE (raw, and at a temperature fitted on a validation split) and training time, and
for every loss against ce the paired difference over seeds with its 95% confidence interval: better, worse, or
no detectable difference (and how many seeds would resolve it). Writes report.md, results.json, CSV files and
comparison.png to --output-dir, each run as soon as it ends: rerun the same command to resume."""


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-losses", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "compare",
        help="train the same model with each loss over several seeds and tell which loss is better",
        description=DESCRIPTION,
        formatter_class=flags.HelpFormatter,
    )
    command.set_defaults(parser=command)
    recipe = RECIPES["digits"]
    flags.add(
        command.add_argument_group("data (default: scikit-learn's digits, offline)"),
        DATA_FLAGS,
        helps={
            "dataset": "digits",
            "image_size": "CIFAR 32, ImageNet 224, folders 64, other sets their own size or 64",
        },
        about={
            "dataset": "digits; cifar10, cifar100, imagenet2012 (with their training recipes); "
            f"{', '.join(TRANSLATION_DATASETS)} (next-token metrics and BLEU); or any tensorflow-datasets set with "
            "a 'label' class feature and an image, numeric or text input",
            "image_size": "tensorflow-datasets image sets and image folders",
        },
    )
    flags.add(
        command.add_argument_group("model and training"),
        TRAINING_FLAGS,
        defaults={"model": "auto", "losses": DEFAULT_LOSSES, "label_smoothing": 0.0},
        choices={"model": ("auto", *MODELS, *TRANSLATION_MODELS), "preset": tuple(papers.presets())},
        helps={
            "preset": "none; a paper's experiment as its script runs it (docs/papers.md): every setting the script "
            "sets becomes the default of its flag, --losses its baseline and the paper's loss, --seeds its seeds",
            "head": DEFAULT_HEAD,
            "epochs": f"the data set's recipe (digits and your data: {recipe.epochs}; CIFAR 200; ImageNet 90; "
            "translation: the preset's)",
            "batch_size": f"the recipe's (digits and your data: {recipe.batch_size}; CIFAR 128; ImageNet 256; "
            "translation: the preset's)",
            "learning_rate": f"the recipe's: digits and your data Adam {recipe.learning_rate:g}; CIFAR and ImageNet "
            "SGD 0.1; translation the preset's peak of its inverse-square-root schedule",
            "steps_per_epoch": "one pass over the training split",
        },
        about={
            "model": "auto: digits mlp, CIFAR and ImageNet resnet50, translation the data set's preset "
            f"({', '.join(f'{d}: transformer_{p}' for d, p in DEFAULT_PRESET.items())}); otherwise mlp for "
            "vectors, cnn for images, cnn_1d for [time, features] sequences, text for text. Translation models are "
            "the examples' presets (their architecture and recipe; the loss is mean over the non-padding tokens of "
            "the global batch)",
            "head": f"translation sets only: {HEAD_HELP}",
            "losses": "every loss is compared with ce when ce is among them (else with the first)",
            "label_smoothing": "on translation sets too (the presets' 0.1 is the examples' default only)",
        },
    )
    flags.add(
        command.add_argument_group("vision capabilities (CIFAR and ImageNet; docs/papers.md)"),
        VISION_FLAGS,
        helps={"dropout": "the model's"},
    )
    flags.add(
        command.add_argument_group("output"),
        OUTPUT_FLAGS,
        defaults={"output_dir": DEFAULT_OUTPUT_DIR},
        about={"output_dir": "the runs, report.md, results.json, runs.csv, summary.csv, verdicts.csv, comparison.png"},
    )
    return parser


def parse(argv=None):
    """(the `compare` sub-command's parser, the `Settings` of `argv`); argparse exits on a malformed argument.
    A paper preset's (`--preset`) settings are the defaults of their flags."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.preset is not None:
        try:
            args, _, _ = papers.parse(args.parser, argv[argv.index(args.command) + 1 :], "compare")
        except ConfigError as error:
            args.parser.error(flags.usage(error))
    values = {name: value for name, value in vars(args).items() if name not in ("command", "parser")}
    return args.parser, Settings(**values)


def main(argv=None):
    """Runs the command; Keras and TensorFlow are imported once the arguments are valid."""
    command, settings = parse(argv)
    try:
        plan = compare.prepare(settings)
        quiet.import_tensorflow()
        from rich.console import Console

        console = Console(width=max(Console().width, 120))
        summary = compare.run(plan, console)
    except ConfigError as error:
        command.error(flags.usage(error))
    except DataError as error:
        command.exit(2, f"{command.prog}: error: {flags.usage(error)}\n")
    except LostProcess as error:
        command.exit(1, f"{command.prog}: error: {error}\n")
    from keras_losses_experiments.comparison import report

    if summary is None:
        console.print("Done: the chief (process 0) wrote the report", highlight=False)
        return 0
    console.print(report.format_table(summary))
    for line in report.verdict_lines(summary):
        console.print(line, highlight=False)
    console.print(
        f"Report: {summary['report']} (with results.json, runs.csv, summary.csv, verdicts.csv"
        f"{', comparison.png' if settings.plot else ''})",
        highlight=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
