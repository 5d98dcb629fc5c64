"""The base class of the package's losses: a `keras.losses.Loss` over one of the function forms."""

import functools
import inspect

import keras
from keras import ops

from keras_losses._keras_private import (
    get_keras_mask,
    get_tensor_attr,
    replicas_and_global_sum,
    scale_loss_for_distribution,
    squeeze_or_expand_to_same_rank,
)
from keras_losses.inputs import as_tensor
from keras_losses.user_warnings import warnings_of

#: The reductions `mean_over_global_batch=True` combines with: those that divide by the number of entries.
AVERAGING_REDUCTIONS = ("sum_over_batch_size", "mean")
#: The attribute on logits that can be computed in chunks: an object with `loss_value(loss, y_true,
#: sample_weight, mask)` (a `keras_losses.LossHead` sets it on the logits it returns in training).
CHUNKED_SOURCE = "_keras_losses_chunked_source"


def chunked_source(y_pred):
    """The object from which the logits `y_pred` can be computed in chunks, or None."""
    return get_tensor_attr(y_pred, CHUNKED_SOURCE)


def _entry_count(shape, dtype):
    return ops.cast(ops.prod(ops.convert_to_tensor(shape, dtype="int32")), dtype)


def reduction_weights(loss, shape, mask, sample_weight, dtype):
    """`(a, scalar)`: the weights `a [shape]` with which `loss`'s reduction of per-entry values `l` is `sum_i a_i l_i`.

    Keras' `Loss.__call__` (`apply_mask`, `reduce_values`, `scale_loss_for_distribution`) and the package's
    `mean_over_global_batch`, spelled out per entry: the sample weights, the mask (for the averaging
    reductions, valid entries weigh `entries / valid`), the divisor of the averaging reductions, the division
    by the replicas of a `tf.distribute` strategy and `mean_over_global_batch`'s scale. For
    `reduction="none"` (or None), the weights by which Keras multiplies each value (None: none), and
    `scalar=False`. The losses' `__call__` and the loss head (`loss_head.chunked_loss`, which needs the
    weights in its forward pass) both reduce with it.
    """
    reduction = loss.reduction
    weights = None
    if sample_weight is not None:
        weights = ops.cast(as_tensor(sample_weight), dtype)
        _, weights = squeeze_or_expand_to_same_rank(ops.zeros(shape, dtype), weights)
        weights = ops.broadcast_to(weights, shape)
    entries = count = _entry_count(shape, dtype)
    if mask is not None:
        count = ops.sum(ops.cast(mask, dtype))
        if reduction in AVERAGING_REDUCTIONS:
            mask_weight = ops.where(ops.cast(mask, "bool"), ops.divide_no_nan(entries, count), ops.zeros((), dtype))
        else:
            mask_weight = ops.cast(mask, dtype)
        weights = mask_weight if weights is None else weights * mask_weight
    if reduction in (None, "none"):
        return weights, False
    if weights is None:
        weights = ops.ones(shape, dtype)
    if reduction == "sum":
        return weights, True
    if reduction == "mean_with_sample_weight" and (sample_weight is not None or mask is not None):
        divisor = ops.sum(weights)
    else:
        divisor = entries
    scale = scale_loss_for_distribution(ops.divide_no_nan(ops.ones((), dtype), divisor))
    if loss.mean_over_global_batch:
        num_replicas, global_count = replicas_and_global_sum(ops.stop_gradient(count))
        if num_replicas > 1:  # no valid entry anywhere: every replica's count is 0, and so is the scale
            safe = ops.where(global_count > 0, global_count, ops.ones_like(global_count))
            scale = scale * (count * num_replicas / safe)
    return weights * scale, True


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
        """Keras' `Loss.__call__`, reduced by `reduction_weights`; logits with a `chunked_source` in chunks."""
        mask = get_keras_mask(y_pred)
        source = chunked_source(y_pred)
        with keras.name_scope(self.name):
            if source is not None:
                return source.loss_value(self, y_true, sample_weight, mask)
            values = self.call(as_tensor(y_true, self.dtype), as_tensor(y_pred, self.dtype))
            values_mask = get_keras_mask(values)
            if values_mask is not None:
                mask = values_mask if mask is None else ops.logical_and(ops.cast(mask, "bool"), values_mask)
            values = ops.cast(values, self.dtype)
            if len(values.shape) == 0:  # as Keras: a scalar is returned as it is
                return values
            weights, scalar = reduction_weights(self, ops.shape(values), mask, sample_weight, self.dtype)
            if weights is not None:
                values = values * weights
            return ops.sum(values) if scalar else values

    def call(self, y_true, y_pred):
        with warnings_of(self):
            return self.fn(y_true, y_pred, **self.hyper_parameters())

    def row_kernel(self, classes):
        """`f(rows [M, V], ids [M, 1]) -> (value [M, 1], gradient)`: the loss on logits, per row, with its
        closed-form gradient (`gradient(upstream [M, 1]) -> upstream * dl/dz [M, V]`), for `classes` = V.

        What the loss head (`keras_losses.chunked_loss`) computes each chunk with; each loss of the package
        defines it next to its function form. A subclass without one cannot be computed in chunks.
        """
        raise NotImplementedError(
            f"{type(self).__name__} defines no `row_kernel`, so it cannot be computed in chunks by a loss head."
        )

    def block_kernel(self, classes):
        """The loss from blocks of classes, for the loss head's memory floor (`chunked_loss(vocabulary_block=...)`):
        an object with `statistics(rows [M, B], true_mask [M, B], valid [1, B] or None)` (per-row statistics of
        a block of classes), `merge(a, b)` (the statistics of two blocks together), `value(statistics)` (the
        loss per row, `[M, 1]`) and `gradient(statistics, rows, true_mask, upstream [M, 1])` (`upstream * dl/dz`
        on the block), e.g. `fused_softmax.SoftmaxBlocks`. A loss whose rows do not reduce so cannot.
        """
        raise NotImplementedError(
            f"{type(self).__name__} defines no `block_kernel`, so it cannot be computed in vocabulary blocks "
            "(`vocabulary_block`): leave `vocabulary_block=None`."
        )

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
