"""Everything Keras' losses accept as `y_true` / `y_pred`, as a tensor of the backend.

NumPy arrays, Python lists and scalars, tensors of any backend, `keras.Variable`s and a backend's own
variables (`tf.Variable`). On TensorFlow `ops.convert_to_tensor` hands a variable back unchanged
(`tf.is_tensor` is True for it), and variables break the fused kernels: `ops.take_along_axis` needs `ndim`,
which a `tf.Variable` lacks, and `tf.custom_gradient` refuses a `keras.Variable` among its inputs. A read of
the variable is a tensor, and gradients still reach the variable through it.

`as_tensor` is the one reader: labels (`labels.standardize_labels`), predictions and the input of the softmax
that produced them (`predictions.read_predictions`: `keras.activations.softmax(v)` keeps the variable `v`
itself as its output's `_keras_logits`), and the loss head's hidden states, kernel, bias and sample weights.
"""

import keras
from keras import ops


def as_tensor(x, dtype=None):
    """`x` as a tensor of the backend (of `dtype`, if given: lists and NumPy arrays converted to it directly);
    variables are read (their value, differentiable)."""
    if isinstance(x, keras.Variable):
        x = x.value  # on TensorFlow, the backend's own variable
    read_value = getattr(x, "read_value", None)  # a tf.Variable (JAX arrays and torch tensors have none)
    return ops.convert_to_tensor(read_value() if callable(read_value) else x, dtype=dtype)
