"""Metrics for sequence models trained with these losses.

Registered with Keras' serialization (package "keras_losses"), so that a model compiled with one of them
loads with `keras.models.load_model` after `import keras_losses` alone.
"""

import keras
from keras import ops

from keras_losses.loss_head import predicted_ids_of


@keras.saving.register_keras_serializable(package="keras_losses")
class MaskedTokenAccuracy(keras.metrics.Mean):
    """Accuracy over the labels that are not `ignore_class` (padding), e.g. next-token accuracy:

        accuracy = sum_t [argmax(y_pred_t) == y_t] * [y_t != ignore_class] / sum_t [y_t != ignore_class]

    Keras' `SparseCategoricalAccuracy` counts padding positions; this metric leaves them out of the mean,
    as the losses' `ignore_class` does.

    Given the logits of a `keras_losses.LossHead(training_predictions=True)` in training, it reads the argmax
    that the head computed in chunks of tokens (so that a compiled step need not compute the logits).

    Args:
        ignore_class: integer label id left out (the padding id). Defaults to 0.
        name: name of the metric. Defaults to "token_accuracy".
        dtype: dtype of the metric's result.

    Examples:

        >>> import numpy as np, keras_losses
        >>> metric = keras_losses.metrics.MaskedTokenAccuracy(ignore_class=0)
        >>> labels = np.array([[5, 2, 0, 0]])
        >>> logits = np.eye(6, dtype="float32")[[[5, 1, 0, 3]]]  # right, wrong, then two padding positions
        >>> float(metric(labels, logits))
        0.5
    """

    def __init__(self, ignore_class=0, name="token_accuracy", dtype=None):
        if not isinstance(ignore_class, int) or isinstance(ignore_class, bool):
            raise TypeError(f"`ignore_class` must be an integer label id. Received: ignore_class={ignore_class!r}")
        super().__init__(name=name, dtype=dtype)
        self.ignore_class = ignore_class

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predicted = predicted_ids_of(y_pred)
        if predicted is None:
            predicted = ops.argmax(y_pred, axis=-1)
        correct = ops.cast(ops.equal(ops.cast(predicted, "int32"), y_true), self.dtype)
        weight = ops.cast(ops.not_equal(y_true, self.ignore_class), self.dtype)
        if sample_weight is not None:  # per example [batch] or per token [batch, time]
            sample_weight = ops.cast(sample_weight, self.dtype)
            while len(sample_weight.shape) < len(weight.shape):
                sample_weight = ops.expand_dims(sample_weight, -1)
            weight = weight * sample_weight
        return super().update_state(correct, sample_weight=weight)

    def get_config(self):
        return {**super().get_config(), "ignore_class": self.ignore_class}
