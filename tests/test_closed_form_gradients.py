"""The fused kernels' closed-form gradients against autodiff of the plain formulas, on every backend.

The plain formulas build every class's term from one-hot (smoothed) labels, as the papers write them, and
let the backend differentiate them; the package computes the same losses from class ids with the
gradients written out (`keras_losses/fused_softmax.py`, `fused_squares.py`). Both must agree at ordinary
logits (float64, tight tolerances), at saturation (|z| up to 1e4, `p_y -> 1` and `p_y -> 0`, float32,
against float64 autodiff), and no `[N, C]` label tensor may be built for smoothed class ids.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from tests.helpers import value_and_gradient
from tests.reference import log_softmax as ref_log_softmax

RNG = np.random.default_rng(7)
C = 7
EPSILON = keras_losses.BONUS_EPSILON


def _constant(value, like):
    return ops.convert_to_tensor(value, like.dtype)


def plain_bonus(p, log_end):
    """`b(p)`, written as the paper does: `log(max(1 - p, 1e-5))`, the tangent line beyond `log_end`."""
    one_minus_p = 1.0 - p
    epsilon = _constant(EPSILON, p)
    value = ops.log(ops.where(one_minus_p > epsilon, one_minus_p, epsilon))
    if log_end == 1.0:
        return value
    return ops.where(p > log_end, math.log(1.0 - log_end) - (p - log_end) / (1.0 - log_end), value)


def plain_loss(name, y, z, smoothing, **hyper):
    """Per example, from the smoothed one-hot `q = (1 - s) * onehot(y) + s / C`: autodiff's reference."""
    classes = z.shape[-1]
    q = ops.one_hot(ops.convert_to_tensor(y, "int32"), classes, dtype=keras.backend.standardize_dtype(z.dtype))
    q = q * (1.0 - smoothing) + smoothing / classes
    log_p = ops.log_softmax(z, axis=-1)
    if name == "cross-entropy":
        return -ops.sum(q * log_p, axis=-1)
    if name == "encouraging":
        return ops.sum(q * (plain_bonus(ops.exp(log_p), hyper["log_end"]) - log_p), axis=-1)
    if name == "squentropy":
        return -ops.sum(q * log_p, axis=-1) + ops.sum((1.0 - q) * ops.square(z), axis=-1) / (classes - 1)
    k, m = hyper["k"], hyper["m"]
    return ops.sum((1.0 + (k - 1.0) * q) * ops.square(z - m * q), axis=-1) / classes


def package_loss(name, y, z, smoothing, **hyper):
    function = {
        "cross-entropy": lambda *a, **h: keras_losses.cross_entropy(*a, from_logits=True, **h),
        "encouraging": lambda *a, **h: keras_losses.encouraging_loss(*a, from_logits=True, **h),
        "squentropy": keras_losses.squentropy,
        "square": keras_losses.square_loss,
    }[name]
    return function(y, z, label_smoothing=smoothing, **hyper)


# Every closed form: the encouraging loss's bonus with the log part up to 1/2 (1, 0.75, 0.5) and beyond it
# (0.3: the classes other than the largest can reach the tangent); the square loss's two pairs of weights.
CASES = [
    ("encouraging", {"log_end": 1.0}),
    ("encouraging", {"log_end": 0.75}),
    ("encouraging", {"log_end": 0.5}),
    ("encouraging", {"log_end": 0.3}),
    ("squentropy", {}),
    ("square", {"k": 15.0, "m": 30.0}),
    ("cross-entropy", {}),
]
IDS = [name + "".join(f"-{v:g}" for v in hyper.values()) for name, hyper in CASES]


def saturated_logits(scale):
    """Rows with p_y -> 1, p_y -> 0, ties at the top, all equal, a class other than the largest with p in
    (0.3, 1/2) (on the tangent for log_end=0.3), and p_y near 1 short of the clamp."""
    z = RNG.normal(size=(7, C)) * 3.0
    y = np.array([0, 1, 2, 3, 4, 5, 6])
    z[0] = -scale
    z[0, 0] = scale  # p_y -> 1: the clamp and the tangent
    z[1] = RNG.uniform(-scale, scale, size=C)
    z[1, 1], z[1, 4] = -scale, scale  # p_y -> 0, another class -> 1
    z[2] = 0.0  # every class equal
    z[3, [3, 5]] = scale  # two tied largest classes, the true one among them
    z[4] = np.linspace(-scale, scale, C)
    z[5] = [np.log(4.0), np.log(3.0), -scale, -scale, -scale, -scale, -scale]  # p = 4/7, 3/7 (not the largest), 0
    z[6] = scale * 1e-3 * np.arange(C)  # close to 1 but short of the clamp
    return y, z


