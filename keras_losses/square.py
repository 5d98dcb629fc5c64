"""Square loss for classification (Hui & Belkin, ICLR 2021, arXiv 2006.07322)."""

from keras import ops

from keras_losses.fused_squares import SquaresBlocks, sparse_sum_of_squares, squares_rows
from keras_losses.labels import divide_by, num_classes, reciprocal, standardize_labels
from keras_losses.loss import ClassificationLoss
from keras_losses.predictions import check_raw_outputs
from keras_losses.validation import check_label_arguments, check_range


def _check(k, m, label_smoothing, ignore_class):
    k = check_range("k", k, 0.0, float("inf"))
    m = check_range("m", m, 0.0, float("inf"))
    return (k, m, *check_label_arguments(label_smoothing, ignore_class))


def square_loss(y_true, y_pred, *, k=1.0, m=1.0, label_smoothing=0.0, ignore_class=None):
    """Square loss on the raw outputs `z` (no softmax), rescaled by `k` and `m`.

    For `C` classes and true class `y`:

        loss = (1/C) * [ k * (z_y - m)^2 + sum_{i != y} z_i^2 ]

    and for dense or smoothed labels `q`:
    `loss = (1/C) * sum_i (1 + (k - 1) * q_i) * (z_i - m * q_i)^2`.
    With `k = m = 1` this is the mean squared error against the one-hot labels.
    The loss is **averaged over classes** (the authors' normalisation); a sum over
    classes would scale the gradient, and so the right learning rate, by `C`.

    The paper's choices: `k = m = 1` below 42 classes; `k = 1, m = 15` for 42 to
    ~1000 classes (TIMIT, WSJ); `k = 15, m = 30` for 1000 classes (ImageNet).

    Args:
        y_true: class ids (shape of `y_pred` without its last axis, or with a
            last axis of 1) or one-hot/soft labels (shape of `y_pred`).
        y_pred: the model's raw outputs `[..., C]` (a linear output layer). A
            softmax output is recognised on TensorFlow and PyTorch and warned about.
        k: float > 0 (keyword-only), the weight of the true class's term.
        m: float > 0 (keyword-only), the target value of the true class's output.
        label_smoothing: float in [0, 1) (keyword-only): `q = (1 - s) * onehot(y) + s / C`.
        ignore_class: optional int (keyword-only), for class-id labels: entries
            with that label contribute 0 and are masked out of the mean.

    Returns:
        The loss per example, shape `y_pred.shape[:-1]`, in the dtype of `y_pred`
        (float32 for float16/bfloat16).

    Examples:

        >>> import numpy as np, keras_losses
        >>> outputs = np.array([[0.5, -1.0, 2.0]], "float32")
        >>> round(float(keras_losses.square_loss([2], outputs)[0]), 4)
        0.75
        >>> round(float(keras_losses.square_loss([2], outputs, k=2.0, m=3.0)[0]), 4)
        1.0833

    References:
        - [Hui & Belkin, 2021. Evaluation of Neural Architectures Trained with Square Loss vs
          Cross-Entropy in Classification Tasks](https://arxiv.org/abs/2006.07322)
    """
    k, m, label_smoothing, ignore_class = _check(k, m, label_smoothing, ignore_class)
    y_pred = check_raw_outputs(y_pred, "square_loss")
    labels = standardize_labels(y_true, y_pred, label_smoothing, ignore_class, dtype=y_pred.dtype)
    if labels.ids is not None:
        # q_y = 1 - s + s/C, q_i = s/C for the other classes: weights 1 + (k - 1) q, targets m q.
        share = labels.smoothing * reciprocal(num_classes(y_pred), y_pred.dtype)
        true_q = 1.0 - labels.smoothing + share
        total = sparse_sum_of_squares(
            y_pred,
            labels.ids,
            true_weight=1.0 + (k - 1.0) * true_q,
            true_target=m * true_q,
            other_weight=1.0 + (k - 1.0) * share,
            other_target=m * share if labels.smoothing else None,
        )
    else:
        q = labels.dense
        total = ops.sum((1.0 + (k - 1.0) * q) * ops.square(y_pred - m * q), axis=-1)
    return labels.mask_ignored(divide_by(total, num_classes(y_pred)))


class SquareLoss(ClassificationLoss):
    """Square loss (Hui & Belkin, ICLR 2021) as a `keras.losses.Loss`.

    See `square_loss` for the formula. Use it on a linear output layer.

    Args:
        k: float > 0, weight of the true class (paper: 1, or 15 for 1000 classes).
        m: float > 0, target of the true class (paper: 1, 15 for 42-1000 classes, 30 for 1000).
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
        >>> model.compile("sgd", loss=keras_losses.SquareLoss(k=1.0, m=1.0))
        >>> keras_losses.SquareLoss(k=15.0, m=30.0).m
        30.0
    """

    fn = staticmethod(square_loss)

    def __init__(
        self,
        k=1.0,
        m=1.0,
        label_smoothing=0.0,
        ignore_class=None,
        mean_over_global_batch=False,
        reduction="sum_over_batch_size",
        name="square_loss",
        dtype=None,
    ):
        super().__init__(mean_over_global_batch=mean_over_global_batch, reduction=reduction, name=name, dtype=dtype)
        self.k, self.m, self.label_smoothing, self.ignore_class = _check(k, m, label_smoothing, ignore_class)

    def row_kernel(self, classes):
        """The per-row kernel on logits (`ClassificationLoss.row_kernel`): `fused_squares.squares_rows`, averaged
        over the classes."""
        s, k, m = self.label_smoothing, self.k, self.m
        share = s / classes
        true_q = 1.0 - s + share

        def rows_fn(rows, ids):
            value, gradient = squares_rows(
                rows,
                ids,
                true_weight=1.0 + (k - 1.0) * true_q,
                true_target=m * true_q,
                other_weight=1.0 + (k - 1.0) * share,
                other_target=m * share if s else None,
            )
            return value / classes, lambda upstream: gradient(upstream / classes)

        return rows_fn

    def block_kernel(self, classes):
        """The loss from blocks of classes (`ClassificationLoss.block_kernel`): `fused_squares.SquaresBlocks`."""
        s, k, m = self.label_smoothing, self.k, self.m
        share = s / classes
        true_q = 1.0 - s + share
        return SquaresBlocks(
            true_weight=1.0 + (k - 1.0) * true_q,
            true_target=m * true_q,
            other_weight=1.0 + (k - 1.0) * share,
            other_target=m * share if s else None,
            scale=1.0 / classes,
        )
