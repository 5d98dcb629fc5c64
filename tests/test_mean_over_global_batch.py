"""`mean_over_global_batch=True`: the masked mean over the whole global batch, as one device computes it."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from tests import reference as ref
from tests.helpers import mirrored_strategy_on_two_cpus

RNG = np.random.default_rng(11)
C = 4
CLASSES = [
    keras_losses.EncouragingLoss,
    keras_losses.ConservativeEncouragingLoss,
    keras_losses.SquareLoss,
    keras_losses.Squentropy,
    keras_losses.CrossEntropy,
]


def on_logits(cls, **kwargs):
    """An instance on logits (the masked steps' outputs are zeros: not probabilities)."""
    return cls(**kwargs, **({"from_logits": True} if hasattr(cls(), "from_logits") else {}))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_on_one_device_it_is_the_masked_mean(cls):
    y, z = RNG.integers(0, C, size=(3, 5)), RNG.normal(size=(3, 5, C))
    y[0, 3:] = -1  # ignore_class
    mask = np.ones((3, 5), bool)
    mask[2, 1:] = False  # a Keras mask on y_pred
    weights = RNG.uniform(0.5, 2.0, size=(3, 5))
    masking = keras.layers.Masking(mask_value=0.0, dtype="float64")
    y_pred = masking(ops.convert_to_tensor(np.where(mask[..., None], z, 0)))
    per_entry = ops.convert_to_numpy(on_logits(cls, ignore_class=-1, reduction="none", dtype="float64")(y, z))
    valid = (y != -1) & mask
    loss = on_logits(cls, ignore_class=-1, mean_over_global_batch=True, dtype="float64")
    got = loss(y, y_pred, sample_weight=weights)
    np.testing.assert_allclose(float(got), (weights * per_entry)[valid].sum() / valid.sum(), rtol=1e-6)
    plain = on_logits(cls, ignore_class=-1, dtype="float64")(y, y_pred, sample_weight=weights)
    np.testing.assert_array_equal(ops.convert_to_numpy(got), ops.convert_to_numpy(plain))


@pytest.mark.parametrize("reduction", ["sum", "none", None, "mean_with_sample_weight"])
def test_non_averaging_reductions_are_rejected(reduction):
    with pytest.raises(ValueError, match=rf"mean_over_global_batch=True.*averaging reduction.*reduction={reduction!r}"):
        keras_losses.SquareLoss(mean_over_global_batch=True, reduction=reduction)


def test_only_booleans_are_accepted():
    with pytest.raises(ValueError, match=r"`mean_over_global_batch` must be True or False.*'yes'"):
        keras_losses.CrossEntropy(mean_over_global_batch="yes")


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_config_round_trip(cls):
    loss = cls(ignore_class=0, mean_over_global_batch=True, reduction="mean")
    assert loss.mean_over_global_batch is True and loss.get_config()["mean_over_global_batch"] is True
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(clone) is cls and clone.mean_over_global_batch is True and clone.get_config() == loss.get_config()


# Tokens with padding id 0 (masked by the embedding); labels -1 are ignore_class. Under two replicas the
# batch of 4 splits into rows 0-1 (10 valid entries) and rows 2-3 (2 valid entries).
TOKENS = np.array([[3, 5, 2, 7, 1, 4], [2, 2, 6, 1, 3, 0], [5, 1, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0]])
LABELS = np.array([[1, 0, 3, -1, 2, 1], [3, 1, 0, 2, 2, 0], [2, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])


def _train_one_step(strategy, mean_over_global_batch):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = _sequence_model()
        loss = keras_losses.ConservativeEncouragingLoss(
            from_logits=True, ignore_class=-1, mean_over_global_batch=mean_over_global_batch
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
    logged = model.fit(TOKENS, LABELS, batch_size=4, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return model.get_weights(), logged


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")
def test_two_replicas_with_unequal_valid_counts_equal_one_device():
    import tensorflow as tf

    one_device, one_device_loss = _train_one_step(tf.distribute.get_strategy(), True)
    mirrored = mirrored_strategy_on_two_cpus()
    global_mean, global_mean_loss = _train_one_step(mirrored, True)
    per_replica, per_replica_loss = _train_one_step(mirrored, False)

    # The one-device loss is the masked mean over the 12 valid entries: check it independently.
    initial = _initial_weights()
    valid = (LABELS != -1) & (TOKENS != 0)
    logits = initial[0][TOKENS] @ initial[1] + initial[2]
    expected = ref.encouraging_sparse(np.where(valid, LABELS, 0), logits, 0.75)[valid].mean()
    assert one_device_loss == pytest.approx(expected, rel=1e-5)

    assert global_mean_loss == pytest.approx(one_device_loss, rel=1e-5, abs=1e-5)
    for a, b in zip(one_device, global_mean):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    # Keras' default, each replica dividing by its own count (10 and 2), is another step.
    assert abs(per_replica_loss - one_device_loss) > 1e-3
    assert max(np.abs(a - b).max() for a, b in zip(one_device, per_replica)) > 1e-3

    # Called in the strategy's scope outside `strategy.run` (cross-replica context: the whole batch), it is
    # the mean too, where Keras' own scaling by 1 / num_replicas still applies.
    loss = keras_losses.ConservativeEncouragingLoss(from_logits=True, ignore_class=-1, mean_over_global_batch=True)
    with mirrored.scope():
        cross_replica = float(loss(LABELS, logits.astype("float32")))
    counted = LABELS != -1
    expected = ref.encouraging_sparse(np.where(counted, LABELS, 0), logits, 0.75)[counted].mean()
    assert cross_replica == pytest.approx(expected, rel=1e-5)


def _initial_weights():
    keras.utils.set_random_seed(0)
    return _sequence_model().get_weights()


def _sequence_model():
    return keras.Sequential([keras.Input((6,)), keras.layers.Embedding(8, 8, mask_zero=True), keras.layers.Dense(C)])


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution is JAX's")
def test_jax_data_parallel_hands_the_loss_the_global_batch():
    # Under keras.distribution.DataParallel over two devices the loss sees the global batch: the masked mean
    # is already global, with the option or without.
    import tensorflow as tf

    def train(mean_over_global_batch):
        keras.utils.set_random_seed(0)
        model = _sequence_model()
        loss = keras_losses.ConservativeEncouragingLoss(
            from_logits=True, ignore_class=-1, mean_over_global_batch=mean_over_global_batch
        )
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
        dataset = tf.data.Dataset.from_tensor_slices((TOKENS, LABELS)).batch(4)  # DataParallel needs tf.data
        logged = model.fit(dataset, epochs=1, shuffle=False, verbose=0).history["loss"][0]
        return model.get_weights(), logged

    one_device, one_device_loss = train(True)
    devices = keras.distribution.list_devices()
    assert len(devices) == 2
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    try:
        for option in (True, False):
            weights, logged = train(option)
            assert logged == pytest.approx(one_device_loss, rel=1e-5)
            for a, b in zip(one_device, weights):
                np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    finally:
        keras.distribution.set_distribution(None)
