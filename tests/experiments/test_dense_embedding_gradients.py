"""Keras' Adam on TensorFlow's sparse embedding gradients, and the translators' dense-gradient embeddings.

One Adam step on an embedding looked up with a repeated id, against NumPy's Adam on the dense gradient
(duplicate rows summed, as PyTorch's `nn.Embedding` gives it): Keras' own `Embedding` on TensorFlow squares each
occurrence apart (the bug, reproduced), the package's embeddings match NumPy.
"""

import keras
import numpy as np
import pytest

from keras_losses_experiments.translation import embeddings
from keras_losses_experiments.translation.fairseq_layers import FairseqEmbedding

IDS = np.array([[1, 1, 2, 1]], np.int32)  # id 1 three times
LEARNING_RATE, BETA_1, BETA_2, EPSILON = 0.1, 0.9, 0.999, 1e-7


def _numpy_adam_step(table, gradient):
    m = (1 - BETA_1) * gradient
    v = (1 - BETA_2) * gradient**2
    alpha = LEARNING_RATE * np.sqrt(1 - BETA_2) / (1 - BETA_1)
    return table - alpha * m / (np.sqrt(v) + EPSILON)


def _one_step(layer, table_of, weights, scale=1.0):
    """(the table before, the dense gradient by hand, the table after one Keras Adam step) of the loss
    `sum(layer(IDS) * weights)` (`scale`: the layer's factor on its embeddings)."""
    import tensorflow as tf

    outputs = layer(IDS)
    table = table_of(layer)
    before = keras.ops.convert_to_numpy(table).copy()
    optimizer = keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON)
    with tf.GradientTape() as tape:
        outputs = layer(IDS)
        loss = keras.ops.sum(outputs * weights)
    (gradient,) = tape.gradient(loss, [table.value if hasattr(table, "value") else table])
    gradient_dense = np.zeros_like(before)  # by hand: d loss / d E[i] sums the weights of i's occurrences
    for position, token in enumerate(IDS[0]):
        gradient_dense[token] += weights[0, position] * scale
    optimizer.apply([gradient], [table])
    return before, gradient_dense, keras.ops.convert_to_numpy(table)


@pytest.fixture
def weights():
    return np.random.default_rng(0).normal(size=(1, IDS.shape[1], 4)).astype("float32")


def test_keras_adam_squares_each_occurrence_of_a_sparse_gradient_apart(weights):
    """The bug: Keras' Embedding on TensorFlow, one Adam step, differs from Adam on the dense gradient for the
    repeated id (and only for it). If this fails, Keras fixed it: `embeddings.dense_gradient` can go."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("IndexedSlices are TensorFlow's")
    layer = keras.layers.Embedding(5, 4, dtype="float32")
    before, gradient, after = _one_step(layer, lambda layer: layer.embeddings, weights)
    expected = _numpy_adam_step(before, gradient)
    np.testing.assert_allclose(after[2], expected[2], atol=1e-5)  # id 2 occurs once: the same (float32 rounding)
    assert np.max(np.abs(after[1] - expected[1])) > 1e-3  # id 1 occurs three times: not Adam's update


@pytest.mark.parametrize("kind", ["keras_hub", "fairseq"])
def test_translator_embeddings_get_adams_dense_update(kind, weights):
    if kind == "keras_hub":
        layer = embeddings.TokenAndPositionEmbedding(5, 8, 4, dtype="float32")
        table_of, scale = (lambda layer: layer.token_embedding.embeddings), 1.0
    else:
        layer = FairseqEmbedding(5, 4, max_positions=8, dtype="float32")
        table_of, scale = (lambda layer: layer.embeddings), 2.0  # sqrt(d)
    before, gradient, after = _one_step(layer, table_of, weights, scale)
    np.testing.assert_allclose(after, _numpy_adam_step(before, gradient), atol=1e-5)  # the bug: > 1e-3


def test_token_and_position_embedding_equals_keras_hubs():
    """The same outputs and mask as keras-hub's layer with the same weights."""
    import keras_hub

    ours = embeddings.TokenAndPositionEmbedding(5, 8, 4, mask_zero=True)
    theirs = keras_hub.layers.TokenAndPositionEmbedding(5, 8, 4, mask_zero=True)
    ids = np.array([[1, 1, 2, 0, 0]], np.int32)
    ours(ids), theirs(ids)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours(ids)), keras.ops.convert_to_numpy(theirs(ids)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours.compute_mask(ids)), ids != 0)
    inputs = keras.Input((5,), dtype="int32")
    masked = keras.ops.convert_to_numpy(keras.Model(inputs, ours(inputs)._keras_mask)(ids))
    np.testing.assert_array_equal(masked, ids != 0)  # the mask travels in a functional model


@pytest.mark.parametrize("architecture", ["keras_hub", "fairseq"])
def test_every_translator_gives_the_optimizer_dense_gradients(architecture):
    """`model.build_transformer` (every translator of the package: the example's two paths, compare): no
    `IndexedSlices` reach the optimizer, whichever architecture."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("IndexedSlices are TensorFlow's")
    import tensorflow as tf

    from keras_losses_experiments.translation.model import build_transformer
    from keras_losses_experiments.translation.presets import PRESETS

    preset = PRESETS["tiny"].override(architecture=architecture)
    model = build_transformer(7, 7, 6, preset, head="dense")
    ids = np.array([[3, 3, 4, 3, 0, 0]], np.int32)
    with tf.GradientTape() as tape:
        loss = keras.ops.sum(model([ids, ids], training=True) ** 2)
    gradients = tape.gradient(loss, model.trainable_variables)
    sparse = [v.path for v, g in zip(model.trainable_variables, gradients) if isinstance(g, tf.IndexedSlices)]
    assert sparse == []
