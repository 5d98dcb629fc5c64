"""Cross-entropy under this package's label conventions: the baseline every paper compares against."""

from keras import ops

from keras_losses.class_rows import as_labels_shape, as_rows
from keras_losses.fused_softmax import SoftmaxBlocks, softmax_rows, sparse_softmax_loss
from keras_losses.labels import standardize_labels
from keras_losses.loss import ClassificationLoss
from keras_losses.predictions import log_probabilities, resolve_logits
from keras_losses.validation import check_label_arguments


def cross_entropy(y_true, y_pred, *, from_logits=False, label_smoothing=0.0, ignore_class=None):
    """Categorical cross-entropy `-sum_i q_i log p_i` for sparse or dense labels.

    Keras' `SparseCategoricalCrossentropy` has no label smoothing and its
    `CategoricalCrossentropy` no `ignore_class`; this one takes either label form
    with both, as the other losses of the package do (translation needs
    smoothing and padding together). Sparse, unsmoothed labels use Keras' fused
    sparse cross-entropy; smoothed ones a fused kernel whose gradient
    `softmax(z) - q` is in closed form, without building `q`.

    Args:
        y_true: class ids (shape of `y_pred` without its last axis, or with a
            last axis of 1) or one-hot/soft labels (shape of `y_pred`).
        y_pred: predictions `[..., C]`: probabilities, or logits with `from_logits=True`.
        from_logits: bool (keyword-only), whether `y_pred` holds logits. Softmax
            outputs are handled as in `encouraging_loss`.
        label_smoothing: float in [0, 1) (keyword-only): `q = (1 - s) * onehot(y) + s / C`.
        ignore_class: optional int (keyword-only), for class-id labels: masked out of the mean.

    Returns:
        The loss per example, shape `y_pred.shape[:-1]`, in the dtype of `y_pred`
        (float32 for float16/bfloat16).

    Examples:

        >>> import numpy as np, keras_losses
        >>> logits = np.array([[2.0, 0.0, -1.0]], "float32")
        >>> round(float(keras_losses.cross_entropy([0], logits, from_logits=True)[0]), 4)
        0.1698

    References:
        - [Keras' `SparseCategoricalCrossentropy` and `CategoricalCrossentropy`](https://keras.io/api/losses/probabilistic_losses/),
          the baseline of the papers of the other losses.
    """
    label_smoothing, ignore_class = check_label_arguments(label_smoothing, ignore_class)
    y_pred, from_logits = resolve_logits(y_pred, from_logits, "cross_entropy")
    labels = standardize_labels(y_true, y_pred, label_smoothing, ignore_class, dtype=y_pred.dtype)
    if labels.ids is not None and not labels.smoothing:
        # On rows [M, C]: Keras' PyTorch op fails in its backward on probabilities of rank 4 or more
        # ("grad_input must be contiguous").
        rows, ids, _ = as_rows(y_pred, labels.ids)
        per_example = ops.sparse_categorical_crossentropy(ops.reshape(ids, (-1,)), rows, from_logits=from_logits)
        per_example = ops.cast(as_labels_shape(per_example, labels.ids), y_pred.dtype)
    elif labels.ids is not None:
        # Smoothed class ids: gradient softmax(z) - q in closed form, q never built (fused_softmax.py).
        logits = y_pred if from_logits else log_probabilities(y_pred, from_logits)
        per_example = sparse_softmax_loss(logits, labels.ids, label_smoothing=labels.smoothing)
    else:
        per_example = -ops.sum(labels.dense * log_probabilities(y_pred, from_logits), axis=-1)
    return labels.mask_ignored(per_example)


class CrossEntropy(ClassificationLoss):
    """Cross-entropy as a `keras.losses.Loss`, with label smoothing and `ignore_class` for either label form.

    Args:
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
        >>> loss = keras_losses.CrossEntropy(from_logits=True, ignore_class=0)
        >>> round(float(loss([1, 0], np.array([[0.0, 3.0, 0.0], [5.0, 0.0, 0.0]], "float32"))), 4)
        0.0949
    """

    fn = staticmethod(cross_entropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        ignore_class=None,
        mean_over_global_batch=False,
        reduction="sum_over_batch_size",
        name="cross_entropy",
        dtype=None,
    ):
        super().__init__(mean_over_global_batch=mean_over_global_batch, reduction=reduction, name=name, dtype=dtype)
        self.label_smoothing, self.ignore_class = check_label_arguments(label_smoothing, ignore_class)
        self.from_logits = bool(from_logits)

    def row_kernel(self, classes):
        """The per-row kernel on logits (`ClassificationLoss.row_kernel`): `fused_softmax.softmax_rows`."""
        return lambda rows, ids: softmax_rows(rows, ids, classes, label_smoothing=self.label_smoothing)

    def block_kernel(self, classes):
        """The loss from blocks of classes (`ClassificationLoss.block_kernel`): `fused_softmax.SoftmaxBlocks`."""
        return SoftmaxBlocks(classes, label_smoothing=self.label_smoothing)
