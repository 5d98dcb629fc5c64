"""examples/translation.py on mock data: the paper's preset (shrunk) trains, decodes, scores and reloads; the
cached decoder gives the tokens of the uncached one; a step on two replicas equals the one-device step whatever
the padding; padding invariance."""

import json
import runpy
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

import keras_losses
from tests.helpers import mirrored_strategy_on_two_cpus

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute and tf.data")

DECODING_SPEED = Path(__file__).parents[2] / "benchmarks" / "decoding_speed.py"


def check_run(output_dir, loss):
    from keras_losses_experiments.translation import data as translation_data

    results = json.loads((output_dir / "results.json").read_text())
    assert results["loss"] == loss and 0.0 <= results["bleu"] <= 100.0
    assert 0.0 <= results["token_accuracy"] <= 1.0 and np.isfinite(results["test_loss"])
    assert results["loss_config"]["ignore_class"] == translation_data.PAD_ID and results["test_sentences"] == 6
    assert results["loss_config"]["mean_over_global_batch"] is True  # token-exact under any number of replicas
    return results


def test_the_preset_applies_its_loss_smoothing_dropout_and_optimizer(translation_run):
    results = check_run(translation_run, "conservative_encouraging:0.5")
    assert results["preset"] == "iwslt_sentences" and results["label_smoothing"] == 0.1 and results["beams"] == 2
    assert results["head"] == "chunked"  # the default logits layer: keras_losses.LossHead
    assert results["preset_config"]["dropout"] == 0.3 and results["preset_config"]["model_dim"] == 32
    model = keras.models.load_model(translation_run / "model.keras")
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.weight_decay == pytest.approx(1e-4)
    assert (optimizer.beta_1, optimizer.beta_2) == (0.9, 0.98) and int(optimizer.iterations) == 4
    assert optimizer.learning_rate.numpy() == pytest.approx(5e-4 * 4 / 4000)  # warm-up: step 4 of 4000
    assert model.get_layer("encoder_0").dropout == 0.3
    assert isinstance(model.get_layer("logits"), keras_losses.LossHead)  # loaded as trained


def test_saved_translator_reloads_and_decodes_the_same(translation_run):
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import decoding

    results = json.loads((translation_run / "results.json").read_text())
    model = keras.models.load_model(translation_run / "model.keras")
    assert model.loss.get_config() == results["loss_config"]
    source, target = translation_data.load_tokenizers(translation_run)
    sources = [sample["source"] for sample in results["samples"]]
    decoded = decoding.translate(model, source, target, sources, sequence_length=12, beams=2)
    assert decoded == [sample["translation"] for sample in results["samples"]]


def uncached_generate(model, encoder_tokens, beams):
    """The uncached decoder of benchmarks/decoding_speed.py: the whole model on the whole prefix at every step."""
    from keras import ops

    return ops.convert_to_numpy(runpy.run_path(str(DECODING_SPEED))["uncached_generate"](model, encoder_tokens, beams))


def test_cached_decoding_gives_the_tokens_of_the_uncached_decoder(translation_run):
    """The trained (and reloaded) tiny translator, greedy and beam search; sources of every length from 1 to 12."""
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import decoding

    model = keras.models.load_model(translation_run / "model.keras")
    vocabulary = model.get_layer("source_embedding").token_embedding.input_dim
    rng = np.random.default_rng(0)
    sources = np.full((12, 12), translation_data.PAD_ID, "int32")
    for length, row in enumerate(sources, start=1):
        row[:length] = rng.integers(translation_data.END_ID + 1, vocabulary, length)
    for beams in (1, 3):
        cached = np.asarray(decoding.CachedDecoder(model, beams).compiled()(sources))
        np.testing.assert_array_equal(cached, uncached_generate(model, sources, beams), err_msg=f"beams={beams}")
        assert (cached[:, 0] == translation_data.START_ID).all() and (cached[:, 1:] != translation_data.PAD_ID).all()


