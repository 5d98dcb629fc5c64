"""Property-based tests (Hypothesis) of the public API against the NumPy references of tests/reference.py.

Random leading shapes (1 to 3 axes of 1 to 4) and class counts (2 to 7), sparse labels (with or without a
trailing axis of 1) and dense ones (one-hot or soft), every input kind (NumPy arrays, Python lists, tensors,
`keras.Variable`, `tf.Variable`, integer or float class ids), float16/bfloat16/float32/float64, every
hyper-parameter and option within its range: values and gradients equal the references, and finite inputs
give finite values and gradients. The examples' number is set by the Hypothesis profile (tests/conftest.py).

float16/bfloat16 predictions are computed in float32: the reference is evaluated at the rounded inputs, so
values are exact to float32 precision and gradients to the rounding of the input's dtype.
"""

from dataclasses import dataclass

import keras
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from keras import ops

import keras_losses
from keras_losses._keras_private import set_keras_mask
from tests import reference as ref
from tests.helpers import REDUCED_FLOAT64_RTOL, gradient_through_variable, value_and_gradient

BACKEND = keras.backend.backend()
#: The dtype of a Python list of floats as a tensor: Keras' floatx, or float64 on JAX with float64 enabled.
LIST_DTYPE = keras.backend.standardize_dtype(ops.convert_to_tensor([0.5]).dtype)
DTYPES = ("float16", "bfloat16", "float32", "float64")
#: Unit roundoff of each dtype.
ROUNDOFF = {"float16": 2.0**-11, "bfloat16": 2.0**-8, "float32": 2.0**-24, "float64": 2.0**-53}
SOFTMAX_LOSSES = ("encouraging", "conservative", "ce")  # the losses with `from_logits`
FUNCTIONS = {
    "encouraging": keras_losses.encouraging_loss,
    "conservative": keras_losses.encouraging_loss,
    "square": keras_losses.square_loss,
    "squentropy": keras_losses.squentropy,
    "ce": keras_losses.cross_entropy,
}
CLASSES = {
    "encouraging": keras_losses.EncouragingLoss,
    "conservative": keras_losses.ConservativeEncouragingLoss,
    "square": keras_losses.SquareLoss,
    "squentropy": keras_losses.Squentropy,
    "ce": keras_losses.CrossEntropy,
}
REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)


@dataclass
class Case:
    """One loss with its arguments, logits and labels, in float64 NumPy."""

    name: str
    arguments: dict  # the function form's keyword arguments, `from_logits` included where it exists
    z: np.ndarray  # logits [*leading, C]
    form: str  # "sparse", "sparse with a trailing 1", "one-hot" or "soft"
    ids: np.ndarray  # class ids [*leading] (sparse forms; ignored entries hold `ignore_class`), else None
    q: np.ndarray  # the dense labels [*leading, C]: the given ones, or one-hot of the ids (0 where ignored)

    @property
    def from_logits(self):
        return self.arguments.get("from_logits", True)

    @property
    def valid(self):
        ignore = self.arguments.get("ignore_class")
        return np.ones(self.z.shape[:-1], bool) if ignore is None or self.ids is None else self.ids != ignore

    def y_true(self):
        """The labels as given to the loss, in NumPy (int64 ids or float64 distributions)."""
        if self.form == "sparse":
            return self.ids
        return self.ids[..., None] if self.form == "sparse with a trailing 1" else self.q

    def predictions(self):
        """What `y_pred` holds, float64: the logits, or their softmax when `from_logits=False`."""
        return self.z if self.from_logits else np.exp(ref.log_softmax(self.z))


def floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def cases(draw, logits=None, names=tuple(FUNCTIONS)):
    """A `Case`; `logits` draws the elements of `z` (default: moderate values, exact in every dtype's range)."""
    name = draw(st.sampled_from(names))
    classes = draw(st.integers(2, 7))
    leading = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    arguments = {}
    if name == "encouraging":
        arguments["log_end"] = draw(st.one_of(st.just(1.0), floats(0.01, 1.0)))
    elif name == "conservative":
        arguments["log_end"] = draw(st.one_of(st.sampled_from([0.5, 0.75]), floats(0.01, 0.99)))
    elif name == "square":
        arguments["k"] = draw(st.one_of(st.just(1.0), floats(0.1, 30.0)))
        arguments["m"] = draw(st.one_of(st.just(1.0), floats(0.1, 30.0)))
    from_logits = True
    if name in SOFTMAX_LOSSES:
        from_logits = arguments["from_logits"] = draw(st.booleans())
    arguments["label_smoothing"] = draw(st.one_of(st.just(0.0), floats(0.0, 0.9)))
    form = draw(st.sampled_from(["sparse", "sparse with a trailing 1", "one-hot", "soft"]))
    if form in ("sparse", "sparse with a trailing 1"):
        ignore_class = draw(st.sampled_from([None, -1, *range(classes)]))
        arguments["ignore_class"] = ignore_class
        lowest = -1 if ignore_class == -1 else 0
        ids = draw(arrays(np.int64, leading, elements=st.integers(lowest, classes - 1)))
        q = ref.one_hot(np.where(ids == ignore_class, 0, ids), classes)
    else:
        ids = None
        if form == "one-hot":
            q = ref.one_hot(draw(arrays(np.int64, leading, elements=st.integers(0, classes - 1))), classes)
        else:
            raw = draw(arrays(np.float64, leading + (classes,), elements=floats(0.0, 1.0))) + 1e-3
            q = raw / raw.sum(-1, keepdims=True)
    # Probabilities from logits of at most 4: every p above 1e-4, far from Keras' clip at 1e-7.
    if logits is None:
        logits = floats(-8.0, 8.0) if from_logits else floats(-4.0, 4.0)
    z = draw(arrays(np.float64, leading + (classes,), elements=logits))
    return Case(name, arguments, z, form, ids, q)


