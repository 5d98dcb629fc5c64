"""Train ResNet50 or EfficientNet-B0 from scratch on CIFAR-10, CIFAR-100 or ImageNet with any loss of keras-losses.

Needs `pip install "keras-losses[experiments]"`:

    # CIFAR-10, ResNet50, conservative encouraging loss (LE = 0.75), the cifar-cosine-200 recipe
    python examples/image_classification.py --dataset cifar10 --model resnet50 --loss conservative_encouraging

    # The encouraging-loss paper's CIFAR-10 ResNet50 experiment as its authors' script runs it (docs/papers.md),
    # seeds 1 to 5 (each in runs/image_classification/seed-<s>, summary.json over them); --loss ce: the baseline
    python examples/image_classification.py --preset zhao2022-cifar10-resnet50

    # ImageNet, square loss with the paper's rescaling for 1000 classes, on a Cloud TPU in bfloat16
    python examples/image_classification.py --dataset imagenet2012 --loss square --k 15 --m 30 \\
        --strategy tpu --mixed-precision --output-dir gs://my-bucket/square-imagenet

    # Offline smoke test on random data (a few steps on a CPU)
    python examples/image_classification.py --mock-data 32 --image-size 32 --model cnn --batch-size 4 --epochs 1 \\
        --steps-per-epoch 2

Every model has a linear output layer (square loss and squentropy need raw outputs; the cross-entropies take
`from_logits=True`). Defaults follow the standard recipe of each dataset (`keras_losses_experiments.training.recipe`;
see the epilog of `--help` and docs/examples.md). The output directory receives `results.json` (top-1 [and top-5]
accuracy, test NLL, ECE, training time; the best epoch's accuracy and the final one's), `model.keras`, `best.keras`,
`checkpoints/` (the best and last epochs' weights, the averaged ones under --ema-decay), `training.csv`, TensorBoard
`logs/`, and
`backup/` while a run is in progress: rerun the same command after a crash and training resumes from the last
completed epoch, exactly (`keras_losses_experiments.training.resume`). Runs on TensorFlow (tf.distribute strategies)
and on JAX (`KERAS_BACKEND=jax`, one or several processes through keras.distribution).
"""

import argparse
from dataclasses import dataclass, replace


def build_parser():
    from keras_losses_experiments import flags, papers
    from keras_losses_experiments.classification import datasets, models, vision
    from keras_losses_experiments.classification.recipes import RECIPES

    epilog = "; ".join(
        f"{name}: {recipe.describe()}" for name, recipe in RECIPES.items() if name in datasets.IMAGE_DATASETS
    )
    vision_presets = [p.name for p in papers.presets().values() if p.program == "image_classification"]
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Recipes: {epilog}. With other --epochs the step boundaries keep their fractions of the run. "
        "CIFAR: pad-4 random crop + flip; ImageNet: random resized crop + flip, resize 256 / center crop 224 for test. "
        f"The papers' experiments as their scripts run them: --preset {{{','.join(vision_presets)}}} "
        "(docs/papers.md).",
        formatter_class=flags.HelpFormatter,
    )
    flags.add(
        parser,
        (
            "preset",
            "dataset",
            "model",
            *flags.LOSS_FLAGS,
            *vision.RECIPE_FLAGS,
            *vision.VISION_FLAGS,
            "image_size",
            "validation_steps",
            "seeds",
            *flags.RUN_FLAGS,
        ),
        defaults={
            "dataset": "cifar10",
            "model": "resnet50",
            "output_dir": "runs/image_classification",
            "seeds": None,
            "seed": None,
        },
        choices={"dataset": tuple(datasets.IMAGE_DATASETS), "model": models.MODELS, "preset": tuple(vision_presets)},
        helps={
            "preset": "none; a paper's experiment as its script runs it: every setting the script sets becomes "
            "the default of its flag, the paper's loss the default loss (--loss ce: its baseline), the script's "
            "seeds the default --seeds",
            "loss": "ce, or the preset's paper loss",
            "log_end": "1.0 for encouraging, 0.75 for conservative_encouraging",
            "label_smoothing": "0",
            "epochs": "the dataset's recipe",
            "batch_size": "the recipe's",
            "learning_rate": "the recipe's",
            "image_size": "32 for CIFAR, 224 for ImageNet and --augment resized_crop",
            "steps_per_epoch": "one pass over the training split",
            "seeds": "one run, with --seed; each seed's run in --output-dir/seed-<s>, and summary.json",
            "seed": "0",
        },
    )
    return parser


@dataclass(frozen=True)
class Config:
    """What the flags ask for, validated; `main` trains it."""

    dataset: str
    model: str
    loss: object  # flags.LossChoice
    vision: object  # vision.VisionConfig: the recipe, the input pipeline, the model's rates, the EMA
    batch_size: int  # the global batch; None: the recipe's
    image_size: int
    validation_steps: int
    run: object  # flags.RunOptions
    seeds: list = None  # None: one run (run.seed) in run.output_dir; else one run per seed in seed-<s>/
    preset: object = None  # papers.PaperPreset
    overrides: dict = None  # the preset's settings the command line changed

    @property
    def recipe(self):
        return self.vision.recipe


