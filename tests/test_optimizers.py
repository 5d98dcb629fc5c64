"""`keras_losses.optimizers`: PyTorch's SGD and timm's RMSpropTF, step by step against NumPy transcriptions of
their update rules (and against `torch.optim.SGD` itself), weight-decay semantics and exclusion, the config and
`.keras` round trips, and loss scaling."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from keras_losses.optimizers import PyTorchSGD, RMSpropTF

W0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B0 = np.array([0.1, -0.2, 0.3])
# Hand-picked gradients of four steps and the learning rate of each: it changes twice, as a step schedule does.
GRADS = [
    (np.array([[0.2, -0.1, 0.4], [0.0, 0.3, -0.5]]), np.array([0.05, -0.1, 0.2])),
    (np.array([[-0.3, 0.2, 0.1], [0.6, -0.2, 0.0]]), np.array([0.1, 0.0, -0.3])),
    (np.array([[0.1, 0.1, -0.2], [-0.4, 0.5, 0.3]]), np.array([-0.2, 0.4, 0.1])),
    (np.array([[0.0, -0.6, 0.3], [0.2, 0.1, -0.1]]), np.array([0.3, -0.1, 0.0])),
]
LRS = [0.1, 0.1, 0.01, 0.05]


def run(optimizer, lrs=LRS, grads=GRADS):
    """The optimizer's variables after one `apply` per step, the learning rate set before each."""
    variables = [keras.Variable(W0.astype("float32"), name="kernel"), keras.Variable(B0.astype("float32"), name="bias")]
    for lr, step_grads in zip(lrs, grads):
        optimizer.learning_rate = lr
        optimizer.apply([ops.convert_to_tensor(g, "float32") for g in step_grads], variables)
    return [ops.convert_to_numpy(v) for v in variables]


def torch_sgd_reference(w, grads, lrs, momentum, nesterov, weight_decay):
    """`torch.optim.SGD.step` (dampening 0), transcribed: the buffer is the first d_p, then momentum * b + d_p."""
    buffer = None
    for g, lr in zip(grads, lrs):
        d_p = g + weight_decay * w
        if momentum:
            buffer = d_p.copy() if buffer is None else momentum * buffer + d_p
            d_p = d_p + momentum * buffer if nesterov else buffer
        w = w - lr * d_p
    return w


def timm_rmsprop_tf_reference(w, grads, lrs, alpha, eps, momentum, weight_decay, centered=False):
    """timm's `RMSpropTF.step` (lr_in_momentum=True, decoupled_decay=False), transcribed."""
    square_avg, buffer, grad_avg = np.ones_like(w), np.zeros_like(w), np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        g = g + weight_decay * w
        square_avg = square_avg + (1 - alpha) * (g**2 - square_avg)
        if centered:
            grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)
            avg = np.sqrt(square_avg - grad_avg**2 + eps)
        else:
            avg = np.sqrt(square_avg + eps)
        if momentum > 0:
            buffer = momentum * buffer + lr * g / avg
            w = w - buffer
        else:
            w = w - lr * g / avg
    return w


def references(reference, **kwargs):
    return [reference(x0, [g[i] for g in GRADS], LRS, **kwargs) for i, x0 in enumerate((W0, B0))]


def assert_all_close(got, expected, rtol=2e-6, atol=1e-7):
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_pytorch_sgd_matches_the_transcription(momentum, nesterov):
    got = run(PyTorchSGD(momentum=momentum, nesterov=nesterov, weight_decay=0.1))
    assert_all_close(got, references(torch_sgd_reference, momentum=momentum, nesterov=nesterov, weight_decay=0.1))


@pytest.mark.parametrize("nesterov", [False, True])
def test_pytorch_sgd_matches_torch_optim_sgd(nesterov):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (W0, B0)]
    reference = torch.optim.SGD(params, lr=LRS[0], momentum=0.9, nesterov=nesterov, weight_decay=0.1)
    for lr, step_grads in zip(LRS, GRADS):
        for group in reference.param_groups:
            group["lr"] = lr
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        reference.step()
    got = run(PyTorchSGD(momentum=0.9, nesterov=nesterov, weight_decay=0.1))
    assert_all_close(got, [p.detach().numpy() for p in params])


