"""The command-line flags of the example programs and `keras-losses compare`: one table, one meaning per flag.

`FLAGS` holds every flag once: its field (the option is `--field-name`), type, default, help and the check of
its value. `add(parser, names, **defaults)` builds a program's parser from it; a program may give a flag its
own default (`defaults`, said in the help), never another meaning or check. Each value is checked as it enters
(argparse calls the flag's `parse`); a Python caller's values are checked by `check_value` (`Settings.check`).

Lower layers raise `errors.ConfigError` naming a field; `usage(error)` is the command line's message, which
names the flag (`option(field)`). Standard library only: `keras-losses --help` must not wait for Keras.
"""

import argparse
from dataclasses import dataclass

from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.losses import FAMILIES, SPEC_HELP, build_loss, default_square_parameters
from keras_losses_experiments.training.distribution import MIXED_PRECISION, STRATEGIES


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's `(default: ...)`, except where there is none to show (None, a switch): the help says it."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


# --- checks: a value -> None, or what is wrong with it ----------------------------------------------------


def at_least(minimum):
    def check(value):
        return None if value >= minimum else f"must be at least {minimum}. Received: {value}"

    return check


def betas(text):
    """`0.9,0.98`: two numbers in [0, 1), as a tuple."""
    values = tuple(float(part) for part in text.split(","))
    if len(values) != 2 or not all(0 <= value < 1 for value in values):
        raise ValueError(text)
    return values


def positive(value):
    return None if value > 0 else f"must be > 0. Received: {value}"


def fraction(low_closed, high_closed):
    """A number in (0, 1), with 0 and/or 1 allowed."""
    interval = ("[" if low_closed else "(") + "0, 1" + ("]" if high_closed else ")")

    def check(value):
        above = value >= 0 if low_closed else value > 0
        below = value <= 1 if high_closed else value < 1
        return None if above and below else f"must be in {interval}. Received: {value}"

    return check


def seeds(text):
    """`--seeds`: a count (`5`: seeds 0 to 4) or a comma-separated list (`1,2,3,4,5`, two or more, or one
    followed by a comma: `7,`), as a tuple."""
    if "," not in text:
        return int(text)
    return tuple(int(part) for part in text.split(",") if part.strip())


def seeds_check(value):
    if isinstance(value, int):
        return at_least(1)(value)
    if not value or min(value) < 0 or len(set(value)) != len(value):
        return f"must be distinct seeds >= 0. Received: {','.join(map(str, value))}"
    return None


def seed_values(value):
    """The seeds `--seeds value` runs: `range(value)` for a count, the list itself otherwise."""
    return list(range(value)) if isinstance(value, int) else list(value)


def seeds_to_run(args, preset=None, overrides=None):
    """The seeds an example program runs (`seed_values` of `--seeds`), or None for one run with `--seed`. A paper
    preset's seeds are `--seeds`' default: `--seed` under a preset is that one run instead. Raises `ConfigError`
    for both flags given."""
    from keras_losses_experiments.errors import ConfigError

    if args.seeds is None:
        return None
    if args.seed is not None:
        if preset is None or "seeds" in (overrides or {}):
            raise ConfigError("seed", "give --seed (one run) or --seeds (several), not both")
        return None
    return seed_values(args.seeds)


def epoch_list(text):
    """`30,60,80`: increasing whole epochs >= 1, as a tuple."""
    values = tuple(int(part) for part in text.split(","))
    if min(values) < 1 or list(values) != sorted(set(values)):
        raise ValueError(text)
    return values


@dataclass(frozen=True)
class Flag:
    """One flag: `--name-with-dashes` (or `option`), stored as `name`."""

    name: str
    type: object = str  # int, float, str; None for a switch
    default: object = None
    help: str = ""
    check: object = None  # value -> None or the problem
    choices: tuple = None
    metavar: str = None
    option: str = None  # the option when it is not --name (--no-plot)
    nargs: str = None
    const: object = None

    def parse(self, text):
        """The value of `text`, checked; argparse reports a `ValueError` as invalid for the type's name."""
        value = self.type(text)
        problem = self.check(value) if self.check else None
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value


