"""The training capabilities of the papers' presets (keras_losses_experiments.training): the weights' moving
average (timm's ModelEmaV2), gradient accumulation (fairseq's --update-freq), epoch checkpoints averaged
(fairseq's average_checkpoints.py) and the best checkpoint, each against a NumPy computation."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from keras_losses_experiments.training.ema import ExponentialMovingAverage

RNG = np.random.default_rng(5)
X = RNG.normal(size=(20, 4)).astype("float32")
Y = (np.arange(20) % 2).astype("int32")


def small_model(seed=0, optimizer=None, **compile_kwargs):
    """Dense, batch normalisation (moving statistics: non-trainable weights), Dense: a tiny classifier."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(), keras.layers.Dense(2)]
    )
    model.compile(
        optimizer=optimizer or keras.optimizers.SGD(0.5, momentum=0.5),
        loss=keras_losses.CrossEntropy(from_logits=True),
        **compile_kwargs,
    )
    return model


def numpy_weights(model):
    return [ops.convert_to_numpy(w) for w in model.weights]


class RecordWeights(keras.callbacks.Callback):
    """The model's weights when training begins and after every batch."""

    def on_train_begin(self, logs=None):
        self.after_batches = [numpy_weights(self.model)]

    def on_train_batch_end(self, batch, logs=None):
        self.after_batches.append(numpy_weights(self.model))


# --- the moving average of the weights ----------------------------------------------------------------------


def test_ema_is_timms_average_of_every_weight_from_the_initial_one():
    model, record, ema = small_model(), RecordWeights(), ExponentialMovingAverage(decay=0.9)
    model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[record, ema])
    # timm: the copy made before training, then ema <- d * ema + (1 - d) * w after each of the 10 steps.
    expected = record.after_batches[0]
    for weights in record.after_batches[1:]:
        expected = [0.9 * e + 0.1 * w for e, w in zip(expected, weights)]
    assert len(ema.averages) == len(model.weights) == 8  # the BN moving mean and variance included
    for average, value in zip(ema.averages, expected):
        np.testing.assert_allclose(ops.convert_to_numpy(average), value, rtol=1e-5, atol=1e-7)
    # The model keeps its trained weights.
    for got, trained in zip(numpy_weights(model), record.after_batches[-1]):
        np.testing.assert_array_equal(got, trained)


def test_validation_runs_on_the_averaged_weights_and_saving_holds_them(tmp_path):
    model, ema = small_model(), ExponentialMovingAverage(decay=0.8)
    history = model.fit(X, Y, batch_size=4, epochs=1, verbose=0, validation_data=(X, Y), callbacks=[ema])
    trained = numpy_weights(model)
    with ema.swapped_in():
        on_average = model.evaluate(X, Y, verbose=0)
        model.save(tmp_path / "ema.keras")
    assert history.history["val_loss"][0] == pytest.approx(on_average, rel=1e-6)
    assert model.evaluate(X, Y, verbose=0) != pytest.approx(on_average, rel=1e-3)
    assert model.evaluate(X, Y, verbose=0, callbacks=[ema]) == pytest.approx(on_average, rel=1e-6)
    for got, before in zip(numpy_weights(model), trained):  # swapped back after each
        np.testing.assert_array_equal(got, before)
    saved = keras.models.load_model(tmp_path / "ema.keras")
    for got, average in zip(numpy_weights(saved), ema.averages):
        np.testing.assert_array_equal(got, ops.convert_to_numpy(average))


def test_keras_use_ema_starts_from_the_first_update_not_the_initial_weights():
    # The difference that keeps Keras' `use_ema` out of the recipe: its first average is w_1, timm's 0.9 w_0 + 0.1 w_1.
    w = keras.Variable(np.array([1.0], "float32"))
    optimizer = keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.9)
    optimizer.apply([ops.ones((1,))], [w])
    np.testing.assert_allclose(ops.convert_to_numpy(optimizer._model_variables_moving_average[0]), [0.5])


@pytest.mark.parametrize(
    "compile_kwargs, message",
    [
        ({"steps_per_execution": 2}, r"`steps_per_execution=1`. Received: steps_per_execution=2"),
        (
            {"optimizer": keras.optimizers.SGD(0.1, gradient_accumulation_steps=2)},
            r"cannot be combined with the optimizer's `use_ema` or `gradient_accumulation_steps`",
        ),
    ],
)
def test_ema_refuses_what_it_cannot_follow(compile_kwargs, message):
    model = small_model(**compile_kwargs)
    with pytest.raises(ValueError, match=message):
        model.fit(X, Y, batch_size=4, epochs=1, verbose=0, callbacks=[ExponentialMovingAverage()])


def test_ema_decay_is_checked():
    with pytest.raises(ValueError, match=r"`decay` must be in \[0, 1\). Received: decay=1.0"):
        ExponentialMovingAverage(decay=1.0)
