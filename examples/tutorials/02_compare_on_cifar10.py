"""
Title: Square loss, encouraging loss and cross-entropy on CIFAR-10
Author: keras-losses contributors
Date created: 2026/12/03
Last modified: 2026/12/03
Description: A ResNet50 on CIFAR-10 with three losses over two seeds, on any accelerator; the paired verdict.
Accelerator: GPU
"""

"""
## Introduction

Which loss should you train with? One run per loss cannot tell you: two seeds of the same loss differ by
more than many published gains. `keras_losses_experiments.comparison.compare` (the `keras-losses compare` command)
trains the same model on the same data with each loss and several seeds — seed `s` gives every loss the same
initial weights and the same order of batches — and compares each loss with cross-entropy **paired by seed**,
with a 95% confidence interval: *better*, *worse*, or *no detectable difference with n seeds*.

Here: CIFAR-10, `keras.applications.ResNet50` from scratch (linear head), the standard CIFAR recipe (SGD
with Nesterov momentum, cosine decay, weight decay 5e-4, pad-and-crop and flip augmentation) shortened to
10 epochs, three losses, two seeds:

- `ce` — cross-entropy, the baseline;
- `square` — the square loss (Hui & Belkin 2021) with the paper's `k = m = 1` for 10 classes;
- `encouraging:0.75` — the conservative encouraging loss (Zhao et al. 2022) with `log_end = 0.75`.

**Time (an estimate, not measured):** the 6 runs of 10 epochs take about 20–30 minutes on a Colab T4 GPU
and well under 10 minutes on an A100 or L4; downloading CIFAR-10 (160 MB) takes a minute. On a CPU, reduce
`EPOCHS` and use `MODEL = "cnn"`. The project's tests run this notebook offline on a few random images
(`KERAS_LOSSES_TUTORIAL_TINY=1`) in about 30 seconds.

**Accelerator:** `strategy="auto"` uses what the runtime has: a TPU (TensorFlow backend), all the GPUs of
the machine, or the CPU. In Colab choose *Runtime → Change runtime type → GPU* (or TPU).
"""

"""
## Setup

Install the package with its experiment extras (TensorFlow Datasets, matplotlib, ...) if the runtime
lacks it: `pip install "keras-losses[experiments]"` (from a wheel built with `python -m build`, or from
the repository).
"""

import os

TINY = os.environ.get("KERAS_LOSSES_TUTORIAL_TINY") == "1"

import keras
from IPython.display import Image, Markdown, display

from keras_losses_experiments.comparison import report
from keras_losses_experiments.comparison.compare import Settings, compare

print(f"Keras {keras.__version__} on {keras.backend.backend()}")

"""
## The settings

Every field of `Settings` is a flag of `keras-losses compare`; `None` keeps the data set's recipe. The tiny
settings (for the tests) train a three-convolution network on 16 random images of CIFAR-10's format
(`mock_data`, no download) for two steps.
"""

if TINY:
    settings = Settings(
        dataset="cifar10",
        model="cnn",
        losses="ce,square,encouraging:0.75",
        seeds=2,
        epochs=1,
        steps_per_epoch=2,
        batch_size=8,
        mock_data=16,
        image_size=16,
        strategy="auto",
        output_dir="compare-cifar10-tiny",
        progress=False,
    )
else:
    settings = Settings(
        dataset="cifar10",
        model="resnet50",
        losses="ce,square,encouraging:0.75",
        seeds=2,
        epochs=10,
        strategy="auto",
        output_dir="compare-cifar10",
    )

"""
The same from a terminal (or a notebook cell starting with `!`):

```bash
keras-losses compare --dataset cifar10 --model resnet50 --losses ce,square,encouraging:0.75 \
    --seeds 2 --epochs 10 --strategy auto --output-dir compare-cifar10
```

## Train

Each finished (loss, seed) run is saved in `output_dir` at once: if the runtime disconnects, run the cell
again and only the missing runs are trained (an interrupted run resumes from its last epoch). To add seeds
later, raise `seeds` and run again.
"""

summary = compare(settings)

"""
## The verdict

Each loss against cross-entropy on test accuracy: the mean of the per-seed differences, its 95% paired
t interval, and how many seeds would resolve a difference of that size. Two seeds resolve only large
differences; the report lists every metric (NLL, expected calibration error, both also at a fitted
temperature).
"""

for line in report.verdict_lines(summary):
    print(line)
print(f"best mean test accuracy: {summary['best']}")

"""
## The plots

Left: test accuracy per epoch, mean ± standard deviation over seeds. Right: the distribution of the
probability each model gives to the true class on the test set — the encouraging-loss paper's point: its
models keep pushing well-classified examples towards probability 1. (The square-loss model's outputs are
trained towards 1 and 0, not log-odds, so its softmax is flat and sits to the left.)
"""

display(Image(filename=os.path.join(settings.output_dir, "comparison.png")))

"""
## The whole report

`report.md` holds the configuration, the table of every metric (mean ± std over seeds), every verdict with
its interval, and the plot; `results.json`, `runs.csv`, `summary.csv` and `verdicts.csv` hold the numbers.
"""

with open(summary["report"], encoding="utf-8") as handle:
    display(Markdown(handle.read().replace("](comparison.png)", f"]({settings.output_dir}/comparison.png)")))

"""
## Summary
"""

for row in summary["losses"]:
    mean, std = row["accuracy_mean"], row["accuracy_std"]
    print(f"{row['loss']}: test accuracy {mean:.4f} ± {std:.4f} over {row['seeds']} seeds")

"""
What the papers report at full scale (200 epochs, more seeds): the square loss close to cross-entropy on
vision; the conservative encouraging loss slightly ahead of it on CIFAR and ImageNet. Ten epochs and two seeds
will usually say *no detectable difference*, and tell you how many seeds would: that is the honest answer at
this budget. Run `compare` on your own data with `Settings(data="my_data.npz", ...)`.
"""