RUN_BATCH = (
    "the global batch: every step trains on this many examples in all, divided among the replicas (it must "
    "divide evenly)"
)
FLAGS = {
    flag.name: flag
    for flag in (
        # data
        Flag("dataset", metavar="NAME"),
        Flag(
            "data",
            metavar="PATH",
            help="your data: a .npz file (x_train, y_train, optionally x_test, y_test; integer labels), a .csv file "
            "(a label column and numeric features), or a folder with one sub-folder of images or .txt files per "
            "class (or train/ and test/ folders laid out so)",
        ),
        Flag("label_column", metavar="NAME", help="the label column of a .csv file (default: label)"),
        Flag(
            "test_fraction",
            float,
            check=fraction(False, False),
            metavar="F",
            help="held out for testing, stratified with seed 0, when the data has no test split (default: 0.2)",
        ),
        Flag(
            "validation_fraction",
            float,
            check=fraction(True, False),
            metavar="F",
            help="held out from training to fit the softmax temperature of the calibrated NLL/ECE; 0: no "
            "calibration (default: 0.1, at most 10,000 examples)",
        ),
        Flag(
            "mock_data",
            int,
            check=at_least(1),
            metavar="N",
            help="N random examples per split in the set's format (tensorflow-datasets' mock data; offline)",
        ),
        Flag("image_size", int, check=at_least(8), metavar="PIXELS", help="resize images to PIXELS x PIXELS"),
        # the model
        Flag("model"),
        Flag("head", choices=("chunked", "dense")),
        Flag("preset"),
        Flag("layers", int, check=at_least(1), help="encoder = decoder layers (default: the preset's)"),
        Flag("model_dim", int, check=at_least(1), help="default: the preset's"),
        Flag("heads", int, check=at_least(1), help="default: the preset's"),
        Flag("feedforward_dim", int, check=at_least(1), help="default: the preset's"),
        Flag("dropout", float, check=fraction(True, False), help="default: the preset's"),
        Flag("vocabulary_size", int, 8000, "WordPiece vocabulary size per language", at_least(8)),
        Flag("sequence_length", int, help="tokens per sentence (longer are cut)", check=at_least(2)),
        # the loss
        Flag("losses", help=f"comma-separated, each one of: {SPEC_HELP}"),
        Flag("loss", choices=FAMILIES),
        Flag(
            "k",
            float,
            check=positive,
            help="square loss: weight of the true class (default: the paper's for the number of classes, see "
            "docs/losses.md; given alone, m stays the paper's)",
        ),
        Flag(
            "m",
            float,
            check=positive,
            help="square loss: target of the true class (default: the paper's for the number of classes; given "
            "alone, k stays the paper's)",
        ),
        Flag("log_end", float, check=fraction(False, True), help="(conservative) encouraging loss: LE"),
        Flag("label_smoothing", float, check=fraction(True, False), help="for every loss, in [0, 1)"),
        # the recipe
        Flag(
            "seeds",
            seeds,
            3,
            "a count N (seeds 0 to N-1) or a comma-separated list of seeds (1,2,3,4,5, as the official scripts "
            "loop); seed s gives every loss the same initial weights and data order",
            check=seeds_check,
        ),
        Flag("epochs", int, check=at_least(1)),
        Flag("batch_size", int, help=RUN_BATCH, check=at_least(1)),
        Flag(
            "learning_rate",
            float,
            check=positive,
            help="the peak learning rate, for the recipe's global batch (scaled linearly with --batch-size where "
            "the recipe says so)",
        ),
        Flag("weight_decay", float, check=at_least(0), help="decoupled, as Keras applies it (default: the recipe's)"),
        Flag(
            "schedule",
            choices=("constant", "cosine", "step", "multistep", "timm_step"),
            help="default: the recipe's; the recipe's warm-up is kept (--warmup-epochs to change it)",
        ),
        Flag("warmup_epochs", float, check=at_least(0), help="linear warm-up from 0 (default: the recipe's)"),
        Flag(
            "warmup_steps",
            int,
            check=at_least(1),
            help="updates of linear warm-up before the inverse-square-root decay (default: the preset's, 4000; "
            "base and tiny: the peak follows (model_dim * warmup_steps)^-0.5 unless --learning-rate is given)",
        ),
        Flag("steps_per_epoch", int, check=at_least(1), help="training steps per epoch, the data repeating"),
        # vision capabilities (the papers' image recipes; docs/papers.md)
        Flag(
            "optimizer",
            choices=("sgd", "pytorch_sgd", "adam", "rmsprop_tf"),
            help="sgd: Keras' SGD (the learning rate inside the momentum); pytorch_sgd: torch.optim.SGD's update; "
            "adam; rmsprop_tf: TensorFlow's / timm's RMSprop (epsilon inside the square root) (default: the recipe's)",
        ),
        Flag("momentum", float, check=fraction(True, False), help="SGD and RMSprop momentum (default: the recipe's)"),
        Flag("nesterov", None, None, "Nesterov momentum on or off (SGD; default: the recipe's)"),
        Flag("optimizer_epsilon", float, check=positive, help="Adam's / RMSprop's epsilon (default: the optimizer's)"),
        Flag(
            "weight_decay_mode",
            choices=("decoupled", "l2"),
            help="decoupled: w -= lr * decay * w beside the update (Keras); l2: decay * w added to the gradient "
            "before the momentum (PyTorch's weight_decay; pytorch_sgd and rmsprop_tf only) (default: decoupled)",
        ),
        Flag(
            "weight_decay_on_1d",
            None,
            None,
            "weight decay on one-dimensional weights (biases, normalisation scales and offsets) too; --no-...: not "
            "on them, as timm's optimizer factory (pytorch_sgd and rmsprop_tf only) (default: on)",
        ),
        Flag(
            "milestones", epoch_list, metavar="E1,E2,...", help="--schedule multistep: x --decay-rate at these epochs"
        ),
        Flag("decay_rate", float, check=fraction(False, True), help="multistep and timm_step: the multiplier"),
        Flag("decay_epochs", float, check=positive, help="timm_step: x --decay-rate every this many epochs (2.4)"),
        Flag("warmup_lr", float, check=at_least(0), help="timm_step: the warm-up's first learning rate (timm's)"),
        Flag(
            "schedule_step_at",
            choices=("epoch_end", "epoch_start"),
            help="multistep: epoch_end counts epochs done (epoch e trains at the rate of e); epoch_start: as a PyTorch "
            "trainer calling scheduler.step() before each epoch (epoch e, from 0, trains at the rate of e + 1: "
            "milestone 30 drops the rate after 29 epochs) (default: epoch_end)",
        ),
        Flag("ema_decay", float, check=fraction(True, False), help="evaluate and save an EMA of the weights (timm)"),
        Flag(
            "augment",
            choices=("pad_crop", "resized_crop"),
            help="pad_crop: 4-pixel pad, random crop and flip (CIFAR); resized_crop: torchvision's RandomResizedCrop "
            "+ flip, normalised in the pipeline, tested with Resize(size * 256 / 224) + CenterCrop (default: the "
            "data set's: CIFAR pad_crop, ImageNet a random resized crop of tf.image)",
        ),
        Flag("randaugment", metavar="CONFIG", help="timm's RandAugment, e.g. rand-m9-mstd0.5 (resized_crop only)"),
        Flag("random_erasing", float, check=fraction(True, True), metavar="P", help="timm's per-pixel random erasing"),
        Flag("train_interpolation", choices=("bilinear", "bicubic", "random"), help="of the training crop's resize"),
        Flag("test_interpolation", choices=("bilinear", "bicubic"), help="of the test resize (default: bilinear)"),
        Flag(
            "normalization",
            choices=("cifar", "imagenet"),
            help="the channel mean and std of the resized_crop pipeline (default: the data set's)",
        ),
        Flag("drop_connect", float, check=fraction(True, False), help="EfficientNet-B0's drop-connect rate (0.2)"),
        # translation capabilities (the encouraging-loss paper's fairseq recipes; docs/papers_translation.md)
        Flag(
            "corpus",
            metavar="DIR",
            help="your translation corpus: train/valid/test.<lang> files as fairseq's prepare-iwslt14.sh writes them "
            "(tokenized, BPE-split; with --source-lang, --target-lang), or train/valid/test.tsv (source<TAB>target, "
            "our WordPiece tokenizer); trained in batches of --max-tokens",
        ),
        Flag("source_lang", metavar="LANG", help="--corpus: the source files' suffix (de)"),
        Flag("target_lang", metavar="LANG", help="--corpus: the target files' suffix (en)"),
        Flag(
            "joined_dictionary",
            None,
            False,
            "--corpus: one vocabulary over both languages' training files (fairseq-preprocess --joined-dictionary)",
        ),
        Flag(
            "bpe",
            choices=("subword_nmt", "sentencepiece"),
            help="--corpus: how the files are split, joined back before BLEU: subword_nmt ('@@ ', --remove-bpe) or "
            "sentencepiece (--remove-bpe sentencepiece) (default: subword_nmt)",
        ),
        Flag("max_tokens", int, check=at_least(1), help="--corpus: batches of at most this many tokens (fairseq's)"),
        Flag(
            "update_freq",
            int,
            1,
            "--corpus: one update every N batches, normalised by their tokens together (fairseq's --update-freq)",
            at_least(1),
        ),
        Flag("max_updates", int, check=at_least(1), help="--corpus: train this many updates (fairseq's --max-update)"),
        Flag(
            "average_last",
            int,
            check=at_least(1),
            metavar="N",
            help="--corpus: the final model is the mean of the last N epoch checkpoints (fairseq's "
            "average_checkpoints.py --num-epoch-checkpoints N)",
        ),
        Flag(
            "best_by",
            choices=("bleu",),
            help="--corpus: also report the checkpoint of the best validation BLEU (fairseq's --eval-bleu, "
            "--best-checkpoint-metric bleu --maximize-best-checkpoint-metric)",
        ),
        Flag(
            "length_penalty", float, 1.0, "beam search: the score is log-probability / length^this (fairseq --lenpen)"
        ),
        Flag("max_len_a", float, check=at_least(0), help="--corpus test translations: at most a x source length + b"),
        Flag("max_len_b", int, check=at_least(1), help="--corpus test translations: see --max-len-a"),
        Flag("valid_max_len_a", float, check=at_least(0), help="--best-by bleu: the validation translations' a"),
        Flag("valid_max_len_b", int, check=at_least(1), help="--best-by bleu: the validation translations' b"),
        Flag(
            "architecture",
            choices=("keras_hub", "fairseq"),
            help="keras_hub: keras-hub's layers, learned positions, dropout everywhere; fairseq: fairseq's transformer "
            "(sinusoidal positions, embeddings scaled by sqrt(d), --attention-dropout, no output bias) (default: the "
            "preset's)",
        ),
        Flag("attention_dropout", float, check=fraction(True, False), help="--architecture fairseq (default: 0)"),
        Flag(
            "share_all_embeddings",
            None,
            False,
            "--architecture fairseq with --joined-dictionary: one matrix embeds source and target tokens and is the "
            "output projection (logits h @ E^T, a dense head)",
        ),
        Flag("adam_betas", betas, metavar="B1,B2", help="Adam's betas (default: the preset's)"),
        Flag("adam_eps", float, check=positive, help="Adam's epsilon (default: the preset's)"),
        # evaluation
        Flag("validation_steps", int, check=at_least(1), help="default: the whole test split"),
        Flag("beams", int, check=at_least(1), help="beam size of the test translations, 1: greedy"),
        Flag("test_sentences", int, check=at_least(1), help="translate at most this many test sentences"),
        # where and how to run
        Flag(
            "strategy",
            default="auto",
            choices=STRATEGIES,
            help="TensorFlow: default, mirrored (the GPUs or CPUs of this machine), multi_worker (the cluster of "
            "TF_CONFIG), tpu; JAX (KERAS_BACKEND=jax): default, data_parallel (keras.distribution across the "
            "devices of every process); auto: the best of these for the machine. Only the chief (process 0) writes "
            "to the output directory",
        ),
        Flag(
            "coordinator_address",
            metavar="HOST:PORT",
            help="JAX data_parallel: process 0's address (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)",
        ),
        Flag(
            "num_processes",
            int,
            check=at_least(1),
            metavar="N",
            help="JAX data_parallel: the number of processes (default: $KERAS_DISTRIBUTION_NUM_PROCESSES)",
        ),
        Flag(
            "process_id",
            int,
            check=at_least(0),
            metavar="I",
            help="JAX data_parallel: this process's id, 0 writes the results (default: $KERAS_DISTRIBUTION_PROCESS_ID)",
        ),
        Flag(
            "mixed_precision",
            nargs="?",
            const="auto",
            choices=MIXED_PRECISION,
            help="mixed_bfloat16 or mixed_float16 compute (alone: bfloat16 on TPUs, float16 elsewhere); the logits "
            "layer stays float32",
        ),
        Flag(
            "steps_per_execution",
            int,
            1,
            "training steps per compiled call (TPUs); 1 under (multi-worker) mirrored strategies",
            at_least(1),
        ),
        Flag("seed", int, 0, "weights, shuffling and augmentation"),
        Flag(
            "deterministic",
            None,
            False,
            "the same run for the same seed: TensorFlow's op determinism (tf.data's random augmentation included), "
            "slower input pipelines; on JAX GPUs set XLA_FLAGS=--xla_gpu_deterministic_ops=true too",
        ),
        # output
        Flag("output_dir", metavar="DIR"),
        Flag("overwrite", None, False, "replace a comparison with other settings in --output-dir (refused otherwise)"),
        Flag("plot", None, True, "do not write comparison.png", option="--no-plot"),
        Flag("progress", None, True, "no progress bar", option="--no-progress"),
    )
}


