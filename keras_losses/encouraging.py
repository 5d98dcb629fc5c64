"""Encouraging loss and conservative encouraging loss (Zhao et al., AAAI 2022, arXiv 2110.06537)."""

import math

from keras import ops

from keras_losses.fused_softmax import SoftmaxBlocks, softmax_rows, sparse_softmax_loss
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


class Bonus:
    """The bonus `b(p)` and its gradient factor `g(p) = 1 - p * b'(p)`, element-wise from `p` and `1 - p`.

        b(p) = log(max(1 - p, 1e-5))                 p <= LE
        b(p) = log(1 - LE) - (p - LE) / (1 - LE)     p >  LE = log_end   (only when log_end < 1)

        g(p) = 1 / (1 - p)           on the log part, 1 - p > 1e-5        (b' = -1 / (1 - p))
        g(p) = 1                     where the clamp holds, 1 - p <= 1e-5  (b' = 0)
        g(p) = 1 + p / (1 - LE)      on the tangent, p > LE               (b' = -1 / (1 - LE))

    `dl/dz = g(p_y) * (softmax(z) - onehot(y))` for `l = -log p_y + b(p_y)`. `1 - p` is given by the caller,
    exact as `p` nears 1 (e.g. `-expm1(log p)`). Every branch stays finite for `p` in [0, 1] (`g <= 1e5` on
    the log part), so that no untaken branch poisons a gradient. The clamp is a `where` on a constant of
    the input's dtype: `ops.maximum` and Python floats return float32 for float64 input on PyTorch.
    """

    def __init__(self, log_end=1.0):
        self.log_end = log_end
        #: `b(p) = log(1 - p)` (unclamped) for every `p <= 1/2`: only the largest class can leave the log part.
        self.log_part_covers_half = log_end >= 0.5

    def _clamped(self, one_minus_p):
        epsilon = ops.convert_to_tensor(BONUS_EPSILON, one_minus_p.dtype)
        unclamped = one_minus_p > epsilon
        return ops.where(unclamped, one_minus_p, epsilon), unclamped

    def value(self, p, one_minus_p):
        value = ops.log(self._clamped(one_minus_p)[0])
        if self.log_end == 1.0:
            return value
        tangent = math.log(1.0 - self.log_end) - (p - self.log_end) / (1.0 - self.log_end)
        return ops.where(p > self.log_end, tangent, value)

    def slope(self, p, one_minus_p):
        clamped, unclamped = self._clamped(one_minus_p)
        slope = ops.where(unclamped, 1.0 / clamped, ops.ones_like(clamped))
        if self.log_end == 1.0:
            return slope
        return ops.where(p > self.log_end, 1.0 + p / (1.0 - self.log_end), slope)


def bonus(log_p, log_end=1.0):
    """The bonus `b(p)` for probabilities given as `log_p` (element-wise); `1 - p = -expm1(log p)`."""
    return Bonus(log_end).value(ops.exp(log_p) if log_end < 1.0 else None, -ops.expm1(log_p))


def encouraging_loss(y_true, y_pred, *, log_end=1.0, from_logits=False, label_smoothing=0.0, ignore_class=None):
    """Encouraging loss: cross-entropy plus a bonus that keeps rewarding well-classified examples.

    With `p = softmax(z)` and true class `y`:

        loss = -log p_y + b(p_y)
        b(p) = log(max(1 - p, 1e-5))                  if p <= log_end
        b(p) = log(1 - LE) - (p - LE) / (1 - LE)      if p >  log_end = LE

    `log_end=1` is the plain encouraging loss; `0 < log_end < 1` the
    conservative one (the paper uses 0.75 and 0.5). For dense or smoothed labels
    `q`: `loss = sum_i q_i * (-log p_i + b(p_i))`. The bonus is <= 0, so **the
    loss can be negative**: that is expected.

    With class-id labels the loss is one fused kernel (`fused_softmax.py`) whose
    gradient is in closed form, `g(p) = 1 - p * b'(p)` (see `Bonus`):

        dl/dz_j = g(p_y) * (p_j - [j == y])                                  (unsmoothed)
        dl/dz_j = (1 - s) g(p_y) (p_j - [j == y]) + (s/C) (p_j G - g(p_j))    (smoothing s)

    with `G = sum_i g(p_i)`: the smoothed loss `(1 - s) * EL(y) + (s/C) * sum_i
    (b(p_i) - log p_i)` differentiated with `d log p_i / dz_j = [i == j] - p_j`.
    No one-hot or smoothed `[..., C]` label tensor is built.

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

    Examples:

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
        # One fused kernel with the closed-form gradient g(p_y) * (softmax - onehot) (smoothed: see
        # fused_softmax.py); probabilities enter it as their logarithms.
        logits = y_pred if from_logits else log_probabilities(y_pred, from_logits)
        per_example = sparse_softmax_loss(logits, labels.ids, label_smoothing=labels.smoothing, bonus=Bonus(log_end))
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

    Examples:

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

    def row_kernel(self, classes):
        """The per-row kernel on logits (`ClassificationLoss.row_kernel`): `fused_softmax.softmax_rows` with the
        bonus."""
        bonus_ = Bonus(self.log_end)
        return lambda rows, ids: softmax_rows(rows, ids, classes, label_smoothing=self.label_smoothing, bonus=bonus_)

    def block_kernel(self, classes):
        """The loss from blocks of classes (`ClassificationLoss.block_kernel`): `fused_softmax.SoftmaxBlocks`,
        without label smoothing only (with it the loss sums the bonus of every class's probability, which needs
        the whole row's normaliser first: a third pass over the vocabulary)."""
        if self.label_smoothing:
            raise NotImplementedError(
                f"{type(self).__name__} with label smoothing cannot be computed in vocabulary blocks "
                f"(`vocabulary_block`): leave `vocabulary_block=None`. Received: label_smoothing={self.label_smoothing}"
            )
        return SoftmaxBlocks(classes, bonus=Bonus(self.log_end))


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

    Examples:

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
