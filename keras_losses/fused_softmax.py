"""The softmax losses for class-id labels in one kernel with a closed-form gradient.

Cross-entropy with or without label smoothing, squentropy's square term and the encouraging loss's bonus,
for `p = softmax(z)`, true class `y`, label smoothing `s` (`q = (1 - s) * onehot(y) + s / C`, never built),
a bonus `b(p)` with slope `g(p) = 1 - p * b'(p)` (`b = 0`, `g = 1` without one) and a square weight `w`:

    l(z, y)  = sum_i q_i * (-log p_i + b(p_i))  +  w * sum_i (1 - q_i) * z_i^2
    dl/dz_j  = p_j * sum_i q_i g_i  -  q_j g_j  +  2 w (1 - q_j) z_j

(from `d log p_i / d z_j = [i == j] - p_j`). Spelled out per class, with `G = sum_i g_i`:

    j != y:  ((1 - s) g_y + (s/C) G) * p_j  -  (s/C) g_j  +  2 w (1 - s/C) z_j
    j == y:  (1 - s) g_y (p_y - 1)  +  (s/C) (G p_y - g_y)  +  2 w (s - s/C) z_y

`p_y - 1` is `expm1(log p_y)`, exact as `p_y` nears 1. The forward reduces each row a few times
(max and sum of `exp(z - max)`, which it keeps for the backward; the sums of `z` and `z^2` when smoothing or
squares ask for them; the slopes `g_j` of every class, kept too, only when smoothing meets a bonus); the
backward is one element-wise pass, `p_j = exp(z_j - max) / sum` times a number per row (plus `g_j` and
`z_j` terms), followed by a scatter of the true class's entries (`class_rows.with_true_class`). Nothing of
size `[N, C]` is built from the labels. Under XLA the gradient is one loop over the logits; in TensorFlow's
graph mode (one kernel per operation) the unsmoothed gradient is one multiplication and a scatter, as
Keras' fused cross-entropy's is.
"""

import keras
from keras import ops
from keras.backend import standardize_dtype

from keras_losses.class_rows import as_labels_shape, as_rows, true_class_values, with_true_class
from keras_losses.labels import reciprocal


def class_bonus(bonus, rows, row_max, shifted_exp, total, log_sum):
    """`(g(p_j) for every class [M, C], sum_j b(p_j) [M, 1])`, with `p = shifted_exp / total` (`total` [M, 1]).

    `1 - p` is exact for every class: the largest class's (the only one that can exceed 1/2) comes from
    `-expm1(-log_sum)`, once per row; the others' `1 - p` lose nothing for `p <= 1/2`. When the bonus is
    `log(1 - p)` up to 1/2 (`bonus.log_part_covers_half`: the plain and the paper's conservative losses),
    every class but the largest has `b = -log g`, so `sum_j b_j = b_top + log g_top - log prod_j g_j`, and the
    slopes are the only `[M, C]` tensor the sum needs. (On JAX, whose XLA lowers a product over the classes to
    a tree of reduce-windows, the sum of their logarithms: 10% of the training step faster at [4096, 32000],
    where TensorFlow's XLA is faster with the product.) The product cannot overflow: `prod (1 - p_j) >=
    4 ** -sum p_j >= 1/4` over the classes with `p_j <= 1/2`, and the largest class's `g` is at most
    `max(1e5, 1 + 1 / (1 - LE))`. (`ops.prod` is given the dtype: it returns float32 for float64 on PyTorch.)
    """
    is_top = ops.equal(rows, row_max)
    p_top, one_minus_p_top = 1.0 / total, -ops.expm1(-log_sum)
    slope_top = bonus.slope(p_top, one_minus_p_top)
    if bonus.log_part_covers_half:
        slopes = ops.where(is_top, slope_top, total / (total - shifted_exp))
        if keras.backend.backend() == "jax":  # its XLA makes a product over the classes a slow reduce-window tree
            log_product = ops.sum(ops.log(slopes), axis=-1, keepdims=True)
        else:
            log_product = ops.log(ops.prod(slopes, axis=-1, keepdims=True, dtype=standardize_dtype(slopes.dtype)))
        return slopes, bonus.value(p_top, one_minus_p_top) + ops.log(slope_top) - log_product
    p = shifted_exp / total
    one_minus_p = ops.where(is_top, one_minus_p_top, 1.0 - p)
    return bonus.slope(p, one_minus_p), ops.sum(bonus.value(p, one_minus_p), axis=-1, keepdims=True)


