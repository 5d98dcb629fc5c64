"""The example programs' shared flags and their validation: loss, recipe overrides and how to run.

Every flag takes effect or is refused: `loss_choice`, `Recipe.override` and `run_options` raise
`ArgumentError` (a `ValueError`) naming the flag for a value or a combination that does not apply; the
examples turn it into an argparse error.
"""

import argparse
from dataclasses import dataclass

from keras_losses_experiments import losses
from keras_losses_experiments.training import distribution


class ArgumentError(ValueError):
    """A flag, or a combination of flags, that does not apply; the message names the flag."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's defaults in the help, except the absent ones (None, False): their help says what applies."""

    def _get_help_string(self, action):
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def at_least(minimum):
    """An argparse type: an integer >= `minimum`."""

    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}. Received: {value}")
        return value

    parse.__name__ = "int"
    return parse


# --- the loss -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossChoice:
    """The loss the flags describe; `spec(num_classes)` completes it with the papers' defaults."""

    family: str  # one of losses.FAMILIES
    k: float = None  # square loss only; None: the paper's value for the number of classes
    m: float = None
    log_end: float = None  # (conservative) encouraging loss only; None: the family's default
    label_smoothing: float = 0.0

    def spec(self, num_classes):
        """A loss specification (loss_specs) such as "square:15.0,30.0" for `num_classes` classes."""
        if self.family == "square" and (self.k is not None or self.m is not None):
            k, m = losses.default_square_parameters(num_classes)
            return f"square:{self.k if self.k is not None else k},{self.m if self.m is not None else m}"
        if self.log_end is not None:
            return f"{self.family}:{self.log_end}"
        return self.family


def add_loss_arguments(parser, default="ce", label_smoothing=0.0):
    """--loss, --k, --m, --log-end, --label-smoothing; `default` and `label_smoothing` are for the help text."""
    parser.add_argument("--loss", choices=losses.FAMILIES, help=f"default: {default}")
    parser.add_argument(
        "--k",
        type=float,
        help="square loss: weight of the true class (default: the paper's for "
        "the number of classes, see docs/losses.md; given alone, m stays the paper's)",
    )
    parser.add_argument(
        "--m",
        type=float,
        help="square loss: target of the true class (default: the paper's for "
        "the number of classes; given alone, k stays the paper's)",
    )
    parser.add_argument(
        "--log-end",
        type=float,
        help="(conservative) encouraging loss: LE (default: 1.0 for "
        f"encouraging, 0.75 for conservative_encouraging{'' if default == 'ce' else ', or ' + default})",
    )
    parser.add_argument("--label-smoothing", type=float, help=f"in [0, 1) (default: {label_smoothing:g})")


def loss_choice(args, default="ce", label_smoothing=0.0):
    """The `LossChoice` of the flags; `default` (a specification) and `label_smoothing` apply where no flag
    is given (a preset's loss applies only while --loss does not name another one)."""
    if args.loss is None:
        family, _, values = default.partition(":")
        numbers = [float(v) for v in values.split(",")] if values else []
        preset = {
            "square": dict(zip("km", numbers)),
            "encouraging": {"log_end": (numbers or [None])[0]},
            "conservative_encouraging": {"log_end": (numbers or [None])[0]},
        }.get(family, {})
    else:
        family, preset = args.loss, {}
    given = {"k": args.k, "m": args.m, "log_end": args.log_end}
    for name, value in given.items():
        applies = "square" if name in "km" else "encouraging"
        if value is not None and applies not in family:
            raise ArgumentError(f"--{name.replace('_', '-')} applies to --loss {applies} only (the loss is {family})")
    choice = LossChoice(
        family,
        **{**preset, **{name: value for name, value in given.items() if value is not None}},
        label_smoothing=label_smoothing if args.label_smoothing is None else args.label_smoothing,
    )
    try:  # the loss's own range checks, before any data is loaded
        losses.build_loss(choice.spec(10), 10, choice.label_smoothing)
    except ValueError as error:
        raise ArgumentError(f"the loss flags do not describe a valid loss: {error}") from None
    return choice


