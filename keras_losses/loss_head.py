"""A loss head for large vocabularies: the output projection and the loss in chunks of tokens.

At the vocabulary sizes of translation and language models (`V` = 32k to 256k), the logits `[N, V]` of the
`N` tokens of a batch, and their gradient, dominate the training memory. `chunked_loss` computes any loss of
this package from the hidden states `h [N, d]`, the projection `W [d, V]` (and bias `b [V]`) and the class
ids, in chunks of `c` tokens, never holding more than a few `[c, V]` tensors: for each chunk

    z_c   = h_c W + b                               (the chunk's logits, float32 for float16/bfloat16 inputs)
    l_c   = loss(z_c, y_c)                          (per token, from per-row sums: logsumexp, true logit, ...)
    G_c   = a_c * dl/dz_c                           (closed form: `fused_softmax.softmax_rows`, `fused_squares`)
    L    += sum a_c l_c,   dh_c = G_c W^T,   dW += h_c^T G_c,   db += sum_rows G_c

where `a` are the rows' weights of the reduction: the sample weights, the Keras mask and `ignore_class`,
the divisor of the averaging reductions, the division by the replicas of a `tf.distribute` strategy and
`mean_over_global_batch`'s scale, all known in the forward pass. The gradients are computed in the forward
pass, as Liger-Kernel's fused linear cross-entropy does (no matmul is recomputed: three per chunk, as the
plain head's forward and backward), and the backward pass only scales them by the scalar upstream. Keras'
reductions are linear in the per-token losses, `L = sum_i a_i l_i`, which is what lets the weights enter
the forward pass (with Keras' `Loss.__call__` the upstream of each token is only known in the backward,
which would need every `G_c` kept, i.e. `[N, V]`, or recomputed).

`reduction="none"` (or None) returns the weighted per-token losses: their upstream is arbitrary, so the
backward recomputes each chunk's logits (one more matmul per chunk, as Cut Cross-Entropy does).

The memory floor (`vocabulary_block=B`) turns the loop around: blocks of `B` classes, all the tokens at once.
A first pass merges each row's statistics over the blocks (an online log-sum-exp, the true class's logit, the
sums that smoothing and square terms need: `ClassificationLoss.block_kernel`); a second recomputes each
block's logits `z_j = h W_j + b_j` and writes its rows of `dW`, `db` once, adding `G_j W_j^T` to `dh`
(Levanter's streaming backward, Cut Cross-Entropy): the kernel, its gradient and a few `[N, B]` tensors, for
four matmuls instead of three.

Values and gradients equal those of the plain head (`Dense(V)` and the loss on its logits) to float32
rounding: the same closed forms, summed in another order.

The losses know nothing of heads: each provides its per-row kernel (`ClassificationLoss.row_kernel`: the value
and closed-form gradient of a chunk's logits from the class ids), and the rows' weights are those by which the
losses themselves reduce (`loss.reduction_weights`). A head (`LossHead`, `TiedLossHead`) returns real logits in
training too, carrying a `ChunkedLogits` (`loss.CHUNKED_SOURCE`) from which a loss of the package computes
them in chunks. Whatever else reads the logits (a Keras loss, a layer, a metric) gets them right; when nothing
does, a compiled step (XLA, `tf.function`) drops their matmul as dead code, so the `[N, V]` logits are never
computed.

References:
    - [Liger-Kernel, fused linear cross-entropy](https://github.com/linkedin/Liger-Kernel)
      (`ops/fused_linear_cross_entropy.py`): chunks the tokens, computes the gradients in the forward pass.
    - [Wijmans et al., 2024. Cut Your Losses in Large-Vocabulary Language Models](https://arxiv.org/abs/2411.09009)
      (Cut Cross-Entropy): never materialises the logits; recomputes them in the backward pass.
"""

import math

import keras
from keras import ops
from keras.backend import standardize_dtype

from keras_losses._keras_private import get_keras_mask, get_tensor_attr, set_tensor_attr, set_tensor_attr_for_metrics
from keras_losses.inputs import as_tensor
from keras_losses.labels import class_ids
from keras_losses.loss import CHUNKED_SOURCE, ClassificationLoss, reduction_weights

#: The attribute with the argmax of the logits, on the logits of a `LossHead(training_predictions=True)` in training.
PREDICTIONS_ATTRIBUTE = "_keras_losses_predicted_ids"
#: The logits of one chunk hold about this many entries by default (`[c, V]`, 16 MiB in float32).
DEFAULT_CHUNK_ENTRIES = 2**22
#: At least this many tokens per chunk by default: each chunk adds its rank-`c` product `h_c^T G_c` to `dW`, one
#: pass over `[d, V]`; with fewer tokens that pass, not the matmuls, sets the time (Liger-Kernel measured that
#: time follows tokens per chunk). Measured (JAX, CPU, V = 128k, d = 256, N = 2048): 32 tokens 1.15x the plain
#: head's time, 64 tokens 1.03x, 256 tokens 0.95x (memory 0.175, 0.182, 0.224 of the plain head's).
MIN_CHUNK_TOKENS = 64


