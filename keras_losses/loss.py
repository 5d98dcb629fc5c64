"""The base class of the package's losses: a `keras.losses.Loss` over one of the function forms."""

import functools
import inspect

import keras
from keras import ops

from keras_losses._keras_private import get_keras_mask, replicas_and_global_sum, set_keras_mask
from keras_losses.user_warnings import warnings_of

#: The reductions `mean_over_global_batch=True` combines with: those that divide by the number of entries.
AVERAGING_REDUCTIONS = ("sum_over_batch_size", "mean")


@functools.cache
def hyper_parameter_names(fn):
    """The keyword-only parameters of a function form: the hyper-parameters of its loss class."""
    return tuple(p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY)


class ClassificationLoss(keras.losses.Loss):
    """A `keras.losses.Loss` over one of this package's function forms.

    Subclasses set `fn = staticmethod(<function form>)` and store each of the function's keyword-only
    arguments, validated, as a public attribute of the same name. `get_config()` is derived from those
    names: the hyper-parameters, `mean_over_global_batch`, `name`, `reduction` and `dtype`.

    `mean_over_global_batch=True` (with the reduction `"sum_over_batch_size"` or `"mean"`) divides the sum
    of the loss over the valid entries by the number of valid entries of the whole global batch of the
    step, summed over the replicas of a `tf.distribute` strategy by one all-reduce of a scalar:

        loss = sum_{replicas r} sum_{valid i in r} w_i * l_i  /  sum_{replicas r} #{valid i in r}

    Valid entries are those whose label is not `ignore_class` and that a Keras mask on `y_pred` (e.g. from
    `Embedding(mask_zero=True)`) does not mask; `w_i` are the sample weights (1 without). Without it,
    Keras divides on each replica by that replica's own count, which differs from one device whenever
    replicas hold different numbers of valid entries. On one device, on JAX (under `keras.distribution`
    the loss sees the global batch) and on PyTorch the two are equal.
    """

    fn = None

    def __init__(self, mean_over_global_batch=False, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if mean_over_global_batch not in (True, False):
            raise ValueError(
                "`mean_over_global_batch` must be True or False. "
                f"Received: mean_over_global_batch={mean_over_global_batch!r}"
            )
        if mean_over_global_batch and self.reduction not in AVERAGING_REDUCTIONS:
            raise ValueError(
                "`mean_over_global_batch=True` divides by the number of valid entries of the global batch, which "
                f"needs an averaging reduction ({' or '.join(map(repr, AVERAGING_REDUCTIONS))}). "
                f"Received: reduction={reduction!r}"
            )
        self.mean_over_global_batch = bool(mean_over_global_batch)
        self._dtype_config = dtype if dtype is None or isinstance(dtype, str) else keras.dtype_policies.get(dtype).name

    def hyper_parameters(self):
        """The function form's keyword arguments, read from the attributes of the same names."""
        return {name: getattr(self, name) for name in hyper_parameter_names(self.fn)}

    def __call__(self, y_true, y_pred, sample_weight=None):
        from keras_losses import loss_head  # imports the loss modules

        head = loss_head.head_of(y_pred)
        if head is None:
            return super().__call__(y_true, y_pred, sample_weight=sample_weight)
        # The hidden states a `LossHead` returns in training: the loss in chunks, reduced as Keras reduces.
        with keras.name_scope(self.name):
            return head.loss_value(self, y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        prediction_mask = get_keras_mask(y_pred)
        with warnings_of(self):
            values = self.fn(y_true, y_pred, **self.hyper_parameters())
        if self.mean_over_global_batch:
            values = _rescale_to_global_mean(values, prediction_mask)
        return values

    def get_config(self):
        return {
            **super().get_config(),
            "dtype": self._dtype_config,
            **self.hyper_parameters(),
            "mean_over_global_batch": self.mean_over_global_batch,
        }

    def __repr__(self):
        arguments = {**self.hyper_parameters(), "mean_over_global_batch": self.mean_over_global_batch}
        arguments = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
        return f"{type(self).__name__}({arguments}, reduction={self.reduction!r})"


def _rescale_to_global_mean(values, prediction_mask):
    """Scales `values` so that Keras' masked, per-replica mean becomes the mean over the global batch.

    Keras divides each replica's sum by its own valid count `n_r` and by the number of replicas `R`, then
    sums the replicas' gradients; multiplying by `n_r * R / N` (`N`: the global valid count) turns that into
    `sum / N`. On one device `n_r * R / N = 1`.
    """
    values_mask = get_keras_mask(values)
    masks = [ops.cast(m, "bool") for m in (values_mask, prediction_mask) if m is not None]
    if not masks:
        local_count = ops.cast(ops.size(values), values.dtype)
    else:
        valid = masks[0] if len(masks) == 1 else ops.logical_and(*masks)
        local_count = ops.sum(ops.cast(valid, values.dtype))
    num_replicas, global_count = replicas_and_global_sum(ops.stop_gradient(local_count))
    if num_replicas == 1:
        return values
    # No valid entry anywhere: every replica's count is 0 and so is the scale.
    safe_count = ops.where(global_count > 0, global_count, ops.ones_like(global_count))
    rescaled = values * (local_count * num_replicas / safe_count)
    if values_mask is not None:
        set_keras_mask(rescaled, values_mask)
    return rescaled
