"""What keras_losses/_keras_private.py takes from Keras' internals still behaves as relied on.

A Keras release that moves or changes one of these fails here by name (and a moved import fails
`import keras_losses` with a message naming the Keras version and what moved).
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_losses import _keras_private
from tests.helpers import mirrored_strategy_on_two_cpus


def test_a_moved_private_import_names_the_keras_version_and_what_moved():
    with pytest.raises(ImportError, match=rf"keras.src.no_such_module.*get_keras_mask.*Keras {keras.__version__}"):
        _keras_private.import_private("keras.src.no_such_module", ("get_keras_mask",))
    moved = rf"`keras.src.backend.common.masking.no_such_name`.*Keras {keras.__version__}"
    with pytest.raises(ImportError, match=moved):
        _keras_private.import_private("keras.src.backend.common.masking", ("no_such_name",))


class _MaskedMean(keras.losses.Loss):
    """Squares, with the mask `valid` attached as keras_losses attaches its `ignore_class` mask."""

    def __init__(self, valid):
        super().__init__(dtype="float64")
        self.valid = valid

    def call(self, y_true, y_pred):
        values = ops.square(y_pred - y_true)
        _keras_private.set_keras_mask(values, ops.convert_to_tensor(self.valid))
        return values


def test_keras_reductions_read_the_mask_set_on_the_values():
    valid = np.array([True, False, True, True])
    y_pred = np.array([1.0, 2.0, 3.0, 4.0])
    values = ops.square(ops.convert_to_tensor(y_pred))
    _keras_private.set_keras_mask(values, ops.convert_to_tensor(valid))
    np.testing.assert_array_equal(ops.convert_to_numpy(_keras_private.get_keras_mask(values)), valid)
    got = _MaskedMean(valid)(np.zeros(4), y_pred)
    np.testing.assert_allclose(float(got), np.mean(y_pred[valid] ** 2), rtol=1e-6)


def test_keras_reductions_read_the_mask_of_predictions():
    y_pred = keras.layers.Masking(mask_value=0.0)(ops.convert_to_tensor(np.array([[1.0], [0.0], [3.0]], "float32")))
    np.testing.assert_array_equal(ops.convert_to_numpy(_keras_private.get_keras_mask(y_pred)), [True, False, True])


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="not used on JAX (documented)")
def test_keras_softmax_caches_its_input_as_keras_logits():
    z = ops.convert_to_tensor(np.array([[1.0, 2.0, 3.0]], "float32"))
    output = keras.activations.softmax(z)
    assert output._keras_logits is z
    assert _keras_private.softmax_logits(output) is z
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        @tf.function
        def traced(t):
            output = tf.nn.softmax(t)
            assert output.op.type == "Softmax"
            return _keras_private.softmax_logits(output) is t

        assert traced(z)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's")
def test_keras_divides_averaging_reductions_by_the_number_of_replicas():
    # mean_over_global_batch multiplies by the number of replicas to undo exactly this scaling.
    import tensorflow as tf

    strategy = mirrored_strategy_on_two_cpus()
    y_pred = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    per_replica = strategy.run(
        lambda: keras.losses.MeanSquaredError(reduction="sum_over_batch_size")(np.zeros((4, 1)), y_pred[:, None])
    )
    replicas, total = strategy.run(lambda: _keras_private.replicas_and_global_sum(tf.constant(3.0)))
    for value in strategy.experimental_local_results(per_replica):
        np.testing.assert_allclose(float(value), np.mean(y_pred**2) / 2, rtol=1e-6)
    assert replicas == 2 and [float(t) for t in strategy.experimental_local_results(total)] == [6.0, 6.0]