def option(field):
    """The command-line flag of a field: `batch_size` -> `--batch-size`."""
    flag = FLAGS.get(field)
    return flag.option if flag is not None and flag.option else "--" + field.replace("_", "-")


def add(parser, names, defaults=None, helps=None, choices=None, about=None):
    """Adds the flags `names` of `FLAGS` to `parser` (an argparse parser or group).

    A program's own `defaults` ({name: value}), `helps` ({name: what the default is where it is not one value:
    "the recipe's"}, appended as `(default: ...)`), `choices` ({name: the values it offers}) and `about`
    ({name: what the program accepts there}, put before the flag's help).
    """
    defaults, helps, choices, about = defaults or {}, helps or {}, choices or {}, about or {}
    for name in names:
        flag = FLAGS[name]
        text = "; ".join(part for part in (about.get(name), flag.help) if part)
        if name in helps:
            text = f"{text} (default: {helps[name]})" if text else f"default: {helps[name]}"
        if flag.type is None:  # a switch; with no default, --name and --no-name
            if flag.default is None:
                parser.add_argument(option(name), dest=name, action=argparse.BooleanOptionalAction, help=text)
                continue
            action = "store_false" if flag.default is True else "store_true"
            parser.add_argument(option(name), dest=name, action=action, help=text)
            continue
        keywords = {"nargs": flag.nargs, "const": flag.const} if flag.nargs else {}
        parser.add_argument(
            option(name),
            type=_named(flag.parse, flag.type.__name__) if flag.type is not str else None,
            default=defaults.get(name, flag.default),
            choices=choices.get(name, flag.choices),
            metavar=flag.metavar,
            help=text,
            **keywords,
        )


