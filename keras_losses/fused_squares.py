"""The square terms of the square loss and squentropy for class-id labels, with a fused gradient."""

from keras import ops

from keras_losses.labels import num_classes


def sparse_sum_of_squares(z, ids, true_weight, true_target):
    """Per example `sum_{i != y} z_i^2 + true_weight * (z_y - true_target)^2`, with a fused gradient.

    The gradient `2 * w_i * (z_i - t_i)` is written as one element-wise expression (a `where` on the
    true class), where autodiff would add a scatter of the gathered value and a broadcast of the row
    sum; XLA fuses it into a single pass. The true-class value is gathered from the flattened logits.
    The class count may be known at run time only.
    """
    classes = num_classes(z)
    rows = ops.reshape(z, (-1, classes))
    flat_ids = ops.reshape(ids, (-1,))
    index = ops.arange(ops.shape(flat_ids)[0], dtype="int32") * classes + flat_ids

    @ops.custom_gradient
    def total(rows):
        true_value = ops.take(ops.reshape(rows, (-1,)), index)
        true_term = true_weight * ops.square(true_value - true_target) - ops.square(true_value)
        value = ops.sum(ops.square(rows), axis=-1) + true_term

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            scale = 2.0 * upstream
            is_true = ops.equal(ops.arange(classes, dtype="int32")[None, :], flat_ids[:, None])
            true_grad = scale * true_weight * (true_value - true_target)
            return ops.where(is_true, true_grad[:, None], scale[:, None] * rows)

        return value, grad

    return ops.reshape(total(rows), ops.shape(ids))