def test_keras_sgd_differs_from_pytorch_after_a_learning_rate_change():
    # Keras keeps the learning rate inside its velocity: equal while it is constant, not after it changes.
    expected = references(torch_sgd_reference, momentum=0.9, nesterov=True, weight_decay=0.0)
    constant = [LRS[0]] * 2
    keras_constant = run(keras.optimizers.SGD(momentum=0.9, nesterov=True), lrs=constant, grads=GRADS[:2])
    torch_constant = [
        torch_sgd_reference(x, [g[i] for g in GRADS[:2]], constant, 0.9, True, 0.0) for i, x in enumerate((W0, B0))
    ]
    assert_all_close(keras_constant, torch_constant)
    keras_changing = run(keras.optimizers.SGD(momentum=0.9, nesterov=True))
    assert not np.allclose(keras_changing[0], expected[0], rtol=1e-3)
    assert_all_close(run(PyTorchSGD(momentum=0.9, nesterov=True)), expected)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_tf_matches_the_timm_transcription(momentum, centered):
    optimizer = RMSpropTF(rho=0.9, momentum=momentum, epsilon=1e-3, centered=centered, weight_decay=0.1)
    expected = references(
        timm_rmsprop_tf_reference, alpha=0.9, eps=1e-3, momentum=momentum, weight_decay=0.1, centered=centered
    )
    assert_all_close(run(optimizer), expected)


def test_rmsprop_tf_first_step_by_hand():
    # s = 0.9 * 1 + 0.1 * 0.5**2 = 0.925; b = 0.1 * 0.5 / sqrt(0.926); w = 2 - b (g = 0.3 + 0.1 * 2 = 0.5).
    w = keras.Variable(np.array([2.0], "float32"))
    RMSpropTF(0.1, momentum=0.9, epsilon=1e-3, weight_decay=0.1).apply([np.array([0.3], "float32")], [w])
    np.testing.assert_allclose(ops.convert_to_numpy(w), [2.0 - 0.05 / np.sqrt(0.926)], rtol=1e-6)


def test_rmsprop_tf_starts_the_square_average_at_ones_where_keras_starts_at_zeros():
    optimizer, keras_optimizer = RMSpropTF(), keras.optimizers.RMSprop()
    for opt in (optimizer, keras_optimizer):
        opt.build([keras.Variable(W0.astype("float32"))])
    np.testing.assert_array_equal(ops.convert_to_numpy(optimizer._velocities[0]), np.ones_like(W0))
    np.testing.assert_array_equal(ops.convert_to_numpy(keras_optimizer._velocities[0]), np.zeros_like(W0))


@pytest.mark.parametrize("cls", [PyTorchSGD, RMSpropTF])
def test_one_dimensional_variables_are_excluded_on_request(cls):
    def bias_after(optimizer):
        return run(optimizer)[1]

    kwargs = {"momentum": 0.9}
    excluded = run(cls(weight_decay=0.1, exclude_1d_from_weight_decay=True, **kwargs))
    decayed, undecayed = run(cls(weight_decay=0.1, **kwargs)), run(cls(**kwargs))
    np.testing.assert_array_equal(excluded[0], decayed[0])  # the kernel is decayed
    np.testing.assert_array_equal(excluded[1], undecayed[1])  # the bias is not
    assert not np.allclose(decayed[1], undecayed[1], rtol=1e-4)
    by_name = cls(weight_decay=0.1, **kwargs)
    by_name.exclude_from_weight_decay(var_names=["bias"])  # Keras' own exclusion applies to the L2 term too
    np.testing.assert_array_equal(bias_after(by_name), undecayed[1])


@pytest.mark.parametrize("cls", [PyTorchSGD, RMSpropTF])
def test_decoupled_decay_is_keras_decay_before_the_step(cls):
    # Decoupled: w <- w * (1 - lr * wd), then the update with the plain gradient (timm >= 0.5, Keras, AdamW).
    got = run(cls(momentum=0.9, weight_decay=0.1, decoupled_decay=True), lrs=LRS[:1], grads=GRADS[:1])
    lr, wd = LRS[0], 0.1
    shrunk = [x * (1 - lr * wd) for x in (W0, B0)]
    plain = cls(momentum=0.9)
    variables = [keras.Variable(x.astype("float32")) for x in shrunk]
    plain.learning_rate = lr
    plain.apply([g.astype("float32") for g in GRADS[0]], variables)
    assert_all_close(got, [ops.convert_to_numpy(v) for v in variables])


