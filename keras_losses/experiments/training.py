"""The training harness shared by the examples and `keras-losses compare`.

Distribution strategy, mixed precision, the per-dataset recipe (optimizer,
schedule, weight decay), callbacks (backup and restore, best checkpoint,
TensorBoard, CSV) and `results.json`.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import keras

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


@dataclass
class Recipe:
    """Optimiser and schedule; `learning_rate` is for a global batch of `batch_size` and scales linearly."""

    optimizer: str
    learning_rate: float
    batch_size: int
    epochs: int
    weight_decay: float
    schedule: str  # "constant", "cosine", "step" (x0.1 at 1/3, 2/3 and 8/9 of training), "inverse_sqrt"
    warmup_epochs: int = 0


RECIPES = {
    # A small network on 1,437 images: Adam, a minute on two CPU cores.
    "digits": Recipe("adam", 1e-3, 64, 20, 0.0, "constant"),
    # Standard CIFAR ResNet recipe: SGD + momentum 0.9, lr 0.1 at batch 128, cosine decay, wd 5e-4.
    "cifar10": Recipe("sgd", 0.1, 128, 200, 5e-4, "cosine"),
    "cifar100": Recipe("sgd", 0.1, 128, 200, 5e-4, "cosine"),
    # Standard ImageNet recipe (Goyal et al.): lr 0.1 per 256, 5 warm-up epochs, steps at 30/60/80, wd 1e-4.
    "imagenet2012": Recipe("sgd", 0.1, 256, 90, 1e-4, "step", warmup_epochs=5),
    # Translation: batch and epochs only; the optimiser is translation.make_optimizer (inverse-sqrt warm-up).
    "ted_hrlr_translate/pt_to_en": Recipe("adam", 1.0, 64, 30, 0.0, "inverse_sqrt"),
    "wmt14_translate/de-en": Recipe("adam", 1.0, 64, 30, 0.0, "inverse_sqrt"),
}


def add_run_arguments(parser, output_dir):
    """The example programs' run flags: --seed, --output-dir, --strategy, --mixed-precision, --mock-data."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default=output_dir)
    parser.add_argument("--strategy", default="auto", choices=STRATEGIES)
    parser.add_argument("--mixed-precision", action="store_true", help="mixed_float16 (GPU) / mixed_bfloat16 (TPU)")
    parser.add_argument("--mock-data", type=int, metavar="N", help="N random examples per split (tfds), offline")


def get_strategy(name="auto"):
    """A `tf.distribute` strategy. `auto`: TPU if one is reachable, multi-worker when `TF_CONFIG`
    names a cluster, mirrored across several GPUs, else the default strategy."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of: {', '.join(STRATEGIES)}")
    if name == "auto":
        if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR") or tf.config.list_logical_devices("TPU"):
            name = "tpu"
        elif "cluster" in json.loads(os.environ.get("TF_CONFIG", "{}")):
            name = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # Every GPU, or every logical CPU device where there is none (one, unless configured otherwise).
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """True on the worker that writes checkpoints and results (always, outside multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()
    )


def set_mixed_precision(enabled, strategy):
    """mixed_bfloat16 on TPU, mixed_float16 elsewhere; returns the global policy's name."""
    import tensorflow as tf

    policy = "float32"
    if enabled:
        policy = "mixed_bfloat16" if isinstance(strategy, tf.distribute.TPUStrategy) else "mixed_float16"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def make_optimizer(recipe, steps_per_epoch, batch_size=None):
    """The recipe's optimiser with its schedule, the learning rate scaled to `batch_size`."""
    learning_rate = recipe.learning_rate * (batch_size or recipe.batch_size) / recipe.batch_size
    total = max(1, recipe.epochs * steps_per_epoch)
    warmup = min(recipe.warmup_epochs * steps_per_epoch, total - 1)
    if recipe.schedule == "cosine":
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else learning_rate, total - warmup, warmup_target=learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    elif recipe.schedule == "step":
        boundaries = [int(total * f) for f in (1 / 3, 2 / 3, 8 / 9)]
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, [learning_rate * 0.1**i for i in range(4)]
        )
    else:
        schedule = learning_rate
    if recipe.optimizer == "adam":
        if recipe.weight_decay:
            return keras.optimizers.AdamW(schedule, weight_decay=recipe.weight_decay)
        return keras.optimizers.Adam(schedule)
    return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=recipe.weight_decay or None)


def worker_dir(output_dir, chief=True):
    """`output_dir` on the chief; a scratch folder of its own for every other worker, which must save too."""
    output_dir = Path(output_dir)
    target = output_dir if chief else output_dir / "workers" / f"scratch-{os.getpid()}"
    target.mkdir(parents=True, exist_ok=True)
    return target


def callbacks(output_dir, chief=True, monitor="val_accuracy"):
    """BackupAndRestore (resume a killed run), the best model as `.keras`, TensorBoard and CSV logs."""
    target = worker_dir(output_dir, chief)
    return [
        keras.callbacks.BackupAndRestore(str(target / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(target / "best.keras"), monitor=monitor, mode="max" if "accuracy" in monitor else "min", save_best_only=True
        ),
        keras.callbacks.TensorBoard(str(target / "logs")),
        keras.callbacks.CSVLogger(str(target / "training.csv"), append=True),
    ]


def distributable(dataset, strategy):
    """Shards by data rather than by file under multi-worker training (tfds and generated sets have no files
    to shard by)."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def finish(model, results, output_dir, chief=True):
    """Saves `model.keras` and `results.json` on the chief (a scratch copy of the model elsewhere)."""
    target = worker_dir(output_dir, chief)
    model.save(target / "model.keras")
    if chief:
        results["model_path"] = str(target / "model.keras")
        write_results(output_dir, results)


def predict_logits(model, dataset):
    """Logits and labels for every example of a batched `(x, y)` dataset, as NumPy."""
    import numpy as np

    logits = model.predict(dataset.map(lambda x, y: x), verbose=0)
    labels = np.concatenate([y.numpy() for _, y in dataset])
    return logits, labels


def write_results(output_dir, results):
    """Writes `results.json` (indented, keys sorted) and returns its path."""
    path = Path(output_dir) / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True, default=_jsonable) + "\n")
    return path


def _jsonable(value):
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
