"""Train ResNet50 or EfficientNet-B0 from scratch on CIFAR-10, CIFAR-100 or ImageNet with any loss of keras-losses.

The papers' vision experiments as a program (needs `pip install "keras-losses[experiments]"`):

    # CIFAR-10, ResNet50, conservative encouraging loss (LE = 0.75), 200 epochs of SGD + cosine decay
    python examples/image_classification.py --dataset cifar10 --model resnet50 --loss conservative_encouraging

    # ImageNet, square loss with the paper's rescaling for 1000 classes, on a Cloud TPU in bfloat16
    python examples/image_classification.py --dataset imagenet2012 --loss square --k 15 --m 30 \\
        --strategy tpu --mixed-precision --output-dir gs://my-bucket/square-imagenet

    # Offline smoke test on random data (a few steps on a CPU)
    python examples/image_classification.py --mock-data 32 --image-size 32 --model cnn --batch-size 4 --epochs 1 \\
        --steps-per-epoch 2

Every model has a linear output layer (square loss and squentropy need raw outputs; the cross-entropies take
`from_logits=True`). Defaults follow the standard recipe of each dataset (`keras_losses_experiments.training.recipe`;
see the epilog of `--help` and docs/examples.md). The output directory receives `results.json` (top-1 [and top-5]
accuracy, test NLL, ECE, training time), `model.keras`, `best.keras`, `training.csv`, TensorBoard `logs/`, and
`backup/` while a run is in progress: rerun the same command after a crash and training resumes from the last
completed epoch, exactly (`keras_losses_experiments.training.resume`). Runs on TensorFlow (tf.distribute strategies)
and on JAX (`KERAS_BACKEND=jax`, one or several processes through keras.distribution).
"""

import argparse
from dataclasses import dataclass

RECIPE_FLAGS = ("epochs", "batch_size", "learning_rate", "weight_decay", "schedule", "warmup_epochs")


def build_parser():
    from keras_losses_experiments import flags
    from keras_losses_experiments.classification import datasets, models
    from keras_losses_experiments.classification.recipes import RECIPES

    epilog = "; ".join(
        f"{name}: {recipe.describe()}" for name, recipe in RECIPES.items() if name in datasets.IMAGE_DATASETS
    )
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Recipes: {epilog}. With other --epochs the step boundaries keep their fractions of the run. "
        "CIFAR: pad-4 random crop + flip; ImageNet: random resized crop + flip, resize 256 / center crop 224 for test.",
        formatter_class=flags.HelpFormatter,
    )
    flags.add(
        parser,
        ("dataset", "model", *flags.LOSS_FLAGS, *RECIPE_FLAGS, "image_size", "validation_steps", *flags.RUN_FLAGS),
        defaults={"dataset": "cifar10", "model": "resnet50", "output_dir": "runs/image_classification"},
        choices={"dataset": tuple(datasets.IMAGE_DATASETS), "model": models.MODELS},
        helps={
            "loss": "ce",
            "log_end": "1.0 for encouraging, 0.75 for conservative_encouraging",
            "label_smoothing": "0",
            "epochs": "the dataset's recipe",
            "batch_size": "the recipe's",
            "learning_rate": "the recipe's",
            "image_size": "32 for CIFAR, 224 for ImageNet",
            "steps_per_epoch": "one pass over the training split",
        },
    )
    return parser


@dataclass(frozen=True)
class Config:
    """What the flags ask for, validated; `main` trains it."""

    dataset: str
    model: str
    loss: object  # flags.LossChoice
    recipe: object  # Recipe
    batch_size: int  # the global batch; None: the recipe's
    image_size: int
    validation_steps: int
    run: object  # flags.RunOptions


def configure(args):
    """The `Config` of parsed flags; raises `ConfigError` naming the field of a flag that does not apply."""
    from keras_losses_experiments import flags
    from keras_losses_experiments.classification.recipes import RECIPES

    recipe = RECIPES[args.dataset].override(
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        warmup_epochs=args.warmup_epochs,
    )
    return Config(
        args.dataset,
        args.model,
        flags.loss_choice(args),
        recipe,
        args.batch_size,
        args.image_size,
        args.validation_steps,
        flags.run_options(args),
    )


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    import keras

    from keras_losses_experiments import flags, losses
    from keras_losses_experiments.classification import datasets, metrics, models
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.training import harness
    from keras_losses_experiments.training.optimizers import make_optimizer

    try:
        config = configure(args)
        strategy = harness.set_up(config.run)
        global_batch = strategy.check_global_batch(config.batch_size or config.recipe.batch_size)
    except ConfigError as error:
        parser.error(flags.usage(error))
    run = config.run
    data = datasets.load(config.dataset, global_batch, config.image_size, run.mock_data, seed=run.seed)
    test = data.test.take(config.validation_steps) if config.validation_steps else data.test
    steps = run.steps_per_epoch or max(1, data.train_size // global_batch)
    spec = config.loss.spec(data.num_classes)
    top_k = (1, 5) if data.num_classes >= 100 else (1,)
    with strategy.scope():
        model = models.build(config.model, data.input_shape, data.num_classes)
        model.compile(
            optimizer=make_optimizer(config.recipe, steps, global_batch),
            loss=losses.build_loss(spec, data.num_classes, config.loss.label_smoothing),
            metrics=["accuracy"]
            + ([keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")] if 5 in top_k else []),
            steps_per_execution=run.steps_per_execution,
        )
    _, summary = harness.fit(
        model,
        strategy,
        data.epoch_batches,
        global_batch,
        strategy.distribute_dataset(test, global_batch),
        config.recipe.epochs,
        steps,
        run.output_dir,
        monitor="val_accuracy",
    )
    with strategy.every_example(test, global_batch) as every_batch:
        logits, labels = harness.predict_logits(model, every_batch)
    results = {
        **summary,
        "dataset": config.dataset,
        "model": config.model,
        "loss": spec,
        "loss_config": model.loss.get_config(),
        "label_smoothing": config.loss.label_smoothing,
        "recipe": config.recipe,
        "learning_rate": config.recipe.peak_learning_rate(global_batch),
        "global_batch_size": global_batch,
        "test_examples": len(labels),
        **metrics.classification_metrics(logits, labels, top_k=top_k),
    }
    harness.finish(model, results, run.output_dir, strategy)
    print(f"{spec}: test accuracy {results['accuracy']:.4f}, NLL {results['nll']:.4f}, ECE {results['ece']:.4f}")
    return results


if __name__ == "__main__":
    from keras_losses_experiments.training import harness

    harness.run_main(main, "image_classification.py")