def reference_values(case, y_pred, q=None):
    """Per-example reference values at the predictions `y_pred` (float64, as the loss receives them), 0 where
    ignored; `q`: the dense labels as the loss receives them (default: the case's)."""
    q = case.q if q is None else q
    smoothing = case.arguments["label_smoothing"]
    q = ref.smooth(q, smoothing) if smoothing else q
    logits = y_pred if case.from_logits else np.log(y_pred)  # softmax(log p) = p / sum(p), as Keras normalises
    if case.name in ("encouraging", "conservative"):
        values = ref.encouraging(q, logits, case.arguments["log_end"])
    elif case.name == "ce":
        values = ref.cross_entropy(q, logits)
    elif case.name == "square":
        values = ref.square(q, logits, case.arguments["k"], case.arguments["m"])
    else:
        values = ref.squentropy(q, logits)
    return np.where(case.valid, values, 0.0)


def reference_gradient(case, y_pred, weights, q=None):
    """Central differences of `sum(weights * values)`: one class at a time for every row at once (rows are
    independent), with a step relative to each entry (probabilities can be small)."""
    step = 1e-6 * (np.maximum(np.abs(y_pred), 1.0) if case.from_logits else y_pred)
    gradient = np.zeros_like(y_pred)
    for j in range(y_pred.shape[-1]):
        up, down = y_pred.copy(), y_pred.copy()
        up[..., j] += step[..., j]
        down[..., j] -= step[..., j]
        difference = reference_values(case, up, q) - reference_values(case, down, q)
        gradient[..., j] = weights * difference / (2 * step[..., j])
    return gradient


def cast(x, dtype):
    return ops.cast(ops.convert_to_tensor(x), dtype)


def as_float64(x):
    """`x` as float64 NumPy (float16 and bfloat16 through float32, exactly: NumPy lacks bfloat16)."""
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
        x = ops.cast(x, "float32")
    return np.asarray(ops.convert_to_numpy(x)).astype(np.float64)


def prediction_kinds():
    kinds = ["numpy", "list", "tensor", "keras.Variable"]
    return kinds + ["tf.Variable"] if BACKEND == "tensorflow" else kinds


def as_kind(tensor, kind):
    """`tensor` (of the dtype wanted) as the input kind `kind`; NumPy has no bfloat16: float32 then."""
    if kind == "tensor":
        return tensor
    if kind == "keras.Variable":
        return keras.Variable(tensor, trainable=True)
    if kind == "tf.Variable":
        import tensorflow as tf

        return tf.Variable(tensor)
    values = ops.convert_to_numpy(tensor)
    values = values.astype(np.float32) if values.dtype.name == "bfloat16" else values
    return values.tolist() if kind == "list" else values


def label_kind(y_true, kind, sparse):
    if kind == "list":
        return y_true.tolist()
    if kind == "tensor":
        return ops.convert_to_tensor(y_true, "int32" if sparse else "float32")
    if kind == "keras.Variable":  # labels in a variable are floats (as Keras' metrics keep them)
        return keras.Variable(y_true.astype(np.float32), trainable=False)
    if kind == "float numpy":
        return y_true.astype(np.float32)
    return y_true


def received_labels(case, exact, dtype):
    """The dense labels as the loss computes with them: rounded to `dtype`, through float32 unless `exact`."""
    if case.ids is not None:
        return case.q
    return as_float64(cast(case.q if exact else as_float64(cast(case.q, "float32")), dtype))


LABEL_KINDS = ("numpy", "float numpy", "list", "tensor", "keras.Variable")


