"""Gradient accumulation as fairseq's `--update-freq N`: N batches, one update, normalised by their total size.

fairseq (`trainer.py`, `train_step`) sums the gradients of the summed losses of N batches and multiplies them
by `1 / sample_size`, the total number of target tokens of the N batches (sentences with `--sentence-avg`):
the update is that of the mean over all their tokens. Its learning-rate scheduler counts updates. The last
group of an epoch may hold fewer than N batches, and is an update of its own.

Keras' `gradient_accumulation_steps=N` averages the N batches' gradients and updates every N batches. Each
batch's loss is already a mean (over its valid tokens), so Keras' update is the mean of per-batch means: equal
to fairseq's when every batch has the same number of tokens (images in batches of B: N batches of B are one
batch of N * B), not when token counts differ (translation batches by a token budget). Three differences,
three pieces here:

- `accumulating(optimizer, N)`: the optimizer with `gradient_accumulation_steps=N` and its learning-rate
  schedule counting updates (`keras_losses.schedules.ScheduleOnUpdates`: Keras calls schedules with the
  number of batches);
- `weight_by_token_share(batches, N, ignore_class)`: every batch weighted by `N * n_b / T` (`n_b` its tokens,
  `T` those of its group of N), so that Keras' mean of the weighted per-batch means is the mean over the `T`
  tokens, fairseq's normalisation;
- the same function completes a last group of `k < N` batches with `N - k` copies of its last batch weighted
  0 (no gradient), so that it is one update of its own, normalised by its own tokens, as fairseq's.

What stays different: batch normalisation sees batches of B, not N * B (as in fairseq); the loss Keras logs
is the mean of the weighted per-batch losses; under `LossScaleOptimizer` a batch with non-finite gradients is
skipped alone (fairseq skips the whole update).
"""

import keras
import tensorflow as tf

from keras_losses.schedules import ScheduleOnUpdates


def _check_update_freq(update_freq):
    if not isinstance(update_freq, int) or isinstance(update_freq, bool) or update_freq < 1:
        raise ValueError(f"`update_freq` must be an integer >= 1. Received: update_freq={update_freq!r}")


def accumulating(optimizer, update_freq):
    """A copy of `optimizer` (not built yet) that updates once every `update_freq` batches, with the mean of
    their gradients, and whose learning-rate schedule counts updates.

    Args:
        optimizer: a `keras.optimizers.Optimizer` without gradient accumulation (wrap the result in
            `LossScaleOptimizer` for mixed precision, not the other way round).
        update_freq: integer >= 1, fairseq's `--update-freq` (1: the optimizer unchanged).

    Returns:
        The optimizer, from its config with `gradient_accumulation_steps=update_freq` and a schedule wrapped in
        `ScheduleOnUpdates` (a constant rate needs no wrapper).
    """
    _check_update_freq(update_freq)
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or optimizer.gradient_accumulation_steps:
        raise ValueError(
            "`accumulating` takes a plain optimizer without gradient accumulation (wrap the result in "
            f"LossScaleOptimizer). Received: {type(optimizer).__name__}"
        )
    if update_freq == 1:
        return optimizer
    config = optimizer.get_config()
    schedule = optimizer._learning_rate
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        config["learning_rate"] = ScheduleOnUpdates(schedule, update_freq)
    config["gradient_accumulation_steps"] = update_freq
    return type(optimizer).from_config(config)


def weight_by_token_share(batches, update_freq, ignore_class=None):
    """The batches with sample weights that turn Keras' accumulation into fairseq's normalisation.

    Every group of `update_freq` consecutive batches (the batches of one update) gets the weights
    `update_freq * n_b / T` on every entry of batch `b`, where `n_b` counts the labels of `b` that are not
    `ignore_class` and `T` those of the whole group; a loss that divides by the valid entries (the package's
    losses with `ignore_class`, Keras' masked mean) then gives, averaged over the group by Keras'
    `gradient_accumulation_steps=update_freq`, the sum of the losses of all `T` tokens divided by `T`. A last
    group of `k < update_freq` batches is completed with copies of its last batch of weight 0.

    Args:
        batches: a `tf.data.Dataset` of `(inputs, labels)` batches, labels of any shape (one per token for a
            translation model, one per example for a classifier); batches may differ in shape.
        update_freq: integer >= 1, the optimizer's `gradient_accumulation_steps`.
        ignore_class: the label of padding (not counted), or None (every label counts).

    Returns:
        A `tf.data.Dataset` of `(inputs, labels, sample_weight)`, `sample_weight` float32 of the labels' shape,
        whose length is a multiple of `update_freq`.
    """
    _check_update_freq(update_freq)
    spec = batches.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise ValueError(f"`batches` must hold (inputs, labels) pairs. Received elements of structure {spec}")

    def count(labels):
        if ignore_class is None:
            return tf.cast(tf.size(labels), tf.float32)
        return tf.reduce_sum(tf.cast(tf.not_equal(labels, ignore_class), tf.float32))

    def weighted_group(inputs, labels):
        group = tf.data.Dataset.zip((inputs, labels))
        size = labels.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1)
        total = tf.maximum(labels.reduce(0.0, lambda n, y: n + count(y)), 1.0)

        def weigh(share):
            return lambda x, y: (x, y, tf.fill(tf.shape(y), share(y)))

        real = group.map(weigh(lambda y: update_freq * count(y) / total))
        padding = group.skip(size - 1).repeat(update_freq - size).map(weigh(lambda y: 0.0))
        return real.concatenate(padding)

    weighted = batches.window(update_freq).flat_map(weighted_group)
    known = int(batches.cardinality())
    if known >= 0:  # keep a finite length known to Keras (it warns at the end of the first epoch otherwise)
        weighted = weighted.apply(tf.data.experimental.assert_cardinality(-(-known // update_freq) * update_freq))
    return weighted
