"""What `keras-losses compare` trains and measures on a data set: a compiled model per loss, a seeded training
pipeline, an evaluation. The comparison's only calls into the training harness (`recipes`, the `distribution`
strategy, `training.predict_logits`) and the translator (`translation_data`, `translator`, `decoding`) are here.

Every flag takes effect: `--epochs` and `--learning-rate` override the data set's recipe (or translation
preset), `--batch-size` is the global batch (the recipe's learning rate scales with it where the recipe says
so), `--strategy` and the cluster flags choose where it trains (`distribution.get_strategy`).
"""

from dataclasses import dataclass
from pathlib import Path

from keras_losses_experiments import losses
from keras_losses_experiments.classification import datasets, metrics, models, vision
from keras_losses_experiments.comparison.settings import DEFAULT_MODEL, DEFAULT_VALIDATION_FRACTION
from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.training.optimizers import make_optimizer
from keras_losses_experiments.translation.bleu import bleu
from keras_losses_experiments.translation.presets import DEFAULT_PRESET, PRESETS

VOCABULARY_SIZE = 8000  # WordPiece tokens per language on translation sets


@dataclass
class Task:
    """A data set and a model, ready to train with any loss and seed."""

    description: str  # the data, the model and why it was picked, the recipe
    model: str
    epochs: int
    steps_per_epoch: int | None  # None: one pass over the training split
    batch_size: int  # the global batch
    strategy: object  # the `distribution.Strategy` it trains under
    build: object  # spec -> compiled keras.Model, built in the strategy's scope and prepared for its `fit`
    epoch_batches: object  # (seed, data epoch) -> one pass over the training split, its order a function of both
    test_batches: object  # the per-epoch validation pipeline, ready for the strategy
    evaluate: object  # model -> (metrics dict, true-class probabilities of the test examples), every test example
    accuracy_log: str  # the per-epoch test accuracy in the training logs
    ema_decay: float | None = None  # --ema-decay: the moving average of the weights is validated and evaluated
    pipeline: object = None  # image sets: the `vision.Pipeline` of the training and test images


def global_batch_size(settings, recipe, strategy):
    """--batch-size or the recipe's, divisible among the strategy's replicas."""
    return strategy.check_global_batch(settings.batch_size or recipe.batch_size)


def classification_task(settings, data, strategy):
    """Any `datasets.Examples`: accuracy (top-5 from 100 classes), NLL, ECE, and with a validation split the
    temperature fitted on it and the test NLL and ECE at that temperature."""
    name = settings.dataset_name if settings.source in ("digits", "tfds") else None
    model, reason = _model(settings, data)
    config = vision.configure(settings, name, model)  # the example program's configuration, the same flags
    recipe = config.recipe
    batch = global_batch_size(settings, recipe, strategy)
    steps = settings.steps_per_epoch or data.steps_per_epoch(batch)
    if steps == 0:
        raise ConfigError(
            "batch_size",
            f"{batch} is more than the {data.sizes['train']} training "
            f"examples{' (--mock-data)' if settings.mock_data else ''}: no full batch, no training step; "
            f"give --batch-size {data.sizes['train']} or less, or --steps-per-epoch",
        )
    test = data.batches("test", batch)
    validation = data.batches("validation", batch) if data.validation is not None else None
    top_k = (1, 5) if data.num_classes >= 100 else (1,)

    def build(spec):
        with strategy.scope():
            network = config.build_model(model, data.input_shape, data.num_classes, data.vocabulary_size)
            network.compile(
                optimizer=make_optimizer(recipe, steps, batch),
                loss=losses.build_loss(spec, data.num_classes, settings.label_smoothing),
                metrics=["accuracy"],
            )
        return strategy.prepare(network)

    def evaluate(network):
        from keras_losses_experiments.training.harness import predict_logits

        with strategy.every_example(test, batch) as every_batch:
            logits, labels = predict_logits(network, every_batch)
        results = metrics.classification_metrics(logits, labels, top_k=top_k)
        if validation is not None:
            with strategy.every_example(validation, batch) as every_batch:
                results["temperature"] = metrics.fit_temperature(*predict_logits(network, every_batch))
            results.update(metrics.calibrated_metrics(logits, labels, results["temperature"]))
        return results, metrics.true_class_probabilities(logits, labels)

    sizes = ", ".join(f"{count:,} {split}" for split, count in data.sizes.items() if count)
    description = (
        f"{data.name}: {models.describe(data.kind, data.input_shape)}, {data.num_classes} classes, "
        f"{sizes} examples; model {model} ({reason}); {_recipe_text(recipe, batch)}"
    )
    return Task(
        description,
        model,
        recipe.epochs,
        settings.steps_per_epoch,
        batch,
        strategy,
        build,
        lambda seed, data_epoch: data.epoch_batches(batch, seed, data_epoch),
        strategy.distribute_dataset(test, batch),
        evaluate,
        "val_accuracy",
        config.ema_decay,
        config.pipeline,
    )


def _model(settings, data):
    """The model and why: `--model`, the data set's default, or the kind of input (`--model auto`)."""
    if settings.model != "auto":
        model, reason = settings.model, "--model"
    elif settings.source == "digits" or settings.dataset in DEFAULT_MODEL:
        model, reason = DEFAULT_MODEL[settings.dataset_name], f"auto: the {settings.dataset_name} default"
    else:
        model, reason = models.choose(data.kind), f"auto: {data.kind} inputs"
    try:
        models.check(model, data.kind, data.input_shape)
    except ValueError as error:
        raise ConfigError("model", f"{data.name}: {error}") from None
    return model, reason


