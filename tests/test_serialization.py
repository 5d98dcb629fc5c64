"""Configs, `get()`, `.keras` files and SavedModel exports round-trip exactly."""

import json

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses

RNG = np.random.default_rng(3)
C = 4

INSTANCES = [
    keras_losses.EncouragingLoss(log_end=0.6, from_logits=True, label_smoothing=0.1, ignore_class=-1, reduction="sum"),
    keras_losses.ConservativeEncouragingLoss(log_end=0.5, from_logits=True, name="cel", dtype="float64"),
    keras_losses.SquareLoss(k=15.0, m=30.0, label_smoothing=0.05, reduction="mean_with_sample_weight"),
    keras_losses.Squentropy(ignore_class=3, name="sq"),
    keras_losses.CrossEntropy(from_logits=True, label_smoothing=0.1, ignore_class=0),
]
IDS = [type(loss).__name__ for loss in INSTANCES]


def sample():
    y = RNG.integers(0, C, size=(6,))
    return y, RNG.normal(size=(6, C)).astype("float32")


@pytest.mark.parametrize("loss", INSTANCES, ids=IDS)
def test_config_round_trip_keeps_every_argument(loss):
    config = loss.get_config()
    assert set(config) >= {"name", "reduction", "dtype"}
    clone = type(loss).from_config(config)
    assert clone.get_config() == config and clone.dtype == loss.dtype
    y, z = sample()
    np.testing.assert_array_equal(ops.convert_to_numpy(clone(y, z)), ops.convert_to_numpy(loss(y, z)))


@pytest.mark.parametrize("loss", INSTANCES, ids=IDS)
def test_registered_serialization_without_custom_objects(loss):
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(loss)))
    assert serialized["registered_name"] == f"keras_losses>{type(loss).__name__}"
    clone = keras.saving.deserialize_keras_object(serialized)
    assert type(clone) is type(loss) and clone.get_config() == loss.get_config()
    assert keras_losses.get(serialized).get_config() == loss.get_config()


def test_registration_prefixed_for_all_plain_for_the_paper_losses_only():
    custom = keras.saving.get_custom_objects()
    for obj in keras_losses.registration.LOSSES + keras_losses.registration.FUNCTIONS:
        assert custom[f"keras_losses>{obj.__name__}"] is obj
        assert keras.saving.get_registered_name(obj) == f"keras_losses>{obj.__name__}"
    paper = {"EncouragingLoss", "ConservativeEncouragingLoss", "SquareLoss", "Squentropy"}
    for name in paper | {"encouraging_loss", "square_loss", "squentropy"}:
        assert custom[name] is getattr(keras_losses, name)
    # A plain "CrossEntropy" could collide with another package's class.
    assert custom.get("CrossEntropy") is not keras_losses.CrossEntropy
    assert custom.get("cross_entropy") is not keras_losses.cross_entropy
    plain = {"class_name": "ConservativeEncouragingLoss", "config": {"log_end": 0.5}}
    loss = keras.losses.deserialize(plain)
    assert isinstance(loss, keras_losses.ConservativeEncouragingLoss) and loss.log_end == 0.5


@pytest.mark.parametrize(
    "name,cls",
    [
        ("encouraging", keras_losses.EncouragingLoss),
        ("conservative_encouraging", keras_losses.ConservativeEncouragingLoss),
        ("square", keras_losses.SquareLoss),
        ("squentropy", keras_losses.Squentropy),
        ("EncouragingLoss", keras_losses.EncouragingLoss),
        ("square_loss", keras_losses.SquareLoss),
        ("ce", keras_losses.CrossEntropy),
    ],
)
def test_get_by_name(name, cls):
    loss = keras_losses.get(name)
    assert type(loss) is cls and loss.get_config() == cls().get_config()


def test_get_passes_instances_and_none_and_rejects_the_rest():
    assert keras_losses.get(None) is None
    assert keras_losses.get(INSTANCES[0]) is INSTANCES[0]
    with pytest.raises(ValueError, match=r"Unknown loss 'focal'.*encouraging"):
        keras_losses.get("focal")
    with pytest.raises(ValueError, match="Could not interpret"):
        keras_losses.get(3)


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(C)])


@pytest.mark.parametrize(
    "loss",
    [
        keras_losses.EncouragingLoss(log_end=0.6, from_logits=True, label_smoothing=0.1),
        keras_losses.ConservativeEncouragingLoss(log_end=0.5, from_logits=True),
        keras_losses.SquareLoss(k=3.0, m=2.0),
        keras_losses.Squentropy(label_smoothing=0.2),
        keras_losses.CrossEntropy(from_logits=True, label_smoothing=0.1),
    ],
    ids=IDS,
)
def test_keras_file_reloads_loss_and_resumes_training_identically(loss, tmp_path):
    x = RNG.normal(size=(32, 5)).astype("float32")
    y = RNG.integers(0, C, size=(32,))
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)

    restored = keras.models.load_model(path, safe_mode=True)  # no custom_objects
    assert type(restored.loss) is type(loss) and restored.loss.get_config() == loss.get_config()
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    for m in (model, restored):
        m.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="SavedModel export is TensorFlow's format")
def test_exported_saved_model_predicts_identically(tmp_path):
    import tensorflow as tf

    x = RNG.normal(size=(8, 5)).astype("float32")
    model = _model()
    model.compile(optimizer="adam", loss=keras_losses.ConservativeEncouragingLoss(from_logits=True))
    model.fit(x, RNG.integers(0, C, size=(8,)), epochs=1, verbose=0)
    model.export(str(tmp_path / "exported"), verbose=False)
    expected = model.predict(x, verbose=0)

    loaded = tf.saved_model.load(str(tmp_path / "exported"))
    np.testing.assert_allclose(loaded.serve(tf.constant(x)).numpy(), expected, rtol=1e-6, atol=1e-6)
    layer = keras.layers.TFSMLayer(str(tmp_path / "exported"), call_endpoint="serve")
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected, rtol=1e-6, atol=1e-6)
