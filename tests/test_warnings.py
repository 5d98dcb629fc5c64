"""Warnings name the loss, say what to change, point at the user's code, and come once per loss object."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses

RNG = np.random.default_rng(7)
C = 4
recognises_softmax = pytest.mark.skipif(
    keras.backend.backend() == "jax", reason="softmax outputs are not recognised on JAX (documented)"
)


def softmax_output(rows=2):
    return keras.activations.softmax(ops.convert_to_tensor(RNG.normal(size=(rows, C)).astype("float32")))


OUR_NAMES = {obj.__name__ for obj in keras_losses.registration.LOSSES + keras_losses.registration.FUNCTIONS}


def caught(fn):
    """The warnings of keras_losses (their message starts with a loss's name) that `fn()` issues, all of them."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        fn()
    return [r for r in records if str(r.message).startswith("`") and str(r.message).split("`")[1] in OUR_NAMES]


@recognises_softmax
@pytest.mark.parametrize(
    "make,name,advice",
    [
        (lambda: keras_losses.EncouragingLoss(from_logits=True), "EncouragingLoss", "Pass `from_logits=False`"),
        (lambda: keras_losses.CrossEntropy(from_logits=True), "CrossEntropy", "Pass `from_logits=False`"),
        (lambda: keras_losses.Squentropy(), "Squentropy", "Use a linear output layer"),
        (lambda: keras_losses.SquareLoss(), "SquareLoss", "Use a linear output layer"),
    ],
)
def test_softmax_output_warning_names_the_loss_and_the_remedy_at_the_callers_line(make, name, advice):
    loss, y_pred = make(), softmax_output()
    records = caught(lambda: loss([0, 1], y_pred))
    assert len(records) == 1, [str(r.message) for r in records]
    message = str(records[0].message)
    assert message.startswith(f"`{name}`") and advice in message and "output of a softmax" in message
    if name in ("Squentropy", "SquareLoss"):
        assert "from_logits" not in message  # they have no such argument
    assert records[0].filename == __file__  # the user's line, not keras_losses/ or keras/


@recognises_softmax
def test_a_loss_object_warns_once_and_a_function_form_on_every_call():
    loss, y_pred = keras_losses.Squentropy(), softmax_output()
    assert len(caught(lambda: [loss([0, 1], y_pred) for _ in range(3)])) == 1
    assert len(caught(lambda: keras_losses.Squentropy()([0, 1], y_pred))) == 1  # a new object warns again
    records = caught(lambda: [keras_losses.squentropy([0, 1], y_pred) for _ in range(3)])
    assert len(records) == 3 and all(str(r.message).startswith("`squentropy`") for r in records)


@recognises_softmax
def test_fit_warns_once_at_the_fit_call():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(C, activation="softmax")])
    model.compile("sgd", loss=keras_losses.SquareLoss())
    x, y = RNG.normal(size=(8, 3)).astype("float32"), RNG.integers(0, C, size=8)
    records = caught(lambda: model.fit(x, y, batch_size=4, epochs=2, verbose=0))
    assert len(records) == 1 and str(records[0].message).startswith("`SquareLoss`")
    assert records[0].filename == __file__


def test_sigmoid_output_is_not_reported_as_a_softmax_output():
    y_pred = keras.activations.sigmoid(ops.convert_to_tensor(RNG.normal(size=(2, C)).astype("float32")))
    for loss in (keras_losses.EncouragingLoss(from_logits=True), keras_losses.Squentropy(), keras_losses.SquareLoss()):
        assert caught(lambda loss=loss: loss([0, 1], y_pred)) == []


def test_linear_outputs_give_no_warning():
    z = ops.convert_to_tensor(RNG.normal(size=(2, C)).astype("float32"))
    assert caught(lambda: [keras_losses.get(name)([0, 1], z) for name in ("encouraging", "square", "squentropy")]) == []