@pytest.mark.parametrize(
    "optimizer",
    [
        PyTorchSGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
        RMSpropTF(0.048, momentum=0.9, epsilon=1e-3, weight_decay=1e-5, exclude_1d_from_weight_decay=True),
    ],
    ids=["PyTorchSGD", "RMSpropTF"],
)
def test_the_model_file_keeps_the_optimizer_and_its_state(optimizer, tmp_path):
    x, y = np.random.default_rng(0).normal(size=(16, 3)).astype("float32"), np.arange(16) % 2
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss=keras_losses.CrossEntropy(from_logits=True))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    assert type(restored.optimizer) is type(optimizer)
    assert restored.optimizer.get_config() == optimizer.get_config()
    for saved, loaded in zip(optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(ops.convert_to_numpy(loaded), ops.convert_to_numpy(saved))
    assert keras.saving.get_registered_name(type(optimizer)) == f"keras_losses>{type(optimizer).__name__}"


def fitted_kernel(optimizer, steps=3):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss=keras_losses.CrossEntropy(from_logits=True))
    x = np.random.default_rng(2).normal(size=(4 * steps, 3)).astype("float32")
    model.fit(x, np.arange(4 * steps) % 2, batch_size=4, epochs=1, shuffle=False, verbose=0)
    return ops.convert_to_numpy(model.weights[0])


@pytest.mark.parametrize("cls", [PyTorchSGD, RMSpropTF])
def test_under_loss_scaling_the_update_is_the_unscaled_one(cls):
    scaled = keras.optimizers.LossScaleOptimizer(cls(0.1, momentum=0.9, weight_decay=0.1), initial_scale=2.0**10)
    np.testing.assert_allclose(
        fitted_kernel(scaled), fitted_kernel(cls(0.1, momentum=0.9, weight_decay=0.1)), rtol=1e-6
    )
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(scaled))
    assert (
        type(clone.inner_optimizer) is cls and clone.inner_optimizer.get_config() == scaled.inner_optimizer.get_config()
    )


def test_mixed_precision_training_steps_with_the_l2_decay():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, dtype="mixed_float16")])
    optimizer = keras.optimizers.LossScaleOptimizer(RMSpropTF(0.01, momentum=0.9, epsilon=1e-3, weight_decay=0.1))
    model.compile(optimizer=optimizer, loss=keras_losses.CrossEntropy(from_logits=True))
    before = [ops.convert_to_numpy(w) for w in model.weights]
    x = np.ones((4, 3), "float32")
    model.fit(x, np.zeros(4, "int32"), batch_size=4, epochs=1, verbose=0)
    assert all(w.dtype == "float32" for w in model.weights)
    # One step with the cast-to-float16 forward pass: the float32 kernel moved, and by the RMSpropTF step.
    assert not np.allclose(ops.convert_to_numpy(model.weights[0]), before[0])
    assert int(ops.convert_to_numpy(optimizer.iterations)) == 1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: PyTorchSGD(weight_decay=-1e-4), r"`weight_decay` must be None or a number >= 0.*-0.0001"),
        (lambda: PyTorchSGD(nesterov=True), r"`nesterov=True` needs `momentum` > 0"),
        (lambda: PyTorchSGD(momentum=0.9, nesterov="yes"), r"`nesterov` must be True or False"),
        (lambda: RMSpropTF(decoupled_decay=1.0), r"`decoupled_decay` must be True or False"),
        (lambda: RMSpropTF(exclude_1d_from_weight_decay=None), r"`exclude_1d_from_weight_decay` must be True or False"),
        (lambda: RMSpropTF(rho=1.0), r"`rho` must be in \[0, 1\). Received: rho=1.0"),
        (lambda: RMSpropTF(momentum=-0.1), r"`momentum` must be a number >= 0"),
        (lambda: RMSpropTF(epsilon=0.0), r"`epsilon` must be a number > 0"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
