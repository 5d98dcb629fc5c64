"""
Title: The losses in five minutes
Author: keras-losses contributors
Date created: 2026/12/03
Last modified: 2026/12/03
Description: Each loss on a small data set: the curves, why the encouraging loss "encourages", save and reload.
Accelerator: None
"""

"""
## Introduction

keras-losses adds four classification losses to Keras 3, each a
`keras.losses.Loss` that you pass to `model.compile(loss=...)`:

- `SquareLoss` — Hui & Belkin, ICLR 2021: the square loss on the raw outputs, as good as cross-entropy;
- `EncouragingLoss` and `ConservativeEncouragingLoss` — Zhao et al., AAAI 2022: cross-entropy plus a
  bonus that keeps rewarding examples that are already classified well;
- `Squentropy` — Hui, Belkin & Wright, ICML 2023: cross-entropy plus the mean square of the wrong classes'
  outputs;
- and `CrossEntropy`, the baseline, under the same label conventions.

This tutorial trains the same small network on scikit-learn's handwritten digits (1,797 8×8 images that ship
with scikit-learn: nothing to download) once per loss, plots the training curves and the distribution of the
probability each model gives to the true class, and saves and reloads a model.

**Time:** under a minute — measured: 50 seconds for the whole notebook on this project's two-core CPU
machine (TensorFlow); a hosted notebook's CPU or GPU should be about as fast (an estimate, not measured). It
needs no accelerator.
"""

"""
## Setup

On Colab or Kaggle, install the package first (from a wheel built with `python -m build`, or from the
repository): `pip install "keras-losses[experiments]"`. The cell below checks that it is there.

`TINY` (set by the environment variable `KERAS_LOSSES_TUTORIAL_TINY=1`) shortens training so that the
project's tests run this notebook in seconds; leave it unset.
"""

import os

TINY = os.environ.get("KERAS_LOSSES_TUTORIAL_TINY") == "1"
EPOCHS = 2 if TINY else 40

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_losses

print(f"keras-losses {keras_losses.__version__}, Keras {keras.__version__} on {keras.backend.backend()}")

"""
## The data

Pixel values scaled to [0, 1]; labels are integer class ids (every loss also takes one-hot or soft labels).
"""

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
print(f"{len(x_train)} training and {len(x_test)} test images, {x.shape[1]} pixels, 10 classes")

"""
## One network, five losses

Every model has a **linear output layer**. The square loss and squentropy work on raw outputs; the
cross-entropy family is told so with `from_logits=True`. The hyper-parameters are the papers':
`k = m = 1` for the square loss below 42 classes, `log_end=0.75` for the conservative encouraging loss.
"""

LOSSES = {
    "cross-entropy": keras_losses.CrossEntropy(from_logits=True),
    "square": keras_losses.SquareLoss(),
    "encouraging": keras_losses.EncouragingLoss(from_logits=True),
    "conservative encouraging": keras_losses.ConservativeEncouragingLoss(log_end=0.75, from_logits=True),
    "squentropy": keras_losses.Squentropy(),
}


def make_model():
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),  # linear: raw outputs (logits)
        ]
    )


models, histories = {}, {}
for name, loss in LOSSES.items():
    keras.utils.set_random_seed(0)  # the same initial weights and batches for every loss
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=EPOCHS, batch_size=64, verbose=0)
    models[name], histories[name] = model, history.history
    print(f"{name:>25}: test accuracy {history.history['val_accuracy'][-1]:.4f}")

"""
## Training curves

The loss values are not comparable across losses (the square loss is a mean of squares, the encouraging
loss goes **negative** once the bonus outweighs the cross-entropy — that is expected), so the left panel
shows each loss relative to its first epoch; the right panel shows test accuracy.
"""

figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
epochs = np.arange(1, EPOCHS + 1)
for name, history in histories.items():
    loss = np.array(history["loss"])
    left.plot(epochs, loss - loss[0], label=name)
    right.plot(epochs, history["val_accuracy"], label=name)