# --- the recipe ---------------------------------------------------------------------------------------------


def add_recipe_arguments(parser, recipe_help):
    """--epochs, --batch-size, --learning-rate, --weight-decay (see `Recipe.override`)."""
    parser.add_argument("--epochs", type=at_least(1), help=f"default: {recipe_help}")
    parser.add_argument(
        "--batch-size",
        type=at_least(1),
        help="per replica; the global batch is this x replicas (default: the recipe's global batch / replicas)",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="the peak learning rate, for the recipe's global batch "
        "(scaled linearly with the global batch where the recipe says so; default: the recipe's)",
    )
    parser.add_argument("--weight-decay", type=float, help="decoupled, as Keras applies it (default: the recipe's)")


def global_batch_size(args, recipe, replicas):
    """--batch-size x replicas, or the recipe's global batch (divided evenly among the replicas)."""
    if args.batch_size is not None:
        return args.batch_size * replicas
    if recipe.batch_size % replicas:
        raise ArgumentError(
            f"the recipe's global batch {recipe.batch_size} does not divide among {replicas} replicas: "
            "give --batch-size (per replica)"
        )
    return recipe.batch_size


# --- how to run ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """Where and how a run trains: strategy, cluster, precision, steps, seed, output, mock data."""

    strategy: str = "auto"
    coordinator_address: str = None
    num_processes: int = None
    process_id: int = None
    mixed_precision: str = None
    steps_per_epoch: int = None
    steps_per_execution: int = 1
    seed: int = 0
    deterministic: bool = False
    output_dir: str = "runs"
    mock_data: int = None


def add_run_arguments(parser, output_dir):
    """--strategy and the JAX cluster flags, --mixed-precision, --steps-per-epoch, --steps-per-execution,
    --seed, --deterministic, --output-dir, --mock-data."""
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=distribution.STRATEGIES,
        help="TensorFlow: default, mirrored, multi_worker (TF_CONFIG), tpu; JAX: default, "
        "data_parallel (keras.distribution). auto: the best of these for the machine",
    )
    parser.add_argument(
        "--coordinator-address",
        metavar="HOST:PORT",
        help="JAX multi-process: process 0's address (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)",
    )
    parser.add_argument(
        "--num-processes",
        type=at_least(1),
        help="JAX multi-process: the number of processes (default: $KERAS_DISTRIBUTION_NUM_PROCESSES)",
    )
    parser.add_argument(
        "--process-id",
        type=at_least(0),
        help="JAX multi-process: this process's id, 0 writes the results (default: $KERAS_DISTRIBUTION_PROCESS_ID)",
    )
    parser.add_argument(
        "--mixed-precision",
        nargs="?",
        const="auto",
        choices=distribution.MIXED_PRECISION,
        help="mixed_bfloat16 or mixed_float16 compute (alone: bfloat16 on TPUs, float16 elsewhere); "
        "the logits layer stays float32",
    )
    parser.add_argument("--steps-per-epoch", type=at_least(1), help="default: one pass over the training split")
    parser.add_argument(
        "--steps-per-execution",
        type=at_least(1),
        default=1,
        help="training steps per compiled call (TPUs); 1 under (multi-worker) mirrored strategies",
    )
    parser.add_argument("--seed", type=int, default=0, help="weights, shuffling and augmentation")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="the same run for the same seed: TensorFlow's "
        "op determinism (tf.data's random augmentation included), slower input pipelines; on JAX "
        "GPUs set XLA_FLAGS=--xla_gpu_deterministic_ops=true too",
    )
    parser.add_argument("--output-dir", default=output_dir)
    parser.add_argument(
        "--mock-data",
        type=at_least(1),
        metavar="N",
        help="N random examples per split (tensorflow-datasets' mock data), offline",
    )


def run_options(args):
    """The `RunOptions` of the flags."""
    return RunOptions(**{name: getattr(args, name) for name in RunOptions.__dataclass_fields__})
