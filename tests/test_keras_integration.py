"""The Keras conventions: reductions, sample weights, masks, ignore_class, compile/fit, mixed precision."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from tests import reference as ref
from tests.helpers import REDUCED_FLOAT64_RTOL, mirrored_strategy_on_two_cpus, value_and_gradient

RNG = np.random.default_rng(1)
C = 4

# (loss instance factory, per-example reference of (y, z)) -- every family, non-default hyper-parameters
LOSSES = {
    "encouraging": (
        lambda **kw: keras_losses.EncouragingLoss(from_logits=True, **kw),
        lambda y, z: ref.encouraging_sparse(y, z),
    ),
    "conservative": (
        lambda **kw: keras_losses.ConservativeEncouragingLoss(log_end=0.5, from_logits=True, **kw),
        lambda y, z: ref.encouraging_sparse(y, z, 0.5),
    ),
    "square": (
        lambda **kw: keras_losses.SquareLoss(k=2.0, m=3.0, **kw),
        lambda y, z: ref.square_sparse(y, z, 2.0, 3.0),
    ),
    "squentropy": (lambda **kw: keras_losses.Squentropy(**kw), lambda y, z: ref.squentropy(ref.one_hot(y, C), z)),
    "ce": (
        lambda **kw: keras_losses.CrossEntropy(from_logits=True, **kw),
        lambda y, z: ref.cross_entropy(ref.one_hot(y, C), z),
    ),
}
NAMES = list(LOSSES)


def batch(shape=(8,)):
    return RNG.integers(0, C, size=shape), RNG.normal(size=shape + (C,)) * 2


@pytest.mark.parametrize("name", NAMES)
def test_every_reduction(name):
    make, reference = LOSSES[name]
    y, z = batch()
    per_example = reference(y, z)
    weights = RNG.uniform(0.1, 2.0, size=y.shape)
    # Unreduced and summed values keep float64 on every backend; Keras' averaging reductions are
    # float32 on PyTorch (REDUCED_FLOAT64_RTOL).
    cases = [
        (None, per_example, 1e-10),
        ("none", per_example, 1e-10),
        ("sum", per_example.sum(), 1e-10),
        ("sum_over_batch_size", per_example.mean(), REDUCED_FLOAT64_RTOL),
        ("mean", per_example.mean(), REDUCED_FLOAT64_RTOL),
    ]
    for reduction, expected, rtol in cases:
        got = make(reduction=reduction, dtype="float64")(y, z)
        np.testing.assert_allclose(ops.convert_to_numpy(got), expected, rtol=rtol, err_msg=str(reduction))
        if rtol == 1e-10:
            assert keras.backend.standardize_dtype(got.dtype) == "float64", reduction
    weighted = make(reduction="mean_with_sample_weight", dtype="float64")(y, z, sample_weight=weights)
    expected = (per_example * weights).sum() / weights.sum()
    np.testing.assert_allclose(float(weighted), expected, rtol=REDUCED_FLOAT64_RTOL)
    weighted = make(dtype="float64")(y, z, sample_weight=weights)
    np.testing.assert_allclose(float(weighted), (per_example * weights).mean(), rtol=REDUCED_FLOAT64_RTOL)


@pytest.mark.parametrize("name", NAMES)
def test_keras_mask_on_predictions_averages_over_valid_steps(name):
    make, reference = LOSSES[name]
    y, z = batch((2, 5))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], bool)
    # A public layer attaches the mask: `Masking` masks the steps whose outputs all equal 0.
    masking = keras.layers.Masking(mask_value=0.0, dtype="float64")
    masked = masking(ops.convert_to_tensor(np.where(mask[..., None], z, 0.0)))
    got = make(dtype="float64")(y, masked)
    np.testing.assert_allclose(float(got), reference(y, z)[mask].mean(), rtol=REDUCED_FLOAT64_RTOL)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ignore_class", [-1, 0])
def test_ignore_class_contributes_nothing_and_is_not_counted(name, ignore_class):
    make, reference = LOSSES[name]
    y, z = batch((3, 5))
    y[0, 3:] = ignore_class
    y[2, 4] = ignore_class
    valid = y != ignore_class
    safe_y = np.where(valid, y, 0)
    expected = reference(safe_y, z)
    loss = make(ignore_class=ignore_class, dtype="float64")
    np.testing.assert_allclose(float(loss(y, z)), expected[valid].mean(), rtol=REDUCED_FLOAT64_RTOL)
    unreduced = make(ignore_class=ignore_class, reduction="none", dtype="float64")
    per_example, grad = value_and_gradient(lambda t: unreduced(y, t), z)
    np.testing.assert_allclose(per_example, np.where(valid, expected, 0.0), rtol=1e-10)
    assert np.all(grad[~valid] == 0.0) and np.all(np.abs(grad[valid]).sum(-1) > 0)


def test_ignore_class_matches_keras_sparse_cross_entropy_convention():
    # Keras' own SparseCategoricalCrossentropy(ignore_class=...) averages over valid entries too.
    y, z = batch((3, 5))
    y[1, :2] = -1
    keras_value = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)(y, z)
    valid = y != -1
    ours = keras_losses.EncouragingLoss(from_logits=True, ignore_class=-1)(y, z)
    bonus = (
        ref.encouraging_sparse(np.where(valid, y, 0), z)
        + ref.log_softmax(z)[np.arange(3)[:, None], np.arange(5)[None], np.where(valid, y, 0)]
    )
    np.testing.assert_allclose(float(ours) - float(keras_value), bonus[valid].mean(), rtol=1e-5, atol=1e-6)


def _model(num_classes=C, activation=None, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(num_classes, activation=activation),
        ]
    )


@pytest.mark.parametrize("name", NAMES)
def test_compile_evaluate_and_fit(name):
    make, reference = LOSSES[name]
    x = RNG.normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + 2 * (x[:, 1] > 0).astype("int32")
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=make())
    expected = reference(y, model.predict(x, verbose=0).astype("float64")).mean()
    assert model.evaluate(x, y, batch_size=64, verbose=0) == pytest.approx(expected, rel=1e-5)
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0).history["loss"]
    assert history[-1] < history[0] - 0.1 * abs(history[0])


def test_softmax_head_gives_the_logits_head_loss_in_fit():
    # Keras' handling of softmax outputs: the same weights, a softmax head with from_logits=False and a
    # linear head with from_logits=True, evaluate to the same loss.
    x = RNG.normal(size=(32, 6)).astype("float32")
    y = RNG.integers(0, C, size=32)
    linear, softmax = _model(), _model(activation="softmax")
    softmax.set_weights(linear.get_weights())
    linear.compile(loss=keras_losses.EncouragingLoss(log_end=0.75, from_logits=True))
    softmax.compile(loss=keras_losses.EncouragingLoss(log_end=0.75))
    assert softmax.evaluate(x, y, verbose=0) == pytest.approx(linear.evaluate(x, y, verbose=0), rel=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", NAMES)
def test_reduced_precision_outputs_are_computed_in_float32(name, dtype):
    make, reference = LOSSES[name]
    y, z = batch()
    z_low = ops.cast(ops.convert_to_tensor(z * 5, "float32"), dtype)
    exact = reference(y, ops.convert_to_numpy(ops.cast(z_low, "float32")).astype("float64"))
    fn = make(reduction="none").fn
    kwargs = make().hyper_parameters()
    value, grad = value_and_gradient(lambda t: fn(y, t, **kwargs), z_low)
    assert value.dtype == np.float32 and grad.dtype == ops.convert_to_numpy(z_low).dtype
    # float32 arithmetic on logits of magnitude ~10-50: -log p_y carries an absolute error of a few
    # ulp(|z|) ~ 1e-6, which log(1 - p_y) magnifies by 1 / (1 - p_y) near p_y = 1. float16 arithmetic
    # would be off by ~1e-2 and more.
    np.testing.assert_allclose(value, exact, rtol=1e-5, atol=2e-3)
    assert np.all(np.isfinite(np.asarray(grad, np.float32)))


@pytest.mark.parametrize("name", NAMES)
def test_mixed_float16_model_trains_with_finite_loss(name):
    make, _ = LOSSES[name]
    x = RNG.normal(size=(32, 6)).astype("float32")
    y = RNG.integers(0, C, size=32)
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = _model()
        model.compile(optimizer="sgd", loss=make())
        losses = model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"]
        assert model.layers[-1].compute_dtype == "float16"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert np.all(np.isfinite(losses))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")
@pytest.mark.parametrize("name", NAMES)
def test_mirrored_strategy_step_equals_one_device(name):
    import tensorflow as tf

    make, _ = LOSSES[name]
    x = RNG.normal(size=(16, 6)).astype("float32")
    y = RNG.integers(0, C, size=16)

    def train(strategy):
        with strategy.scope():
            model = _model()
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss=make())
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return model.get_weights()

    one_device = train(tf.distribute.get_strategy())
    mirrored = train(mirrored_strategy_on_two_cpus())
    for a, b in zip(one_device, mirrored):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
