"""Train ResNet50 or EfficientNet-B0 from scratch on CIFAR-10, CIFAR-100 or ImageNet with any loss of keras-losses.

The papers' vision experiments as a program:

    # CIFAR-10, ResNet50, conservative encouraging loss (LE = 0.75), 200 epochs of SGD + cosine decay
    python examples/image_classification.py --dataset cifar10 --model resnet50 --loss conservative_encouraging

    # ImageNet, square loss with the paper's rescaling for 1000 classes, on a Cloud TPU in bfloat16
    python examples/image_classification.py --dataset imagenet2012 --loss square --k 15 --m 30 \\
        --strategy tpu --mixed-precision --output-dir gs://my-bucket/square-imagenet

    # Offline smoke test on random data (a few steps on a CPU)
    python examples/image_classification.py --mock-data 32 --image-size 32 --batch-size 4 --epochs 1 --steps-per-epoch 2

Every model has a linear output layer (square loss and squentropy need raw outputs; the cross-entropies take
`from_logits=True`). Defaults follow the standard recipe of each dataset (see `--help` and the README). The
output directory receives `results.json` (top-1 [and top-5] accuracy, test NLL, ECE, training time),
`model.keras`, `best.keras`, `training.csv`, TensorBoard `logs/`, and `backup/` while a run is in progress:
rerun the same command after a crash and training resumes from the last completed epoch.
"""

import argparse
import time
from dataclasses import replace


def build_parser():
    from keras_losses.experiments import datasets, loss_specs, models, training

    recipes = "; ".join(
        f"{name}: {r.optimizer} lr {r.learning_rate} per {r.batch_size}, {r.schedule}, wd {r.weight_decay}, "
        f"{r.epochs} epochs" for name, r in training.RECIPES.items() if name != "digits"
    )
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Recipes (defaults): {recipes}. CIFAR: pad-4 random crop + flip; ImageNet: random resized crop + "
        "flip, resize 256 / center crop 224 for test.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default="cifar10", choices=tuple(datasets.IMAGE_DATASETS))
    parser.add_argument("--model", default="resnet50", choices=models.MODELS)
    loss_specs.add_loss_arguments(parser)
    parser.add_argument("--epochs", type=int, help="default: the dataset's recipe")
    parser.add_argument("--batch-size", type=int, help="per replica; the global batch is this x replicas "
                        "(default: the recipe's batch / replicas)")
    parser.add_argument("--learning-rate", type=float, help="for the recipe's batch size; scaled linearly with "
                        "the global batch")
    parser.add_argument("--schedule", choices=("cosine", "step", "constant"), help="default: the recipe's")
    parser.add_argument("--weight-decay", type=float, help="default: the recipe's")
    parser.add_argument("--image-size", type=int, help="default: 32 for CIFAR, 224 for ImageNet")
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--validation-steps", type=int, help="default: the whole test split")
    training.add_run_arguments(parser, output_dir="runs/image_classification")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras

    from keras_losses.experiments import datasets, loss_specs, metrics, models, training

    strategy = training.get_strategy(args.strategy)
    policy = training.set_mixed_precision(args.mixed_precision, strategy)
    replicas = strategy.num_replicas_in_sync
    recipe = training.RECIPES[args.dataset]
    recipe = replace(
        recipe,
        epochs=args.epochs or recipe.epochs,
        learning_rate=args.learning_rate or recipe.learning_rate,
        schedule=args.schedule or recipe.schedule,
        weight_decay=recipe.weight_decay if args.weight_decay is None else args.weight_decay,
    )
    global_batch = (args.batch_size or max(1, recipe.batch_size // replicas)) * replicas

    keras.utils.set_random_seed(args.seed)
    data = datasets.load(args.dataset, global_batch, args.image_size, args.mock_data, seed=args.seed)
    train, test = training.distributable(data.train.repeat(), strategy), training.distributable(data.test, strategy)
    if args.validation_steps:
        test = test.take(args.validation_steps)
    steps = args.steps_per_epoch or max(1, data.train_size // global_batch)
    spec = loss_specs.spec_from_arguments(args)
    top_k = (1, 5) if data.num_classes >= 100 else (1,)
    with strategy.scope():
        model = models.build(args.model, data.input_shape, data.num_classes)
        model.compile(
            optimizer=training.make_optimizer(recipe, steps, global_batch),
            loss=loss_specs.build_loss(spec, data.num_classes, args.label_smoothing),
            metrics=["accuracy"] + ([keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")] if 5 in top_k else []),
        )

    chief = training.is_chief(strategy)
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=recipe.epochs,
        steps_per_epoch=steps,
        validation_data=test,
        callbacks=training.callbacks(args.output_dir, chief),
        verbose="auto",
    )
    train_seconds = time.perf_counter() - start

    logits, labels = training.predict_logits(model, test)
    results = {
        "dataset": args.dataset,
        "model": args.model,
        "loss": spec,
        "loss_config": model.loss.get_config(),
        "label_smoothing": args.label_smoothing,
        "recipe": recipe,
        "global_batch_size": global_batch,
        "strategy": type(strategy).__name__,
        "replicas": replicas,
        "mixed_precision_policy": policy,
        "epochs": recipe.epochs,
        "initial_epoch": history.epoch[0] if history.epoch else None,  # > 0: resumed from a backup
        "train_seconds": train_seconds,
        "test_examples": int(len(labels)),
        **metrics.classification_metrics(logits, labels, top_k=top_k),
    }
    training.finish(model, results, args.output_dir, chief)
    print(f"{spec}: test accuracy {results['accuracy']:.4f}, NLL {results['nll']:.4f}, ECE {results['ece']:.4f}")
    return results


if __name__ == "__main__":
    main()
