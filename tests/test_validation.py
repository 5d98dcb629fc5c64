"""Bad input gets a clear, early error naming the argument and its valid range or the shapes."""

import keras
import numpy as np
import pytest

import keras_losses
from tests.helpers import run_function


@pytest.mark.parametrize(
    "make,argument,interval",
    [
        (lambda: keras_losses.EncouragingLoss(log_end=0.0), "log_end", r"\(0.0, 1.0\]"),
        (lambda: keras_losses.EncouragingLoss(log_end=1.5), "log_end", r"\(0.0, 1.0\]"),
        (lambda: keras_losses.ConservativeEncouragingLoss(log_end=1.0), "log_end", r"\(0.0, 1.0\)"),
        (lambda: keras_losses.SquareLoss(k=0.0), "k", r"\(0.0, inf\)"),
        (lambda: keras_losses.SquareLoss(m=-1.0), "m", r"\(0.0, inf\)"),
        (lambda: keras_losses.Squentropy(label_smoothing=1.0), "label_smoothing", r"\[0.0, 1.0\)"),
        (lambda: keras_losses.SquareLoss(label_smoothing=-0.1), "label_smoothing", r"\[0.0, 1.0\)"),
        (lambda: keras_losses.EncouragingLoss(ignore_class=1.5), "ignore_class", "integer"),
        (lambda: keras_losses.encouraging_loss([0], [[0.5, 0.5]], log_end=2.0), "log_end", r"\(0.0, 1.0\]"),
        (lambda: keras_losses.square_loss([0], [[0.5, 0.5]], k=-2.0), "k", r"\(0.0, inf\)"),
    ],
)
def test_hyper_parameters_out_of_range_raise_at_construction(make, argument, interval):
    with pytest.raises(ValueError, match=f"`{argument}`.*{interval}"):
        make()


@pytest.mark.parametrize("cls", [keras_losses.EncouragingLoss, keras_losses.SquareLoss, keras_losses.Squentropy])
def test_unknown_reduction_raises_at_construction(cls):
    with pytest.raises(ValueError, match="reduction"):
        cls(reduction="average")


LOSS_FUNCTIONS = [keras_losses.encouraging_loss, keras_losses.square_loss, keras_losses.squentropy]


@pytest.mark.parametrize("fn", LOSS_FUNCTIONS)
@pytest.mark.parametrize(
    "true_shape,pred_shape",
    [((4, 3), (4, 5)), ((5,), (4, 5)), ((4, 2, 1), (4, 3, 5)), ((4, 5, 5), (4, 5))],
)
def test_mismatched_shapes_name_both_shapes(fn, true_shape, pred_shape):
    y_true = np.zeros(true_shape, "float32")
    y_pred = np.full(pred_shape, 0.2, "float32")
    shapes = rf"y_true.shape={true_shape}.*y_pred.shape={pred_shape}".replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=shapes):
        fn(y_true, y_pred)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="unknown static sizes need a TF input signature")
def test_ambiguous_label_form_raises_at_trace_time():
    import tensorflow as tf

    traced = tf.function(
        keras_losses.square_loss,
        input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, 5], tf.float32)],
    )
    with pytest.raises(ValueError, match=r"Cannot tell sparse.*y_true.shape=\(None, None\), y_pred.shape=\(None, 5\)"):
        traced.get_concrete_function()


def test_single_class_output_is_rejected():
    with pytest.raises(ValueError, match="at least 2"):
        keras_losses.squentropy([0, 0], np.zeros((2, 1), "float32"))


@pytest.mark.parametrize("fn", LOSS_FUNCTIONS)
def test_class_ids_out_of_range_raise_in_eager_mode(fn):
    y_pred = np.zeros((3, 4), "float32")
    with pytest.raises(ValueError, match=r"outside \[0, 4\).*\[-1, 4\]"):
        fn(np.array([0, 4, -1]), y_pred)
    # the ignored id is allowed
    fn(np.array([0, 3, -1]), y_pred, ignore_class=-1)


def test_class_ids_are_not_checked_when_traced():
    # Documented: under tf.function / jax.jit the values are unknown at trace time; no check, no error.
    traced = run_function(lambda y, z: keras_losses.square_loss(y, z))
    assert np.asarray(traced(np.array([0, 1]), np.zeros((2, 4), "float32"))).shape == (2,)


def test_ignore_class_with_dense_labels_is_rejected():
    with pytest.raises(ValueError, match=r"ignore_class.*dense"):
        keras_losses.encouraging_loss(np.eye(3, dtype="float32"), np.eye(3, dtype="float32"), ignore_class=0)