def default_chunk_size(units):
    """A power of two `c` with `c * units` near `DEFAULT_CHUNK_ENTRIES`, in [MIN_CHUNK_TOKENS, 4096]."""
    return int(min(4096, max(MIN_CHUNK_TOKENS, 2 ** round(math.log2(DEFAULT_CHUNK_ENTRIES / units)))))


def _accumulation_dtype(dtype):
    return "float64" if standardize_dtype(dtype) == "float64" else "float32"


def _in_chunks(x, chunk, num_chunks, padding):
    """`x [N, ...]` padded with zeros to `num_chunks * chunk` rows, as `[num_chunks, chunk, ...]`."""
    x = ops.pad(x, [(0, padding)] + [(0, 0)] * (len(x.shape) - 1))
    return ops.reshape(x, (num_chunks, chunk, *x.shape[1:]))


def _serial_fori_loop(lower, upper, body, init):
    """`ops.fori_loop`, one iteration at a time on TensorFlow.

    TensorFlow's `tf.while_loop` (which `ops.fori_loop` calls) runs up to 10 iterations at once in graph mode
    (`parallel_iterations=10`); the chunks' logits depend on the loop index only, so up to 10 chunks' `[c, V]`
    logits and their gradients were alive together: the chunked step's peak memory was above the plain head's.
    Keras' `fori_loop` has no such argument; XLA (TensorFlow's `jit_compile`, JAX) runs the iterations in order.
    """
    if keras.backend.backend() != "tensorflow":
        return ops.fori_loop(lower, upper, body, init)
    import tensorflow as tf

    return tf.while_loop(
        lambda i, _: i < upper, lambda i, carry: (i + 1, body(i, carry)), (lower, init), parallel_iterations=1
    )[1]


class _Projection:
    """The kernel as it is stored: `[d, V]` (a `Dense` kernel) or `[V, d]` (an embedding matrix, used transposed)."""

    def __init__(self, kernel, transposed):
        self.kernel, self.transposed = kernel, transposed
        self.units = kernel.shape[0 if transposed else -1]

    def logits(self, h_c):
        """`h_c W`, `[c, V]`."""
        return ops.einsum("cd,vd->cv", h_c, self.kernel) if self.transposed else ops.matmul(h_c, self.kernel)

    def input_gradient(self, g):
        """`g W^T`, `[c, d]` (an einsum: `ops.transpose` of the kernel would be a copy that XLA keeps)."""
        return ops.matmul(g, self.kernel) if self.transposed else ops.einsum("cv,dv->cd", g, self.kernel)

    def kernel_gradient(self, h_c, g):
        """`h_c^T g` in the kernel's layout."""
        return ops.einsum("cv,cd->vd", g, h_c) if self.transposed else ops.einsum("cd,cv->dv", h_c, g)

    def start(self, start):
        """The index of class `start` in the kernel's layout (for `slice`, `slice_update`)."""
        return (start, 0) if self.transposed else (0, start)

    def block(self, start, size):
        """The projection onto classes `[start, start + size)`."""
        d = self.kernel.shape[-1 if self.transposed else 0]
        shape = (size, d) if self.transposed else (d, size)
        return _Projection(ops.slice(self.kernel, self.start(start), shape), self.transposed)


def _chunk_logits(h_c, projection, bias, accumulation):
    logits = ops.cast(projection.logits(h_c), accumulation)
    return logits if bias is None else logits + ops.cast(bias, accumulation)