def sparse_softmax_loss(y_pred, ids, *, label_smoothing=0.0, square_weight=None, bonus=None):
    """Per example `sum_i q_i * (-log p_i + b(p_i)) + w * sum_i (1 - q_i) * z_i^2` (see the module), fused.

    Args:
        y_pred: logits `[..., C]`, float32 or float64; `C` may be known at run time only.
        ids: int32 class ids, `y_pred.shape[:-1]`, in `[0, C)`.
        label_smoothing: float in [0, 1).
        square_weight: None (no square term) or `w`, a Python float or a scalar tensor of `y_pred`'s dtype.
        bonus: None, or an object (e.g. `encouraging.Bonus`) with methods `value(p, one_minus_p)` and
            `slope(p, one_minus_p)`, `b(p)` and `g(p)` element-wise, finite for every `p` in [0, 1], and the
            attribute `log_part_covers_half` (True when `b(p) = log(1 - p)` for every `p <= 1/2`).

    Returns:
        The loss per example, shape `ids.shape`.
    """
    rows, column_ids, classes = as_rows(y_pred, ids)

    @ops.custom_gradient
    def per_row(rows):
        return softmax_rows(rows, column_ids, classes, label_smoothing, square_weight, bonus)

    return as_labels_shape(per_row(rows), ids)


