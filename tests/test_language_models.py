"""`keras_losses.chunked_language_model`: keras-hub causal LMs (GPT-2, Gemma, Llama: tied and untied embeddings),
built from tiny configs with random weights, train with the chunked head as with their own logits."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses

keras_hub = pytest.importorskip("keras_hub")

V, SEQUENCE = 64, 8


def _backbone(name):
    keras.utils.set_random_seed(0)
    common = {"vocabulary_size": V, "num_layers": 1, "hidden_dim": 8, "intermediate_dim": 16}
    if name == "gpt2":
        return keras_hub.models.GPT2Backbone(num_heads=2, max_sequence_length=SEQUENCE, dropout=0.0, **common)
    if name == "gemma":
        return keras_hub.models.GemmaBackbone(num_query_heads=2, num_key_value_heads=1, head_dim=4, **common)
    return keras_hub.models.LlamaBackbone(num_query_heads=2, num_key_value_heads=1, **common)  # untied


def _data():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, V, size=(4, SEQUENCE + 1))
    padding = np.ones((4, SEQUENCE), bool)
    padding[1, 5:] = False
    x = {"token_ids": tokens[:, :-1], "padding_mask": padding}
    return x, tokens[:, 1:], padding.astype("float32")


@pytest.mark.parametrize("name", ["gpt2", "gemma", "llama"])
def test_the_chunked_model_trains_as_the_causal_lms_own_logits(name):
    backbone = _backbone(name)
    inputs = backbone.input
    plain = keras.Model(inputs, backbone.token_embedding(backbone(inputs), reverse=True))
    chunked = keras_losses.chunked_language_model(backbone, chunk_size=5)
    x, y, sample_weight = _data()
    np.testing.assert_allclose(ops.convert_to_numpy(chunked(x)), ops.convert_to_numpy(plain(x)), rtol=1e-5, atol=1e-6)
    initial, runs = backbone.get_weights(), []
    for model in (plain, chunked):
        backbone.set_weights(initial)
        model.compile(keras.optimizers.SGD(0.5), loss=keras_losses.EncouragingLoss(from_logits=True))
        history = model.fit(x, y, sample_weight=sample_weight, epochs=2, batch_size=4, verbose=0).history
        runs.append((history["loss"], backbone.get_weights()))
    (plain_loss, plain_weights), (chunked_loss, chunked_weights) = runs
    np.testing.assert_allclose(chunked_loss, plain_loss, rtol=1e-5)
    assert not np.allclose(plain_weights[0], initial[0])  # it trained
    for a, b in zip(plain_weights, chunked_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_the_chunked_model_saves_and_loads_with_its_head_still_tied(name, tmp_path):
    chunked = keras_losses.chunked_language_model(_backbone(name), chunk_size=5)
    chunked.compile(keras.optimizers.SGD(0.5), loss=keras_losses.CrossEntropy(from_logits=True))
    x, y, _ = _data()
    chunked.save(tmp_path / "lm.keras")
    loaded = keras.models.load_model(tmp_path / "lm.keras")
    head = loaded.get_layer("logits")
    embedding = loaded.get_layer(chunked.layers[-2].name).token_embedding
    assert head.kernel is (embedding.embeddings if name == "gpt2" else embedding.reverse_embeddings)
    assert len(loaded.trainable_weights) == len(chunked.trainable_weights)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(chunked(x)), rtol=1e-6)
    for model in (chunked, loaded):  # one step each: the shared matrix moves the same
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    for a, b in zip(chunked.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_a_model_without_a_token_embedding_is_refused():
    with pytest.raises(ValueError, match="token_embedding"):
        keras_losses.chunked_language_model(keras.Sequential([keras.layers.Dense(2)]))
