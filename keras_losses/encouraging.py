"""Encouraging loss and conservative encouraging loss (Zhao et al., AAAI 2022, arXiv 2110.06537)."""

import math

from keras import ops

from keras_losses.labels import standardize_labels
from keras_losses.loss import ClassificationLoss
from keras_losses.predictions import log_probabilities, resolve_logits
from keras_losses.validation import check_label_arguments, check_range

#: Lower clamp on `1 - p` inside the bonus, as in the authors' published implementation:
#: the bonus is bounded below by log(1e-5) ~ -11.51 and its gradient is zero there.
BONUS_EPSILON = 1e-5


def _check(log_end, label_smoothing, ignore_class, conservative=False):
    log_end = check_range("log_end", log_end, 0.0, 1.0, high_closed=not conservative)
    return (log_end, *check_label_arguments(label_smoothing, ignore_class))


def bonus(log_p, log_end=1.0):
    """The bonus `b(p)` for probabilities given as `log_p` (element-wise).

    `b(p) = log(max(1 - p, 1e-5))` up to `log_end`; beyond it (only when
    `log_end < 1`), the tangent line `log(1 - LE) - (p - LE) / (1 - LE)`.
    `1 - p` is computed as `-expm1(log p)`, exact as `p` approaches 1, and both
    branches stay finite so that neither poisons the gradient. The clamp is a
    `where` on a constant of the input's dtype: `ops.maximum` and Python floats return
    float32 for float64 input on PyTorch.
    """
    one_minus_p = -ops.expm1(log_p)
    epsilon = ops.convert_to_tensor(BONUS_EPSILON, one_minus_p.dtype)
    log_part = ops.log(ops.where(one_minus_p > epsilon, one_minus_p, epsilon))
    if log_end == 1.0:
        return log_part
    p = ops.exp(log_p)
    tangent = math.log(1.0 - log_end) - (p - log_end) / (1.0 - log_end)
    return ops.where(p > log_end, tangent, log_part)


def encouraging_loss(y_true, y_pred, *, log_end=1.0, from_logits=False, label_smoothing=0.0, ignore_class=None):
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
        log_end: float in (0, 1] (keyword-only). Where the bonus turns into its tangent line.
        from_logits: bool (keyword-only), whether `y_pred` holds logits. On TensorFlow
            and PyTorch a softmax output is recognised and its logits are used, as
            Keras' cross-entropies do; on JAX it is taken as probabilities (as in
            Keras' JAX cross-entropies), in eager mode and under `jax.jit` alike.
        label_smoothing: float in [0, 1) (keyword-only): `q = (1 - s) * onehot(y) + s / C`.
        ignore_class: optional int (keyword-only), for class-id labels: entries
            with that label contribute 0 and are masked out of the mean.

    Returns:
        The loss per example, shape `y_pred.shape[:-1]`, in the dtype of `y_pred`
        (float32 for float16/bfloat16).

    Example:

    >>> import numpy as np, keras_losses
    >>> logits = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]], "float32")
    >>> loss = keras_losses.encouraging_loss([0, 1], logits, from_logits=True)
    >>> [round(float(v), 3) for v in loss]
    [-1.687, -2.307]

    References:
        - [Zhao et al., 2022. Well-Classified Examples Are Underestimated in Classification with
          Deep Neural Networks](https://arxiv.org/abs/2110.06537)
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
    return labels.mask_ignored(per_example)


class EncouragingLoss(ClassificationLoss):
    """Encouraging loss (Zhao et al., AAAI 2022) as a `keras.losses.Loss`.

    See `encouraging_loss` for the formula. `log_end=1` (default) is the plain
    encouraging loss, `0 < log_end < 1` the conservative one.

    Args:
        log_end: float in (0, 1]; 1 for the plain encouraging loss.
        from_logits: whether `y_pred` holds logits (Keras' default: False).
        label_smoothing: float in [0, 1).
        ignore_class: optional int; ignored entries are masked out of the mean.
        mean_over_global_batch: bool. If True, the loss is `sum_i w_i * l_i / #valid entries`
            over the whole global batch of the step (the count summed over `tf.distribute`
            replicas) instead of Keras' per-replica mean; equal on one device. Needs
            `reduction` "sum_over_batch_size" or "mean".
        reduction: any of Keras' reductions. Defaults to `"sum_over_batch_size"`.
        name: name of the loss instance.
        dtype: dtype of the loss computation (Keras' `Loss` semantics).

    Every argument is also a public attribute of the same name.

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
        mean_over_global_batch=False,
        reduction="sum_over_batch_size",
        name="encouraging_loss",
        dtype=None,
    ):
        super().__init__(mean_over_global_batch=mean_over_global_batch, reduction=reduction, name=name, dtype=dtype)
        self.log_end, self.label_smoothing, self.ignore_class = _check(log_end, label_smoothing, ignore_class)
        self.from_logits = bool(from_logits)


class ConservativeEncouragingLoss(EncouragingLoss):
    """Conservative encouraging loss (Zhao et al., AAAI 2022): the bonus follows its tangent beyond `log_end`.

    The same loss as `EncouragingLoss(log_end=...)` with `log_end` in (0, 1),
    under its own name; the paper uses `log_end=0.75` (default) and 0.5.
    See `encouraging_loss` for the formula.

    Args:
        log_end: float in (0, 1), where the bonus turns into its tangent line. Defaults to 0.75.
        from_logits: whether `y_pred` holds logits (Keras' default: False).
        label_smoothing: float in [0, 1).
        ignore_class: optional int; ignored entries are masked out of the mean.
        mean_over_global_batch: bool. If True, the loss is `sum_i w_i * l_i / #valid entries`
            over the whole global batch of the step (the count summed over `tf.distribute`
            replicas) instead of Keras' per-replica mean; equal on one device. Needs
            `reduction` "sum_over_batch_size" or "mean".
        reduction: any of Keras' reductions. Defaults to `"sum_over_batch_size"`.
        name: name of the loss instance.
        dtype: dtype of the loss computation (Keras' `Loss` semantics).

    Every argument is also a public attribute of the same name.

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
        mean_over_global_batch=False,
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
            mean_over_global_batch=mean_over_global_batch,
            reduction=reduction,
            name=name,
            dtype=dtype,
        )
