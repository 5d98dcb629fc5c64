"""The configuration of an image-classification run from its flags, one code path for
`examples/image_classification.py` and `keras-losses compare`: the recipe (optimizer, weight decay, schedule),
the input pipeline (`Pipeline`, built by `datasets`), the model's rates and the moving average of the weights.

`configure(values, dataset, model)` reads the flags' values from any object with them as attributes (the
example's parsed arguments, compare's `Settings`); None means the data set's recipe or default. Every flag takes
effect or raises a `ConfigError` naming it. Standard library only (compare checks its settings before Keras).
"""

from dataclasses import dataclass

from keras_losses_experiments.classification import models
from keras_losses_experiments.classification.recipes import recipe_for
from keras_losses_experiments.errors import ConfigError

RECIPE_FLAGS = ("epochs", "batch_size", "learning_rate", "weight_decay", "schedule", "warmup_epochs")
OPTIMIZER_FLAGS = ("optimizer", "momentum", "nesterov", "optimizer_epsilon", "weight_decay_mode", "weight_decay_on_1d")
SCHEDULE_FLAGS = ("milestones", "decay_rate", "decay_epochs", "warmup_lr", "schedule_step_at")
PIPELINE_FLAGS = (
    "augment",
    "randaugment",
    "random_erasing",
    "train_interpolation",
    "test_interpolation",
    "normalization",
)
MODEL_FLAGS = ("dropout", "drop_connect")
#: The flags of `flags.FLAGS` this module reads beyond `RECIPE_FLAGS` (the "vision capabilities").
VISION_FLAGS = OPTIMIZER_FLAGS + SCHEDULE_FLAGS + ("ema_decay",) + PIPELINE_FLAGS + MODEL_FLAGS
#: The data sets whose input pipeline the flags choose.
AUGMENTED_DATASETS = ("cifar10", "cifar100", "imagenet2012")
DEFAULT_NORMALIZATION = {"cifar10": "cifar", "cifar100": "cifar", "imagenet2012": "imagenet"}


@dataclass(frozen=True)
class Pipeline:
    """The input pipeline of an image set (`datasets`): `augment` None is the data set's own (CIFAR pad_crop,
    ImageNet a random resized crop of tf.image); "resized_crop" is torchvision's / timm's (`augmentation`),
    normalised in the pipeline with `normalization`'s statistics, its test transform a resize to
    `size * 256 / 224` and a center crop."""

    augment: str = None
    randaugment: str = None
    random_erasing: float = None
    train_interpolation: str = "bilinear"
    test_interpolation: str = "bilinear"
    normalization: str = None

    @property
    def normalizes(self):
        return self.augment == "resized_crop"


@dataclass(frozen=True)
class VisionConfig:
    """What the flags ask for beyond the data and the loss."""

    recipe: object  # training.recipe.Recipe
    pipeline: Pipeline
    dropout: float = None
    drop_connect: float = None
    ema_decay: float = None

    def build_model(self, name, input_shape, num_classes, vocabulary_size=None):
        return models.build(
            name,
            input_shape,
            num_classes,
            vocabulary_size,
            dropout=self.dropout,
            drop_connect=self.drop_connect,
            normalized=self.pipeline.normalizes,
        )


def configure(values, dataset, model):
    """The `VisionConfig` of the flags in `values` for `dataset` (a name; None: the user's data) and `model`.

    Under a paper preset (`values.preset`) the learning rate is the one of the preset's global batch, scaled
    linearly with another --batch-size; otherwise of the recipe's. Raises `ConfigError` naming the flag that
    does not apply."""
    from keras_losses_experiments import papers

    reference_batch = None
    if values.preset is not None:
        preset = papers.get(values.preset, "compare")
        reference_batch = preset.flags["batch_size"].value if "batch_size" in preset.flags else None
    recipe = recipe_for(dataset).override(
        learning_rate=values.learning_rate,
        batch_size=reference_batch,
        epochs=values.epochs,
        weight_decay=values.weight_decay,
        schedule=values.schedule,
        warmup_epochs=values.warmup_epochs,
        **{name: getattr(values, name) for name in OPTIMIZER_FLAGS},
        **{name: getattr(values, name) for name in SCHEDULE_FLAGS},
    )
    return VisionConfig(recipe, pipeline(values, dataset, model), *_rates(values, model), values.ema_decay)


def pipeline(values, dataset, model):
    """The `Pipeline` of the flags; `ConfigError` where one does not apply to `dataset` or `model`."""
    given = {name: getattr(values, name) for name in PIPELINE_FLAGS if getattr(values, name) is not None}
    if given and dataset not in AUGMENTED_DATASETS:
        name = next(iter(given))
        raise ConfigError(name, f"applies to {', '.join(AUGMENTED_DATASETS)} only, not {dataset or 'your data'}")
    augment = given.get("augment")
    if augment == "pad_crop" and dataset == "imagenet2012":
        raise ConfigError("augment", "pad_crop is CIFAR's (fixed-size images); ImageNet takes resized_crop")
    if augment != "resized_crop":
        for name in PIPELINE_FLAGS[1:]:
            if name in given:
                raise ConfigError(name, "applies to --augment resized_crop only")
    if augment == "resized_crop" and model not in models.PAPER_NETWORKS:
        raise ConfigError(
            "augment",
            f"resized_crop normalises in the pipeline; {model} normalises its inputs itself: use --model "
            f"{' or '.join(models.PAPER_NETWORKS)}",
        )
    if "randaugment" in given and not given["randaugment"].startswith("rand"):
        raise ConfigError(
            "randaugment", f"must be a RandAugment config such as rand-m9-mstd0.5. Received: {given['randaugment']}"
        )
    if augment == "resized_crop":
        given.setdefault("normalization", DEFAULT_NORMALIZATION[dataset])
    return Pipeline(**given)


def _rates(values, model):
    """(dropout, drop connect) of an EfficientNet-B0 of `architectures`; refused for the other models."""
    for name in MODEL_FLAGS:
        if getattr(values, name) is not None and model not in models.EFFICIENTNET_RATES:
            raise ConfigError(name, f"applies to --model {' or '.join(models.EFFICIENTNET_RATES)} only, not {model}")
    return values.dropout, values.drop_connect
