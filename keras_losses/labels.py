"""Label standardisation: sparse or dense labels, `ignore_class`, label smoothing.

Labels come in one of two forms, inferred from static shapes (`y_pred` has the classes on its last axis,
`C` of them, after any number of leading axes):

- sparse: integer class ids, shaped like `y_pred` without its last axis, or with a last axis of size 1;
- dense: one-hot or soft distributions, shaped exactly like `y_pred`.

The form is told from the ranks and from the last axis of `y_true`, so `C` itself may be unknown until
run time (`y_pred` of static shape `[None, None]` under `tf.function`), as in Keras' sparse
cross-entropy. Anything else raises `ValueError` naming both shapes, and so does a `y_true` of the rank
of `y_pred` whose last axis has no static size (sparse and dense cannot be told apart).
"""

from keras import ops

from keras_losses._keras_private import set_keras_mask
from keras_losses.inputs import as_tensor


def static_size(dimension):
    """A dimension's size if it is known now, else None (TensorFlow's None, JAX's symbolic sizes)."""
    return dimension if isinstance(dimension, int) else None


def num_classes(y_pred):
    """`C`: a Python int when static, else the backend's dynamic size (a scalar tensor on TensorFlow,
    a symbolic size under `jax.export`)."""
    size = static_size(y_pred.shape[-1])
    return size if size is not None else ops.shape(y_pred)[-1]


def divide_by(values, divisor):
    """`values / divisor` for a Python int or an integer tensor, in the dtype of `values`."""
    if isinstance(divisor, int):
        return values / divisor
    return values / ops.cast(divisor, values.dtype)


def reciprocal(count, dtype):
    """`1 / count` for a Python int (a Python float) or an integer tensor (a scalar of `dtype`)."""
    if isinstance(count, int):
        return 1.0 / count
    return 1.0 / ops.cast(count, dtype)


def _shapes(y_true, y_pred):
    return f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"


def _is_sparse(y_true, y_pred):
    """True for class-id labels, False for dense ones; raises when the form cannot be told or the shapes disagree."""
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    classes = static_size(y_pred.shape[-1]) if pred_rank else None
    if pred_rank < 1 or (classes is not None and classes < 2):
        raise ValueError(
            f"`y_pred` must have the classes on its last axis, at least 2 of them. Received: {_shapes(y_true, y_pred)}"
        )
    last = static_size(y_true.shape[-1]) if true_rank else None
    if true_rank == pred_rank - 1:
        sparse, leading = True, y_true.shape
    elif true_rank == pred_rank and last == 1:
        sparse, leading = True, y_true.shape[:-1]
    elif true_rank == pred_rank and last is not None and classes in (None, last):
        sparse, leading = False, y_true.shape[:-1]
    elif true_rank == pred_rank and last is None:
        raise ValueError(
            "Cannot tell sparse (class ids) from dense (one-hot) labels: `y_true` has the rank of `y_pred` and "
            f"its last axis has no static size. Give it a static size: 1 for class ids, C for one-hot labels. "
            f"Received: {_shapes(y_true, y_pred)}"
        )
    else:
        raise ValueError(
            "`y_true` must hold class ids shaped like `y_pred` without its last axis (or with a last "
            f"axis of 1), or one-hot/soft labels shaped like `y_pred`. Received: {_shapes(y_true, y_pred)}"
        )
    for true_dim, pred_dim in zip(leading, y_pred.shape[:-1]):
        true_dim, pred_dim = static_size(true_dim), static_size(pred_dim)
        if true_dim is not None and pred_dim is not None and true_dim != pred_dim:
            raise ValueError(
                f"`y_true` and `y_pred` disagree on their leading axes. Received: {_shapes(y_true, y_pred)}"
            )
    return sparse


def _static_values(x):
    """The values of `x` as NumPy when they are known now (eager), else None (traced)."""
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # symbolic TF tensor or JAX tracer: values are not known yet
        return None


def _check_class_ids(ids, classes, ignore_class):
    """Raises for class ids outside [0, C) when the values are known now (eager mode)."""
    values = _static_values(ids) if isinstance(classes, int) else None
    if values is None:
        return
    if ignore_class is not None:
        values = values[values != ignore_class]
    bad = values[(values < 0) | (values >= classes)]
    if bad.size:
        raise ValueError(
            f"`y_true` holds class ids outside [0, {classes}) (C={classes} classes): "
            f"found {sorted(set(bad.tolist()))[:5]}"
            + ("" if ignore_class is None else f" (ignore_class={ignore_class} is allowed)")
        )


class Labels:
    """Standardised labels: `ids` (int32 class ids) or `dense` (float distributions), never both.

    `smoothing` is the label smoothing the loss still has to apply to `ids` (`q = (1 - s) * onehot(y) + s / C`,
    in closed form, without building `q`); dense labels come already smoothed (`smoothing = 0`). `valid` is
    the boolean mask of the entries not equal to `ignore_class` (or None).
    """

    def __init__(self, ids=None, dense=None, valid=None, smoothing=0.0):
        self.ids, self.dense, self.valid, self.smoothing = ids, dense, valid, smoothing

    def mask_ignored(self, per_example):
        """Zeroes the entries whose label is `ignore_class` and attaches the mask Keras' reductions read."""
        if self.valid is None:
            return per_example
        per_example = ops.where(self.valid, per_example, ops.zeros_like(per_example))
        set_keras_mask(per_example, self.valid)
        return per_example


def smooth(dense, label_smoothing, classes):
    """`(1 - s) * q + s / C`."""
    return dense * (1.0 - label_smoothing) + label_smoothing * reciprocal(classes, dense.dtype)


def standardize_labels(y_true, y_pred, label_smoothing=0.0, ignore_class=None, dtype="float32"):
    """Infers the label form and applies `ignore_class` and label smoothing.

    Sparse labels stay sparse, smoothed or not: their smoothing `q = (1 - s) * onehot(y) + s / C` is left to
    the loss (`Labels.smoothing`), which never builds `q`. Dense labels are smoothed here. `ignore_class`
    applies to sparse labels only.
    """
    y_true = as_tensor(y_true)
    classes = num_classes(y_pred)
    if not _is_sparse(y_true, y_pred):
        if ignore_class is not None:
            raise ValueError(
                "`ignore_class` needs integer class-id labels, but `y_true` is dense (one-hot/soft). "
                f"Received: {_shapes(y_true, y_pred)}"
            )
        dense = ops.cast(y_true, dtype)
        return Labels(dense=smooth(dense, label_smoothing, classes) if label_smoothing else dense)

    if len(y_true.shape) == len(y_pred.shape):
        y_true = ops.squeeze(y_true, axis=-1)
    ids, valid = class_ids(y_true, classes, ignore_class)
    return Labels(ids=ids, valid=valid, smoothing=label_smoothing)


def class_ids(y_true, classes, ignore_class=None):
    """`(int32 ids, valid)` of sparse labels: checked against `[0, classes)` when known now, entries equal to
    `ignore_class` set to 0 and marked invalid (`valid` None without `ignore_class`)."""
    # `Loss.__call__` hands labels over as floats: class ids are exact up to 2**24.
    ids = ops.cast(y_true, "int32")
    _check_class_ids(ids, classes, ignore_class)
    if ignore_class is None:
        return ids, None
    valid = ops.not_equal(ids, ignore_class)
    return ops.where(valid, ids, ops.zeros_like(ids)), valid
