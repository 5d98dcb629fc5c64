"""What every loss of the package shares: label handling, validation, the base class.

Labels come in one of two forms, inferred from static shapes (`y_pred` has the
classes on its last axis, `C` of them, after any number of leading axes):

- sparse: integer class ids, shaped like `y_pred` without its last axis, or with
  a last axis of size 1;
- dense: one-hot or soft distributions, shaped exactly like `y_pred`.

Anything else, or a pair whose form cannot be told from the static shapes,
raises `ValueError` naming both shapes.
"""

import warnings

import keras
from keras import ops

# Keras' own private helper for attaching a mask to a loss tensor; it is what
# `keras.losses.SparseCategoricalCrossentropy(ignore_class=...)` uses, and the
# base `Loss.__call__` reads it back to average over valid entries only.
from keras.src.backend.common.masking import set_keras_mask

REDUCED_PRECISION = ("float16", "bfloat16")


def check_range(name, value, low, high, low_closed=False, high_closed=False):
    """Raises `ValueError` unless `low (<|<=) value (<|<=) high`."""
    above = value >= low if low_closed else value > low
    below = value <= high if high_closed else value < high
    if not (above and below):
        interval = ("[" if low_closed else "(") + f"{low}, {high}" + ("]" if high_closed else ")")
        raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value!r}")
    return float(value)


def check_common(label_smoothing, ignore_class):
    """Validates the arguments shared by every loss; returns them normalised."""
    label_smoothing = check_range("label_smoothing", label_smoothing, 0.0, 1.0, low_closed=True)
    if ignore_class is not None:
        if isinstance(ignore_class, bool) or int(ignore_class) != ignore_class:
            raise ValueError(f"`ignore_class` must be an integer or None. Received: ignore_class={ignore_class!r}")
        ignore_class = int(ignore_class)
    return label_smoothing, ignore_class


def upcast(x):
    """float16/bfloat16 tensors are computed in float32; wider ones as they are."""
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) in REDUCED_PRECISION:
        return ops.cast(x, "float32")
    return x


def softmax_input(y_pred):
    """The logits behind `y_pred` when it is the output of a softmax, else None.

    Keras' softmax activation caches its input on the output (`_keras_logits`,
    on backends whose tensors take attributes); in a TensorFlow graph a plain
    `Softmax` op is recognised by its type, as Keras' cross-entropy does.
    """
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is not None:
        return logits
    op = getattr(y_pred, "op", None)
    if getattr(op, "type", None) == "Softmax" and len(op.inputs) == 1:
        return op.inputs[0]
    return None


def resolve_logits(y_pred, from_logits, loss_name):
    """Returns `(y_pred, from_logits)`, swapping a softmax output for its logits.

    This is Keras' handling of softmax outputs in its cross-entropies: the loss is
    computed from the logits, which is exact where `log(softmax)` would underflow.
    """
    logits = softmax_input(y_pred)
    if logits is None:
        return upcast(y_pred), from_logits
    if from_logits:
        warnings.warn(
            f"`{loss_name}` received `from_logits=True`, but `y_pred` was produced by a softmax "
            "and thus does not represent logits; the softmax's input is used instead.",
            stacklevel=3,
        )
    return upcast(logits), True


def warn_if_softmax(y_pred, loss_name):
    """Losses on raw outputs (square loss, squentropy) warn when given a softmax output."""
    if softmax_input(y_pred) is not None:
        warnings.warn(
            f"`{loss_name}` is computed on the model's raw outputs, but `y_pred` was produced by a "
            "softmax. Use a linear output layer (`activation=None`) with this loss.",
            stacklevel=3,
        )


def log_probabilities(y_pred, from_logits):
    """Log-probabilities on the last axis, as Keras' categorical cross-entropy computes them."""
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    epsilon = keras.config.epsilon()
    return ops.log(ops.clip(y_pred, epsilon, 1.0 - epsilon))


def _static_values(x):
    """The values of `x` as NumPy when they are known now (eager), else None (traced)."""
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # symbolic TF tensor or JAX tracer: values are not known yet
        return None


def _shapes(y_true, y_pred):
    return f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"


def _is_sparse(y_true, y_pred):
    """True for class-id labels, False for dense ones; raises on a mismatch."""
    num_classes = y_pred.shape[-1]
    if len(y_pred.shape) < 1 or num_classes is None or num_classes < 2:
        raise ValueError(
            "`y_pred` must have the classes on its last axis, with a static size of at least 2. "
            f"Received: {_shapes(y_true, y_pred)}"
        )
    true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
    if true_rank == pred_rank - 1:
        sparse, leading = True, y_true.shape
    elif true_rank == pred_rank and y_true.shape[-1] == 1:
        sparse, leading = True, y_true.shape[:-1]
    elif true_rank == pred_rank and y_true.shape[-1] == num_classes:
        sparse, leading = False, y_true.shape[:-1]
    elif true_rank == pred_rank and y_true.shape[-1] is None:
        raise ValueError(
            "Cannot tell sparse (class ids) from dense (one-hot) labels: the last axis of `y_true` "
            f"has no static size. Give it a static size of 1 or {num_classes}. Received: {_shapes(y_true, y_pred)}"
        )
    else:
        raise ValueError(
            "`y_true` must hold class ids shaped like `y_pred` without its last axis (or with a last "
            f"axis of 1), or one-hot/soft labels shaped like `y_pred`. Received: {_shapes(y_true, y_pred)}"
        )
    for true_dim, pred_dim in zip(leading, y_pred.shape[:-1]):
        if true_dim is not None and pred_dim is not None and true_dim != pred_dim:
            raise ValueError(f"`y_true` and `y_pred` disagree on their leading axes. Received: {_shapes(y_true, y_pred)}")
    return sparse


