"""Class-id labels against `[..., C]` predictions, one row per example: the true class's entries, read and written.

The fused kernels (`fused_softmax.py`, `fused_squares.py`) work on `rows` of shape `[M, C]` (the leading axes
flattened) and `ids` of shape `[M]`. Their gradients are one element-wise expression over the row with the
true class's entry written afterwards by a scatter of one value per row: no one-hot `[M, C]` tensor is built.
"""

from keras import ops

from keras_losses.labels import num_classes


def as_rows(y_pred, ids):
    """`(rows [M, C], ids [M], C)`: the leading axes flattened; `C` may be known at run time only."""
    classes = num_classes(y_pred)
    return ops.reshape(y_pred, (-1, classes)), ops.reshape(ids, (-1,)), classes


def true_class_values(rows, ids):
    """`rows[i, ids[i]]` for every row `i`."""
    return ops.take_along_axis(rows, ids[:, None], axis=-1)[:, 0]


def with_true_class(rows, ids, values):
    """`rows` with `rows[i, ids[i]]` replaced by `values[i]`.

    A scatter of one value per row: TensorFlow and XLA write it into the buffer of `rows` in place (graph
    mode forwards the buffer, XLA aliases it), where a `where(iota == y, ...)` is one more pass over the
    `[M, C]` tensor in TensorFlow's graph mode.
    """
    positions = ops.stack([ops.arange(ops.shape(ids)[0], dtype="int32"), ids], axis=1)
    return ops.scatter_update(rows, positions, values)