def softmax_rows(rows, column_ids, classes, label_smoothing=0.0, square_weight=None, bonus=None):
    """`(value [M, 1], gradient)` of the module's loss on `rows [M, C]` with class ids `column_ids [M, 1]`.

    `gradient(upstream)` (`upstream` a column `[M, 1]`, or a scalar) returns `upstream * dl/dz`, `[M, C]`. It is
    the body of `sparse_softmax_loss`'s custom gradient, and the per-chunk kernel of `loss_head`, which calls
    the gradient in its forward pass with the rows' weights as the upstream. `classes` is `C` (an int, or a
    scalar tensor when known at run time only).
    """
    s = label_smoothing
    per_class = reciprocal(classes, rows.dtype)
    share = s * per_class  # s / C
    row_max = ops.max(rows, axis=-1, keepdims=True)  # per-row quantities are columns [M, 1]
    shifted_exp = ops.exp(rows - row_max)  # kept for the backward: p = shifted_exp / total
    total = ops.sum(shifted_exp, axis=-1, keepdims=True)
    log_sum = ops.log(total)
    true_logit = true_class_values(rows, column_ids)
    log_p_true = (true_logit - row_max) - log_sum  # exact as p_y nears 1, as in Keras' kernels
    p_true, one_minus_p_true = ops.exp(log_p_true), -ops.expm1(log_p_true)
    value = -(1.0 - s) * log_p_true
    if s:  # (s/C) sum_i -log p_i; `ops.mean` would be float32 for float64 on JAX and PyTorch
        value = value + s * (row_max + log_sum - ops.sum(rows, axis=-1, keepdims=True) * per_class)
    slope_true, slopes = 1.0, None
    if bonus is not None:
        slope_true = bonus.slope(p_true, one_minus_p_true)
        value = value + (1.0 - s) * bonus.value(p_true, one_minus_p_true)
        if s:
            slopes, bonus_sum = class_bonus(bonus, rows, row_max, shifted_exp, total, log_sum)
            slope_sum = ops.sum(slopes, axis=-1, keepdims=True)
            value = value + share * bonus_sum
    if square_weight is not None:
        squares = ops.sum(ops.square(rows), axis=-1, keepdims=True)
        value = value + square_weight * ((1.0 - share) * squares - (1.0 - s) * ops.square(true_logit))

    def gradient(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        if bonus is None:  # sum_i q_i g_i = 1
            weighted = upstream
        else:  # g_y without smoothing
            weighted = upstream * (slope_true if slopes is None else (1.0 - s) * slope_true + share * slope_sum)
        if square_weight is None:
            other = (weighted / total) * shifted_exp
        else:  # z is read anyway: p from it, so that exp(z - max) need not stay alive until here
            other = weighted * ops.exp(rows - (row_max + log_sum))
            other = other + (2.0 * (1.0 - share) * square_weight * upstream) * rows
        true = -(1.0 - s) * slope_true * one_minus_p_true  # (1 - s) g_y (p_y - 1)
        if slopes is not None:
            other = other - (upstream * share) * slopes
            true = true + share * (slope_sum * p_true - slope_true)
        elif s:  # g = 1: (s/C) (G p_y - g_y) with G = C
            other = other - upstream * share
            true = true + s * p_true - share
        if square_weight is not None:
            true = true + 2.0 * (s - share) * square_weight * true_logit
        return with_true_class(other, column_ids, upstream * true)

    return value, gradient


class SoftmaxBlocks:
    """The module's loss from blocks of classes (the loss head's vocabulary blocks, `chunked_loss`'s
    `vocabulary_block`): per-row statistics that merge across blocks, then the value and each block's gradient.

    The statistics of a row are `(max, sum exp(z - max), z_y)`, plus `sum z` with smoothing and `sum z^2` with
    the square term: a log-sum-exp merged online (as Milakov & Gimelshein's online softmax) and sums. A bonus
    with smoothing needs `sum_i b(p_i)` and `sum_i g(p_i)`, which depend on the whole row's normaliser: a third
    pass, not provided (the losses refuse it). Same formulas as `softmax_rows` (see the module).
    """

    def __init__(self, classes, label_smoothing=0.0, square_weight=None, bonus=None):
        if bonus is not None and label_smoothing:
            raise ValueError("`SoftmaxBlocks` computes a bonus without label smoothing only.")
        self.classes, self.s, self.square_weight, self.bonus = classes, label_smoothing, square_weight, bonus

    def statistics(self, rows, true_mask, valid):
        """The statistics of `rows [M, B]` (a block of classes): `true_mask [M, B]` marks each row's true class,
        `valid [1, B]` (or None for all) the block's columns that count."""
        masked = rows if valid is None else ops.where(valid, rows, float("-inf"))
        row_max = ops.max(masked, axis=-1, keepdims=True)
        stats = [row_max, ops.sum(ops.exp(masked - row_max), axis=-1, keepdims=True)]
        stats.append(ops.sum(ops.where(true_mask, rows, 0.0), axis=-1, keepdims=True))
        counted = rows if valid is None else ops.where(valid, rows, 0.0)
        if self.s:
            stats.append(ops.sum(counted, axis=-1, keepdims=True))
        if self.square_weight is not None:
            stats.append(ops.sum(ops.square(counted), axis=-1, keepdims=True))
        return tuple(stats)

    @staticmethod
    def merge(a, b):
        """The statistics of two blocks' classes together."""
        row_max = ops.maximum(a[0], b[0])
        total = a[1] * ops.exp(a[0] - row_max) + b[1] * ops.exp(b[0] - row_max)
        return (row_max, total, *(x + y for x, y in zip(a[2:], b[2:])))

    def _parts(self, stats):
        row_max, total, true_logit = stats[:3]
        log_sum = ops.log(total)
        log_p_true = (true_logit - row_max) - log_sum
        p_true, one_minus_p_true = ops.exp(log_p_true), -ops.expm1(log_p_true)
        slope_true = 1.0 if self.bonus is None else self.bonus.slope(p_true, one_minus_p_true)
        return row_max + log_sum, log_p_true, p_true, one_minus_p_true, slope_true

    def value(self, stats):
        """The loss of each row `[M, 1]` from its statistics over all the classes."""
        s, share = self.s, self.s * reciprocal(self.classes, stats[0].dtype)
        log_norm, log_p_true, p_true, one_minus_p_true, _ = self._parts(stats)
        value = -(1.0 - s) * log_p_true
        if s:
            value = value + s * (log_norm - stats[3] * reciprocal(self.classes, stats[0].dtype))
        if self.bonus is not None:
            value = value + self.bonus.value(p_true, one_minus_p_true)
        if self.square_weight is not None:
            value = value + self.square_weight * ((1.0 - share) * stats[-1] - (1.0 - s) * ops.square(stats[2]))
        return value

    def gradient(self, stats, rows, true_mask, upstream):
        """`upstream * dl/dz` on the block `rows [M, B]` (`upstream` a column `[M, 1]`)."""
        s, w = self.s, self.square_weight
        share = s * reciprocal(self.classes, rows.dtype)
        log_norm, _, p_true, one_minus_p_true, slope_true = self._parts(stats)
        other = (upstream * slope_true) * ops.exp(rows - log_norm)
        true = -(1.0 - s) * slope_true * one_minus_p_true
        if s:
            other = other - upstream * share
            true = true + s * p_true - share
        if w is not None:
            other = other + (2.0 * (1.0 - share) * w * upstream) * rows
            true = true + 2.0 * (s - share) * w * stats[2]
        return ops.where(true_mask, upstream * true, other)