def configure(args, preset=None, overrides=None):
    """The `Config` of parsed flags (and the preset they were parsed with); raises `ConfigError` naming the
    field of a flag that does not apply."""
    from keras_losses_experiments import flags, papers
    from keras_losses_experiments.classification import vision

    if args.preset is not None and preset is None:
        papers.get(args.preset, "image_classification")  # raises: not a paper preset of this program
    seeds = flags.seeds_to_run(args, preset, overrides)
    run = replace(flags.run_options(args), seed=args.seed or 0)
    return Config(
        args.dataset,
        args.model,
        flags.loss_choice(args, default=preset.loss.value if preset else "ce"),
        vision.configure(args, args.dataset, args.model),
        args.batch_size,
        args.image_size,
        args.validation_steps,
        run,
        seeds,
        preset,
        overrides or {},
    )


def main(argv=None):
    """Trains as the flags say: one run's results, or with --seeds the summary over the seeds' runs."""
    from keras_losses_experiments import flags, papers
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.training import harness

    parser = build_parser()
    try:
        args, preset, overrides = papers.parse(parser, argv, "image_classification")
        config = configure(args, preset, overrides)
        strategy = harness.set_up(config.run)
        global_batch = strategy.check_global_batch(config.batch_size or config.recipe.batch_size)
    except ConfigError as error:
        parser.error(flags.usage(error))
    if config.seeds is None:
        return train(config, strategy, global_batch)
    return harness.over_seeds(
        config, config.seeds, strategy, lambda config: train(config, strategy, global_batch), SUMMARY_METRICS
    )


def train(config, strategy, global_batch, callbacks=()):
    """One run: trains (with `callbacks` too), evaluates (with the averaged weights under --ema-decay), writes
    results.json; returns the results."""
    import keras

    from keras_losses_experiments import losses
    from keras_losses_experiments.classification import datasets, metrics
    from keras_losses_experiments.training import harness
    from keras_losses_experiments.training.checkpoints import EpochCheckpoints
    from keras_losses_experiments.training.ema import ExponentialMovingAverage
    from keras_losses_experiments.training.optimizers import make_optimizer

    run, vision = config.run, config.vision
    data = datasets.load(config.dataset, global_batch, config.image_size, run.mock_data, run.seed, vision.pipeline)
    test = data.test.take(config.validation_steps) if config.validation_steps else data.test
    steps = run.steps_per_epoch or max(1, data.train_size // global_batch)
    spec = config.loss.spec(data.num_classes)
    top_k = (1, 5) if data.num_classes >= 100 else (1,)
    with strategy.scope():
        model = vision.build_model(config.model, data.input_shape, data.num_classes)
        model.compile(
            optimizer=make_optimizer(config.recipe, steps, global_batch),
            loss=losses.build_loss(spec, data.num_classes, config.loss.label_smoothing),
            metrics=["accuracy"]
            + ([keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")] if 5 in top_k else []),
            steps_per_execution=run.steps_per_execution,
        )
    ema = None if vision.ema_decay is None else ExponentialMovingAverage(vision.ema_decay)
    checkpoints = EpochCheckpoints(
        harness.worker_dir(run.output_dir, strategy) / "checkpoints", "val_accuracy", keep_last=1, ema=ema
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
        extra_callbacks=[c for c in (ema, checkpoints, *callbacks) if c is not None],
    )
    with strategy.every_example(test, global_batch) as every_batch, _averaged(ema):
        logits, labels = harness.predict_logits(model, every_batch)
    best = checkpoints.report()
    results = {
        **summary,
        "dataset": config.dataset,
        "model": config.model,
        "loss": spec,
        "loss_config": model.loss.get_config(),
        "label_smoothing": config.loss.label_smoothing,
        "recipe": config.recipe,
        "pipeline": vision.pipeline,
        "dropout": vision.dropout,
        "drop_connect": vision.drop_connect,
        "ema_decay": vision.ema_decay,
        "learning_rate": config.recipe.peak_learning_rate(global_batch),
        "global_batch_size": global_batch,
        "seed": run.seed,
        "preset": None if config.preset is None else config.preset.name,
        "preset_overrides": config.overrides,
        "test_examples": len(labels),
        "best_epoch": best["best_epoch"],
        "best_accuracy": best["best_value"],
        "final_epoch": best["final_epoch"],
        "final_accuracy": best["final_value"],
        **metrics.classification_metrics(logits, labels, top_k=top_k),
    }
    with _averaged(ema):
        harness.finish(model, results, run.output_dir, strategy)
    print(
        f"{spec} (seed {run.seed}): test accuracy {results['accuracy']:.4f} (best {results['best_accuracy']:.4f} at "
        f"epoch {results['best_epoch']}), NLL {results['nll']:.4f}, ECE {results['ece']:.4f}"
    )
    return results


def _averaged(ema):
    """The moving average of the weights in the model inside the block (nothing without one)."""
    import contextlib

    return contextlib.nullcontext() if ema is None else ema.swapped_in()


SUMMARY_METRICS = ("accuracy", "best_accuracy", "nll", "ece", "top5_accuracy")


if __name__ == "__main__":
    from keras_losses_experiments.training import harness

    harness.run_main(main, "image_classification.py")