def _loop(kernel_fn, h, projection, bias, ids, weights, chunk, with_gradients):
    """The chunk loop over `h [N, d]`, `ids [N]`, `weights [N]` (the rows' `a`).

    With gradients: `(sum_i a_i l_i, dh [N, d], dW, db)`; without: the weighted values `a_i l_i` `[N]`.
    """
    accumulation = _accumulation_dtype(h.dtype)
    n, d = ops.shape(h)[0], h.shape[-1]
    num_chunks = (n + chunk - 1) // chunk
    padding = num_chunks * chunk - n
    h_chunks = _in_chunks(h, chunk, num_chunks, padding)
    id_chunks = _in_chunks(ops.reshape(ids, (-1, 1)), chunk, num_chunks, padding)
    weight_chunks = _in_chunks(ops.reshape(ops.cast(weights, accumulation), (-1, 1)), chunk, num_chunks, padding)

    def chunk_values(i):
        h_c = ops.take(h_chunks, i, axis=0)
        rows = _chunk_logits(h_c, projection, bias, accumulation)
        weights_c = ops.take(weight_chunks, i, axis=0)
        value, gradient = kernel_fn(rows, ops.take(id_chunks, i, axis=0))
        return h_c, weights_c * value, gradient, weights_c

    if not with_gradients:

        def values_body(i, values):
            weighted = chunk_values(i)[1]
            return ops.slice_update(values, (i, 0, 0), weighted[None])

        values = _serial_fori_loop(0, num_chunks, values_body, ops.zeros((num_chunks, chunk, 1), accumulation))
        return ops.reshape(values, (-1,))[:n]

    def contributions(i):
        """Chunk `i`'s `(sum a l, dh_c, h_c, g_c, db_c)`, `g_c = a_c dl/dz_c` in the compute dtype."""
        h_c, weighted, gradient, weights_c = chunk_values(i)
        g = gradient(weights_c)  # [c, V], accumulation dtype: a_c * dl/dz_c
        g_compute = ops.cast(g, h.dtype)
        dh_c = ops.cast(projection.input_gradient(g_compute), accumulation)
        return ops.sum(weighted), dh_c, h_c, g_compute, ops.sum(g, axis=0)  # db unused without a bias

    def body(i, carry):
        total, dh, dkernel, dbias = carry
        value, dh_c, h_c, g_c, dbias_c = contributions(i)
        dkernel = dkernel + ops.cast(projection.kernel_gradient(h_c, g_c), accumulation)
        return value + total, ops.slice_update(dh, (i, 0, 0), dh_c[None]), dkernel, dbias + dbias_c

    dh = ops.zeros((num_chunks, chunk, d), accumulation)
    if isinstance(num_chunks, int) and num_chunks > 0:
        # The first chunk starts the sums: TensorFlow's graph optimiser would fold `ops.zeros((d, V))` into a
        # constant that the graph holds between steps (a kernel's size, counted in every step's peak).
        value, dh_c, h_c, g_c, dbias = contributions(0)  # the first chunk writes dW without reading it
        dkernel = ops.cast(projection.kernel_gradient(h_c, g_c), accumulation)
        init, start = (value, ops.slice_update(dh, (0, 0, 0), dh_c[None]), dkernel, dbias), 1
    else:
        units = projection.units
        init, start = (
            (
                ops.zeros((), accumulation),
                dh,
                ops.zeros(projection.kernel.shape, accumulation),
                ops.zeros((units,), accumulation),
            ),
            0,
        )
    total, dh, dkernel, dbias = _serial_fori_loop(start, num_chunks, body, init)
    return total, ops.reshape(dh, (-1, d))[:n], dkernel, dbias


