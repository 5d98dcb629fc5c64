"""The training capabilities of the papers' presets (keras_losses_experiments.training): the weights' moving
average (timm's ModelEmaV2), gradient accumulation (fairseq's --update-freq), epoch checkpoints averaged
(fairseq's average_checkpoints.py) and the best checkpoint, each against a NumPy computation."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import keras_losses
from keras_losses.optimizers import PyTorchSGD
from keras_losses_experiments.training.accumulation import accumulating, weight_by_token_share
from keras_losses_experiments.training.checkpoints import (
    EpochCheckpoints,
    average_epoch_checkpoints,
    epoch_checkpoints,
)
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


# --- gradient accumulation ----------------------------------------------------------------------------------


def test_n_batches_of_b_are_one_batch_of_n_times_b():
    # Two updates of three batches of 4 against two batches of 12; the schedule drops after the first update.
    def optimizer():
        schedule = keras_losses.schedules.StepDecay(0.5, boundaries=[1], factor=0.1)
        return PyTorchSGD(schedule, momentum=0.9, nesterov=True, weight_decay=0.01)

    x, y = RNG.normal(size=(24, 4)).astype("float32"), (np.arange(24) % 2).astype("int32")
    whole = small_dense_model(optimizer())
    whole.fit(x, y, batch_size=12, shuffle=False, verbose=0)
    accumulated = small_dense_model(accumulating(optimizer(), 3))
    accumulated.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    assert int(ops.convert_to_numpy(accumulated.optimizer.iterations)) == 2
    for got, expected in zip(numpy_weights(accumulated), numpy_weights(whole)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def small_dense_model(optimizer, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss=keras_losses.CrossEntropy(from_logits=True))
    return model


VOCABULARY = 7


def token_batches():
    """Four batches of token ids (0: padding) with 7, 5, 6 and 4 target tokens: a group of 3 and a last of 1."""
    rng = np.random.default_rng(3)
    shapes_and_lengths = [((2, 5), [5, 2]), ((3, 2), [2, 2, 1]), ((1, 6), [6]), ((2, 3), [3, 1])]
    batches = []
    for shape, lengths in shapes_and_lengths:
        tokens = rng.integers(1, VOCABULARY, size=shape).astype("int32")
        labels = rng.integers(1, VOCABULARY, size=shape).astype("int32")
        for row, length in enumerate(lengths):
            tokens[row, length:], labels[row, length:] = 0, 0
        batches.append((tokens, labels))
    return batches


def token_model(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((None,), dtype="int32"), keras.layers.Embedding(VOCABULARY, 4), keras.layers.Dense(VOCABULARY)]
    )
    model.compile(optimizer=optimizer, loss=keras_losses.CrossEntropy(from_logits=True, ignore_class=0))
    return model


def as_dataset(batches):
    signature = (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, None), tf.int32))
    dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))


def token_optimizer():
    return PyTorchSGD(keras_losses.schedules.StepDecay(0.5, boundaries=[1], factor=0.1), momentum=0.9)


def test_token_batches_are_normalised_by_the_group_token_count_as_fairseq():
    batches = token_batches()
    # fairseq: update 1 is the mean over the 18 tokens of batches 0-2 (one padded batch of them: Keras' masked
    # mean is sum / 18), update 2 that over the 4 tokens of batch 3 alone.
    width = max(b[0].shape[1] for b in batches[:3])
    group = [np.concatenate([np.pad(b[i], ((0, 0), (0, width - b[i].shape[1]))) for b in batches[:3]]) for i in (0, 1)]
    reference = token_model(token_optimizer())
    reference.fit(as_dataset([tuple(group), batches[3]]), shuffle=False, verbose=0)

    weighted = weight_by_token_share(as_dataset(batches), 3, ignore_class=0)
    assert int(weighted.cardinality()) == 6
    shares = [float(w.numpy().flat[0]) for _, _, w in weighted]
    np.testing.assert_allclose(shares, [3 * 7 / 18, 3 * 5 / 18, 3 * 6 / 18, 3.0, 0.0, 0.0], rtol=1e-6)
    accumulated = token_model(accumulating(token_optimizer(), 3))
    accumulated.fit(weighted, shuffle=False, verbose=0)
    assert int(ops.convert_to_numpy(accumulated.optimizer.iterations)) == 2
    for got, expected in zip(numpy_weights(accumulated), numpy_weights(reference)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)

    # Keras alone averages the per-batch means: another update where token counts differ.
    unweighted = token_model(accumulating(token_optimizer(), 3))
    unweighted.fit(as_dataset(batches[:3]), shuffle=False, verbose=0)
    one_group = token_model(token_optimizer())
    one_group.fit(as_dataset([tuple(group)]), shuffle=False, verbose=0)
    assert not np.allclose(numpy_weights(unweighted)[0], numpy_weights(one_group)[0], rtol=1e-4)


def test_accumulating_wraps_the_schedule_and_keeps_the_rest():
    optimizer = accumulating(PyTorchSGD(keras_losses.schedules.StepDecay(0.1), momentum=0.9, weight_decay=1e-4), 4)
    assert optimizer.gradient_accumulation_steps == 4 and optimizer.weight_decay == 1e-4 and optimizer.momentum == 0.9
    assert isinstance(optimizer._learning_rate, keras_losses.schedules.ScheduleOnUpdates)
    constant = accumulating(keras.optimizers.Adam(1e-3), 2)
    assert constant.gradient_accumulation_steps == 2 and float(
        ops.convert_to_numpy(constant.learning_rate)
    ) == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: accumulating(keras.optimizers.SGD(), 0),
            r"`update_freq` must be an integer >= 1. Received: update_freq=0",
        ),
        (
            lambda: accumulating(keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()), 2),
            r"a plain optimizer without gradient accumulation.*LossScaleOptimizer",
        ),
        (lambda: weight_by_token_share(tf.data.Dataset.range(3), 2), r"`batches` must hold \(inputs, labels\) pairs"),
    ],
)
def test_accumulation_arguments_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- checkpoints: every epoch, the best, the last, the average of the last N -------------------------------


class FakeMetric(keras.callbacks.Callback):
    """Puts a given value of `val_bleu` in the logs of each epoch, as a BLEU callback would."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_bleu"] = self.values[epoch]


class RecordEpochWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.after_epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.after_epochs.append(numpy_weights(self.model))


def train_with_checkpoints(directory, values, **kwargs):
    model, record = small_model(), RecordEpochWeights()
    checkpoints = EpochCheckpoints(directory, monitor="val_bleu", **kwargs)
    model.fit(X, Y, batch_size=4, epochs=len(values), verbose=0, callbacks=[FakeMetric(values), record, checkpoints])
    return model, record.after_epochs, checkpoints


def weights_in(path):
    model = small_model(seed=9)
    model.optimizer.build(model.trainable_variables)  # the files hold the optimizer's state too
    model.load_weights(path)
    return numpy_weights(model)


def assert_weights_equal(got, expected):
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)


def test_the_average_of_the_last_epochs_is_the_element_wise_mean(tmp_path):
    model, after_epochs, _ = train_with_checkpoints(tmp_path, [1.0, 2.0, 3.0, 4.0, 5.0])
    averaged = small_model(seed=9)
    paths = average_epoch_checkpoints(averaged, tmp_path, 3)
    assert [os.path.basename(p) for p in paths] == [f"epoch_000{e}.weights.h5" for e in (3, 4, 5)]
    expected = [np.mean([epoch[i] for epoch in after_epochs[2:]], axis=0) for i in range(len(after_epochs[0]))]
    for got, mean in zip(numpy_weights(averaged), expected):  # BN moving statistics included
        np.testing.assert_allclose(got, mean, rtol=1e-6, atol=1e-7)
    assert not np.allclose(numpy_weights(averaged)[0], after_epochs[-1][0], rtol=1e-4)
    # The optimizer's state is the newest checkpoint's (fairseq keeps the newest one's beside the average).
    for got, saved in zip(averaged.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(ops.convert_to_numpy(got), ops.convert_to_numpy(saved))
    with pytest.raises(ValueError, match=r"the last 6 epoch checkpoints needs 6; .* has 5"):
        average_epoch_checkpoints(averaged, tmp_path, 6)


@pytest.mark.parametrize(
    "values, mode, replace_on_tie, best",
    [
        ([10.0, 30.0, 30.0, 20.0], "max", False, 2),  # timm, Keras: the first of equals
        ([10.0, 30.0, 30.0, 20.0], "max", True, 3),  # fairseq: a >= b, the last of equals
        ([3.0, 1.0, 2.0, float("nan")], "min", False, 2),
    ],
)
def test_the_best_epoch_and_the_final_one_are_kept_and_reported(tmp_path, values, mode, replace_on_tie, best):
    model, after_epochs, checkpoints = train_with_checkpoints(
        tmp_path, values, mode=mode, replace_on_tie=replace_on_tie
    )
    report = checkpoints.report()
    assert report["best_epoch"] == best and report["best_value"] == values[best - 1]
    assert report["final_epoch"] == len(values) and report["final_value"] == pytest.approx(values[-1], nan_ok=True)
    assert_weights_equal(weights_in(tmp_path / "best.weights.h5"), after_epochs[best - 1])
    assert_weights_equal(weights_in(tmp_path / "last.weights.h5"), numpy_weights(model))
    # A resumed run reads the record and goes on with the same best.
    assert EpochCheckpoints(tmp_path, monitor="val_bleu", mode=mode).best_epoch == best
    with pytest.raises(ValueError, match=r"chose the best epoch by 'val_bleu'.*monitor='val_accuracy'"):
        EpochCheckpoints(tmp_path, monitor="val_accuracy", mode=mode)


def test_only_the_last_epoch_files_are_kept_on_request(tmp_path):
    train_with_checkpoints(tmp_path, [1.0, 2.0, 3.0, 4.0], keep_last=2)
    assert [os.path.basename(p) for p in epoch_checkpoints(tmp_path)] == [
        "epoch_0003.weights.h5",
        "epoch_0004.weights.h5",
    ]


def test_with_ema_the_files_hold_the_averaged_weights(tmp_path):
    model, ema = small_model(), ExponentialMovingAverage(decay=0.7)
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0, callbacks=[ema, EpochCheckpoints(tmp_path, ema=ema)])
    averages = [ops.convert_to_numpy(a) for a in ema.averages]
    assert_weights_equal(weights_in(tmp_path / "epoch_0002.weights.h5"), averages)
    assert_weights_equal(weights_in(tmp_path / "last.weights.h5"), averages)
    assert not np.allclose(numpy_weights(model)[0], averages[0])


def test_a_missing_monitor_is_named_with_the_keys_there_are(tmp_path):
    model = small_model()
    with pytest.raises(ValueError, match=r"no 'val_bleu' to choose the best checkpoint by.*\['loss'\]"):
        model.fit(X, Y, batch_size=4, epochs=1, verbose=0, callbacks=[EpochCheckpoints(tmp_path, monitor="val_bleu")])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "maximum"}, r"`mode` must be 'max' or 'min'. Received: mode='maximum'"),
        ({"replace_on_tie": 1}, r"`replace_on_tie` must be True or False"),
        ({"keep_last": 0}, r"`keep_last` must be None or an integer >= 1. Received: keep_last=0"),
    ],
)
def test_checkpoint_arguments_are_checked(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        EpochCheckpoints(tmp_path, **kwargs)
