"""The `keras-losses` command: `keras-losses compare` trains a model with each loss and tells which wins."""

import argparse
import logging
import sys

from keras_losses.experiments.compare import DATASETS, TRANSLATION_MODELS
from keras_losses.experiments.loss_specs import SPEC_HELP
from keras_losses.experiments.models import MODELS
from keras_losses.experiments.training import STRATEGIES


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-losses", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    compare = commands.add_parser(
        "compare",
        help="train the same model with each loss over several seeds and compare test metrics",
        description="Train the same model on the same data with each loss and several seeds; print mean ± std "
        "of test accuracy, NLL, ECE and training time per loss, and save results.json, runs.csv, summary.csv.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    compare.add_argument("--dataset", default="digits", choices=DATASETS,
                         help="digits ships with scikit-learn (offline); the others come from tensorflow-datasets; "
                         "the translation sets report next-token accuracy, NLL, ECE and greedy BLEU")
    compare.add_argument("--model", choices=MODELS + TRANSLATION_MODELS,
                         help="default: mlp for digits, transformer_base for translation sets, resnet50 otherwise")
    compare.add_argument("--losses", default="ce,square,encouraging,conservative_encouraging:0.75,squentropy",
                         help=f"comma-separated; each one of: {SPEC_HELP}")
    compare.add_argument("--seeds", type=int, default=3, help="seeds per loss (the spread over seeds is reported)")
    compare.add_argument("--epochs", type=int, help="default: the dataset's recipe (digits: 20)")
    compare.add_argument("--batch-size", type=int, help="global batch size; default: the dataset's recipe")
    compare.add_argument("--learning-rate", type=float, help="default: the dataset's recipe")
    compare.add_argument("--label-smoothing", type=float, default=0.0)
    compare.add_argument("--output-dir", default="keras-losses-compare")
    compare.add_argument("--plot", action="store_true", help="also write comparison.png")
    compare.add_argument("--strategy", default="default", choices=STRATEGIES)
    compare.add_argument("--mock-data", type=int, metavar="N", help="N random examples per split (tfds sets, offline)")
    compare.add_argument("--image-size", type=int, help="resize tfds images to this size")
    compare.add_argument("--steps-per-epoch", type=int)
    compare.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # retracing notices: one model per run is intended
    from rich.console import Console

    from keras_losses.experiments import compare

    for name in ("seeds", "epochs", "batch_size", "steps_per_epoch", "mock_data", "image_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1. Received: {value}")
    try:
        compare.check_arguments(args.dataset, args.model, args.losses, args.seeds, args.label_smoothing)
    except ValueError as error:
        parser.error(str(error))

    summary = compare.compare(
        dataset=args.dataset,
        model=args.model,
        losses=args.losses,
        seeds=args.seeds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        label_smoothing=args.label_smoothing,
        output_dir=args.output_dir,
        plot=args.plot,
        mock_data=args.mock_data,
        image_size=args.image_size,
        steps_per_epoch=args.steps_per_epoch,
        strategy=args.strategy,
        progress=not args.no_progress,
    )
    console = Console(width=max(Console().width, 100))
    console.print(compare.format_table(summary))
    console.print(compare.note(summary))
    console.print(f"Results: {args.output_dir}/results.json, runs.csv, summary.csv"
                  + (f", {summary['plot']}" if "plot" in summary else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
