"""Squentropy (Hui, Belkin & Wright, ICML 2023, arXiv 2302.03952)."""

from keras import ops

from keras_losses.fused_softmax import SoftmaxBlocks, softmax_rows, sparse_softmax_loss
from keras_losses.labels import num_classes, reciprocal, standardize_labels
from keras_losses.loss import ClassificationLoss
from keras_losses.predictions import raw_outputs_or_softmax_input
from keras_losses.validation import check_label_arguments


def squentropy(y_true, y_pred, *, label_smoothing=0.0, ignore_class=None):
    """Squentropy: cross-entropy plus the mean square of the incorrect classes' raw outputs.

    For `C` classes, raw outputs `z` and true class `y`:

        loss = -log softmax(z)_y + (1 / (C - 1)) * sum_{i != y} z_i^2

    For dense or smoothed labels `q` (this package's generalisation, equal to
    the line above for one-hot `q`):
    `loss = -sum_i q_i log softmax(z)_i + (1 / (C - 1)) * sum_i (1 - q_i) z_i^2`.
    It has no hyper-parameter and trains with cross-entropy's optimiser settings.

    Args:
        y_true: class ids (shape of `y_pred` without its last axis, or with a
            last axis of 1) or one-hot/soft labels (shape of `y_pred`).
        y_pred: the model's raw outputs (logits) `[..., C]`, from a linear output
            layer. Given a softmax output (recognised on TensorFlow and PyTorch),
            it warns and uses the softmax's input.
        label_smoothing: float in [0, 1) (keyword-only): `q = (1 - s) * onehot(y) + s / C`.
        ignore_class: optional int (keyword-only), for class-id labels: entries
            with that label contribute 0 and are masked out of the mean.

    Returns:
        The loss per example, shape `y_pred.shape[:-1]`, in the dtype of `y_pred`
        (float32 for float16/bfloat16).

    Examples:

        >>> import numpy as np, keras_losses
        >>> logits = np.array([[2.0, 0.0, -1.0]], "float32")
        >>> round(float(keras_losses.squentropy([0], logits)[0]), 4)
        0.6698

    References:
        - [Hui, Belkin & Wright, 2023. Cut your Losses with Squentropy](https://arxiv.org/abs/2302.03952)
    """
    label_smoothing, ignore_class = check_label_arguments(label_smoothing, ignore_class)
    y_pred = raw_outputs_or_softmax_input(y_pred, "squentropy")
    labels = standardize_labels(y_true, y_pred, label_smoothing, ignore_class, dtype=y_pred.dtype)
    square_weight = reciprocal(num_classes(y_pred) - 1, y_pred.dtype)
    if labels.ids is not None:
        # One fused kernel, gradient softmax(z) - q + 2 / (C - 1) * (1 - q) * z in closed form (fused_softmax.py).
        per_example = sparse_softmax_loss(
            y_pred, labels.ids, label_smoothing=labels.smoothing, square_weight=square_weight
        )
    else:
        q = labels.dense
        nll = -ops.sum(q * ops.log_softmax(y_pred, axis=-1), axis=-1)
        per_example = nll + square_weight * ops.sum((1.0 - q) * ops.square(y_pred), axis=-1)
    return labels.mask_ignored(per_example)


class Squentropy(ClassificationLoss):
    """Squentropy (Hui, Belkin & Wright, ICML 2023) as a `keras.losses.Loss`.

    See `squentropy` for the formula. Use it on a linear output layer.

    Args:
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
        >>> model.compile("adam", loss=keras_losses.Squentropy())
    """

    fn = staticmethod(squentropy)

    def __init__(
        self,
        label_smoothing=0.0,
        ignore_class=None,
        mean_over_global_batch=False,
        reduction="sum_over_batch_size",
        name="squentropy",
        dtype=None,
    ):
        super().__init__(mean_over_global_batch=mean_over_global_batch, reduction=reduction, name=name, dtype=dtype)
        self.label_smoothing, self.ignore_class = check_label_arguments(label_smoothing, ignore_class)

    def row_kernel(self, classes):
        """The per-row kernel on logits (`ClassificationLoss.row_kernel`): `fused_softmax.softmax_rows` with the
        square term."""
        weight = 1.0 / (classes - 1)
        return lambda rows, ids: softmax_rows(
            rows, ids, classes, label_smoothing=self.label_smoothing, square_weight=weight
        )

    def block_kernel(self, classes):
        """The loss from blocks of classes (`ClassificationLoss.block_kernel`): `fused_softmax.SoftmaxBlocks`."""
        return SoftmaxBlocks(classes, label_smoothing=self.label_smoothing, square_weight=1.0 / (classes - 1))
