"""Whole training-step time with each loss, as a ratio to Keras' sparse cross-entropy.

    python benchmarks/train_step_speed.py                 # both models, TensorFlow (XLA as Keras' "auto" picks)
    python benchmarks/train_step_speed.py --repeats 30 --json benchmarks/train_step_speed.json

Two models: a small ResNet-style CNN on CIFAR-size input (32x32x3, 10 classes, batch 128) and a small
transformer language model (2 blocks, d_model 256, a 16k vocabulary, 64 tokens x 16 sequences, so the loss
sees [1024, 16000] logits). Every loss gets its own compiled model with the same weights; steps are timed
interleaved (one step of each loss per round, each round starting with the next loss); medians and minima
are compared.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def resnet_like(num_classes=10):
    import keras
    from keras import layers

    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(32, 3, padding="same", use_bias=False)(inputs)
    for filters, stride in ((32, 1), (64, 2), (128, 2)):
        shortcut = x if stride == 1 and x.shape[-1] == filters else layers.Conv2D(filters, 1, strides=stride)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.Add()([x, shortcut])
    x = layers.GlobalAveragePooling2D()(layers.Activation("relu")(x))
    return keras.Model(inputs, layers.Dense(num_classes)(x), name="resnet_like")


def small_transformer(vocabulary=16_000, length=64, width=256, heads=4, blocks=2):
    import keras
    from keras import layers

    tokens = keras.Input((length,), dtype="int32")
    x = layers.Embedding(vocabulary, width)(tokens)
    x = x + layers.Embedding(length, width)(keras.ops.arange(length))
    for _ in range(blocks):
        attention = layers.MultiHeadAttention(heads, width // heads)(x, x, use_causal_mask=True)
        x = layers.LayerNormalization()(x + attention)
        x = layers.LayerNormalization()(x + layers.Dense(width)(layers.Dense(4 * width, activation="relu")(x)))
    return keras.Model(tokens, layers.Dense(vocabulary)(x), name="small_transformer")


def losses():
    import keras

    import keras_losses

    return {
        "keras cross-entropy": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "encouraging": keras_losses.EncouragingLoss(from_logits=True),
        "conservative_encouraging:0.75": keras_losses.ConservativeEncouragingLoss(from_logits=True),
        "square": keras_losses.SquareLoss(),
        "squentropy": keras_losses.Squentropy(),
    }


def bench(name, build, x, y, repeats):
    import keras

    models = {}
    weights = None
    for loss_name, loss in losses().items():
        keras.utils.set_random_seed(0)
        model = build()
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=loss)
        for _ in range(3):
            model.train_on_batch(x, y)
        models[loss_name] = model
    times = {loss_name: [] for loss_name in models}
    names = list(models)
    for round_index in range(repeats):
        # Each round starts with another loss, so that no loss always runs first or right after another.
        shift = round_index % len(names)
        for loss_name in names[shift:] + names[:shift]:
            model = models[loss_name]
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[loss_name].append(time.perf_counter() - start)
    base = times["keras cross-entropy"]
    return [
        {
            "model": name,
            "loss": loss_name,
            "median_ms": 1000 * statistics.median(t),
            "min_ms": 1000 * min(t),
            "median_ratio": statistics.median(t) / statistics.median(base),
            "min_ratio": min(t) / min(base),
        }
        for loss_name, t in times.items()
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", help="write the results here (benchmarks/report.py renders them)")
    args = parser.parse_args(argv)
    import keras
    import numpy as np

    load = os.getloadavg()
    rng = np.random.default_rng(0)
    rows = bench(
        "ResNet-style CNN, 32x32x3, batch 128, 10 classes",
        resnet_like,
        rng.uniform(size=(128, 32, 32, 3)).astype("float32"),
        rng.integers(0, 10, size=(128,)),
        args.repeats,
    )
    rows += bench(
        "transformer LM, 16 x 64 tokens, vocabulary 16k",
        small_transformer,
        rng.integers(0, 16_000, size=(16, 64)).astype("int32"),
        rng.integers(0, 16_000, size=(16, 64)),
        args.repeats,
    )
    header = (
        f"Run {time.strftime('%Y-%m-%d %H:%M')}: Keras {keras.__version__} ({keras.backend.backend()}, "
        f'`jit_compile` as Keras\' "auto" picks), {os.cpu_count()} CPU cores; {args.repeats} interleaved steps '
        f"per loss (each round starting with the next loss), median (minimum); load average at the start "
        f"{', '.join(f'{v:.2f}' for v in load)}."
    )
    lines = ["| model | loss | median step ms | × keras CE, median (min) |", "| --- | --- | ---: | ---: |"]
    lines += [
        f"| {r['model']} | {r['loss']} | {r['median_ms']:.1f} | {r['median_ratio']:.3f} ({r['min_ratio']:.3f}) |"
        for r in rows
    ]
    print(header + "\n\n" + "\n".join(lines))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"header": header, "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()
