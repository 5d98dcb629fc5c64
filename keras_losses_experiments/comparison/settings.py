"""The settings of one `keras-losses compare` run and the checks that need no data and no TensorFlow.

Every problem raises `ConfigError` naming the field (the command line names its flag). Standard library only:
`keras-losses --help` and argument errors must answer at once, before Keras and TensorFlow (several seconds).
"""

from dataclasses import asdict, dataclass
from pathlib import Path

from keras_losses_experiments import flags, losses
from keras_losses_experiments.classification import models, vision
from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.training.distribution import STRATEGIES
from keras_losses_experiments.translation.data import TRANSLATION_DATASETS
from keras_losses_experiments.translation.presets import DEFAULT_HEAD, PRESETS

DEFAULT_LOSSES = "ce,square,encouraging,conservative_encouraging:0.75,squentropy"
DEFAULT_OUTPUT_DIR = "keras-losses-compare"
DEFAULT_VALIDATION_FRACTION = 0.1  # of the training examples, held out to fit the temperature
BASELINE = "ce"  # every other loss is compared with it, when it is among the losses
BUILT_IN_DATASETS = ("digits", "cifar10", "cifar100", "imagenet2012")
TRANSLATION_MODELS = tuple(f"transformer_{name}" for name in PRESETS)
DEFAULT_MODEL = {"digits": "mlp", "cifar10": "resnet50", "cifar100": "resnet50", "imagenet2012": "resnet50"}
#: The flags that decide which runs exist, not what a run computes: they may change between invocations.
SELECTION = ("losses", "seeds")
#: The flags that change neither the runs nor their results.
PRESENTATION = ("output_dir", "overwrite", "plot", "progress")
#: Where this process is in a JAX cluster (--strategy data_parallel): the process id differs between processes.
CLUSTER = ("coordinator_address", "num_processes", "process_id")


@dataclass(frozen=True)
class Settings:
    """Everything `keras-losses compare` is told; `None` means the data set's default (its recipe)."""

    dataset: str | None = None
    data: str | None = None
    label_column: str | None = None
    test_fraction: float | None = None
    validation_fraction: float | None = None
    model: str = "auto"
    head: str | None = None  # translation sets: the translator's logits layer (None: DEFAULT_HEAD)
    losses: str = DEFAULT_LOSSES
    seeds: int | tuple = 3  # a count (seeds 0 to N-1) or the seeds themselves
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    preset: str | None = None  # a paper preset (`papers`): its settings were the flags' defaults
    weight_decay: float | None = None
    schedule: str | None = None
    warmup_epochs: float | None = None
    # vision capabilities (`classification.vision.VISION_FLAGS`); None: the data set's recipe or pipeline
    optimizer: str | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    optimizer_epsilon: float | None = None
    weight_decay_mode: str | None = None
    weight_decay_on_1d: bool | None = None
    milestones: tuple | None = None
    decay_rate: float | None = None
    decay_epochs: float | None = None
    warmup_lr: float | None = None
    schedule_step_at: str | None = None
    ema_decay: float | None = None
    augment: str | None = None
    randaugment: str | None = None
    random_erasing: float | None = None
    train_interpolation: str | None = None
    test_interpolation: str | None = None
    normalization: str | None = None
    dropout: float | None = None
    drop_connect: float | None = None
    mixed_precision: str | None = None
    label_smoothing: float = 0.0
    steps_per_epoch: int | None = None
    mock_data: int | None = None
    image_size: int | None = None
    strategy: str = "auto"
    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    output_dir: str = DEFAULT_OUTPUT_DIR
    overwrite: bool = False
    plot: bool = True
    progress: bool = True

    @property
    def source(self):
        """What the data is: `digits`, `tfds`, `translation`, `npz`, `csv` or `folder` (images or text)."""
        if self.data is not None:
            path = Path(self.data)
            return "folder" if path.is_dir() else path.suffix.lower().lstrip(".")
        name = self.dataset or "digits"
        if name == "digits":
            return "digits"
        return "translation" if name in TRANSLATION_DATASETS else "tfds"

    @property
    def dataset_name(self):
        return self.dataset or ("digits" if self.data is None else self.data)

    @property
    def translation_head(self):
        """The translator's logits layer (`HEADS`) on translation sets: --head or the default; else None."""
        if self.source != "translation":
            return None
        return self.head or DEFAULT_HEAD

    @property
    def seed_list(self):
        """The seeds of the runs (`--seeds`: a count N is 0 to N-1)."""
        return flags.seed_values(self.seeds)

    @property
    def model_name(self):
        """--model, or the built-in data set's default model where it is `auto` (the user's data: `auto`)."""
        return DEFAULT_MODEL.get(self.dataset_name, "auto") if self.model == "auto" else self.model

    @property
    def specs(self):
        return tuple(losses.split_specs(self.losses))

    @property
    def baseline(self):
        """The loss every other is compared with: `ce` when it is among the losses, else the first one."""
        return BASELINE if BASELINE in self.specs else self.specs[0]

    def identity(self):
        """The settings that make two runs of a loss and seed the same run (written to `comparison.json`); the
        head as trained (`--head chunked` and no --head are the same runs)."""
        identity = {k: v for k, v in asdict(self).items() if k not in SELECTION + PRESENTATION + CLUSTER}
        identity["head"] = self.translation_head
        return identity

    def check(self):
        """Raises `ConfigError` for every problem that can be seen without reading the data."""
        _check_values(self)
        _check_source(self)
        _check_applicable(self)
        _check_model(self)
        try:
            for spec in self.specs:
                losses.check_spec(spec)
        except ValueError as error:
            raise ConfigError("losses", str(error)) from None
        repeated = sorted({spec for spec in self.specs if self.specs.count(spec) > 1})
        if repeated:
            raise ConfigError("losses", f"{', '.join(repeated)} given more than once")
        if self.source != "translation":
            vision.configure(self, self.dataset_name if self.source in ("digits", "tfds") else None, self.model_name)