def _block_loop(blocks, h, projection, bias, ids, weights, block, with_gradients):
    """The memory floor: the loop over blocks of `block` classes, all the tokens at once (`vocabulary_block`).

    A first pass merges each row's statistics over the blocks (`blocks`, a loss's `block_kernel`); with
    gradients a second pass recomputes each block's logits `z_j = h W_j + b_j` `[N, B]` and writes its slices
    of `dW` and `db` (each written once, never read) and adds `G_j W_j^T` to `dh`. Returns as `_loop`. When
    `block` does not divide V the last block starts at `V - block`: its columns already counted are masked.
    """
    accumulation = _accumulation_dtype(h.dtype)
    units = projection.units
    block = min(block, units)
    num_blocks = -(-units // block)
    ids = ops.reshape(ids, (-1, 1))
    weights = ops.reshape(ops.cast(weights, accumulation), (-1, 1))

    def block_rows(j):
        """`(start, projection_j, rows [N, B], true_mask, valid [1, B] or None)` of block `j`."""
        first = j * block
        start = first if units % block == 0 else ops.minimum(first, units - block)
        columns = start + ops.arange(block, dtype="int32")[None, :]
        valid = None if units % block == 0 else ops.greater_equal(columns, first)
        projection_j = projection.block(start, block)
        rows = _chunk_logits(
            h, projection_j, None if bias is None else ops.slice(bias, (start,), (block,)), accumulation
        )
        return start, projection_j, rows, ops.equal(columns, ids), valid

    def statistics(j):
        _, _, rows, true_mask, valid = block_rows(j)
        return blocks.statistics(rows, true_mask if valid is None else ops.logical_and(true_mask, valid), valid)

    stats = _serial_fori_loop(1, num_blocks, lambda j, stats: blocks.merge(stats, statistics(j)), statistics(0))
    values = weights * blocks.value(stats)
    if not with_gradients:
        return ops.reshape(values, (-1,))

    def gradient_body(j, carry):
        dh, dkernel, dbias = carry
        start, projection_j, rows, true_mask, valid = block_rows(j)
        g = blocks.gradient(stats, rows, true_mask, weights)  # [N, B]: a * dl/dz
        g_compute = ops.cast(g, h.dtype)
        rows_of_block = ops.reshape(start + ops.arange(block, dtype="int32"), (-1, 1))
        dkernel_j = ops.cast(ops.einsum("nb,nd->bd", g_compute, h), accumulation)  # [B, d]
        dkernel = ops.scatter_update(dkernel, rows_of_block, dkernel_j)
        dbias = ops.scatter_update(dbias, rows_of_block, ops.sum(g, axis=0))
        if valid is not None:  # the last block's columns that an earlier block counted
            g_compute = ops.where(valid, g_compute, ops.zeros_like(g_compute))
        return dh + ops.cast(projection_j.input_gradient(g_compute), accumulation), dkernel, dbias

    init = (
        ops.zeros(ops.shape(h), accumulation),
        ops.zeros((units, h.shape[-1]), accumulation),
        ops.zeros((units,), accumulation),
    )
    dh, dkernel, dbias = _serial_fori_loop(0, num_blocks, gradient_body, init)
    return ops.sum(values), dh, dkernel if projection.transposed else ops.transpose(dkernel), dbias


def chunked_loss(
    loss,
    y_true,
    hidden,
    kernel,
    bias=None,
    sample_weight=None,
    *,
    mask=None,
    chunk_size=None,
    transpose_kernel=False,
    vocabulary_block=None,
):
    """`loss(y_true, hidden @ kernel + bias, sample_weight)`, in chunks of tokens, without the `[N, V]` logits.

    Computes the loss of the plain head (`Dense(V)` then the loss on its logits) for any loss of the package
    (`CrossEntropy`, `EncouragingLoss`, `ConservativeEncouragingLoss`, `SquareLoss`, `Squentropy`: each
    provides its per-row kernel, `ClassificationLoss.row_kernel`) with its options: `label_smoothing`,
    `ignore_class`, every reduction and `mean_over_global_batch`; with sample weights and Keras masks. See the
    module for the chunked forward pass and its custom gradient, which reaches `hidden`, `kernel` and `bias`
    (never building an `[N, V]` tensor).

    Args:
        loss: an instance of one of the package's losses, on logits (`from_logits=True` where it applies).
        y_true: integer class ids in `[0, V)` (or `ignore_class`), shaped like `hidden` without its last axis
            (or with a last axis of 1). One-hot labels are refused (they are `[N, V]` themselves).
        hidden: the hidden states `[..., d]`, float16, bfloat16, float32 or float64.
        kernel: the projection `[d, V]`, or `[V, d]` with `transpose_kernel=True` (an embedding matrix tied to
            the output: the logits are `hidden @ kernel^T`); a tensor or a variable.
        bias: optional `[V]`.
        sample_weight: optional, broadcastable to the labels (as Keras' `Loss.__call__` takes it).
        mask: optional boolean mask shaped like the labels; defaults to the Keras mask of `hidden`.
        chunk_size: tokens per chunk, int >= 1. Defaults to `default_chunk_size(V)` (`[c, V]` ~ 4M entries).
        transpose_kernel: bool, whether `kernel` is `[V, d]`.
        vocabulary_block: None (default: chunks of tokens), or int >= 1: the memory floor, blocks of this many
            classes with all the tokens at once, the logits recomputed in a second pass (Levanter's streaming
            backward, Cut Cross-Entropy): the step holds the kernel, its gradient and a few `[N, B]` tensors
            (`B` the block), for one more matmul than the plain head (four instead of three). `chunk_size` is
            then unused (giving both is an error). For the losses whose rows reduce over blocks of classes
            (`ClassificationLoss.block_kernel`): all but the encouraging losses with label smoothing.

    Returns:
        The reduced loss (a scalar, float32; float64 for float64 inputs), or the weighted per-token losses
        for `reduction="none"`.

    Logits are computed in the dtype of `hidden` (matmul as `Dense` does under the same dtype policy) and
    cast to float32; the per-row sums, the gradient of the logits and `dW`, `db` accumulate in float32.

    Examples:

        >>> import numpy as np, keras_losses
        >>> rng = np.random.default_rng(0)
        >>> h, w = rng.normal(size=(6, 4)).astype("float32"), rng.normal(size=(4, 50)).astype("float32")
        >>> loss = keras_losses.EncouragingLoss(from_logits=True, label_smoothing=0.1)
        >>> labels = np.array([3, 1, 4, 1, 5, 9])
        >>> chunked = keras_losses.chunked_loss(loss, labels, h, w, chunk_size=4)
        >>> bool(np.isclose(float(chunked), float(loss(labels, h @ w)), rtol=1e-5))
        True
    """
    if not isinstance(loss, ClassificationLoss):
        raise TypeError(
            f"`chunked_loss` takes a loss of keras_losses (a `ClassificationLoss` with a `row_kernel`). Received: "
            f"{loss!r}"
        )
    if not getattr(loss, "from_logits", True):
        raise ValueError(
            f"A loss head computes logits: give {type(loss).__name__} `from_logits=True` (the head's output is not "
            "a softmax's)."
        )
    hidden = as_tensor(hidden)
    if mask is None:
        mask = get_keras_mask(hidden)
    kernel = as_tensor(kernel)
    if standardize_dtype(kernel.dtype) != standardize_dtype(hidden.dtype):
        kernel = ops.cast(kernel, hidden.dtype)
    classes = kernel.shape[0 if transpose_kernel else -1]
    if len(kernel.shape) != 2 or not isinstance(classes, int) or classes < 2:
        layout = "[V, d]" if transpose_kernel else "[d, V]"
        raise ValueError(f"`kernel` must be {layout} with a static V >= 2. Received: kernel.shape={kernel.shape}")
    if bias is not None:
        bias = as_tensor(bias)
    y_true = as_tensor(y_true)
    leading = tuple(hidden.shape[:-1])
    if len(y_true.shape) == len(hidden.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    if len(y_true.shape) != len(leading):
        raise ValueError(
            "`chunked_loss` takes class ids shaped like `hidden` without its last axis (one-hot labels would be "
            f"`[N, V]` themselves). Received: y_true.shape={tuple(y_true.shape)}, hidden.shape={tuple(hidden.shape)}"
        )
    ids, valid = class_ids(y_true, classes, loss.ignore_class)
    if valid is not None:
        mask = valid if mask is None else ops.logical_and(ops.cast(mask, "bool"), valid)
    elif mask is not None:
        mask = ops.cast(mask, "bool")
    accumulation = _accumulation_dtype(hidden.dtype)
    shape = ops.shape(ids)
    weights, scalar = reduction_weights(loss, shape, mask, sample_weight, accumulation)
    if weights is None:
        weights = ops.ones(shape, accumulation)
    if vocabulary_block is not None:
        vocabulary_block = _check_vocabulary_block(vocabulary_block, chunk_size)
        kernel_fn = loss.block_kernel(classes)
    else:
        chunk = chunk_size or default_chunk_size(classes)
        kernel_fn = loss.row_kernel(classes)
    d = hidden.shape[-1]
    flat_ids, flat_weights = ops.reshape(ids, (-1,)), ops.reshape(ops.stop_gradient(weights), (-1,))
    inputs = (hidden, kernel) if bias is None else (hidden, kernel, bias)

    def as_inputs(tensors, dh, dkernel, dbias):
        """The gradients of `tensors` (hidden, kernel[, bias]) in their shapes and dtypes."""
        others = (ops.cast(g, t.dtype) for g, t in zip((dkernel, dbias), tensors[1:]))
        return (ops.reshape(ops.cast(dh, tensors[0].dtype), ops.shape(tensors[0])), *others)

    def loop(tensors, weights_, with_gradients):
        flat_hidden = ops.reshape(tensors[0], (-1, d))
        bias_ = tensors[2] if len(tensors) == 3 else None
        projection = _Projection(tensors[1], transpose_kernel)
        if vocabulary_block is not None:
            return _block_loop(
                kernel_fn, flat_hidden, projection, bias_, flat_ids, weights_, vocabulary_block, with_gradients
            )
        return _loop(kernel_fn, flat_hidden, projection, bias_, flat_ids, weights_, chunk, with_gradients)

    if scalar:

        @ops.custom_gradient
        def reduced(*tensors):
            total, dh, dkernel, dbias = loop(tensors, flat_weights, True)

            def gradient(*args, upstream=None):
                upstream = ops.cast(args[0] if upstream is None else upstream, accumulation)
                return as_inputs(tensors, upstream * dh, upstream * dkernel, upstream * dbias)

            return total, gradient

        return reduced(*inputs)

    @ops.custom_gradient
    def per_token(*tensors):
        values = loop(tensors, flat_weights, False)

        def gradient(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            _, dh, dkernel, dbias = loop(
                tensors, ops.reshape(ops.cast(upstream, accumulation), (-1,)) * flat_weights, True
            )
            return as_inputs(tensors, dh, dkernel, dbias)

        return ops.reshape(values, shape), gradient

    return per_token(*inputs)


def predicted_ids_of(y_pred):
    """The argmax of the logits `y_pred` that a `LossHead(training_predictions=True)` computed in chunks, or None."""
    return get_tensor_attr(y_pred, PREDICTIONS_ATTRIBUTE)


def chunked_argmax(hidden, kernel, bias=None, *, chunk_size=None, transpose_kernel=False):
    """`argmax(hidden @ kernel + bias, axis=-1)` (int32, `hidden.shape[:-1]`), in chunks of tokens, no gradient."""
    hidden = ops.stop_gradient(as_tensor(hidden))
    projection = _Projection(ops.stop_gradient(ops.cast(as_tensor(kernel), hidden.dtype)), transpose_kernel)
    d = hidden.shape[-1]
    flat = ops.reshape(hidden, (-1, d))
    n = ops.shape(flat)[0]
    chunk = chunk_size or default_chunk_size(projection.units)
    num_chunks = (n + chunk - 1) // chunk
    chunks = _in_chunks(flat, chunk, num_chunks, num_chunks * chunk - n)
    accumulation = _accumulation_dtype(hidden.dtype)
    bias = None if bias is None else ops.stop_gradient(as_tensor(bias))

    def body(i, ids):
        logits = _chunk_logits(ops.take(chunks, i, axis=0), projection, bias, accumulation)
        return ops.slice_update(ids, (i, 0), ops.cast(ops.argmax(logits, axis=-1), "int32")[None])

    ids = _serial_fori_loop(0, num_chunks, body, ops.zeros((num_chunks, chunk), "int32"))
    return ops.reshape(ops.reshape(ids, (-1,))[:n], ops.shape(hidden)[:-1])


class ChunkedLogits:
    """Where a head's training logits come from: what a loss of the package computes them from in chunks.

    A `LossHead` sets it on the logits it returns in training (`loss.CHUNKED_SOURCE`); a loss of the package
    given those logits calls `loss_value`, and the logits themselves are left unused.
    """

    def __init__(self, hidden, kernel, bias, chunk_size, transpose_kernel, vocabulary_block=None):
        self.hidden, self.kernel, self.bias = hidden, kernel, bias
        self.chunk_size, self.transpose_kernel, self.vocabulary_block = chunk_size, transpose_kernel, vocabulary_block

    def loss_value(self, loss, y_true, sample_weight=None, mask=None):
        """`loss(y_true, logits, sample_weight)` with the logits' Keras `mask`, by `chunked_loss`."""
        return chunked_loss(
            loss,
            y_true,
            self.hidden,
            self.kernel,
            self.bias,
            sample_weight,
            mask=mask,
            chunk_size=self.chunk_size,
            transpose_kernel=self.transpose_kernel,
            vocabulary_block=self.vocabulary_block,
        )


def _positive_integer(value):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and int(value) == value and value >= 1


def _check_head_arguments(chunk_size):
    if chunk_size is not None and not _positive_integer(chunk_size):
        raise ValueError(f"`chunk_size` must be a positive integer or None. Received: chunk_size={chunk_size!r}")
    return None if chunk_size is None else int(chunk_size)


def _check_vocabulary_block(vocabulary_block, chunk_size):
    """`vocabulary_block` as an int (None stays None); refused with a `chunk_size`, which it leaves unused."""
    if vocabulary_block is None:
        return None
    if not _positive_integer(vocabulary_block):
        raise ValueError(
            f"`vocabulary_block` must be a positive integer or None. Received: vocabulary_block={vocabulary_block!r}"
        )
    if chunk_size is not None:
        raise ValueError(
            "`chunk_size` (tokens per chunk) and `vocabulary_block` (classes per block, all the tokens at once) are "
            f"two modes: give one. Received: chunk_size={chunk_size!r}, vocabulary_block={vocabulary_block!r}"
        )
    return int(vocabulary_block)


class _ChunkedHead(keras.layers.Layer):
    """The logits of a projection (`kernel`, `bias`); in training, with what a loss needs to compute them in chunks.

    Subclasses set `kernel` (a variable, `[d, V]`, or `[V, d]` with `transpose_kernel`) and `bias` (or None).
    """

    transpose_kernel = False

    def __init__(self, chunk_size=None, training_predictions=False, vocabulary_block=None, **kwargs):
        super().__init__(**kwargs)
        self.chunk_size = _check_head_arguments(chunk_size)
        self.vocabulary_block = _check_vocabulary_block(vocabulary_block, self.chunk_size)
        self.training_predictions = bool(training_predictions)
        self.supports_masking = True

    def call(self, inputs, training=None):
        kernel = ops.transpose(self.kernel) if self.transpose_kernel else self.kernel
        logits = ops.matmul(inputs, kernel)
        if self.bias is not None:
            logits = ops.add(logits, self.bias)
        if training:
            # The logits stay as they are for whatever reads them; a loss of the package computes them in chunks
            # from these instead, and compiled steps (XLA, `tf.function`) drop the unused matmul.
            kernel_value, bias_value = self.kernel.value, None if self.bias is None else self.bias.value
            source = ChunkedLogits(
                inputs, kernel_value, bias_value, self.chunk_size, self.transpose_kernel, self.vocabulary_block
            )
            set_tensor_attr(logits, CHUNKED_SOURCE, source)
            if self.training_predictions:
                ids = chunked_argmax(
                    inputs, kernel_value, bias_value, chunk_size=self.chunk_size, transpose_kernel=self.transpose_kernel
                )
                set_tensor_attr_for_metrics(logits, PREDICTIONS_ATTRIBUTE, ids)
        return logits

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


class LossHead(_ChunkedHead):
    """`Dense(units)` before a loss of keras-losses, the loss computed in chunks of tokens during training.

    It returns the logits `inputs @ kernel + bias`, `[..., units]`, as the `Dense` layer it replaces, in
    training and outside it. In training (`training=True`, as `fit` calls the model) the logits also carry the
    hidden states, so that a loss of the package (`CrossEntropy`, `EncouragingLoss`,
    `ConservativeEncouragingLoss`, `SquareLoss`, `Squentropy`) given them computes `chunked_loss` with the
    head's kernel and bias, with every option (label smoothing, `ignore_class`, sample weights, masks,
    reductions, `mean_over_global_batch`), so `model.compile(loss=...)` and `model.fit` are unchanged. When
    nothing else reads the logits, a compiled training step (`fit` on JAX, TensorFlow's `tf.function` and
    XLA) never computes them: the `[N, V]` logits of all tokens and their gradient are never held (see
    `keras_losses.loss_head`). Whatever else reads them gets them right: a Keras loss or a loss of another
    library, a layer between the head and the loss, a metric (they then cost the plain head's memory for
    the logits; their gradient, where a loss of Keras needs it, too). In eager steps (PyTorch,
    `run_eagerly=True`) the logits are computed in the forward pass, without their gradient or the softmax.

    Its weights are `Dense`'s: `kernel [d, units]` and `bias [units]`, of the same names, so a `Dense`
    layer's weights load into it (`head.set_weights(dense.get_weights())`) and back.

    Training-time metrics: with `training_predictions=True` the head also computes the argmax of its logits
    in chunks (one more matmul per step, no gradient), which `keras_losses.metrics.MaskedTokenAccuracy` reads
    instead of the logits: the training accuracy without the `[N, V]` logits.

    Args:
        units: int >= 2, the number of classes `V` (the vocabulary).
        use_bias: bool, whether to add a bias (as `Dense`).
        kernel_initializer: as `Dense`'s.
        bias_initializer: as `Dense`'s.
        kernel_regularizer: as `Dense`'s.
        bias_regularizer: as `Dense`'s.
        kernel_constraint: as `Dense`'s.
        bias_constraint: as `Dense`'s.
        chunk_size: tokens per chunk in training, int >= 1, or None for `default_chunk_size(units)`.
            Smaller saves memory, larger fewer loop steps.
        vocabulary_block: None, or int >= 1 for the memory floor: training computes the loss in blocks of this
            many classes, all the tokens at once, the logits recomputed in a second pass (`chunked_loss`'s
            `vocabulary_block`: the kernel, its gradient and a few `[N, vocabulary_block]` tensors; one more
            matmul). Not with `chunk_size`.
        training_predictions: bool, whether training also computes the argmax of the logits in chunks (for
            `MaskedTokenAccuracy` in `fit`). Defaults to False.
        **kwargs: `Layer` arguments (`name`, `dtype`, ...). Under a mixed precision policy the matmuls run in
            the compute dtype and the losses' sums, the logits' gradient, `dW` and `db` accumulate in float32.

    Examples:

        >>> import keras, keras_losses
        >>> inputs = keras.Input((None,), dtype="int32")
        >>> hidden = keras.layers.Embedding(100, 16, mask_zero=True)(inputs)
        >>> logits = keras_losses.LossHead(100, chunk_size=64, name="logits")(hidden)
        >>> model = keras.Model(inputs, logits)
        >>> model.compile("adam", loss=keras_losses.CrossEntropy(from_logits=True, label_smoothing=0.1))
        >>> model.output_shape
        (None, None, 100)

    References:
        - [Liger-Kernel's fused linear cross-entropy](https://github.com/linkedin/Liger-Kernel)
        - [Wijmans et al., 2024. Cut Your Losses in Large-Vocabulary Language Models](https://arxiv.org/abs/2411.09009)
    """

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        chunk_size=None,
        training_predictions=False,
        vocabulary_block=None,
        **kwargs,
    ):
        super().__init__(
            chunk_size=chunk_size,
            training_predictions=training_predictions,
            vocabulary_block=vocabulary_block,
            **kwargs,
        )
        if isinstance(units, bool) or int(units) != units or units < 2:
            raise ValueError(f"`units` must be an integer >= 2. Received: units={units!r}")
        self.units, self.use_bias = int(units), bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "chunk_size": self.chunk_size,
            "training_predictions": self.training_predictions,
            "vocabulary_block": self.vocabulary_block,
        }


class TiedLossHead(_ChunkedHead):
    """A `LossHead` over an existing embedding matrix: the logits `inputs @ embeddings^T (+ bias)`.

    For models whose output projection is tied to the token embedding (GPT-2, Gemma, the `--share-all-embeddings`
    translators): `embedding` is a `keras.layers.Embedding`, keras-hub's `ReversibleEmbedding`, or any layer
    with an `embeddings` variable `[V, d]` (a `ReversibleEmbedding(tie_weights=False)`: its own
    `reverse_embeddings` `[d, V]`). The matrix is the embedding's own variable, not a copy: the gradients of
    both uses (the lookup and the head) reach it and add up. Training, metrics and eager steps are as for
    `LossHead`.

    A model with it saves to a `.keras` file and loads tied: its config holds the embedding's, which Keras'
    saving (`model.save`, `keras.models.load_model`) records once and resolves to the one layer of the loaded
    model (Keras' shared objects). Rebuilt from its config alone (`from_config(get_config())`, `clone_model`)
    it would own a copy of the embedding, untied: that is refused.

    Args:
        embedding: the embedding layer (built, or buildable without an input shape), or a layer that holds it
            as `token_embedding` (a keras-hub backbone: the head's config then names the backbone, which a
            loaded model rebuilds with its embedding).
        use_bias: bool, whether to add a bias `[V]` of the head's own. Defaults to False (as GPT-2, Gemma).
        bias_initializer: as `Dense`'s.
        chunk_size: tokens per chunk in training, int >= 1, or None for `default_chunk_size(V)`.
        training_predictions: bool, as `LossHead`'s.
        vocabulary_block: None, or int >= 1 for the memory floor, as `LossHead`'s.
        **kwargs: `Layer` arguments.

    Examples:

        >>> import keras, keras_losses
        >>> inputs = keras.Input((None,), dtype="int32")
        >>> embedding = keras.layers.Embedding(100, 16)
        >>> logits = keras_losses.TiedLossHead(embedding, chunk_size=64)(embedding(inputs))
        >>> keras.Model(inputs, logits).output_shape
        (None, None, 100)
    """

    def __init__(
        self,
        embedding,
        use_bias=False,
        bias_initializer="zeros",
        chunk_size=None,
        training_predictions=False,
        vocabulary_block=None,
        **kwargs,
    ):
        super().__init__(
            chunk_size=chunk_size,
            training_predictions=training_predictions,
            vocabulary_block=vocabulary_block,
            **kwargs,
        )
        #: The layer given: the embedding, or a layer that holds it as `token_embedding` (a keras-hub backbone).
        self.embedding = embedding
        embedding = self.embedding_layer
        if getattr(embedding, "logit_soft_cap", None):
            raise NotImplementedError(
                "`TiedLossHead` does not compute soft-capped logits (`logit_soft_cap`): use the embedding's own "
                f"reverse projection. Received: logit_soft_cap={embedding.logit_soft_cap!r}"
            )
        self.use_bias = bool(use_bias)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        #: keras-hub's `ReversibleEmbedding(reverse_dtype=...)` computes its logits in that dtype.
        self.reverse_dtype = getattr(embedding, "reverse_dtype", None)

    @property
    def embedding_layer(self):
        """The embedding layer whose matrix the head uses."""
        return getattr(self.embedding, "token_embedding", self.embedding)

    def call(self, inputs, training=None):
        if self.reverse_dtype is not None:
            inputs = ops.cast(inputs, self.reverse_dtype)
        return super().call(inputs, training=training)

    def build(self, input_shape):
        embedding = self.embedding_layer
        if not embedding.built:
            embedding.build(None)
        self.transpose_kernel = getattr(embedding, "tie_weights", True)
        if self.transpose_kernel:
            self.kernel = getattr(embedding, "embeddings", None)
        else:
            self.kernel = embedding.reverse_embeddings
        if self.kernel is None or len(self.kernel.shape) != 2:
            raise ValueError(
                f"`embedding` must hold an `embeddings` variable [V, d]. Received: {type(embedding).__name__}"
            )
        self.units, d = self.kernel.shape if self.transpose_kernel else self.kernel.shape[::-1]
        if input_shape[-1] is not None and input_shape[-1] != d:
            raise ValueError(
                f"The inputs' last axis must be the embedding's dimension d={d}. Received: input_shape={input_shape}"
            )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)

    def get_config(self):
        return {
            **super().get_config(),
            "embedding": keras.saving.serialize_keras_object(self.embedding),
            "use_bias": self.use_bias,
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "chunk_size": self.chunk_size,
            "training_predictions": self.training_predictions,
            "vocabulary_block": self.vocabulary_block,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        embedding = config.pop("embedding")
        if not isinstance(embedding, dict) or "shared_object_id" not in embedding:
            raise ValueError(
                "A `TiedLossHead` is rebuilt with the model that holds its embedding (`model.save` and "
                "`keras.models.load_model`, where Keras shares the layer): from its config alone it would own a "
                "copy of the embedding, untied. Build the head again over the model's embedding layer instead."
            )
        return cls(keras.saving.deserialize_keras_object(embedding), **config)
