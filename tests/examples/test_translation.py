"""examples/translation.py on mock data: the paper's preset (shrunk) trains, decodes, scores and reloads; the
square loss; two logical CPUs; padding invariance."""

import json
from dataclasses import replace

import keras
import numpy as np
import pytest

from tests.examples.example_runs import TINY_TRANSLATION_RUN, TRANSLATION_SCRIPT
from tests.helpers import run_script_on_two_cpus

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute and tf.data")


def check_run(output_dir, loss):
    from keras_losses.experiments import translation

    results = json.loads((output_dir / "results.json").read_text())
    assert results["loss"] == loss and 0.0 <= results["bleu"] <= 100.0
    assert 0.0 <= results["token_accuracy"] <= 1.0 and np.isfinite(results["test_loss"])
    assert results["loss_config"]["ignore_class"] == translation.PAD_ID and results["test_sentences"] == 6
    return results


def test_the_papers_preset_applies_its_loss_smoothing_dropout_and_optimizer(translation_run):
    results = check_run(translation_run, "conservative_encouraging:0.5")
    assert results["preset"] == "iwslt" and results["label_smoothing"] == 0.1 and results["beams"] == 2
    assert results["preset_config"]["dropout"] == 0.3 and results["preset_config"]["model_dim"] == 32
    model = keras.models.load_model(translation_run / "model.keras")
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.weight_decay == pytest.approx(1e-4)
    assert (optimizer.beta_1, optimizer.beta_2) == (0.9, 0.98) and int(optimizer.iterations) == 4
    assert optimizer.learning_rate.numpy() == pytest.approx(5e-4 * 4 / 4000)  # warm-up: step 4 of 4000
    assert model.get_layer("encoder_0").dropout == 0.3


def test_saved_translator_reloads_and_decodes_the_same(translation_run):
    from keras_losses.experiments import translation

    results = json.loads((translation_run / "results.json").read_text())
    model = keras.models.load_model(translation_run / "model.keras")
    assert model.loss.get_config() == results["loss_config"]
    source = translation.load_tokenizer(translation_run / "source_vocabulary.txt")
    target = translation.load_tokenizer(translation_run / "target_vocabulary.txt")
    sources = [sample["source"] for sample in results["samples"]]
    decoded = translation.translate(model, source, target, sources, sequence_length=12, beams=2)
    assert decoded == [sample["translation"] for sample in results["samples"]]


def test_square_loss_with_m_alone_keeps_the_papers_k_for_the_vocabulary(translation_example, tmp_path):
    translation_example["main"]([*TINY_TRANSLATION_RUN, "--epochs", "1", "--loss", "square", "--m", "5",
                                 "--batch-size", "4", "--strategy", "default", "--output-dir", str(tmp_path)])
    results = check_run(tmp_path, "square:1.0,5.0")  # below 1000 classes the paper's k is 1
    assert results["vocabulary_sizes"]["target"] < 1000 and results["loss_config"]["label_smoothing"] == 0.1


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    run_script_on_two_cpus(
        TRANSLATION_SCRIPT, [*TINY_TRANSLATION_RUN, "--loss", "encouraging", "--batch-size", "2",
                             "--strategy", "mirrored", "--output-dir", str(tmp_path)]
    )
    results = check_run(tmp_path, "encouraging")
    assert results["strategy"] == "MirroredStrategy" and results["replicas"] == 2 and results["global_batch_size"] == 4


@pytest.mark.parametrize("loss", ["encouraging:0.75", "square", "squentropy", "ce"])
def test_padding_never_changes_the_loss_or_its_gradients(loss):
    import tensorflow as tf

    from keras_losses.experiments import loss_specs, recipes, translation

    keras.utils.set_random_seed(0)
    shape = replace(recipes.PRESETS["tiny"], layers=1, model_dim=16, heads=2, feedforward_dim=32, dropout=0.0)
    model = translation.build_transformer(40, 30, 20, shape)
    loss_fn = loss_specs.build_loss(loss, 30, label_smoothing=0.1, ignore_class=translation.PAD_ID)
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