#: The settings whose values the flag table checks (`flags.check_value`), as the command line does.
CHECKED = (
    "seeds",
    "weight_decay",
    "warmup_epochs",
    "momentum",
    "optimizer_epsilon",
    "decay_rate",
    "decay_epochs",
    "warmup_lr",
    "ema_decay",
    "random_erasing",
    "dropout",
    "drop_connect",
    "epochs",
    "batch_size",
    "steps_per_epoch",
    "mock_data",
    "image_size",
    "num_processes",
    "process_id",
    "learning_rate",
    "label_smoothing",
    "test_fraction",
    "validation_fraction",
)


def _check_values(settings):
    """Each value as the flag table checks it where a command line enters (here: a Python caller's values)."""
    for name in CHECKED:
        flags.check_value(name, getattr(settings, name))
    if settings.strategy not in STRATEGIES:
        raise ConfigError(
            "strategy", f"unknown strategy {settings.strategy!r}; expected one of: {', '.join(STRATEGIES)}"
        )
    for name in CLUSTER:
        if getattr(settings, name) is not None and settings.strategy not in ("auto", "data_parallel"):
            raise ConfigError(name, f"applies to --strategy data_parallel (JAX), not {settings.strategy}")


def _check_source(settings):
    if settings.data is None:
        return
    if settings.dataset is not None:
        raise ConfigError("data", f"give --dataset or --data, not both (--dataset {settings.dataset})")
    path = Path(settings.data)
    if not path.exists():
        raise ConfigError("data", f"{path}: no such file or folder")
    if settings.source not in ("folder", "npz", "csv"):
        raise ConfigError("data", f"{path}: expected a .npz or .csv file, or a folder of class folders")


def _check_applicable(settings):
    """Flags that mean nothing for the chosen data are refused rather than ignored."""
    source, name = settings.source, settings.dataset_name
    rules = [
        ("label_column", source == "csv", "applies to .csv data only"),
        (
            "mock_data",
            source in ("tfds", "translation"),
            ("applies to tensorflow-datasets sets only (random data in their format)"),
        ),
        (
            "image_size",
            source in ("tfds", "folder"),
            "applies to tensorflow-datasets image sets and image folders "
            f"only; {name} " + ("has 8x8 images" if source == "digits" else "has no images to resize"),
        ),
        ("test_fraction", source in ("tfds", "npz", "csv", "folder"), f"{name} has a fixed test split"),
        ("validation_fraction", source != "translation", "the translation sets report no calibrated metrics"),
        ("head", source == "translation", f"applies to the translator of translation sets only; {name} is not one"),
        *(
            (flag, source != "translation", "applies to classification; the translation presets have their recipes")
            for flag in ("weight_decay", "schedule", "warmup_epochs", "mixed_precision", *vision.VISION_FLAGS)
        ),
    ]
    for name_, applies, why in rules:
        if getattr(settings, name_) is not None and not applies:
            raise ConfigError(name_, why)


def _check_model(settings):
    if settings.model == "auto":
        return
    allowed = TRANSLATION_MODELS if settings.source == "translation" else models.MODELS
    if settings.model not in allowed:
        raise ConfigError(
            "model",
            f"{settings.model!r} does not fit {settings.dataset_name!r}; expected one of: auto, {', '.join(allowed)}",
        )
    if settings.source == "digits":
        try:
            models.check(settings.model, "image", (8, 8, 1))
        except ValueError as error:
            raise ConfigError("model", f"digits: {error}") from None
