"""The square terms of the square loss for class-id labels, with a fused gradient."""

from keras import ops

from keras_losses.class_rows import as_labels_shape, as_rows, true_class_values, with_true_class


def sparse_sum_of_squares(z, ids, true_weight, true_target, other_weight=1.0, other_target=None):
    """Per example `sum_{i != y} w_o * (z_i - t_o)^2 + w_y * (z_y - t_y)^2`, with a fused gradient.

    `w_y, t_y` are `true_weight, true_target`; `w_o, t_o` (`other_weight, other_target`, None for 0) apply to
    every other class (1 and 0 without label smoothing). The gradient `2 * w_i * (z_i - t_i)` is one
    element-wise pass over the logits followed by a scatter of the true class's entries
    (`class_rows.with_true_class`), where autodiff would add a scatter of the gathered value and a broadcast
    of the row sum. The class count may be known at run time only.
    """
    rows, column_ids, _ = as_rows(z, ids)

    @ops.custom_gradient
    def total(rows):
        return squares_rows(rows, column_ids, true_weight, true_target, other_weight, other_target)

    return as_labels_shape(total(rows), ids)


def squares_rows(rows, column_ids, true_weight, true_target, other_weight=1.0, other_target=None):
    """`(value [M, 1], gradient)` of `sparse_sum_of_squares` on `rows [M, C]` with class ids `column_ids [M, 1]`.

    `gradient(upstream)` (a column `[M, 1]` or a scalar) returns `upstream * dl/dz`, `[M, C]`: the body of
    `sparse_sum_of_squares`'s custom gradient, and the per-chunk kernel of `loss_head`.
    """
    true_value = true_class_values(rows, column_ids)
    shifted = rows if other_target is None else rows - other_target
    others = other_weight * ops.sum(ops.square(shifted), axis=-1, keepdims=True)
    true_term = true_weight * ops.square(true_value - true_target)
    true_term = true_term - other_weight * ops.square(true_value if other_target is None else true_value - other_target)

    def gradient(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        scale = 2.0 * upstream
        other_grad = (scale * other_weight) * shifted
        return with_true_class(other_grad, column_ids, scale * true_weight * (true_value - true_target))

    return others + true_term, gradient


class SquaresBlocks:
    """`scale * squares_rows(...)` from blocks of classes (the loss head's vocabulary blocks): the statistics of
    a row are `(z_y, sum_i (z_i - t_o)^2)`, sums that merge across blocks; see `fused_softmax.SoftmaxBlocks`."""

    def __init__(self, true_weight, true_target, other_weight=1.0, other_target=None, scale=1.0):
        self.true_weight, self.true_target = true_weight, true_target
        self.other_weight, self.other_target, self.scale = other_weight, other_target, scale

    def _shifted(self, rows):
        return rows if self.other_target is None else rows - self.other_target

    def statistics(self, rows, true_mask, valid):
        """As `SoftmaxBlocks.statistics`."""
        squares = ops.square(self._shifted(rows))
        if valid is not None:
            squares = ops.where(valid, squares, 0.0)
        true_value = ops.sum(ops.where(true_mask, rows, 0.0), axis=-1, keepdims=True)
        return true_value, ops.sum(squares, axis=-1, keepdims=True)

    @staticmethod
    def merge(a, b):
        return tuple(x + y for x, y in zip(a, b))

    def value(self, stats):
        true_value, others = stats
        true_term = self.true_weight * ops.square(true_value - self.true_target)
        true_term = true_term - self.other_weight * ops.square(self._shifted(true_value))
        return self.scale * (self.other_weight * others + true_term)

    def gradient(self, stats, rows, true_mask, upstream):
        scale = 2.0 * self.scale * upstream
        true = scale * self.true_weight * (stats[0] - self.true_target)
        return ops.where(true_mask, true, (scale * self.other_weight) * self._shifted(rows))
