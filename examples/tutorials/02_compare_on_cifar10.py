"""
Title: Square loss, encouraging loss and cross-entropy on CIFAR-10
Author: keras-losses contributors
Date created: 2026/12/03
Last modified: 2026/12/04
Description: A ResNet50 on CIFAR-10 with three losses over two seeds; a paired verdict with a t interval.
Accelerator: GPU
"""

"""
## Introduction

Which loss should you train with? One run per loss cannot tell you: two seeds of the same loss differ by
more than many published gains. This tutorial trains the same model on the same data with each loss and
several seeds — seed `s` gives every loss the same initial weights, the same order of batches and the same
random crops and flips — and compares each loss with cross-entropy **paired by seed**, with a 95% confidence
interval: *better*, *worse*, or *no detectable difference with n seeds*.

Here: CIFAR-10, `keras.applications.ResNet50` from scratch with a linear head, the standard CIFAR recipe
(SGD with Nesterov momentum, cosine decay, weight decay 5e-4, pad-and-crop and flip augmentation) shortened
to 10 epochs, three losses, two seeds:

- cross-entropy, the baseline: `keras_losses.CrossEntropy(from_logits=True)`;
- the square loss (Hui & Belkin 2021) with the paper's `k = m = 1` for 10 classes: `keras_losses.SquareLoss()`;
- the conservative encouraging loss (Zhao et al. 2022) with `log_end = 0.75`.

**Time (an estimate, not measured):** the 6 runs of 10 epochs take about 20–30 minutes on a Colab T4 GPU
and well under 10 minutes on an A100 or L4; downloading CIFAR-10 (160 MB) takes a minute. On a CPU, reduce
`EPOCHS` and use the small network of the tiny settings. The project's tests run this notebook offline on
16 random images of CIFAR-10's format (`KERAS_LOSSES_TUTORIAL_TINY=1`) in about 20 seconds. In Colab choose
*Runtime → Change runtime type → GPU*.

The same comparison, with resumable runs and a full report (NLL, calibration), is one command of the
package's experiments: `keras-losses compare --dataset cifar10 --model resnet50 --seeds 2`.
"""

"""
## Setup

Install the package and TensorFlow Datasets if the runtime lacks them:
`pip install "keras-losses[experiments]"` (from a wheel built with `python -m build`, or from the repository).
"""

import os

TINY = os.environ.get("KERAS_LOSSES_TUTORIAL_TINY") == "1"

import keras
import matplotlib.pyplot as plt
import numpy as np
import scipy.stats
import tensorflow as tf
import tensorflow_datasets as tfds

import keras_losses

print(f"Keras {keras.__version__} on {keras.backend.backend()}")

"""
## The settings

The tiny settings (for the tests) train a three-convolution network on 16 random images of CIFAR-10's
format (`tfds.testing.mock_data`, no download) for one epoch of two steps.
"""

SEEDS = 2
if TINY:
    MOCK_IMAGES, MODEL, EPOCHS, BATCH = 16, "cnn", 1, 8
else:
    MOCK_IMAGES, MODEL, EPOCHS, BATCH = None, "resnet50", 10, 128
LEARNING_RATE = 0.1 * BATCH / 128  # the recipe's 0.1 at batch 128, scaled linearly with the batch

LOSSES = {
    "cross-entropy": keras_losses.CrossEntropy(from_logits=True),
    "square": keras_losses.SquareLoss(),
    "conservative encouraging": keras_losses.ConservativeEncouragingLoss(log_end=0.75, from_logits=True),
}

"""
## The data

Images stay in [0, 255] as `uint8` until the model: the augmentation and the normalisation are layers of the
model, so they run on the accelerator. The training split is shuffled with the run's seed.
"""

if MOCK_IMAGES:
    with tfds.testing.mock_data(num_examples=MOCK_IMAGES):
        train_split, test_split = tfds.load("cifar10", split=["train", "test"], as_supervised=True)
else:
    train_split, test_split = tfds.load("cifar10", split=["train", "test"], as_supervised=True)
train_split, test_split = train_split.cache(), test_split.cache()
test = test_split.batch(512).prefetch(tf.data.AUTOTUNE)
test_labels = np.concatenate([labels.numpy() for _, labels in test])
steps_per_epoch = -(-sum(1 for _ in train_split) // BATCH)
print(f"{steps_per_epoch} steps of {BATCH} images per epoch; {len(test_labels)} test images")

"""
## The model

Training-time augmentation first (`RandomFlip`, then 4 pixels of padding and a random 32×32 crop: at test
time the crop is the centre, the image itself), then the per-channel normalisation of CIFAR-10, then the
network, whose last layer is linear: the square loss takes the raw outputs, the cross-entropy family logits
(`from_logits=True`). The seed of the augmentation layers is the run's seed.
"""

CIFAR_MEAN, CIFAR_STD = [125.3, 123.0, 113.9], [63.0, 62.1, 66.7]


def make_model(seed):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.RandomFlip("horizontal", seed=seed)(inputs)
    x = keras.layers.ZeroPadding2D(4)(x)
    x = keras.layers.RandomCrop(32, 32, seed=seed)(x)
    x = keras.layers.Normalization(mean=CIFAR_MEAN, variance=np.square(CIFAR_STD))(x)
    if MODEL == "resnet50":
        x = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")(x)
    else:
        for filters in (16, 32, 32):
            x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
            x = keras.layers.MaxPooling2D()(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10)(x)  # linear
    return keras.Model(inputs, outputs)


"""
## Train

Each run: `keras.utils.set_random_seed(seed)` before the model is built (the same initial weights for every
loss), SGD with Nesterov momentum 0.9 and a cosine decay of the learning rate over the whole run, weight
decay 5e-4 (Keras applies it decoupled: `w ← w - lr · 5e-4 · w` at every step), and the test accuracy
after every epoch. At the end we keep each test image's softmax probability of its true class.
"""

runs = {}  # (loss name, seed) -> {"accuracy": per epoch, "true_class_probability": per test image}
for seed in range(SEEDS):
    for name, loss in LOSSES.items():
        keras.utils.set_random_seed(seed)
        model = make_model(seed)
        schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=EPOCHS * steps_per_epoch)
        model.compile(
            optimizer=keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=5e-4),
            loss=loss,
            metrics=["accuracy"],
        )
        train = train_split.shuffle(50_000, seed=seed).batch(BATCH).prefetch(tf.data.AUTOTUNE)
        history = model.fit(train, epochs=EPOCHS, validation_data=test, verbose=0)
        probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(test, verbose=0)))
        runs[name, seed] = {
            "accuracy": history.history["val_accuracy"],
            "true_class_probability": probabilities[np.arange(len(test_labels)), test_labels],
        }
        print(f"seed {seed}, {name}: test accuracy {history.history['val_accuracy'][-1]:.4f}")