@pytest.mark.parametrize("name,hyper", CASES, ids=IDS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_value_and_gradient_equal_autodiff_of_the_plain_formula(name, hyper, smoothing):
    y, z = RNG.integers(0, C, size=(2, 3)), ops.convert_to_tensor(RNG.normal(size=(2, 3, C)) * 3.0, "float64")
    value, grad = value_and_gradient(lambda t: package_loss(name, y, t, smoothing, **hyper), z)
    expected_value, expected_grad = value_and_gradient(lambda t: plain_loss(name, y, t, smoothing, **hyper), z)
    np.testing.assert_allclose(value, expected_value, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,hyper", CASES, ids=IDS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("scale", [30.0, 1e4])
def test_saturated_float32_logits_give_finite_values_and_the_float64_gradient(name, hyper, smoothing, scale):
    y, z = saturated_logits(scale)
    value, grad = value_and_gradient(
        lambda t: package_loss(name, y, t, smoothing, **hyper), ops.convert_to_tensor(z, "float32")
    )
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad)), (value, grad)
    z64 = ops.convert_to_tensor(np.asarray(z, np.float32).astype(np.float64), "float64")
    expected_value, expected_grad = value_and_gradient(lambda t: plain_loss(name, y, t, smoothing, **hyper), z64)
    # `1 - p_y` in float32 is exact to an ulp of `log sum exp`, magnified by 1 / (1 - p_y) in the bonus (docs/losses.md)
    one_minus_p_true = 1.0 - np.exp(np.take_along_axis(ref_log_softmax(z), y[:, None], -1)[:, 0])
    atol = 1e-5 + 4 * np.finfo(np.float32).eps / np.maximum(one_minus_p_true, EPSILON)
    assert np.all(np.abs(value - expected_value) <= atol + 1e-5 * np.abs(expected_value)), (value, expected_value)
    # float32 rounds the logits' differences to ~1e-3 at |z| = 1e4, which moves p by as much
    atol = (1e-5 if scale < 100 else 2e-3) * max(1.0, np.abs(expected_grad).max())
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("name,hyper", CASES, ids=IDS)
def test_smoothed_class_ids_build_no_label_tensor(name, hyper):
    # Class ids 4 x 6 against C = 7: nothing shaped [..., 7] may come from the labels (a one-hot, an
    # `iota == y` mask); the only [4, 7] tensors are the logits' and their functions.
    y, z = RNG.integers(0, C, size=(4,)), RNG.normal(size=(4, C)).astype("float32")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(t):
            with tf.GradientTape() as tape:
                tape.watch(t)
                value = tf.reduce_sum(package_loss(name, y, t, 0.1, **hyper))
            return value, tape.gradient(value, t)

        operations = step.get_concrete_function(tf.TensorSpec([4, C], tf.float32)).graph.get_operations()
        assert not [op.name for op in operations if op.type in ("OneHot", "Range") and C in _sizes(op)]
        assert "OneHot" in _operation_types_of_the_plain_formula(name, y, hyper)  # the check can fail
    elif backend == "jax":
        import jax

        def total(t):
            return package_loss(name, y, t, 0.1, **hyper).sum()

        jaxpr = jax.make_jaxpr(jax.value_and_grad(total))(z)
        assert not [e for e in _equations(jaxpr.jaxpr) if e.primitive.name == "iota" and C in e.outvars[0].aval.shape]
        plain = jax.make_jaxpr(jax.grad(lambda t: plain_loss(name, y, t, 0.1, **hyper).sum()))(z)
        assert [e for e in _equations(plain.jaxpr) if e.primitive.name == "iota" and C in e.outvars[0].aval.shape]
    else:
        pytest.skip("PyTorch runs eagerly: there is no graph to inspect")


def _sizes(op):
    return [size for output in op.outputs for size in (output.shape.as_list() if output.shape.rank else [])]


def _operation_types_of_the_plain_formula(name, y, hyper):
    import tensorflow as tf

    traced = tf.function(lambda t: plain_loss(name, y, t, 0.1, **hyper))
    return {op.type for op in traced.get_concrete_function(tf.TensorSpec([4, C], tf.float32)).graph.get_operations()}


def _equations(jaxpr):
    """Every equation of a jaxpr, those of its sub-jaxprs (custom gradients, pjit) included."""
    for equation in jaxpr.eqns:
        yield equation
        for parameter in equation.params.values():
            for inner in parameter if isinstance(parameter, (list, tuple)) else [parameter]:
                inner = getattr(inner, "jaxpr", inner)
                if hasattr(inner, "eqns"):
                    yield from _equations(inner)
