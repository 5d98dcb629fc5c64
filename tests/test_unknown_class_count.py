"""`y_pred` whose class count is known at run time only: works wherever the label form can be told."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from tests import reference as ref

RNG = np.random.default_rng(5)
C = 5

# Every family, with the arguments that need the class count: square's 1/C, squentropy's 1/(C - 1),
# smoothing's s/C, the fused square kernel (sparse, unsmoothed).
FUNCTIONS = {
    "square": lambda y, z: keras_losses.square_loss(y, z, k=2.0, m=3.0),
    "square-smoothed": lambda y, z: keras_losses.square_loss(y, z, k=2.0, m=3.0, label_smoothing=0.2),
    "squentropy": lambda y, z: keras_losses.squentropy(y, z),
    "squentropy-ignore": lambda y, z: keras_losses.squentropy(y, z, ignore_class=1),
    "encouraging-smoothed": lambda y, z: keras_losses.encouraging_loss(
        y, z, log_end=0.75, from_logits=True, label_smoothing=0.1
    ),
    "ce-smoothed": lambda y, z: keras_losses.cross_entropy(y, z, from_logits=True, label_smoothing=0.1),
}
# label form -> (labels, static shape of y_true, static shape of y_pred, in a TF input signature)
y_ids = RNG.integers(0, C, size=(6,))
z_values = RNG.normal(size=(6, C)).astype("float32") * 2
FORMS = {
    "sparse": (y_ids.astype("float32"), [None], [None, None]),
    "sparse-trailing-axis": (y_ids[:, None].astype("float32"), [None, 1], [None, None]),
    "dense": (ref.one_hot(y_ids, C).astype("float32"), [None, C], [None, None]),
}
tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TF input signatures")


def _eager_value_and_gradient(fn, y):
    import tensorflow as tf

    z = tf.constant(z_values)
    with tf.GradientTape() as tape:
        tape.watch(z)
        value = fn(y, z)
        total = tf.reduce_sum(value)
    return value.numpy(), tape.gradient(total, z).numpy()


@tensorflow_only
@pytest.mark.parametrize(
    "name,form", [(name, form) for name in FUNCTIONS for form in FORMS if not ("ignore" in name and form == "dense")]
)
def test_function_forms_under_an_input_signature_without_class_count(name, form):
    import tensorflow as tf

    fn = FUNCTIONS[name]
    labels, true_shape, pred_shape = FORMS[form]

    @tf.function(input_signature=[tf.TensorSpec(true_shape, tf.float32), tf.TensorSpec(pred_shape, tf.float32)])
    def traced(y, z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = fn(y, z)
            total = tf.reduce_sum(value)
        return value, tape.gradient(total, z)

    value, grad = traced(labels, z_values)
    expected_value, expected_grad = _eager_value_and_gradient(fn, labels)  # static class count
    np.testing.assert_allclose(value.numpy(), expected_value, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad.numpy(), expected_grad, rtol=1e-6, atol=1e-6)


@tensorflow_only
def test_loss_class_on_a_sequence_without_class_count():
    import tensorflow as tf

    loss = keras_losses.SquareLoss(k=2.0, m=3.0, ignore_class=0)
    y, z = RNG.integers(0, C, size=(2, 4)).astype("float32"), RNG.normal(size=(2, 4, C)).astype("float32")
    traced = tf.function(
        loss, input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None, None], tf.float32)]
    )
    valid = y != 0
    expected = ref.square_sparse(np.where(valid, y, 0).astype(int), z, 2.0, 3.0)[valid].mean()
    np.testing.assert_allclose(float(traced(y, z)), expected, rtol=1e-6)


@tensorflow_only
def test_label_form_that_cannot_be_told_names_both_shapes():
    import tensorflow as tf

    traced = tf.function(
        keras_losses.squentropy,
        input_signature=[tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.float32)],
    )
    shapes = r"y_true.shape=\(None, None\), y_pred.shape=\(None, None\)"
    with pytest.raises(ValueError, match=r"Cannot tell sparse.*" + shapes):
        traced.get_concrete_function()


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="symbolic shapes of jax.export")
@pytest.mark.parametrize("name", FUNCTIONS)
def test_jax_export_with_a_symbolic_class_count(name):
    import jax
    from jax import export

    fn = FUNCTIONS[name]
    batch, classes = export.symbolic_shape("b, c")
    exported = export.export(jax.jit(fn))(
        jax.ShapeDtypeStruct((batch,), np.int32), jax.ShapeDtypeStruct((batch, classes), np.float32)
    )
    assert "c" in str(exported.in_avals[1].shape)  # the class count was symbolic when traced
    y = y_ids.astype("int32")
    np.testing.assert_allclose(np.asarray(exported.call(y, z_values)), ops.convert_to_numpy(fn(y, z_values)), rtol=1e-6)
