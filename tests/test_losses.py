"""Loss values and gradients against the NumPy references of ../shared/LOSSES.md."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from tests import reference as ref
from tests.helpers import finite_differences, run_function, value_and_gradient

RNG = np.random.default_rng(0)
C = 5


def logits(shape=(6, C), scale=3.0):
    return RNG.normal(size=shape) * scale


def labels(shape=(6,)):
    return RNG.integers(0, C, size=shape)


def soft_labels(shape=(6, C)):
    return RNG.dirichlet(np.ones(shape[-1]), size=shape[:-1])


# name -> (function of (y, z, **hyper), dense reference of (q, z, **hyper), hyper-parameter sets)
FAMILIES = {
    "encouraging": (
        lambda y, z, **h: keras_losses.encouraging_loss(y, z, from_logits=True, **h),
        ref.encouraging,
        [{"log_end": 1.0}, {"log_end": 0.75}, {"log_end": 0.5}],
    ),
    "square": (
        keras_losses.square_loss,
        ref.square,
        [{"k": 1.0, "m": 1.0}, {"k": 1.0, "m": 15.0}, {"k": 15.0, "m": 30.0}, {"k": 2.0, "m": 3.0}],
    ),
    "squentropy": (keras_losses.squentropy, ref.squentropy, [{}]),
    "ce": (lambda y, z, **h: keras_losses.cross_entropy(y, z, from_logits=True, **h), ref.cross_entropy, [{}]),
}
CASES = [(name, hyper) for name, (_, _, sets) in FAMILIES.items() for hyper in sets]
IDS = [f"{name}-{'-'.join(f'{k}{v:g}' for k, v in hyper.items())}" for name, hyper in CASES]


@pytest.mark.parametrize("log_end", [1.0, 0.75, 0.5])
def test_encouraging_sparse_matches_per_example_reference(log_end):
    z, y = logits(), labels()
    got = keras_losses.encouraging_loss(y, z, log_end=log_end, from_logits=True)
    np.testing.assert_allclose(ops.convert_to_numpy(got), ref.encouraging_sparse(y, z, log_end), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k,m", [(1.0, 1.0), (1.0, 15.0), (15.0, 30.0), (2.0, 3.0), (0.5, 1.0)])
def test_square_sparse_matches_per_example_reference(k, m):
    # k != 1 together with m != 1: a known re-implementation drops k whenever m != 1.
    z, y = logits(), labels()
    got = keras_losses.square_loss(y, z, k=k, m=m)
    np.testing.assert_allclose(ops.convert_to_numpy(got), ref.square_sparse(y, z, k, m), rtol=1e-10)


def test_square_with_k_and_m_one_is_mean_squared_error_on_one_hot():
    z, y = logits(), labels()
    expected = keras.losses.mean_squared_error(ref.one_hot(y, C), z)
    np.testing.assert_allclose(ops.convert_to_numpy(keras_losses.square_loss(y, z)), expected, rtol=1e-6)


def test_hand_computed_values():
    z = np.array([[2.0, 0.0, -1.0]])
    # p_0 = e^2 / (e^2 + 1 + e^-1) = 0.843795; -log p_0 = 0.169846; log(1 - p_0) = -1.856585
    assert float(keras_losses.encouraging_loss([0], z, from_logits=True)[0]) == pytest.approx(-1.686739, abs=1e-6)
    # tangent at LE = 0.5 for p_0 > 0.5: log 0.5 - (0.843795 - 0.5) / 0.5 = -1.380737
    assert float(keras_losses.encouraging_loss([0], z, log_end=0.5, from_logits=True)[0]) == pytest.approx(
        0.169846 - 1.380737, abs=1e-6
    )
    # square: (1/3) [k (z_2 - m)^2 + 2^2 + 0^2] with z_2 = -1
    assert float(keras_losses.square_loss([2], z)[0]) == pytest.approx((4 + 4) / 3)
    assert float(keras_losses.square_loss([2], z, k=2.0, m=3.0)[0]) == pytest.approx((2 * 16 + 4) / 3)
    # squentropy: -log p_0 + (0^2 + 1^2) / 2
    assert float(keras_losses.squentropy([0], z)[0]) == pytest.approx(0.169846 + 0.5, abs=1e-6)


@pytest.mark.parametrize("name,hyper", CASES, ids=IDS)
def test_dense_soft_labels_match_reference(name, hyper):
    fn, reference, _ = FAMILIES[name]
    z, q = logits(), soft_labels()
    expected = reference(q, z, **hyper)
    np.testing.assert_allclose(ops.convert_to_numpy(fn(q, z, **hyper)), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,hyper", CASES, ids=IDS)
@pytest.mark.parametrize("shape", [(6,), (2, 3)], ids=["batch", "sequence"])
def test_sparse_one_hot_and_trailing_axis_labels_agree(name, hyper, shape):
    fn, reference, _ = FAMILIES[name]
    z, y = logits(shape + (C,)), labels(shape)
    sparse = ops.convert_to_numpy(fn(y, z, **hyper))
    assert sparse.shape == shape
    np.testing.assert_allclose(sparse, ref_dense := reference(ref.one_hot(y, C), z, **hyper), rtol=1e-10, atol=1e-12)
    dense = ops.convert_to_numpy(fn(ref.one_hot(y, C), z, **hyper))
    np.testing.assert_allclose(dense, ref_dense, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ops.convert_to_numpy(fn(y[..., None], z, **hyper)), ref_dense, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,hyper", CASES, ids=IDS)
@pytest.mark.parametrize("smoothing", [0.1, 0.3])
def test_label_smoothing_matches_smoothed_distribution(name, hyper, smoothing):
    fn, reference, _ = FAMILIES[name]
    z, y = logits(), labels()
    expected = reference(ref.smooth(ref.one_hot(y, C), smoothing), z, **hyper)
    np.testing.assert_allclose(ops.convert_to_numpy(fn(y, z, label_smoothing=smoothing, **hyper)), expected, rtol=1e-10)
    np.testing.assert_allclose(
        ops.convert_to_numpy(fn(ref.one_hot(y, C), z, label_smoothing=smoothing, **hyper)), expected, rtol=1e-10
    )


@pytest.mark.parametrize("log_end", [1.0, 0.75])
def test_smoothed_encouraging_is_the_authors_mixture(log_end):
    # (1 - s) * EL(y) + s * mean_i (b(p_i) - log p_i)
    z, y, s = logits(), labels(), 0.2
    log_p = ref.log_softmax(z)
    uniform_part = (ref.bonus(np.exp(log_p), log_end) - log_p).mean(-1)
    expected = (1 - s) * ref.encouraging_sparse(y, z, log_end) + s * uniform_part
    got = keras_losses.encouraging_loss(y, z, log_end=log_end, from_logits=True, label_smoothing=s)
    np.testing.assert_allclose(ops.convert_to_numpy(got), expected, rtol=1e-10)


@pytest.mark.parametrize("name,hyper", CASES, ids=IDS)
@pytest.mark.parametrize("form", ["sparse", "dense", "smoothed"])
def test_gradients_match_finite_differences(name, hyper, form):
    fn, _, _ = FAMILIES[name]
    z, y = logits((4, C), scale=1.5), labels((4,))
    target = {"sparse": y, "dense": soft_labels((4, C)), "smoothed": y}[form]
    extra = {"label_smoothing": 0.1} if form == "smoothed" else {}
    _, grad = value_and_gradient(lambda t: fn(target, t, **hyper, **extra), z)
    numeric = finite_differences(lambda t: ops.convert_to_numpy(fn(target, t, **hyper, **extra)), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(numeric).max()))


@pytest.mark.parametrize("log_end", [1.0, 0.75, 0.5])
def test_encouraging_gradient_is_the_closed_form(log_end):
    z, y = logits(scale=4.0), labels()
    _, grad = value_and_gradient(lambda t: keras_losses.encouraging_loss(y, t, log_end=log_end, from_logits=True), z)
    np.testing.assert_allclose(grad, ref.encouraging_gradient(y, z, log_end), rtol=1e-9, atol=1e-12)


def test_plain_encouraging_clamps_like_the_published_implementation():
    # p_y so close to 1 that 1 - p_y < 1e-5: the bonus is log(1e-5) and adds no gradient.
    z, y = np.array([[20.0, 0.0, 0.0], [9.0, 0.0, 0.0]]), np.array([0, 0])
    value, grad = value_and_gradient(lambda t: keras_losses.encouraging_loss(y, t, from_logits=True), z)
    nll = -ref.log_softmax(z)[:, 0]
    assert value[0] == pytest.approx(nll[0] + np.log(1e-5), rel=1e-12)
    assert 1 - np.exp(-nll[1]) > 1e-5 and value[1] == pytest.approx(nll[1] + np.log1p(-np.exp(-nll[1])), rel=1e-10)
    p = np.exp(ref.log_softmax(z))
    np.testing.assert_allclose(grad[0], p[0] - [1, 0, 0], rtol=1e-9, atol=1e-15)  # cross-entropy's own gradient


def test_probabilities_input_matches_logits():
    z, y = logits(scale=1.0), labels()
    probabilities = np.exp(ref.log_softmax(z))
    for hyper in ({"log_end": 1.0}, {"log_end": 0.75}):
        from_logits = keras_losses.encouraging_loss(y, z, from_logits=True, **hyper)
        for target in (y, ref.one_hot(y, C)):
            got = keras_losses.encouraging_loss(target, probabilities, **hyper)
            np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(from_logits), rtol=1e-6)


# Logits so far apart that probabilities saturate the 1e-7 clip: only the logits give the exact loss.
SATURATED_LOGITS, SATURATED_LABELS = np.array([[40.0, 0.0, -40.0], [0.0, 30.0, 1.0]], "float32"), np.array([2, 0])
uses_softmax_input = keras.backend.backend() in ("tensorflow", "torch")


@pytest.mark.skipif(not uses_softmax_input, reason="JAX: see the next test")
def test_softmax_output_is_computed_from_its_logits():
    z, y = SATURATED_LOGITS, SATURATED_LABELS
    expected = ref.encouraging_sparse(y, z, 0.75)
    eager = keras_losses.encouraging_loss(y, keras.activations.softmax(ops.convert_to_tensor(z)), log_end=0.75)
    np.testing.assert_allclose(ops.convert_to_numpy(eager), expected, rtol=1e-5)
    if keras.backend.backend() == "tensorflow":  # in a graph, the Softmax op is recognised too
        import tensorflow as tf

        @tf.function
        def from_softmax_dense(t):
            return keras_losses.encouraging_loss(ref.one_hot(y, 3), tf.nn.softmax(t), log_end=0.75)

        np.testing.assert_allclose(from_softmax_dense(z).numpy(), expected, rtol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX only")
def test_softmax_output_on_jax_is_taken_as_probabilities_eager_and_jitted_alike():
    # As in Keras' JAX cross-entropies: a softmax output is probabilities (clipped to [1e-7, 1 - 1e-7]),
    # whether `_keras_logits` exists (eager) or not (jax.jit).
    import jax

    z, y = SATURATED_LOGITS, SATURATED_LABELS
    probabilities = ops.convert_to_numpy(keras.activations.softmax(ops.convert_to_tensor(z)))
    as_probabilities = ops.convert_to_numpy(keras_losses.encouraging_loss(y, probabilities, log_end=0.75))

    def from_softmax(t):
        return keras_losses.encouraging_loss(y, keras.activations.softmax(t), log_end=0.75)

    np.testing.assert_array_equal(ops.convert_to_numpy(from_softmax(ops.convert_to_tensor(z))), as_probabilities)
    np.testing.assert_allclose(np.asarray(jax.jit(from_softmax)(z)), as_probabilities, rtol=1e-6)
    # ... which is what Keras' own cross-entropy does there
    keras_ce = keras.losses.sparse_categorical_crossentropy(y, keras.activations.softmax(ops.convert_to_tensor(z)))
    ours = keras_losses.cross_entropy(y, keras.activations.softmax(ops.convert_to_tensor(z)))
    np.testing.assert_allclose(ops.convert_to_numpy(ours), ops.convert_to_numpy(keras_ce), rtol=1e-6)


@pytest.mark.parametrize("activation", ["sigmoid", "softmax over the batch axis"])
def test_other_activations_caching_their_input_are_not_taken_for_a_softmax(activation):
    # `keras.activations.sigmoid` caches its input as `_keras_logits` too (and Keras' TF cross-entropy
    # ops would use it as softmax logits): that would be a silently wrong loss.
    z, y = RNG.normal(size=(4, C)), labels((4,))

    def activate(t):
        return keras.activations.sigmoid(t) if activation == "sigmoid" else keras.activations.softmax(t, axis=0)

    as_plain_arrays = ops.convert_to_numpy(activate(ops.convert_to_tensor(z)))
    for fn in (keras_losses.encouraging_loss, keras_losses.squentropy):
        expected = ops.convert_to_numpy(fn(y, as_plain_arrays))
        eager = fn(y, activate(ops.convert_to_tensor(z)))
        traced = run_function(lambda t, fn=fn: fn(y, activate(t)))(z)
        np.testing.assert_allclose(ops.convert_to_numpy(eager), expected, rtol=1e-12)
        np.testing.assert_allclose(ops.convert_to_numpy(traced), expected, rtol=1e-12)
