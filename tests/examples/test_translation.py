"""examples/translation.py on mock data: each loss family, one or two devices, BLEU, reload; padding invariance."""

import json
import runpy
from pathlib import Path

import keras
import numpy as np
import pytest
from tests.helpers import run_script_on_two_cpus

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute and tf.data")

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "translation.py"
SMALL = ["--mock-data", "24", "--preset", "tiny", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4",
         "--vocabulary-size", "150", "--sequence-length", "12", "--test-sentences", "6", "--beams", "2"]


@pytest.fixture(scope="module")
def example():
    return runpy.run_path(str(SCRIPT), run_name="translation")


def check_run(output_dir, loss):
    from keras_losses.experiments import translation

    results = json.loads((output_dir / "results.json").read_text())
    assert results["loss"] == loss and 0.0 <= results["bleu"] <= 100.0
    assert 0.0 <= results["token_accuracy"] <= 1.0 and np.isfinite(results["test_loss"])
    assert results["loss_config"]["ignore_class"] == translation.PAD_ID and results["test_sentences"] == 6
    return results


@pytest.mark.parametrize("loss", ["ce", "square", "encouraging", "conservative_encouraging", "squentropy"])
def test_each_loss_family_trains_decodes_and_scores(example, tmp_path, loss):
    example["main"](["--loss", loss, *SMALL, "--strategy", "default", "--output-dir", str(tmp_path)])
    results = check_run(tmp_path, loss)
    assert results["loss_config"]["label_smoothing"] == 0.1 and results["replicas"] == 1


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    run_script_on_two_cpus(
        SCRIPT, ["--loss", "conservative_encouraging", *SMALL, "--strategy", "mirrored", "--output-dir", str(tmp_path)]
    )
    results = check_run(tmp_path, "conservative_encouraging")
    assert results["strategy"] == "MirroredStrategy" and results["replicas"] == 2 and results["global_batch_size"] == 8


def test_saved_translator_reloads_and_decodes_the_same(example, tmp_path):
    from keras_losses.experiments import translation

    example["main"](["--loss", "encouraging", *SMALL, "--epochs", "2", "--strategy", "default", "--output-dir", str(tmp_path)])
    results = check_run(tmp_path, "encouraging")
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.loss.get_config() == results["loss_config"]
    source = translation.load_tokenizer(tmp_path / "source_vocabulary.txt")
    target = translation.load_tokenizer(tmp_path / "target_vocabulary.txt")
    sources = [sample["source"] for sample in results["samples"]]
    decoded = translation.translate(model, source, target, sources, sequence_length=12, beams=2)
    assert decoded == [sample["translation"] for sample in results["samples"]]


@pytest.mark.parametrize("loss", ["encouraging:0.75", "square", "squentropy", "ce"])
def test_padding_never_changes_the_loss_or_its_gradients(loss):
    import tensorflow as tf

    from keras_losses.experiments import loss_specs, translation

    keras.utils.set_random_seed(0)
    model = translation.build_transformer(40, 30, 20, translation.Preset(1, 16, 2, 32, 0.0))
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
