"""Class-id labels against `[..., C]` predictions, one row per example: the true class's entries, read and written.

The fused kernels (`fused_softmax.py`, `fused_squares.py`) work on `rows` of shape `[M, C]` (the leading axes
flattened) with the class ids as a column `[M, 1]`, and keep every per-example quantity as a column too, so
that it broadcasts against the rows without reshaping (each reshape or slice is one more kernel launch in
TensorFlow's graph mode). Their gradients are one element-wise expression over the rows with the true
class's entries written afterwards by a scatter of one value per row: no one-hot `[M, C]` tensor is built.
"""

from keras import ops

from keras_losses.labels import num_classes


def as_rows(y_pred, ids):
    """`(rows [M, C], ids [M, 1], C)`: the leading axes flattened; `C` may be known at run time only."""
    classes = num_classes(y_pred)
    rows = y_pred if len(y_pred.shape) == 2 else ops.reshape(y_pred, (-1, classes))
    return rows, ops.reshape(ids, (-1, 1)), classes


def as_labels_shape(columns, ids):
    """Per-example values `[M, 1]` back in the shape of the class ids."""
    return ops.reshape(columns, ops.shape(ids))


def true_class_values(rows, ids):
    """`rows[i, ids[i]]` for every row `i`, as a column `[M, 1]`."""
    return ops.take_along_axis(rows, ids, axis=-1)


def with_true_class(rows, ids, values):
    """`rows` with `rows[i, ids[i]]` replaced by `values[i]` (`values` a column `[M, 1]`).

    A scatter of one value per row: TensorFlow and XLA write it into the buffer of `rows` in place (graph
    mode forwards the buffer, XLA aliases it), where a `where(iota == y, ...)` is one more pass over the
    `[M, C]` tensor in TensorFlow's graph mode.
    """
    positions = ops.concatenate([ops.arange(ops.shape(ids)[0], dtype="int32")[:, None], ids], axis=1)
    return ops.scatter_update(rows, positions, ops.reshape(values, (-1,)))