@given(
    case=cases(),
    dtype=st.sampled_from(DTYPES),
    prediction_kind=st.sampled_from(prediction_kinds()),
    labels_kind=st.sampled_from(LABEL_KINDS),
)
def test_function_values_and_gradients_match_the_reference(case, dtype, prediction_kind, labels_kind):
    fn, arguments = FUNCTIONS[case.name], case.arguments
    tensor = cast(case.predictions(), dtype)
    y_pred = as_kind(tensor, prediction_kind)
    y_true = label_kind(case.y_true(), labels_kind, case.ids is not None)
    # What the loss computes in: float32 for float16/bfloat16, a list's dtype for lists, else the dtype.
    computed = "float32" if dtype in ("float16", "bfloat16") else dtype
    computed = LIST_DTYPE if prediction_kind == "list" else computed
    rounded = as_float64(cast(as_float64(tensor), computed))
    # Dense labels are cast to the computation's dtype; all but NumPy arrays and lists are float32 already.
    q = received_labels(case, labels_kind == "numpy" or (labels_kind == "list" and LIST_DTYPE == "float64"), computed)
    expected = reference_values(case, rounded, q)

    values = fn(y_true, y_pred, **arguments)
    assert tuple(values.shape) == case.z.shape[:-1]
    assert keras.backend.standardize_dtype(values.dtype) == computed
    tolerance = 200 * ROUNDOFF[computed]
    scale = 1.0 + np.abs(expected).max() + np.abs(rounded).max()
    if case.name in ("encouraging", "conservative"):
        # log(1 - p) from log p = z_y - logsumexp(z): the rounding of logsumexp near 0 is relative to 1 - p
        # (a known limit of the fused kernel, up to 1e-2 in float32 where 1 - p nears the clamp at 1e-5).
        p = np.exp(ref.log_softmax(rounded if case.from_logits else np.log(rounded)))
        scale += 1.0 / max(1.0 - p.max(), 1e-5)
    np.testing.assert_allclose(as_float64(values), expected, rtol=tolerance, atol=tolerance * scale)

    if prediction_kind in ("numpy", "list"):
        return
    weights = np.linspace(0.5, 1.5, case.z[..., 0].size).reshape(case.z.shape[:-1])

    def weighted(t):
        per_example = fn(y_true, t, **arguments)
        return per_example * ops.cast(weights, per_example.dtype)

    if prediction_kind == "tensor":
        _, gradient = value_and_gradient(weighted, y_pred)
    else:
        gradient = gradient_through_variable(weighted, y_pred)
    expected_gradient = reference_gradient(case, rounded, weights, q)
    tolerance = max(ROUNDOFF[dtype] * 4, 1e-5)
    scale = max(1.0, np.abs(expected_gradient).max())
    np.testing.assert_allclose(
        np.asarray(gradient, np.float64), expected_gradient, rtol=tolerance, atol=tolerance * scale
    )


def variable_kinds():
    return [kind for kind in prediction_kinds() if "Variable" in kind]


@given(
    case=cases(names=SOFTMAX_LOSSES),
    dtype=st.sampled_from(("float32", "float64")),
    variable_kind=st.sampled_from(variable_kinds()),
)
def test_softmax_outputs_of_variables_match_the_reference(case, dtype, variable_kind):
    """`keras.activations.softmax(v)` of a variable `v` (whose output keeps `v` itself as its `_keras_logits`),
    given to the loss with `from_logits=False`: values and the gradient reaching `v` equal the reference of the
    logits `v` (on JAX through the probabilities, as Keras' JAX cross-entropies: the same values)."""
    case.arguments["from_logits"] = False
    fn, arguments = FUNCTIONS[case.name], case.arguments
    variable = as_kind(cast(case.z, dtype), variable_kind)
    rounded = as_float64(cast(case.z, dtype))
    on_logits = Case(case.name, {**arguments, "from_logits": True}, rounded, case.form, case.ids, case.q)
    expected = reference_values(on_logits, rounded)
    weights = np.linspace(0.5, 1.5, case.z[..., 0].size).reshape(case.z.shape[:-1])

    def weighted(v):
        per_example = fn(case.y_true(), keras.activations.softmax(v, axis=-1), **arguments)
        return per_example * ops.cast(weights, per_example.dtype)

    values = as_float64(fn(case.y_true(), keras.activations.softmax(variable, axis=-1), **arguments))
    tolerance = 200 * ROUNDOFF[dtype]
    p = np.exp(ref.log_softmax(rounded))
    scale = 1.0 + np.abs(expected).max() + 1.0 / max(1.0 - p.max(), 1e-5)
    np.testing.assert_allclose(values, expected, rtol=tolerance, atol=tolerance * scale)
    expected_gradient = reference_gradient(on_logits, rounded, weights)
    tolerance = max(ROUNDOFF[dtype] * 4, 1e-5) * (10 if BACKEND == "jax" else 1)  # JAX: through log(softmax)
    np.testing.assert_allclose(
        np.asarray(gradient_through_variable(weighted, variable), np.float64),
        expected_gradient,
        rtol=tolerance,
        atol=tolerance * max(1.0, np.abs(expected_gradient).max()),
    )