def test_a_step_on_two_replicas_equals_one_device_whatever_the_padding():
    """The translator's loss is the mean over the non-padding tokens of the global batch: one SGD step of the
    real translator on two replicas (rows 0-1 with 14 target tokens, rows 2-3 with 3) equals the one-device
    step; Keras' per-replica mean, each replica dividing by its own count, does not."""
    import tensorflow as tf

    from keras_losses_experiments import losses
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import decoding
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.presets import PRESETS

    preset = PRESETS["tiny"].override(layers=1, model_dim=16, heads=2, feedforward_dim=32, dropout=0.0)
    tokenizer = SimpleNamespace(vocabulary_size=lambda: 30)
    rng = np.random.default_rng(0)
    lengths = {"encoder_inputs": [8, 6, 2, 1], "decoder_inputs": [8, 6, 2, 1]}
    inputs = {name: np.zeros((4, 8), "int32") for name in lengths}
    for name, row_lengths in lengths.items():
        for row, length in zip(inputs[name], row_lengths):
            row[:length] = rng.integers(4, 30, length)
    labels = np.concatenate([inputs["decoder_inputs"][:, 1:], np.zeros((4, 1), "int32")], axis=1)
    labels[np.arange(4), np.array(lengths["decoder_inputs"]) - 1] = translation_data.END_ID

    def step(strategy, token_exact=True, weights=None):
        with strategy.scope():
            model = translator.compiled_translator(
                "conservative_encouraging:0.5", tokenizer, tokenizer, 8, preset, optimizer=keras.optimizers.SGD(1.0)
            )
            if not token_exact:
                model.compile(
                    keras.optimizers.SGD(1.0),
                    losses.build_loss("conservative_encouraging:0.5", 30, 0.1, ignore_class=translation_data.PAD_ID),
                )
            if weights is not None:
                model.set_weights(weights)
        before = [w.copy() for w in model.get_weights()]
        loss = model.fit(inputs, labels, batch_size=4, epochs=1, shuffle=False, verbose=0).history["loss"][0]
        return before, model, loss

    initial, one_device, one_device_loss = step(tf.distribute.get_strategy())
    mirrored = mirrored_strategy_on_two_cpus()
    _, token_exact, token_exact_loss = step(mirrored, weights=initial)
    _, per_replica, per_replica_loss = step(mirrored, token_exact=False, weights=initial)
    assert token_exact_loss == pytest.approx(one_device_loss, rel=1e-5, abs=1e-5)
    for a, b in zip(one_device.get_weights(), token_exact.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert max(np.abs(a - b).max() for a, b in zip(initial, one_device.get_weights())) > 1e-2  # the step moved them
    assert abs(per_replica_loss - one_device_loss) > 1e-3
    assert max(np.abs(a - b).max() for a, b in zip(one_device.get_weights(), per_replica.get_weights())) > 1e-3
    # The cached decoder reads a mirrored model's variables as the model's own call does.
    cached = np.asarray(decoding.CachedDecoder(token_exact).compiled()(inputs["encoder_inputs"]))
    np.testing.assert_array_equal(cached, uncached_generate(token_exact, inputs["encoder_inputs"], 1))


def test_the_chunked_head_trains_as_the_dense_head():
    """The translator's default logits layer (`LossHead`, the loss in chunks of tokens) against the plain `Dense`
    from the same seed: a few SGD steps with dropout on padded batches give the same weights, losses and training
    token accuracy (float32 rounding); outside training both give the same logits."""
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.presets import PRESETS

    preset = PRESETS["tiny"].override(layers=1, model_dim=16, heads=2, feedforward_dim=32)  # dropout 0.1
    tokenizer = SimpleNamespace(vocabulary_size=lambda: 30)
    rng = np.random.default_rng(0)
    inputs = {name: np.zeros((4, 8), "int32") for name in ("encoder_inputs", "decoder_inputs")}
    for rows in inputs.values():
        for row, length in zip(rows, [8, 6, 3, 1]):
            row[:length] = rng.integers(translation_data.END_ID + 1, 30, length)
    labels = np.concatenate([inputs["decoder_inputs"][:, 1:], np.zeros((4, 1), "int32")], axis=1)

    def train(head):
        keras.utils.set_random_seed(0)
        model = translator.compiled_translator(
            "conservative_encouraging:0.5",
            tokenizer,
            tokenizer,
            8,
            preset,
            optimizer=keras.optimizers.SGD(1.0),
            head=head,
        )
        if head == "chunked":  # 16 tokens a step: 4 chunks, the last one padded (the default would take 1)
            model.get_layer(translator.LOGITS).chunk_size = 5
        initial = model.get_weights()
        history = model.fit(inputs, labels, batch_size=2, epochs=2, shuffle=False, verbose=0).history
        return model, initial, history

    dense, dense_initial, dense_history = train("dense")
    chunked, chunked_initial, chunked_history = train("chunked")
    assert isinstance(chunked.get_layer(translator.LOGITS), keras_losses.LossHead)
    assert type(dense.get_layer(translator.LOGITS)) is keras.layers.Dense
    for a, b in zip(dense_initial, chunked_initial):
        np.testing.assert_array_equal(b, a)
    for key in ("loss", "token_accuracy"):
        np.testing.assert_allclose(chunked_history[key], dense_history[key], rtol=1e-5)
    for a, b in zip(dense.get_weights(), chunked.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert max(np.abs(a - b).max() for a, b in zip(dense_initial, dense.get_weights())) > 1e-2  # the steps moved them
    np.testing.assert_allclose(chunked.predict_on_batch(inputs), dense.predict_on_batch(inputs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", ["encouraging:0.75", "square", "squentropy", "ce"])
def test_padding_never_changes_the_loss_or_its_gradients(loss):
    import tensorflow as tf

    from keras_losses_experiments import losses
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.presets import PRESETS

    keras.utils.set_random_seed(0)
    shape = replace(PRESETS["tiny"], layers=1, model_dim=16, heads=2, feedforward_dim=32, dropout=0.0)
    model = translator.build_transformer(40, 30, 20, shape)
    loss_fn = losses.build_loss(loss, 30, label_smoothing=0.1, ignore_class=translation_data.PAD_ID)
    rng = np.random.default_rng(0)
    lengths_source, lengths_target = [5, 7, 3], [6, 4, 8]

    def padded(width):
        source = np.zeros((3, width), "int32")
        target = np.zeros((3, width + 1), "int32")
        for i, (ls, lt) in enumerate(zip(lengths_source, lengths_target)):
            source[i, :ls] = rng_source[i, :ls]
            target[i, : lt + 1] = rng_target[i, : lt + 1]
        return [source, target[:, :-1]], target[:, 1:]

    rng_source = rng.integers(4, 40, size=(3, 8))
    rng_target = rng.integers(4, 30, size=(3, 9))

    def loss_and_gradients(width):
        inputs, labels = padded(width)
        with tf.GradientTape() as tape:
            value = loss_fn(labels, model(inputs, training=False))
        return float(value), [tf.convert_to_tensor(g).numpy() for g in tape.gradient(value, model.trainable_weights)]

    short_loss, short_gradients = loss_and_gradients(10)
    long_loss, long_gradients = loss_and_gradients(16)
    assert short_loss == pytest.approx(long_loss, rel=1e-5)
    for a, b in zip(short_gradients, long_gradients):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