def _recipe_text(recipe, global_batch):
    peak = recipe.peak_learning_rate(global_batch)
    return f"{recipe.describe()}; global batch {global_batch}, peak learning rate {peak:.3g}"


def translation_task(settings, strategy, workspace):
    """Next-token accuracy, NLL and ECE over non-padding tokens, and the BLEU of greedy translations of the
    whole test split (decoded with key/value caches: `decoding`).

    The model is a translation preset (`--model transformer_<preset>`; auto: the data set's default preset)
    with its recipe, --epochs and --learning-rate applied; its loss is the mean over the non-padding tokens of
    the global batch (`translator.compiled_translator`), its logits layer `--head`'s (default: the chunked
    `keras_losses.LossHead`). The WordPiece vocabularies are trained once and kept in `workspace/vocabulary`, so
    that a resumed comparison tokenizes exactly as before.
    """
    from keras_losses_experiments.training import resume
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import decoding
    from keras_losses_experiments.translation import model as translator

    name = settings.dataset_name
    head = settings.translation_head
    model = f"transformer_{DEFAULT_PRESET[name]}" if settings.model == "auto" else settings.model
    preset = PRESETS[model.removeprefix("transformer_")].override(
        learning_rate=settings.learning_rate, epochs=settings.epochs
    )
    batch = global_batch_size(settings, preset.recipe, strategy)
    train_pairs, test_pairs = translation_data.load_pairs(name, settings.mock_data)
    source, target = _tokenizers(train_pairs, Path(workspace) / "vocabulary", reuse=not settings.overwrite)
    length = translation_data.SEQUENCE_LENGTH
    steps = settings.steps_per_epoch or -(-_count(train_pairs) // batch)
    test = translation_data.make_batches(test_pairs, source, target, length, batch)
    sentences = translation_data.sentence_pairs(test_pairs)

    def epoch_batches(seed, data_epoch):
        shuffle_seed = resume.epoch_seed(seed, data_epoch)
        return translation_data.make_batches(train_pairs, source, target, length, batch, shuffle_seed=shuffle_seed)

    def build(spec):
        with strategy.scope():
            network = translator.compiled_translator(
                spec,
                source,
                target,
                length,
                preset,
                settings.label_smoothing,
                optimizer=make_optimizer(preset.recipe, steps, batch),
                head=head,
            )
        return strategy.prepare(network)

    def evaluate(network):
        with strategy.every_example(test, batch) as every_batch:
            logits = ((network.predict_on_batch(x), y.numpy()) for x, y in every_batch)
            results, true_probabilities = metrics.token_metrics(logits, translation_data.PAD_ID)
            hypotheses = decoding.translate(network, source, target, [s for s, _ in sentences], length)
        results["bleu"] = bleu(hypotheses, [t for _, t in sentences])
        return results, true_probabilities

    reason = "auto: the data set's preset" if settings.model == "auto" else "--model"
    description = (
        f"{name}: model {model} ({reason}: {preset.describe()}), {head} head; global batch {batch}; BLEU of greedy "
        f"translations of {len(sentences)} test sentences"
    )
    return Task(
        description,
        model,
        preset.recipe.epochs,
        settings.steps_per_epoch,
        batch,
        strategy,
        build,
        epoch_batches,
        strategy.distribute_dataset(test, batch),
        evaluate,
        "val_token_accuracy",
    )


def _count(dataset):
    """The number of elements of a finite dataset (its cardinality where known)."""
    known = int(dataset.cardinality())
    return known if known >= 0 else sum(1 for _ in dataset)


def _tokenizers(train_pairs, directory, reuse=True):
    from keras_losses_experiments.translation import data as translation_data

    if reuse and all((directory / name).exists() for name in translation_data.VOCABULARY_FILES):
        return translation_data.load_tokenizers(directory)
    return translation_data.train_tokenizers(train_pairs, VOCABULARY_SIZE, directory)


def make_task(settings, user_data_source, strategy, workspace):
    """The task for `settings` under `strategy` (`distribution.Strategy`); `user_data_source` is what
    `user_data.read` returned for `--data`; `workspace` is this process's folder (the output directory on
    the chief)."""
    from keras_losses_experiments.training import distribution

    distribution.set_mixed_precision(settings.mixed_precision, strategy)  # float32 without --mixed-precision
    validation = settings.validation_fraction
    if validation is None:
        validation = DEFAULT_VALIDATION_FRACTION
    if settings.source == "translation":
        return translation_task(settings, strategy, workspace)
    if settings.source in ("digits", "tfds"):
        pipeline = vision.pipeline(settings, settings.dataset_name, settings.model_name)
        data = datasets.examples(
            settings.dataset_name, settings.image_size, settings.mock_data, validation, settings.test_fraction, pipeline
        )
    elif settings.source == "folder":
        data = datasets.from_folder(user_data_source, settings.image_size, validation)
    else:
        data = datasets.from_arrays(settings.data, user_data_source, validation)
    return classification_task(settings, data, strategy)
