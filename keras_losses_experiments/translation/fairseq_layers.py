"""fairseq's transformer (fairseq 0.10, `fairseq/models/transformer.py`) where it differs from keras-hub's layers.

`--architecture fairseq` (the encouraging-loss paper's `transformer_iwslt_de_en`) builds the translator of
`model.build_transformer` from these, and keras-hub's `TransformerEncoder`/`TransformerDecoder` (post-norm,
ReLU, layer-norm epsilon 1e-5, as fairseq's defaults):

- `FairseqEmbedding`: token embeddings initialised `N(0, d^-0.5)` with the padding row 0 (`Embedding`,
  transformer.py:907-911), scaled by `sqrt(d)` (`embed_scale`, :323, :565), plus fairseq's sinusoidal positions
  (`SinusoidalPositionalEmbedding`: `[sin | cos]` halves, frequencies `10000^(-i / (d/2 - 1))`, positions counted
  from `padding_idx + 1 = 2` over the real tokens, padding's position embedding 0); called with
  `reverse=True` it is the output projection over the same matrix, `h @ E^T` without bias
  (`--share-all-embeddings`: one matrix for the source, the target and the output, transformer.py:196-...).
- the embedding's gradient is dense, as PyTorch's (`embeddings.dense_gradient`: Keras' Adam on TensorFlow's
  sparse gradients squares each occurrence of a token apart);
- `FairseqEncoderLayer`/`FairseqDecoderLayer`: keras-hub's layers with the attention probabilities' own dropout
  rate (`attention_dropout`, fairseq's default 0, base_architecture :940) instead of keras-hub's `dropout`
  there; the residual and feed-forward dropouts stay `dropout`, and no dropout after the ReLU
  (`activation_dropout` 0, :941).

The padding id is the model's 0 (`corpus.model_ids`: fairseq's `<pad>`).
"""

import math

import keras
import keras_hub
from keras import ops

from keras_losses_experiments.translation.embeddings import dense_gradient

PAD_ID = 0
FIRST_POSITION = 2  # fairseq's padding_idx (1) + 1: the position of a sentence's first token


def sinusoidal_table(positions, dim):
    """fairseq's `SinusoidalPositionalEmbedding.get_embedding(positions, dim, padding_idx=1)` as NumPy."""
    import numpy as np

    half = dim // 2
    frequencies = np.exp(np.arange(half, dtype=np.float32) * -(math.log(10000) / (half - 1)))
    angles = np.arange(positions, dtype=np.float32)[:, None] * frequencies[None, :]
    table = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    if dim % 2:
        table = np.concatenate([table, np.zeros((positions, 1), np.float32)], axis=1)
    table[1] = 0.0  # padding_idx's row
    return table


def _embedding_initializer(dim):
    normal = keras.initializers.RandomNormal(stddev=dim**-0.5)

    def initialize(shape, dtype=None):
        values = normal(shape, dtype)
        return ops.concatenate([ops.zeros((1, shape[1]), values.dtype), values[1:]], axis=0)

    return initialize


@keras.saving.register_keras_serializable(package="keras_losses_experiments")
class FairseqEmbedding(keras.layers.Layer):
    """Token embedding `sqrt(d) * E[ids]` plus fairseq's sinusoidal position (see the module); masks id 0.

    `call(ids, start_index=0)`: `[batch, length]` -> `[batch, length, d]` (`start_index`: the position of the
    first column, for decoding one token at a time). `call(hidden, reverse=True)`: logits `hidden @ E^T`
    (float32), the output projection of shared embeddings.
    """

    def __init__(self, vocabulary_size, embedding_dim, max_positions=1024, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.embedding_dim, self.max_positions = vocabulary_size, embedding_dim, max_positions
        self.supports_masking = True

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.vocabulary_size, self.embedding_dim),
            initializer=_embedding_initializer(self.embedding_dim),
            name="embeddings",
        )
        table = sinusoidal_table(self.max_positions + FIRST_POSITION, self.embedding_dim)
        self.positions = ops.convert_to_tensor(table)
        self.built = True

    def call(self, inputs, start_index=0, reverse=False):
        if reverse:
            return ops.matmul(ops.cast(inputs, "float32"), ops.transpose(ops.cast(self.embeddings, "float32")))
        ids = ops.cast(inputs, "int32")
        real = ops.not_equal(ids, PAD_ID)
        length = ops.shape(ids)[-1]
        position = ops.arange(length, dtype="int32")[None, :] + start_index + FIRST_POSITION
        position = ops.where(real, position, 1)  # padding: fairseq's padding_idx row, zeros
        scale = ops.cast(math.sqrt(self.embedding_dim), self.compute_dtype)
        tokens = ops.take(dense_gradient(ops.cast(self.embeddings, self.compute_dtype)), ids, axis=0)
        return tokens * scale + ops.cast(ops.take(self.positions, position, axis=0), self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if "int" not in str(inputs.dtype):  # `reverse=True` on hidden states: their mask passes on
            return mask
        return ops.not_equal(inputs, PAD_ID)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size, embedding_dim=self.embedding_dim, max_positions=self.max_positions
        )
        return config


def _set_attention_dropout(layer, rate):
    for attention in (layer._self_attention_layer, getattr(layer, "_cross_attention_layer", None)):
        if attention is not None:
            attention._dropout = rate
            attention._dropout_layer.rate = rate


@keras.saving.register_keras_serializable(package="keras_losses_experiments")
class FairseqEncoderLayer(keras_hub.layers.TransformerEncoder):
    """keras-hub's encoder layer with `attention_dropout` on the attention probabilities (fairseq's)."""

    def __init__(self, *args, attention_dropout=0.0, **kwargs):
        self.attention_dropout = attention_dropout  # first: keras-hub's __init__ builds a layer loaded from a file
        super().__init__(*args, **kwargs)

    def build(self, inputs_shape):
        super().build(inputs_shape)
        _set_attention_dropout(self, self.attention_dropout)

    def get_config(self):
        return {**super().get_config(), "attention_dropout": self.attention_dropout}


@keras.saving.register_keras_serializable(package="keras_losses_experiments")
class FairseqDecoderLayer(keras_hub.layers.TransformerDecoder):
    """keras-hub's decoder layer with `attention_dropout` on the attention probabilities (fairseq's)."""

    def __init__(self, *args, attention_dropout=0.0, **kwargs):
        self.attention_dropout = attention_dropout  # first: keras-hub's __init__ builds a layer loaded from a file
        super().__init__(*args, **kwargs)

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        super().build(decoder_sequence_shape, encoder_sequence_shape)
        _set_attention_dropout(self, self.attention_dropout)

    def get_config(self):
        return {**super().get_config(), "attention_dropout": self.attention_dropout}
