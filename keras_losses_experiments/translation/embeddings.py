"""The translators' token embeddings, whose gradient is one dense tensor, as PyTorch's `nn.Embedding` gives it.

On TensorFlow the gradient of a lookup `E[ids]` is an `IndexedSlices` with one row per occurrence of a token,
and Keras' Adam (3.x `Adam.update_step`, AdamW, RMSprop, Adagrad: every optimizer with a non-linear function
of the gradient) squares those rows one by one: a token that occurs k times in a batch gets `v += (1 - β2)
Σ g_i²` instead of `(1 - β2) (Σ g_i)²`, so its update is smaller than PyTorch's (fairseq's) and Keras' own on
JAX or PyTorch. SGD and momentum are linear in the gradient: summing the rows first or after is the same.
`dense_gradient(table)` makes the lookup's gradient dense (duplicate rows summed) before any optimizer sees it;
every translator of the package looks its tokens up through it (`TokenAndPositionEmbedding` here for the
keras-hub architecture, `fairseq_layers.FairseqEmbedding` for fairseq's). Related upstream discussion of Keras 3
optimizers and `IndexedSlices`: keras-team/keras#19992 (speed, not this result).
"""

import keras
import keras_hub
from keras import ops


def dense_gradient(table):
    """`table`, through which the gradient of a lookup flows as one dense tensor (duplicate rows summed): the
    multiplication's gradient converts TensorFlow's `IndexedSlices` to a tensor (nothing changes on JAX and
    PyTorch, whose gradients are dense already)."""
    return ops.multiply(table, ops.cast(1, table.dtype))


@keras.saving.register_keras_serializable(package="keras_losses_experiments")
class TokenAndPositionEmbedding(keras_hub.layers.TokenAndPositionEmbedding):
    """keras-hub's `TokenAndPositionEmbedding` (the same weights, masks and outputs) with the token lookup's
    gradient dense (`dense_gradient`)."""

    def call(self, inputs, start_index=0, positions=None):
        ids = ops.cast(inputs, "int32")
        table = dense_gradient(self.token_embedding.embeddings)
        tokens = ops.cast(ops.take(table, ids, axis=0), self.compute_dtype)
        return tokens + self.position_embedding(tokens, start_index=start_index, positions=positions)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0) if self.token_embedding.mask_zero else None