"""
## The verdict

For each loss and seed `s`, the difference `d_s` of its final test accuracy from cross-entropy's with the
same seed. Pairing removes what the seed does to both runs (initial weights, batches, crops), so the
differences vary less than the accuracies themselves. With `n` seeds, mean `d̄` and standard deviation `s_d`,
the 95% confidence interval of the true mean difference is Student's paired t interval

    d̄ ± t(0.975, n - 1) · s_d / √n

*Better* if the whole interval is above 0, *worse* if it is below, otherwise *no detectable difference with
n seeds*. With two seeds `t(0.975, 1) = 12.7`: only large differences are resolved. A rough number of seeds
that would resolve a difference of this size is the smallest `n` with `t(0.975, n - 1) · s_d / √n < |d̄|`
(taking `s_d` as it is now).
"""


def paired_verdict(differences):
    n, mean, sd = len(differences), np.mean(differences), np.std(differences, ddof=1)
    half_width = scipy.stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    low, high = mean - half_width, mean + half_width
    verdict = "better" if low > 0 else "worse" if high < 0 else f"no detectable difference with {n} seeds"
    needed = next((m for m in range(2, 1000) if scipy.stats.t.ppf(0.975, m - 1) * sd / np.sqrt(m) < abs(mean)), None)
    return mean, low, high, verdict, needed


final_accuracy = {key: run["accuracy"][-1] for key, run in runs.items()}
for name in list(LOSSES)[1:]:
    differences = [final_accuracy[name, seed] - final_accuracy["cross-entropy", seed] for seed in range(SEEDS)]
    mean, low, high, verdict, needed = paired_verdict(differences)
    seeds_needed = f"{needed} seeds would resolve it" if needed else "no number of seeds below 1000 resolves it"
    print(f"{name} vs cross-entropy, test accuracy: {mean:+.4f} [{low:+.4f}, {high:+.4f}] over {SEEDS} seeds: ", end="")
    print(verdict if verdict in ("better", "worse") else f"{verdict} ({seeds_needed})")

"""
## The plots

Left: test accuracy per epoch, mean ± standard deviation over seeds. Right: the distribution of the
probability each model gives to the true class on the test set — the encouraging-loss paper's point: its
models keep pushing well-classified examples towards probability 1. (The square-loss model's outputs are
trained towards 1 and 0, not log-odds, so its softmax is flat and sits to the left.)
"""

figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
epochs = np.arange(1, EPOCHS + 1)
bins = np.logspace(-7, 0, 29)
for name in LOSSES:
    accuracy = np.array([runs[name, seed]["accuracy"] for seed in range(SEEDS)])
    mean, std = accuracy.mean(axis=0), accuracy.std(axis=0)
    left.plot(epochs, mean, marker="o", label=name)
    left.fill_between(epochs, mean - std, mean + std, alpha=0.2)
    probability = np.concatenate([runs[name, seed]["true_class_probability"] for seed in range(SEEDS)])
    right.hist(np.clip(1 - probability, 1e-7, 1), bins=bins, histtype="step", linewidth=1.5, label=name)
left.set(xlabel="epoch", ylabel="test accuracy", title=f"Test accuracy, mean ± std over {SEEDS} seeds")
right.set(xscale="log", xlabel="1 − probability of the true class (log scale)", ylabel="test images, all seeds")
right.set(title="How confident each model is on the true class")
for axes in (left, right):
    axes.grid(alpha=0.3)
    axes.legend()
plt.show()

"""
## Summary
"""

for name in LOSSES:
    accuracy = [final_accuracy[name, seed] for seed in range(SEEDS)]
    print(f"{name}: test accuracy {np.mean(accuracy):.4f} ± {np.std(accuracy):.4f} over {SEEDS} seeds")

"""
What the papers report at full scale (200 epochs, more seeds): the square loss close to cross-entropy on
vision; the conservative encouraging loss slightly ahead of it on CIFAR and ImageNet. Ten epochs and two seeds
will usually say *no detectable difference*, and tell you how many seeds would: that is the honest answer at
this budget.
"""