def _check_class_ids(labels, num_classes, ignore_class):
    values = _static_values(labels)
    if values is None:
        return
    if ignore_class is not None:
        values = values[values != ignore_class]
    bad = values[(values < 0) | (values >= num_classes)]
    if bad.size:
        raise ValueError(
            f"`y_true` holds class ids outside [0, {num_classes}) (C={num_classes} classes): "
            f"found {sorted(set(bad.tolist()))[:5]}"
            + ("" if ignore_class is None else f" (ignore_class={ignore_class} is allowed)")
        )


class Labels:
    """Standardised labels: `ids` (int32 class ids) or `dense` (float distributions), never both.

    `valid` is the boolean mask of the entries not equal to `ignore_class` (or None).
    """

    def __init__(self, ids=None, dense=None, valid=None):
        self.ids, self.dense, self.valid = ids, dense, valid

    def finish(self, per_example):
        """Zeroes the ignored entries and attaches the mask Keras' reductions read."""
        if self.valid is None:
            return per_example
        per_example = ops.where(self.valid, per_example, ops.zeros_like(per_example))
        set_keras_mask(per_example, self.valid)
        return per_example


def standardize_labels(y_true, y_pred, label_smoothing=0.0, ignore_class=None, dtype="float32"):
    """Infers the label form and applies `ignore_class` and label smoothing.

    Sparse labels stay sparse (the fast path) unless smoothing asks for a dense
    distribution `q = (1 - s) * onehot(y) + s / C`. `ignore_class` applies to
    sparse labels only.
    """
    y_true = ops.convert_to_tensor(y_true)
    num_classes = y_pred.shape[-1]
    if not _is_sparse(y_true, y_pred):
        if ignore_class is not None:
            raise ValueError(
                "`ignore_class` needs integer class-id labels, but `y_true` is dense (one-hot/soft). "
                f"Received: {_shapes(y_true, y_pred)}"
            )
        dense = ops.cast(y_true, dtype)
        if label_smoothing:
            dense = dense * (1.0 - label_smoothing) + label_smoothing / num_classes
        return Labels(dense=dense)

    if len(y_true.shape) == len(y_pred.shape):
        y_true = ops.squeeze(y_true, axis=-1)
    # `Loss.__call__` hands labels over as floats: class ids are exact up to 2**24.
    ids = ops.cast(y_true, "int32")
    _check_class_ids(ids, num_classes, ignore_class)
    valid = None
    if ignore_class is not None:
        valid = ops.not_equal(ids, ignore_class)
        ids = ops.where(valid, ids, ops.zeros_like(ids))
    if label_smoothing:
        dense = ops.one_hot(ids, num_classes, dtype=dtype) * (1.0 - label_smoothing) + label_smoothing / num_classes
        return Labels(dense=dense, valid=valid)
    return Labels(ids=ids, valid=valid)


def sparse_sum_of_squares(z, ids, true_weight, true_target):
    """Per example `sum_{i != y} z_i^2 + true_weight * (z_y - true_target)^2`, with a fused gradient.

    The gradient `2 * w_i * (z_i - t_i)` is written as one element-wise
    expression (a `where` on the true class), where autodiff would add a scatter
    of the gathered value and a broadcast of the row sum; XLA fuses it into a
    single pass. The true-class value is gathered from the flattened logits.
    """
    num_classes = z.shape[-1]
    rows = ops.reshape(z, (-1, num_classes))
    flat_ids = ops.reshape(ids, (-1,))
    index = ops.arange(ops.shape(flat_ids)[0], dtype="int32") * num_classes + flat_ids

    @ops.custom_gradient
    def total(rows):
        true_value = ops.take(ops.reshape(rows, (-1,)), index)
        value = ops.sum(ops.square(rows), axis=-1) + true_weight * ops.square(true_value - true_target) - ops.square(true_value)

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            scale = 2.0 * upstream
            is_true = ops.equal(ops.arange(num_classes, dtype="int32")[None, :], flat_ids[:, None])
            true_grad = scale * true_weight * (true_value - true_target)
            return ops.where(is_true, true_grad[:, None], scale[:, None] * rows)

        return value, grad

    return ops.reshape(total(rows), ops.shape(ids))


class ClassificationLoss(keras.losses.Loss):
    """A `keras.losses.Loss` over one of this package's loss functions.

    Subclasses set `fn = staticmethod(<function form>)` and pass the function's
    keyword arguments, validated, to this constructor. Every constructor argument
    is in `get_config()`, `dtype` included.
    """

    fn = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **fn_kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._dtype_argument = dtype if dtype is None or isinstance(dtype, str) else self._dtype_policy.name
        self._fn_kwargs = fn_kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), "dtype": self._dtype_argument, **self._fn_kwargs}

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self._fn_kwargs.items())
        return f"{type(self).__name__}({arguments}, reduction={self.reduction!r})"
