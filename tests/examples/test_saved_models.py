"""Every saved model of every example loads in a fresh process after `import keras_losses` and nothing else,
with its whole optimizer state, and training resumes from it with the same next step. (Backups cut short by a
kill: tests/experiments/test_resume.py.)"""

from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from keras_losses_experiments import losses
from keras_losses_experiments.classification import models
from keras_losses_experiments.classification.recipes import RECIPES
from keras_losses_experiments.training.optimizers import make_optimizer
from keras_losses_experiments.translation import model as translator
from keras_losses_experiments.translation.presets import PRESETS
from tests.examples.example_runs import finish, start

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute and tf.data")

RESUME_STEP = Path(__file__).with_name("resume_step.py")


def image_batch(rng, size, classes, batch=4, high=255.0):
    return rng.uniform(0, high, (batch, size, size, 3)).astype("float32"), rng.integers(0, classes, batch)


def token_batch(rng, source_vocabulary, target_vocabulary, length, batch=4):
    inputs = {
        "encoder_inputs": rng.integers(1, source_vocabulary, (batch, length)).astype("int32"),
        "decoder_inputs": rng.integers(1, target_vocabulary, (batch, length)).astype("int32"),
    }
    labels = rng.integers(0, target_vocabulary, (batch, length)).astype("int32")  # some padding (0) among them
    return inputs, labels


def harness_models(rng, directory):
    """Models compiled as the examples compile them, trained 3 steps and saved; with the batch of their next
    step and the weights after it, as training would have gone on in memory."""
    image_recipe = RECIPES["imagenet2012"].override(epochs=10)  # warm-up over steps 0-9, steps at 33, ...
    runs = []
    # (square loss's gradient (2k/C)(z - m) would overflow float16 at the initial loss scale: loss scaling
    # would skip those steps)
    for policy, loss in (("float32", "square:15,30"), ("mixed_float16", "encouraging")):
        keras.mixed_precision.set_global_policy(policy)
        try:
            model = models.build("cnn", (8, 8, 3), 10)
            model.compile(optimizer=make_optimizer(image_recipe, 2, 4), loss=losses.build_loss(loss, 10, 0.1))
            runs.append((model, *image_batch(rng, 8, 10, high=1.0)))
        finally:
            keras.mixed_precision.set_global_policy("float32")
    preset = PRESETS["iwslt_sentences"].override(layers=1, model_dim=16, heads=2, feedforward_dim=32, dropout=0.0)
    vocabulary = SimpleNamespace(vocabulary_size=lambda: 30)
    translation_model = translator.compiled_translator(
        "conservative_encouraging:0.5", vocabulary, vocabulary, 8, preset
    )
    runs.append((translation_model, *token_batch(rng, 30, 30, 8)))
    saved = []
    for index, (model, x, y) in enumerate(runs):
        for _ in range(3):
            model.train_on_batch(x, y)
        assert int(model.optimizer.iterations) == 3  # no step skipped by loss scaling
        path = directory / f"harness-{index}.keras"
        model.save(path)
        model.train_on_batch(x, y)
        after = np.concatenate([np.ravel(np.asarray(w, "float32")) for w in model.get_weights()])
        saved.append((path, x, y, after))
    return saved


def test_saved_models_load_after_import_keras_losses_and_the_embeddings_and_resume(
    image_run, translation_run, mixed_precision_run, tmp_path
):
    harness = harness_models(np.random.default_rng(0), tmp_path)
    examples = [  # (file, its optimizer, the iterations it was saved at)
        (image_run / "model.keras", "SGD", {4}),
        (image_run / "best.keras", "SGD", {2, 4}),
        (translation_run / "model.keras", "AdamW", {4}),
        (translation_run / "best.keras", "AdamW", {2, 4}),
        (mixed_precision_run / "model.keras", "LossScaleOptimizer", {0, 1, 2}),
    ]
    steps = {}
    for index, (_, x, y, _) in enumerate(harness):
        steps[f"y{index}"] = y
        steps.update(
            {f"x{index}_{name}": value for name, value in x.items()} if isinstance(x, dict) else {f"x{index}": x}
        )
    np.savez(tmp_path / "steps.npz", **steps)
    paths = [path for path, *_ in harness] + [path for path, *_ in examples]

    finish(
        [
            start(
                [RESUME_STEP, tmp_path / "steps.npz", tmp_path / "resumed.npz", *paths],
                env={"PYTHONWARNINGS": "ignore"},
            )
        ]
    )
    resumed = np.load(tmp_path / "resumed.npz")
    assert str(resumed["skipped"]) == ""
    assert str(resumed["experiments_imported"]).split() == [  # the translators' token embeddings, nothing else
        "keras_losses_experiments",
        "keras_losses_experiments.translation",
        "keras_losses_experiments.translation.embeddings",
    ]
    for index, (_, _, _, after) in enumerate(harness):  # the next step equals the one training in memory took
        assert int(resumed[f"iterations{index}"]) == 3
        np.testing.assert_allclose(resumed[f"weights{index}"], after, rtol=1e-6, atol=1e-7, err_msg=str(index))
    assert str(resumed["optimizer1"]) == "LossScaleOptimizer"  # the mixed_float16 one, reloaded under float32
    for index, (path, optimizer, iterations) in enumerate(examples, start=len(harness)):
        assert str(resumed[f"optimizer{index}"]) == optimizer and int(resumed[f"iterations{index}"]) in iterations, path
        expected = keras.models.load_model(path).get_weights()  # in this process, with everything imported
        np.testing.assert_array_equal(
            resumed[f"weights{index}"], np.concatenate([np.ravel(np.asarray(w, "float32")) for w in expected])
        )
    # Loss scaling's state came back too: of 2 steps, each one that overflowed halved the scale (from 2^15).
    mixed = len(paths) - 1
    assert float(resumed[f"loss_scale{mixed}"]) == 2.0**15 / 2 ** (2 - int(resumed[f"iterations{mixed}"]))
