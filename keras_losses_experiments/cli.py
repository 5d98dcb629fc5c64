"""The `keras-losses` command: `keras-losses compare` trains a model with each loss and tells which to use.

Arguments and the user's data are checked before TensorFlow is imported (several seconds): this module and
what it imports at module level use only the standard library and the light modules of
`keras_losses.experiments` (`settings`, `user_data`, `compare`'s front half).
"""

import argparse
import sys

from keras_losses_experiments.classification import user_data
from keras_losses_experiments.classification.models import MODELS
from keras_losses_experiments.comparison import compare
from keras_losses_experiments.comparison.settings import (
    DEFAULT_VALIDATION_FRACTION,
    STRATEGIES,
    TRANSLATION_DATASETS,
    TRANSLATION_MODELS,
    Settings,
    UsageError,
)
from keras_losses_experiments.losses import SPEC_HELP
from keras_losses_experiments.training import distribution, quiet
from keras_losses_experiments.training.recipe import DEFAULT_HEAD, DEFAULT_PRESET, HEAD_HELP, HEADS

DESCRIPTION = """Train the same model on the same data with each loss and several seeds. Prints per loss the mean
± std of test accuracy, NLL, ECE (raw, and at a temperature fitted on a validation split) and training time, and
for every loss against ce the paired difference over seeds with its 95% confidence interval: better, worse, or
no detectable difference (and how many seeds would resolve it). Writes report.md, results.json, CSV files and
comparison.png to --output-dir, each run as soon as it ends: rerun the same command to resume."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: ...)` except where the default is None or a switch (the help text says it)."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-losses", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "compare",
        help="train the same model with each loss over several seeds and tell which loss is better",
        description=DESCRIPTION,
        formatter_class=_HelpFormatter,
    )
    command.set_defaults(parser=command)
    _data_arguments(command.add_argument_group("data (default: scikit-learn's digits, offline)"))
    _training_arguments(command.add_argument_group("model and training"))
    output = command.add_argument_group("output")
    output.add_argument(
        "--output-dir",
        default=compare.DEFAULT_OUTPUT_DIR,
        metavar="DIR",
        help="the runs, report.md, results.json, runs.csv, summary.csv, verdicts.csv, comparison.png",
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a comparison with other settings in --output-dir (refused otherwise)",
    )
    output.add_argument("--no-plot", dest="plot", action="store_false", help="do not write comparison.png")
    output.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    return parser


def _data_arguments(group):
    group.add_argument(
        "--dataset",
        metavar="NAME",
        help="digits; cifar10, cifar100, imagenet2012 (with their training recipes); "
        f"{', '.join(TRANSLATION_DATASETS)} (next-token metrics and BLEU); or any tensorflow-datasets "
        "set with a 'label' class feature and an image, numeric or text input (default: digits)",
    )
    group.add_argument(
        "--data",
        metavar="PATH",
        help="your data: a .npz file (x_train, y_train, optionally x_test, y_test; integer labels), a "
        ".csv file (a label column and numeric features), or a folder with one sub-folder of images or "
        ".txt files per class (or train/ and test/ folders laid out so)",
    )
    group.add_argument("--label-column", metavar="NAME", help="the label column of a .csv file (default: label)")
    group.add_argument(
        "--test-fraction",
        type=float,
        metavar="F",
        help="held out for testing, stratified with seed 0, when the data has no test split "
        f"(default: {user_data.DEFAULT_TEST_FRACTION})",
    )
    group.add_argument(
        "--validation-fraction",
        type=float,
        metavar="F",
        help="held out from training to fit the softmax temperature of the calibrated NLL/ECE; 0: no "
        f"calibration (default: {DEFAULT_VALIDATION_FRACTION}, at most 10,000 examples)",
    )
    group.add_argument(
        "--mock-data",
        type=int,
        metavar="N",
        help="N random examples per split in the set's format (tensorflow-datasets sets; offline)",
    )
    group.add_argument(
        "--image-size",
        type=int,
        metavar="PIXELS",
        help="resize images to PIXELS x PIXELS (tensorflow-datasets image sets and image folders; "
        "default: CIFAR 32, ImageNet 224, folders 64, other sets their own size or 64)",
    )


def _training_arguments(group):
    group.add_argument(
        "--model",
        default="auto",
        choices=("auto", *MODELS, *TRANSLATION_MODELS),
        help="auto: digits mlp, CIFAR and ImageNet resnet50, translation the data set's preset "
        f"({', '.join(f'{d}: transformer_{p}' for d, p in DEFAULT_PRESET.items())}); otherwise mlp for "
        "vectors, cnn for images, cnn_1d for [time, features] sequences, text for text. Translation "
        "models are the examples' presets (their architecture and recipe; the loss is mean over the "
        "non-padding tokens of the global batch)",
    )
    group.add_argument(
        "--head",
        choices=HEADS,
        help=f"translation sets only: {HEAD_HELP} (default: {DEFAULT_HEAD})",
    )
    group.add_argument(
        "--losses",
        default=compare.DEFAULT_LOSSES,
        help=f"comma-separated, each one of: {SPEC_HELP}; every loss is compared with ce when ce is "
        "among them (else with the first)",
    )
    group.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="runs per loss; seed s gives every loss the same initial weights and data order",
    )
    group.add_argument(
        "--epochs",
        type=int,
        help="default: the data set's recipe (digits and your data: 20; CIFAR 200; ImageNet 90; "
        "translation: the preset's)",
    )
    group.add_argument(
        "--batch-size",
        type=int,
        help="global batch size, divided among the replicas; default: the recipe (digits and your "
        "data: 64; CIFAR 128; ImageNet 256; translation: the preset's)",
    )
    group.add_argument(
        "--learning-rate",
        type=float,
        help="the peak learning rate, at the recipe's global batch: CIFAR and ImageNet scale it "
        "linearly with --batch-size (default: the recipe: digits and your data Adam 0.001; CIFAR and "
        "ImageNet SGD 0.1; translation the preset's peak of its inverse-square-root schedule)",
    )
    group.add_argument(
        "--label-smoothing",
        type=float,
        default=0.0,
        help="for every loss, in [0, 1); on translation sets too (the presets' 0.1 is the examples' default only)",
    )
    group.add_argument(
        "--steps-per-epoch",
        type=int,
        help="training steps per epoch, the data repeating; default: one pass over the training split",
    )
    _distribution_arguments(group)


def _distribution_arguments(group):
    group.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="TensorFlow: default, mirrored (the GPUs or CPUs of this machine), multi_worker (the "
        "cluster of TF_CONFIG), tpu; JAX (KERAS_BACKEND=jax): default, data_parallel "
        "(keras.distribution across the devices of every process); auto: the best of these for the "
        "machine. Only the chief (process 0) writes to --output-dir",
    )
    group.add_argument(
        "--coordinator-address",
        metavar="HOST:PORT",
        help="JAX data_parallel: process 0's address (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)",
    )
    group.add_argument(
        "--num-processes",
        type=int,
        metavar="N",
        help="JAX data_parallel: the number of processes (default: $KERAS_DISTRIBUTION_NUM_PROCESSES)",
    )
    group.add_argument(
        "--process-id",
        type=int,
        metavar="I",
        help="JAX data_parallel: this process's id, 0 writes the results (default: $KERAS_DISTRIBUTION_PROCESS_ID)",
    )


def parse(argv=None):
    """(the `compare` sub-command's parser, the `Settings` of `argv`); argparse exits on a malformed argument."""
    args = build_parser().parse_args(argv)
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
    except UsageError as error:
        command.error(str(error))
    except user_data.DataError as error:
        command.exit(2, f"{command.prog}: error: {error}\n")
    except distribution.LostProcess as error:
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
