"""Cross-entropy under this package's label conventions: the baseline every paper compares against."""

import keras
from keras import ops

from keras_losses.common import (
    ClassificationLoss,
    check_common,
    log_probabilities,
    resolve_logits,
    standardize_labels,
)


@keras.saving.register_keras_serializable(package="keras_losses")
def cross_entropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, ignore_class=None):
    """Categorical cross-entropy `-sum_i q_i log p_i` for sparse or dense labels.

    Keras' `SparseCategoricalCrossentropy` has no label smoothing and its
    `CategoricalCrossentropy` no `ignore_class`; this one takes either label form
    with both, as the other losses of the package do (translation needs
    smoothing and padding together). Sparse, unsmoothed labels use Keras' fused
    sparse cross-entropy.

    Args:
        y_true: class ids (shape of `y_pred` without its last axis, or with a
            last axis of 1) or one-hot/soft labels (shape of `y_pred`).
        y_pred: predictions `[..., C]`: probabilities, or logits with `from_logits=True`.
        from_logits: whether `y_pred` holds logits.
        label_smoothing: float in [0, 1): `q = (1 - s) * onehot(y) + s / C`.
        ignore_class: optional int, for class-id labels: masked out of the mean.

    Returns:
        The loss per example, shape `y_pred.shape[:-1]`.

    Example:

    >>> import numpy as np, keras_losses
    >>> logits = np.array([[2.0, 0.0, -1.0]], "float32")
    >>> round(float(keras_losses.cross_entropy([0], logits, from_logits=True)[0]), 4)
    0.1698
    """
    label_smoothing, ignore_class = check_common(label_smoothing, ignore_class)
    y_pred, from_logits = resolve_logits(y_pred, from_logits, "cross_entropy")
    labels = standardize_labels(y_true, y_pred, label_smoothing, ignore_class, dtype=y_pred.dtype)
    if labels.ids is not None:
        per_example = ops.sparse_categorical_crossentropy(labels.ids, y_pred, from_logits=from_logits)
        per_example = ops.cast(per_example, y_pred.dtype)
    else:
        per_example = -ops.sum(labels.dense * log_probabilities(y_pred, from_logits), axis=-1)
    return labels.finish(per_example)


@keras.saving.register_keras_serializable(package="keras_losses")
class CrossEntropy(ClassificationLoss):
    """Cross-entropy as a `keras.losses.Loss`, with label smoothing and `ignore_class` for either label form.

    Args:
        from_logits: whether `y_pred` holds logits (Keras' default: False).
        label_smoothing: float in [0, 1).
        ignore_class: optional int; ignored entries are masked out of the mean.
        reduction: any of Keras' reductions. Defaults to `"sum_over_batch_size"`.
        name: name of the loss instance.
        dtype: dtype of the loss computation (Keras' `Loss` semantics).
    """

    fn = staticmethod(cross_entropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        ignore_class=None,
        reduction="sum_over_batch_size",
        name="cross_entropy",
        dtype=None,
    ):
        label_smoothing, ignore_class = check_common(label_smoothing, ignore_class)
        super().__init__(
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=bool(from_logits),
            label_smoothing=label_smoothing,
            ignore_class=ignore_class,
        )