left.set(xlabel="epoch", ylabel="training loss minus its first-epoch value", title="Training loss")
right.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy per epoch")
for axes in (left, right):
    axes.grid(alpha=0.3)
    axes.legend()
plt.show()

"""
## Why the encouraging loss "encourages"

Cross-entropy's gradient on an example vanishes as its true-class probability `p` approaches 1: well
classified examples stop contributing. The encouraging loss adds a bonus `log(1 - p)` (clamped at
`log(1e-5)`), so that the loss keeps falling, steeply, as `p` approaches 1; the conservative form follows the
bonus's tangent line beyond `log_end`. Here are the losses of one example of two classes as a function of `p`,
computed by the package's function forms:
"""

p = np.linspace(0.01, 0.999, 400)
logits = np.stack([np.log(p), np.log1p(-p)], axis=1).astype("float32")  # softmax(logits)[:, 0] == p
labels = np.zeros(len(p), "int32")
curves = {
    "cross-entropy": keras_losses.cross_entropy(labels, logits, from_logits=True),
    "encouraging": keras_losses.encouraging_loss(labels, logits, from_logits=True),
    "conservative encouraging (0.75)": keras_losses.encouraging_loss(labels, logits, log_end=0.75, from_logits=True),
}
plt.figure(figsize=(6, 4))
for name, values in curves.items():
    plt.plot(p, keras.ops.convert_to_numpy(values), label=name)
plt.axvline(0.75, color="gray", linestyle=":", label="log_end = 0.75")
plt.xlabel("probability of the true class, p")
plt.ylabel("loss of one example")
plt.title("Per-example loss against the true-class probability")
plt.grid(alpha=0.3)
plt.legend()
plt.show()

"""
The effect on the trained models: the distribution of the true-class probability on the test set. The
encouraging losses push more test examples towards `p = 1` than cross-entropy (the x-axis is `1 - p` on a log
scale: further left is more confident and correct). The square-loss model's outputs are trained towards 1
and 0, not towards log-odds, so its softmax is flat: its probabilities are not comparable with the others'.
"""

true_class_probability = {}
for name, model in models.items():
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(x_test, verbose=0)))
    true_class_probability[name] = probabilities[np.arange(len(y_test)), y_test]

bins = np.logspace(-7, 0, 29)
plt.figure(figsize=(7, 4))
for name, values in true_class_probability.items():
    plt.hist(np.clip(1 - values, 1e-7, 1), bins=bins, histtype="step", linewidth=1.5, label=name)
plt.xscale("log")
plt.xlabel("1 − probability of the true class (test set, log scale)")
plt.ylabel("test examples")
plt.title("How confident each model is on the true class")
plt.grid(alpha=0.3)
plt.legend()
plt.show()

for name, values in true_class_probability.items():
    print(f"{name:>25}: median true-class probability {np.median(values):.4f}")

"""
## Save and reload

Models save as usual. `import keras_losses` registers the losses with Keras, so
`keras.models.load_model` finds them — no `custom_objects` — and the loss comes back with its
hyper-parameters; training resumes where it stopped.
"""

path = "conservative_encouraging.keras"
models["conservative encouraging"].save(path)
reloaded = keras.models.load_model(path)
same = np.allclose(
    models["conservative encouraging"].predict(x_test, verbose=0), reloaded.predict(x_test, verbose=0), atol=1e-6
)
print(f"reloaded loss: {type(reloaded.loss).__name__}(log_end={reloaded.loss.log_end}), same predictions: {same}")

"""
## Summary
"""

best = max(histories, key=lambda name: histories[name]["val_accuracy"][-1])
for name, history in histories.items():
    print(f"{name}: test accuracy {history['val_accuracy'][-1]:.4f}")
print(f"best on this run: {best}")

"""
One run of one seed is no verdict: differences of a few test images are noise. `keras-losses compare` trains
every loss over several seeds and tells you which differences are real — the next tutorial does that on
CIFAR-10.
"""