def _named(function, name):
    """`function` under `name`, the type argparse names in 'invalid int value' errors."""

    def parse(text):
        return function(text)

    parse.__name__ = name
    return parse


def check_value(field, value):
    """Raises `ConfigError(field)` if `value` (not None) fails the check of the flag `field`."""
    flag = FLAGS[field]
    problem = flag.check(value) if value is not None and flag.check else None
    if problem:
        raise ConfigError(field, problem)


def usage(error):
    """The command line's message of a `ConfigError`: `--flag: problem`; of a `DataError`: its message, with
    the flag of its field (if any) after it."""
    if isinstance(error, ConfigError):
        return f"{option(error.field)}: {error.problem}"
    return f"{error} ({option(error.field)})" if error.field else str(error)


# --- the loss of the example programs' flags ----------------------------------------------------------------


@dataclass(frozen=True)
class LossChoice:
    """The loss the flags describe; `spec(num_classes)` completes it with the papers' defaults."""

    family: str  # one of losses.FAMILIES
    k: float = None  # square loss only; None: the paper's value for the number of classes
    m: float = None
    log_end: float = None  # (conservative) encouraging loss only; None: the family's default
    label_smoothing: float = 0.0

    def spec(self, num_classes):
        """A loss specification (`losses`) such as "square:15.0,30.0" for `num_classes` classes."""
        if self.family == "square" and (self.k is not None or self.m is not None):
            k, m = default_square_parameters(num_classes)
            return f"square:{self.k if self.k is not None else k},{self.m if self.m is not None else m}"
        if self.log_end is not None:
            return f"{self.family}:{self.log_end}"
        return self.family