def reduce(values, reduction, sample_weight=None, mask=None):
    """Keras' reductions (KERAS_NOTES.md), in float64: a mask makes "mean" and "sum_over_batch_size" means over
    the valid entries; "mean_with_sample_weight" divides by the sum of the (masked) weights; 0 / 0 is 0."""
    weights = np.ones_like(values) if sample_weight is None else sample_weight
    kept = np.ones_like(values) if mask is None else mask.astype(np.float64)
    weighted = values * weights * kept
    if reduction in (None, "none"):
        return weighted
    total = weighted.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight":
        divisor = (weights * kept).sum() if sample_weight is not None or mask is not None else values.size
    else:
        divisor = kept.sum()
    return total / divisor if divisor else 0.0


@given(
    case=cases(),
    dtype=st.sampled_from(DTYPES),
    reduction=st.sampled_from(REDUCTIONS),
    weighted=st.booleans(),
    masked=st.booleans(),
    global_mean=st.booleans(),
    labels_kind=st.sampled_from(LABEL_KINDS),
)
def test_loss_objects_reduce_as_keras_over_the_reference(
    case, dtype, reduction, weighted, masked, global_mean, labels_kind
):
    if dtype == "float16":  # keep the reduced sum within float16's range (65504)
        case.arguments.update({k: min(v, 3.0) for k, v in case.arguments.items() if k in ("k", "m")})
        case.z = np.clip(case.z, -4.0, 4.0)
    leading = case.z.shape[:-1]
    global_mean = global_mean and reduction in ("sum_over_batch_size", "mean")
    loss = CLASSES[case.name](**case.arguments, reduction=reduction, mean_over_global_batch=global_mean, dtype=dtype)
    y_pred = cast(case.predictions(), dtype)
    mask = None
    if masked:  # a Keras mask on y_pred (as a Masking or Embedding layer attaches it), every other entry masked
        mask = (np.arange(int(np.prod(leading))) % 2 == 0).reshape(leading)
        set_keras_mask(y_pred, ops.convert_to_tensor(mask))
    sample_weight = np.linspace(0.25, 2.0, int(np.prod(leading))).reshape(leading) if weighted else None
    got = loss(label_kind(case.y_true(), labels_kind, case.ids is not None), y_pred, sample_weight=sample_weight)

    # Loss.__call__ casts predictions, labels and weights to the loss's dtype; the values are float32 or float64.
    rounded = as_float64(y_pred)
    q = received_labels(case, labels_kind in ("numpy", "list"), dtype)
    values = reference_values(case, rounded, q)
    keras_mask = case.valid if mask is None else case.valid & mask
    if sample_weight is not None:
        sample_weight = as_float64(cast(sample_weight, dtype))
    has_mask = mask is not None or case.arguments.get("ignore_class") is not None
    expected = reduce(values, reduction, sample_weight, keras_mask if has_mask else None)
    magnitude = reduce(np.abs(values), reduction, sample_weight, keras_mask if has_mask else None)
    tolerance = {"float16": 1e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": max(1e-9, REDUCED_FLOAT64_RTOL)}[dtype]
    assert tuple(got.shape) == (leading if reduction in (None, "none") else ())
    np.testing.assert_allclose(
        as_float64(got), expected, rtol=tolerance, atol=tolerance * (1.0 + np.max(np.abs(magnitude)))
    )


HUGE = st.one_of(st.sampled_from([-1e4, -80.0, -1.0, 0.0, 1.0, 80.0, 1e4]), floats(-1e4, 1e4))


@given(case=cases(logits=HUGE), dtype=st.sampled_from(DTYPES))
def test_finite_inputs_give_finite_values_and_gradients(case, dtype):
    z = case.z
    if dtype == "float16" and case.name == "square":
        # The gradient (2k/C)(z - m) must itself fit in float16 (documented in the README).
        k, m = case.arguments["k"], case.arguments["m"]
        z = np.clip(z, -(6e4 * z.shape[-1] / (2 * max(k, 1.0)) - m), 6e4 * z.shape[-1] / (2 * max(k, 1.0)) - m)
    case.z = z
    y_true = case.y_true()

    def fn(t):
        return FUNCTIONS[case.name](y_true, t, **case.arguments)

    # Probabilities of huge logits hold exact zeros and ones.
    value, gradient = value_and_gradient(fn, cast(case.predictions(), dtype))
    assert np.all(np.isfinite(value)), value
    assert np.all(np.isfinite(np.asarray(gradient, np.float64))), gradient
