"""What `keras-losses compare` trains and measures on a data set: a compiled model per loss, a seeded training
pipeline, an evaluation. The comparison's only calls into the training harness (`training`: recipes, the
strategy, the optimizer, `predict_logits`) and the translator (`translation`) are in this module.
"""

from dataclasses import dataclass, replace
from pathlib import Path

from keras_losses.experiments import datasets, loss_specs, metrics, models, training, translation
from keras_losses.experiments.settings import DEFAULT_MODEL, DEFAULT_VALIDATION_FRACTION, UsageError

BLEU_SENTENCES = 200  # test sentences decoded (greedily) for BLEU on translation sets
DEFAULT_RECIPE = "digits"  # the recipe of data sets without their own: Adam 1e-3, batch 64, 20 epochs


@dataclass
class Task:
    """A data set and a model, ready to train with any loss and seed."""

    description: str  # the data, the model and why it was picked, the recipe
    model: str
    epochs: int
    steps_per_epoch: int | None  # None: one pass over the training split
    build: object  # spec -> compiled keras.Model, built in the strategy's scope
    train_batches: object  # seed -> training pipeline (the same seed, the same order)
    test_batches: object
    evaluate: object  # model -> (metrics dict, true-class probabilities of the test examples)
    accuracy_log: str  # the per-epoch test accuracy in the training logs


def recipe_for(settings, name):
    recipe = training.RECIPES.get(name, training.RECIPES[DEFAULT_RECIPE])
    return replace(
        recipe,
        epochs=settings.epochs or recipe.epochs,
        batch_size=settings.batch_size or recipe.batch_size,
        learning_rate=settings.learning_rate or recipe.learning_rate,
    )


def classification_task(settings, data):
    """Any `datasets.Examples`: accuracy (top-5 from 100 classes), NLL, ECE, and with a validation split the
    temperature fitted on it and the test NLL and ECE at that temperature."""
    name = settings.dataset_name if settings.source in ("digits", "tfds") else None
    recipe = recipe_for(settings, name)
    model, reason = _model(settings, data)
    steps = settings.steps_per_epoch or data.steps_per_epoch(recipe.batch_size)
    if steps == 0:
        raise UsageError("--batch-size", f"{recipe.batch_size} is more than the {data.sizes['train']} training "
                         f"examples{' (--mock-data)' if settings.mock_data else ''}: no full batch, no training step; "
                         f"give --batch-size {data.sizes['train']} or less, or --steps-per-epoch")
    strategy = training.get_strategy(settings.strategy)
    test = data.batches("test", recipe.batch_size)
    validation = data.batches("validation", recipe.batch_size) if data.validation is not None else None
    top_k = (1, 5) if data.num_classes >= 100 else (1,)

    def build(spec):
        with strategy.scope():
            network = models.build(model, data.input_shape, data.num_classes, data.vocabulary_size)
            network.compile(
                optimizer=training.make_optimizer(recipe, steps),
                loss=loss_specs.build_loss(spec, data.num_classes, settings.label_smoothing),
                metrics=["accuracy"],
            )
        return network

    def evaluate(network):
        logits, labels = training.predict_logits(network, test)
        results = metrics.classification_metrics(logits, labels, top_k=top_k)
        if validation is not None:
            results["temperature"] = metrics.fit_temperature(*training.predict_logits(network, validation))
            results.update(metrics.calibrated_metrics(logits, labels, results["temperature"]))
        return results, metrics.true_class_probabilities(logits, labels)

    sizes = ", ".join(f"{count:,} {split}" for split, count in data.sizes.items() if count)
    description = (f"{data.name}: {models.describe(data.kind, data.input_shape)}, {data.num_classes} classes, "
                   f"{sizes} examples; model {model} ({reason}); {_recipe_text(recipe)}")
    return Task(description, model, recipe.epochs, settings.steps_per_epoch,
                build, lambda seed: data.train_batches(recipe.batch_size, seed, repeat=bool(settings.steps_per_epoch)),
                test, evaluate, "val_accuracy")


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
        raise UsageError("--model", f"{data.name}: {error}") from None
    return model, reason


def _recipe_text(recipe):
    return (f"{recipe.optimizer} lr {recipe.learning_rate:g} ({recipe.schedule}), batch {recipe.batch_size}, "
            f"{recipe.epochs} epochs")


def translation_task(settings, output_dir):
    """Next-token accuracy, NLL and ECE over non-padding tokens, and greedy BLEU on the test split.

    The WordPiece vocabularies are trained once and kept in `output_dir/vocabulary`, so that a resumed
    comparison tokenizes exactly as before.
    """
    name = settings.dataset_name
    recipe = recipe_for(settings, name)
    model = "transformer_base" if settings.model == "auto" else settings.model
    strategy = training.get_strategy(settings.strategy)
    train_pairs, test_pairs = translation.load_pairs(name, settings.mock_data)
    source, target = _tokenizers(train_pairs, Path(output_dir) / "vocabulary", reuse=not settings.overwrite)
    length = translation.SEQUENCE_LENGTH
    test = translation.make_batches(test_pairs, source, target, length, recipe.batch_size)
    sentences = translation.sentence_pairs(test_pairs, BLEU_SENTENCES)
    preset = translation.PRESETS[model.removeprefix("transformer_")]

    def train_batches(seed):
        batches = translation.make_batches(train_pairs, source, target, length, recipe.batch_size, shuffle_seed=seed)
        return batches.repeat() if settings.steps_per_epoch else batches

    def build(spec):
        with strategy.scope():
            return translation.compiled_translator(spec, source, target, length, preset, settings.label_smoothing)

    def evaluate(network):
        batches = ((network.predict_on_batch(x), y.numpy()) for x, y in test)
        results, true_probabilities = metrics.token_metrics(batches, translation.PAD_ID)
        hypotheses = translation.translate(network, source, target, [s for s, _ in sentences], length)
        results["bleu"] = metrics.bleu(hypotheses, [t for _, t in sentences])
        return results, true_probabilities

    description = (f"{name}: model {model} ({'auto' if settings.model == 'auto' else '--model'}), batch "
                   f"{recipe.batch_size}, {recipe.epochs} epochs, the translator's inverse-square-root schedule")
    return Task(description, model, recipe.epochs, settings.steps_per_epoch, build, train_batches, test, evaluate,
                "val_token_accuracy")


def _tokenizers(train_pairs, directory, reuse=True):
    paths = [directory / "source_vocabulary.txt", directory / "target_vocabulary.txt"]
    if reuse and all(path.exists() for path in paths):
        return tuple(translation.load_tokenizer(path) for path in paths)
    return translation.train_tokenizers(train_pairs, 8000, directory)


def make_task(settings, user_data_source, output_dir):
    """The task for `settings`; `user_data_source` is what `user_data.read` returned for `--data`."""
    validation = settings.validation_fraction
    if validation is None:
        validation = DEFAULT_VALIDATION_FRACTION
    if settings.source == "translation":
        return translation_task(settings, output_dir)
    if settings.source in ("digits", "tfds"):
        data = datasets.examples(settings.dataset_name, settings.image_size, settings.mock_data, validation,
                                 settings.test_fraction)
    elif settings.source == "folder":
        data = datasets.from_folder(user_data_source, settings.image_size, validation)
    else:
        data = datasets.from_arrays(settings.data, user_data_source, validation)
    return classification_task(settings, data)