LOSS_FLAGS = ("loss", "k", "m", "log_end", "label_smoothing")
#: How and where the example programs run (`RunOptions`).
RUN_FLAGS = (
    "strategy",
    "coordinator_address",
    "num_processes",
    "process_id",
    "mixed_precision",
    "steps_per_epoch",
    "steps_per_execution",
    "seed",
    "deterministic",
    "output_dir",
    "mock_data",
)


def loss_choice(args, default="ce", label_smoothing=0.0):
    """The `LossChoice` of --loss, --k, --m, --log-end, --label-smoothing; `default` (a specification) and
    `label_smoothing` apply where no flag is given (a preset's loss applies only while --loss names no other).
    Raises `ConfigError` for a parameter of another loss."""
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
            raise ConfigError(name, f"applies to --loss {applies} only (the loss is {family})")
    choice = LossChoice(
        family,
        **{**preset, **{name: value for name, value in given.items() if value is not None}},
        label_smoothing=label_smoothing if args.label_smoothing is None else args.label_smoothing,
    )
    try:  # the loss's own range checks, before any data is loaded
        build_loss(choice.spec(10), 10, choice.label_smoothing)
    except ValueError as error:
        raise ConfigError("loss", f"the loss flags do not describe a valid loss: {error}") from None
    return choice


@dataclass(frozen=True)
class RunOptions:
    """Where and how an example program trains: strategy, cluster, precision, steps, seed, output, mock data."""

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


def run_options(args):
    """The `RunOptions` of the flags."""
    return RunOptions(**{name: getattr(args, name) for name in RUN_FLAGS})


HEAD_HELP = (
    "the translator's logits layer: chunked, keras_losses.LossHead (the loss computed in chunks of tokens, never "
    "the [tokens, vocabulary] logits: the same training as dense to float32 rounding, in less memory), or dense, "
    "keras.layers.Dense"
)
