"""Encouraging loss and conservative encouraging loss (Zhao et al., AAAI 2022, arXiv 2110.06537)."""

import math

import keras
from keras import ops

from keras_losses.common import (
    ClassificationLoss,
    check_common,
    check_range,
    log_probabilities,
    resolve_logits,
    standardize_labels,
)

#: Lower clamp on `1 - p` inside the bonus, as in the authors' published implementation:
#: the bonus is bounded below by log(1e-5) ~ -11.51 and its gradient is zero there.
BONUS_EPSILON = 1e-5


def _check(log_end, label_smoothing, ignore_class, conservative=False):
    log_end = check_range("log_end", log_end, 0.0, 1.0, high_closed=not conservative)
    return (log_end, *check_common(label_smoothing, ignore_class))


def bonus(log_p, log_end=1.0):
    """The bonus `b(p)` for probabilities given as `log_p` (element-wise).

    `b(p) = log(max(1 - p, 1e-5))` up to `log_end`; beyond it (only when
    `log_end < 1`), the tangent line `log(1 - LE) - (p - LE) / (1 - LE)`.
    `1 - p` is computed as `-expm1(log p)`, exact as `p` approaches 1, and both
    branches stay finite so that neither poisons the gradient.
    """
    log_part = ops.log(ops.maximum(-ops.expm1(log_p), BONUS_EPSILON))
    if log_end == 1.0:
        return log_part
    p = ops.exp(log_p)
    tangent = math.log(1.0 - log_end) - (p - log_end) / (1.0 - log_end)
    return ops.where(p > log_end, tangent, log_part)


@keras.saving.register_keras_serializable(package="keras_losses")
def encouraging_loss(y_true, y_pred, log_end=1.0, from_logits=False, label_smoothing=0.0, ignore_class=None):
    """Encouraging loss: cross-entropy plus a bonus that keeps rewarding well-classified examples.

    With `p = softmax(z)` and true class `y`:

        loss = -log p_y + b(p_y)
        b(p) = log(max(1 - p, 1e-5))                  if p <= log_end
        b(p) = log(1 - LE) - (p - LE) / (1 - LE)      if p >  log_end = LE

    `log_end=1` is the plain encouraging loss; `0 < log_end < 1` the
    conservative one (the paper uses 0.75 and 0.5). For dense or smoothed labels
    `q`: `loss = sum_i q_i * (-log p_i + b(p_i))`. The bonus is <= 0, so **the
    loss can be negative**: that is expected. With sparse, unsmoothed labels it
    costs one fused cross-entropy plus a few operations per example.

    Args:
        y_true: class ids (shape of `y_pred` without its last axis, or with a
            last axis of 1) or one-hot/soft labels (shape of `y_pred`).
        y_pred: predictions `[..., C]`: probabilities, or logits with `from_logits=True`.
        log_end: float in (0, 1]. Where the bonus turns into its tangent line.
        from_logits: whether `y_pred` holds logits. A softmax output is
            recognised and its logits are used, as Keras' cross-entropy does.
        label_smoothing: float in [0, 1): `q = (1 - s) * onehot(y) + s / C`.
        ignore_class: optional int, for class-id labels: entries with that
            label contribute 0 and are masked out of the mean.

    Returns:
        The loss per example, shape `y_pred.shape[:-1]`, float32 for float16/bfloat16 inputs.

    Example:

    >>> import numpy as np, keras_losses
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]], "float32")
    >>> loss = keras_losses.encouraging_loss([0, 1], logits, from_logits=True)
    >>> [round(float(v), 3) for v in loss]
    [-1.687, -2.307]
    """
    log_end, label_smoothing, ignore_class = _check(log_end, label_smoothing, ignore_class)
    y_pred, from_logits = resolve_logits(y_pred, from_logits, "encouraging_loss")
    labels = standardize_labels(y_true, y_pred, label_smoothing, ignore_class, dtype=y_pred.dtype)
    if labels.ids is not None:
        # Through `nll = -log p_y` the gradient is g(p_y) * (softmax - onehot): the fused
        # cross-entropy kernel does all the [..., C] work, the bonus is per example.
        nll = ops.sparse_categorical_crossentropy(labels.ids, y_pred, from_logits=from_logits)
        nll = ops.cast(nll, y_pred.dtype)  # JAX with x64 on computes it in float64
        per_example = nll + bonus(-nll, log_end)
    else:
        log_p = log_probabilities(y_pred, from_logits)
        per_example = ops.sum(labels.dense * (bonus(log_p, log_end) - log_p), axis=-1)
    return labels.finish(per_example)


@keras.saving.register_keras_serializable(package="keras_losses")
class EncouragingLoss(ClassificationLoss):
    """Encouraging loss (Zhao et al., AAAI 2022) as a `keras.losses.Loss`.

    See `encouraging_loss` for the formula. `log_end=1` (default) is the plain
    encouraging loss, `0 < log_end < 1` the conservative one.

    Args:
        log_end: float in (0, 1]; 1 for the plain encouraging loss.
        from_logits: whether `y_pred` holds logits (Keras' default: False).
        label_smoothing: float in [0, 1).
        ignore_class: optional int; ignored entries are masked out of the mean.
        reduction: any of Keras' reductions. Defaults to `"sum_over_batch_size"`.
        name: name of the loss instance.
        dtype: dtype of the loss computation (Keras' `Loss` semantics).

    Example:

    >>> import keras, keras_losses
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model.compile("adam", loss=keras_losses.EncouragingLoss(from_logits=True))
    """

    fn = staticmethod(encouraging_loss)

    def __init__(
        self,
        log_end=1.0,
        from_logits=False,
        label_smoothing=0.0,
        ignore_class=None,
        reduction="sum_over_batch_size",
        name="encouraging_loss",
        dtype=None,
    ):
        log_end, label_smoothing, ignore_class = _check(log_end, label_smoothing, ignore_class)
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            log_end=log_end,
            from_logits=bool(from_logits),
            label_smoothing=label_smoothing,
            ignore_class=ignore_class,
        )


@keras.saving.register_keras_serializable(package="keras_losses")
class ConservativeEncouragingLoss(EncouragingLoss):
    """Conservative encouraging loss: the bonus follows its tangent beyond `log_end`.

    The same loss as `EncouragingLoss(log_end=...)` with `log_end` in (0, 1),
    under its own name; the paper uses `log_end=0.75` (default) and 0.5.

    Example:

    >>> import numpy as np, keras_losses
    >>> loss = keras_losses.ConservativeEncouragingLoss(log_end=0.5, from_logits=True)
    >>> round(float(loss([1], np.array([[0.0, 3.0, 0.0]], "float32"))), 3)
    -1.417
    """

    def __init__(
        self,
        log_end=0.75,
        from_logits=False,
        label_smoothing=0.0,
        ignore_class=None,
        reduction="sum_over_batch_size",
        name="conservative_encouraging_loss",
        dtype=None,
    ):
        _check(log_end, label_smoothing, ignore_class, conservative=True)
        super().__init__(
            log_end=log_end,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            ignore_class=ignore_class,
            reduction=reduction,
            name=name,
            dtype=dtype,
        )
