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


def build_parser():
    from keras_losses_experiments import flags
    from keras_losses_experiments.classification import datasets, models
    from keras_losses_experiments.training import recipe as recipes

    epilog = "; ".join(
        f"{name}: {recipe.describe()}" for name, recipe in recipes.RECIPES.items() if name in datasets.IMAGE_DATASETS
    )
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Recipes: {epilog}. With other --epochs the step boundaries keep their fractions of the run. "
        "CIFAR: pad-4 random crop + flip; ImageNet: random resized crop + flip, resize 256 / center crop 224 for test.",
        formatter_class=flags.HelpFormatter,
    )
    parser.add_argument("--dataset", default="cifar10", choices=tuple(datasets.IMAGE_DATASETS))
    parser.add_argument("--model", default="resnet50", choices=models.MODELS)
    flags.add_loss_arguments(parser)
    flags.add_recipe_arguments(parser, "the dataset's recipe")
    parser.add_argument(
        "--schedule",
        choices=("constant", "cosine", "step"),
        help="default: the recipe's; the recipe's warm-up is kept (--warmup-epochs to change it)",
    )
    parser.add_argument("--warmup-epochs", type=float, help="linear warm-up from 0 (default: the recipe's)")
    parser.add_argument("--image-size", type=flags.at_least(8), help="default: 32 for CIFAR, 224 for ImageNet")
    parser.add_argument("--validation-steps", type=flags.at_least(1), help="default: the whole test split")
    flags.add_run_arguments(parser, output_dir="runs/image_classification")
    return parser


@dataclass(frozen=True)
class Config:
    """What the flags ask for, validated; `main` trains it."""

    dataset: str
    model: str
    loss: object  # flags.LossChoice
    recipe: object  # recipes.Recipe
    batch_size: int  # per replica; None: the recipe's global batch / replicas
    image_size: int
    validation_steps: int
    run: object  # flags.RunOptions


def configure(args):
    """The `Config` of parsed flags; raises `ValueError` naming a flag that does not apply."""
    from keras_losses_experiments import flags
    from keras_losses_experiments.training import recipe as recipes

    recipe = recipes.RECIPES[args.dataset].override(
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
    from keras_losses_experiments.training import harness
    from keras_losses_experiments.training import recipe as recipes

    try:
        config = configure(args)
        strategy = harness.set_up(config.run)
        global_batch = flags.global_batch_size(args, config.recipe, strategy.replicas)
    except ValueError as error:
        parser.error(str(error))
    run = config.run
    data = datasets.load(config.dataset, global_batch, config.image_size, run.mock_data, seed=run.seed)
    test = data.test.take(config.validation_steps) if config.validation_steps else data.test
    steps = run.steps_per_epoch or max(1, data.train_size // global_batch)
    spec = config.loss.spec(data.num_classes)
    top_k = (1, 5) if data.num_classes >= 100 else (1,)
    with strategy.scope():
        model = models.build(config.model, data.input_shape, data.num_classes)
        model.compile(
            optimizer=recipes.make_optimizer(config.recipe, steps, global_batch),
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
