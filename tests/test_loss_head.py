"""The chunked loss head (`keras_losses.chunked_loss`, `keras_losses.LossHead`) equals the plain head.

The plain head is the logits `h @ W + b` of every token and the package's loss on them (`Dense(V)` before the
loss). Tiny shapes (V = 50) with chunks of 4 tokens, so that every loop runs several chunks and pads the last.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_losses
from keras_losses.loss_head import default_chunk_size
from tests.helpers import mirrored_strategy_on_two_cpus

BACKEND = keras.backend.backend()
RNG = np.random.default_rng(5)
B, T, D, V, CHUNK = 3, 5, 6, 50, 4
HIDDEN = RNG.normal(size=(B, T, D)).astype("float32")
KERNEL = (0.7 * RNG.normal(size=(D, V))).astype("float32")
BIAS = RNG.normal(size=(V,)).astype("float32")
LABELS = RNG.integers(1, V, size=(B, T))
LABELS[0, 3:] = 0  # ignore_class=0 in some cases
SAMPLE_WEIGHT = RNG.uniform(0.5, 2.0, size=(B, T)).astype("float32")
MASK = np.ones((B, T), bool)
MASK[2, 2:] = False  # a Keras mask on the hidden states


def _losses():
    """Every loss, every option: smoothing, ignore_class, each reduction, mean_over_global_batch."""
    yield keras_losses.CrossEntropy(from_logits=True)
    yield keras_losses.CrossEntropy(from_logits=True, label_smoothing=0.1, ignore_class=0, reduction="sum")
    yield keras_losses.CrossEntropy(from_logits=True, ignore_class=0, reduction="none")
    yield keras_losses.EncouragingLoss(from_logits=True, ignore_class=0)
    yield keras_losses.EncouragingLoss(from_logits=True, label_smoothing=0.1, reduction="mean_with_sample_weight")
    yield keras_losses.ConservativeEncouragingLoss(from_logits=True, label_smoothing=0.1, ignore_class=0)
    yield keras_losses.ConservativeEncouragingLoss(log_end=0.5, from_logits=True, reduction="none")
    yield keras_losses.SquareLoss(k=2.0, m=3.0, ignore_class=0, mean_over_global_batch=True)
    yield keras_losses.SquareLoss(label_smoothing=0.1, reduction="mean")
    yield keras_losses.Squentropy(label_smoothing=0.1, ignore_class=0, reduction="none")
    yield keras_losses.Squentropy(mean_over_global_batch=True, reduction="mean")


LOSSES = list(_losses())


def _name(loss):
    return f"{type(loss).__name__}-s{loss.label_smoothing}-i{loss.ignore_class}-{loss.reduction}"


def _value_and_gradients(fn, tensors):
    """`fn(*tensors)` and the gradients of `sum(fn(*tensors) * r)` (`r` a fixed ramp, for per-token values)."""
    tensors = [ops.convert_to_tensor(t) for t in tensors]

    def objective(*args):
        value = fn(*args)
        ramp = ops.reshape(ops.arange(1, ops.size(value) + 1, dtype=value.dtype), ops.shape(value))
        return ops.sum(value * ramp), value

    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(tensors)
            total, value = objective(*tensors)
        return [ops.convert_to_numpy(x) for x in (value, *tape.gradient(total, tensors))]
    if BACKEND == "jax":
        import jax

        gradient = jax.value_and_grad(objective, argnums=tuple(range(len(tensors))), has_aux=True)
        (_, value), grads = jax.jit(gradient)(*tensors)  # eager, each of the loop's operations compiles
        return [np.asarray(x) for x in (value, *grads)]
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    total, value = objective(*leaves)
    total.backward()
    return [ops.convert_to_numpy(x) for x in (value.detach(), *(t.grad for t in leaves))]


def _masked(hidden, mask):
    masked = ops.convert_to_tensor(hidden)
    if mask is not None:
        keras_losses._keras_private.set_keras_mask(masked, ops.convert_to_tensor(mask))
    return masked


def _plain(loss, mask, sample_weight):
    def fn(hidden, kernel, bias):
        logits = ops.matmul(hidden, kernel) + bias
        if mask is not None:
            keras_losses._keras_private.set_keras_mask(logits, ops.convert_to_tensor(mask))
        return loss(LABELS, logits, sample_weight=sample_weight)

    return fn


def _chunked(loss, mask, sample_weight):
    return lambda hidden, kernel, bias: keras_losses.chunked_loss(
        loss, LABELS, _masked(hidden, mask), kernel, bias, sample_weight, chunk_size=CHUNK
    )


#: Every other case with sample weights and a Keras mask: each reduction is tested both ways.
CASES = [(loss, i % 2 == 1) for i, loss in enumerate(LOSSES)] + [(LOSSES[0], True)]


@pytest.mark.parametrize(
    ("loss", "weighted"),
    CASES,
    ids=lambda x: _name(x) if isinstance(x, keras.losses.Loss) else "weighted_masked" if x else "plain",
)
def test_values_and_gradients_equal_the_plain_head(loss, weighted):
    mask, sample_weight = (MASK, SAMPLE_WEIGHT) if weighted else (None, None)
    tensors = (HIDDEN, KERNEL, BIAS)
    expected = _value_and_gradients(_plain(loss, mask, sample_weight), tensors)
    got = _value_and_gradients(_chunked(loss, mask, sample_weight), tensors)
    for name, a, b in zip(("value", "hidden", "kernel", "bias"), expected, got):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5, err_msg=name)


def _in_blocks(loss):
    """Whether the loss's rows reduce over blocks of classes (all but the encouraging losses with smoothing)."""
    return not (isinstance(loss, keras_losses.EncouragingLoss) and loss.label_smoothing)


#: Blocks of 16 classes: V = 50 in four, the last starting at 34 (its first two classes masked).
FLOOR_CASES = [case for case in CASES if _in_blocks(case[0])]


@pytest.mark.parametrize(
    ("loss", "weighted"),
    FLOOR_CASES,
    ids=lambda x: _name(x) if isinstance(x, keras.losses.Loss) else "weighted_masked" if x else "plain",
)
def test_the_memory_floor_equals_the_plain_head(loss, weighted):
    mask, sample_weight = (MASK, SAMPLE_WEIGHT) if weighted else (None, None)
    tensors = (HIDDEN, KERNEL, BIAS)
    expected = _value_and_gradients(_plain(loss, mask, sample_weight), tensors)

    def floor(hidden, kernel, bias):
        return keras_losses.chunked_loss(
            loss, LABELS, _masked(hidden, mask), kernel, bias, sample_weight, vocabulary_block=16
        )

    got = _value_and_gradients(floor, tensors)
    for name, a, b in zip(("value", "hidden", "kernel", "bias"), expected, got):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5, err_msg=name)


def test_the_memory_floor_over_an_embedding_matrix_in_blocks_that_divide_the_vocabulary():
    loss = keras_losses.Squentropy(label_smoothing=0.1, ignore_class=0)
    expected = _value_and_gradients(_plain(loss, None, SAMPLE_WEIGHT), (HIDDEN, KERNEL, BIAS))

    def floor(hidden, embeddings):
        return keras_losses.chunked_loss(
            loss, LABELS, hidden, embeddings, BIAS, SAMPLE_WEIGHT, transpose_kernel=True, vocabulary_block=25
        )

    got = _value_and_gradients(floor, (HIDDEN, KERNEL.T.copy()))
    for name, a, b in zip(("value", "hidden", "kernel"), expected, got):
        np.testing.assert_allclose(b.T if name == "kernel" else b, a, rtol=1e-5, atol=1e-5, err_msg=name)


def test_a_head_at_the_memory_floor_trains_as_the_dense_head():
    loss = keras_losses.Squentropy(label_smoothing=0.1)
    features, labels = RNG.normal(size=(16, D)).astype("float32"), RNG.integers(0, V, size=16)
    runs = []
    for make in (lambda: keras.layers.Dense(V), lambda: keras_losses.LossHead(V, vocabulary_block=16)):
        keras.utils.set_random_seed(3)
        layer, inputs = make(), keras.Input((D,))
        model = keras.Model(inputs, layer(inputs))
        model.compile(keras.optimizers.SGD(0.1), loss=loss)
        runs.append((model.fit(features, labels, batch_size=8, epochs=2, verbose=0).history["loss"], layer))
    (dense_loss, dense), (head_loss, head) = runs
    np.testing.assert_allclose(head_loss, dense_loss, rtol=1e-5)
    for a, b in zip(dense.get_weights(), head.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert keras_losses.LossHead.from_config(head.get_config()).vocabulary_block == 16


def test_the_memory_floor_refuses_what_it_cannot_compute():
    smoothed = keras_losses.EncouragingLoss(from_logits=True, label_smoothing=0.1)
    with pytest.raises(NotImplementedError, match="label smoothing cannot be computed in vocabulary blocks"):
        keras_losses.chunked_loss(smoothed, LABELS, HIDDEN, KERNEL, vocabulary_block=16)
    loss = keras_losses.CrossEntropy(from_logits=True)
    with pytest.raises(ValueError, match="vocabulary_block"):
        keras_losses.chunked_loss(loss, LABELS, HIDDEN, KERNEL, vocabulary_block=0)
    with pytest.raises(ValueError, match="give one"):
        keras_losses.chunked_loss(loss, LABELS, HIDDEN, KERNEL, chunk_size=4, vocabulary_block=16)
    with pytest.raises(ValueError, match="give one"):
        keras_losses.LossHead(V, chunk_size=4, vocabulary_block=16)


def test_traced_without_bias_with_a_chunk_that_divides_nothing():
    loss = keras_losses.EncouragingLoss(from_logits=True, label_smoothing=0.1, ignore_class=0)
    zero_bias = np.zeros_like(BIAS)
    expected = _value_and_gradients(_plain(loss, None, None), (HIDDEN, KERNEL, zero_bias))
    if BACKEND == "tensorflow":  # a tf.function with an unknown token count (JAX: jitted below)
        import tensorflow as tf

        spec = tf.TensorSpec((None, None, D), "float32")
        chunked = tf.function(lambda h, y: keras_losses.chunked_loss(loss, y, h, KERNEL, chunk_size=7))
        traced = chunked.get_concrete_function(spec, tf.TensorSpec((None, None), "int64"))
        np.testing.assert_allclose(float(traced(HIDDEN, LABELS)), expected[0], rtol=1e-5)
    got = _value_and_gradients(
        lambda h, w: keras_losses.chunked_loss(loss, LABELS, h, w, chunk_size=7), (HIDDEN, KERNEL)
    )
    for a, b in zip(expected[:3], got):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_bfloat16_inputs_accumulate_in_float32():
    loss = keras_losses.CrossEntropy(from_logits=True, label_smoothing=0.1)
    value, _, _, db = _value_and_gradients(_chunked(loss, None, None), (HIDDEN.astype("float32"), KERNEL, BIAS))
    h16, w16 = ops.cast(HIDDEN, "bfloat16"), ops.cast(KERNEL, "bfloat16")
    got = _value_and_gradients(_chunked(loss, None, None), (h16, w16, BIAS))
    assert str(got[0].dtype) == "float32" and str(got[1].dtype) == "bfloat16" and str(got[3].dtype) == "float32"
    np.testing.assert_allclose(got[0], value, rtol=2e-2)
    np.testing.assert_allclose(np.asarray(got[3], np.float32), db, atol=2e-2)


def test_one_hot_labels_and_probability_losses_are_refused():
    with pytest.raises(ValueError, match="class ids"):
        keras_losses.chunked_loss(keras_losses.CrossEntropy(from_logits=True), np.eye(V)[LABELS], HIDDEN, KERNEL)
    with pytest.raises(ValueError, match="from_logits=True"):
        keras_losses.chunked_loss(keras_losses.CrossEntropy(), LABELS, HIDDEN, KERNEL)


def test_default_chunk_size():
    assert default_chunk_size(32000) == 128 and default_chunk_size(128000) == 64 and default_chunk_size(256000) == 64
    assert default_chunk_size(50) == 4096


TOKENS = np.array([[3, 5, 2, 7, 1, 4], [2, 2, 6, 1, 3, 0], [5, 1, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0]])
TARGETS = np.array([[1, 0, 3, 9, 2, 1], [3, 1, 0, 2, 2, 0], [2, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])


def _sequence_model(head, strategy=None):
    """Embedding (masks padding) -> Dense(tanh) -> Dense(V) or LossHead(V); the same weights for either head."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Dense(D, activation="tanh")(keras.layers.Embedding(8, D, mask_zero=True)(inputs))
    if head:
        output = keras_losses.LossHead(V, chunk_size=CHUNK, training_predictions=True, name="logits")(hidden)
    else:
        output = keras.layers.Dense(V, name="logits")(hidden)
    model = keras.Model(inputs, output)
    model.compile(
        keras.optimizers.SGD(0.5),
        loss=keras_losses.ConservativeEncouragingLoss(
            from_logits=True, label_smoothing=0.1, ignore_class=0, mean_over_global_batch=True
        ),
        metrics=[keras_losses.metrics.MaskedTokenAccuracy(ignore_class=0)],
    )
    return model


def _fit(model):
    history = model.fit(TOKENS, TARGETS, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    return model.get_weights(), history


def test_fit_predict_evaluate_and_save_equal_the_dense_head(tmp_path):
    plain, head = _sequence_model(False), _sequence_model(True)
    assert [w.path.split("/")[-1] for w in head.layers[-1].weights] == ["kernel", "bias"]
    plain_weights, plain_history = _fit(plain)
    head_weights, head_history = _fit(head)
    for a, b in zip(plain_weights, head_weights):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for key in ("loss", "token_accuracy"):
        np.testing.assert_allclose(head_history[key], plain_history[key], rtol=1e-5)
    logits = head.predict(TOKENS, verbose=0)
    assert logits.shape == (4, 6, V)
    np.testing.assert_allclose(logits, plain.predict(TOKENS, verbose=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(head.evaluate(TOKENS, TARGETS, verbose=0), plain.evaluate(TOKENS, TARGETS, verbose=0))

    path = str(tmp_path / "head.keras")
    head.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[-1], keras_losses.LossHead) and loaded.layers[-1].chunk_size == CHUNK
    np.testing.assert_allclose(loaded.predict(TOKENS, verbose=0), logits, rtol=1e-6)
    # The Dense layer's weights load into the head.
    untrained = _sequence_model(False)
    loaded.set_weights(untrained.get_weights())
    np.testing.assert_allclose(loaded.predict(TOKENS, verbose=0), untrained.predict(TOKENS, verbose=0), rtol=1e-6)


def test_a_kernel_stored_as_an_embedding_matrix_equals_the_plain_head():
    loss = keras_losses.EncouragingLoss(from_logits=True, label_smoothing=0.1, ignore_class=0)
    expected = _value_and_gradients(_plain(loss, MASK, SAMPLE_WEIGHT), (HIDDEN, KERNEL, BIAS))

    def transposed(hidden, embeddings, bias):
        return keras_losses.chunked_loss(
            loss,
            LABELS,
            _masked(hidden, MASK),
            embeddings,
            bias,
            SAMPLE_WEIGHT,
            chunk_size=CHUNK,
            transpose_kernel=True,
        )

    got = _value_and_gradients(transposed, (HIDDEN, KERNEL.T.copy(), BIAS))
    for name, a, b in zip(("value", "hidden", "kernel", "bias"), expected, got):
        np.testing.assert_allclose(b.T if name == "kernel" else b, a, rtol=1e-5, atol=1e-5, err_msg=name)


def _classifier(head, loss, metrics=(), between=None):
    """d = 8 inputs -> Dense(V) or LossHead(V) (-> `between`): the issue's new user, 64 examples, V = 50."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8,))
    layer = keras_losses.LossHead(V, chunk_size=16) if head else keras.layers.Dense(V)
    outputs = layer(inputs)
    if between is not None:
        outputs = between(outputs)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.1), loss=loss, metrics=list(metrics))
    return model


FEATURES = np.random.default_rng(2).normal(size=(64, 8)).astype("float32")
CLASS_IDS = np.random.default_rng(3).integers(0, V, size=64)
#: What else may receive the head's training output: a Keras loss, a layer between the head and the loss, a
#: metric of the logits (each: loss, metrics, layer after the head).
RECEIVERS = {
    "keras_loss": (lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True), (), None),
    "layer_between": (
        lambda: keras_losses.CrossEntropy(from_logits=True),
        (),
        lambda: keras.layers.Lambda(lambda t: t * 1.0),
    ),
    "logits_metric": (
        lambda: keras_losses.CrossEntropy(from_logits=True),
        (
            lambda: keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5"),
            lambda: keras_losses.metrics.MaskedTokenAccuracy(ignore_class=-1, name="token_accuracy"),
        ),
        None,
    ),
}


@pytest.mark.parametrize("receiver", sorted(RECEIVERS))
def test_whatever_else_receives_the_training_output_gets_the_logits(receiver, monkeypatch):
    """The issue's three cases: trained as with `Dense(V)` (the same losses, metrics and weights), where the
    head's hidden states were read as 8-class logits (JAX: fit 0.311 where the plain head has 4.068)."""
    loss, metrics, between = RECEIVERS[receiver]
    calls = []
    chunked = keras_losses.loss_head.chunked_loss
    monkeypatch.setattr(keras_losses.loss_head, "chunked_loss", lambda *a, **k: calls.append(1) or chunked(*a, **k))
    histories, weights = [], []
    for head in (False, True):
        layer = None if between is None else between()
        model = _classifier(head, loss(), [m() for m in metrics], layer)
        histories.append(model.fit(FEATURES, CLASS_IDS, batch_size=16, epochs=2, shuffle=False, verbose=0).history)
        weights.append(model.get_weights())
    plain, chunked_history = histories
    assert set(plain) == set(chunked_history)
    for key in plain:
        np.testing.assert_allclose(chunked_history[key], plain[key], rtol=1e-5, err_msg=key)
    for a, b in zip(*weights):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    # The package's loss on the head's own logits is computed in chunks; through a layer, from the logits.
    assert bool(calls) == (receiver == "logits_metric")


def test_the_intended_use_trains_as_the_plain_head_in_chunks(monkeypatch):
    calls = []
    chunked = keras_losses.loss_head.chunked_loss
    monkeypatch.setattr(keras_losses.loss_head, "chunked_loss", lambda *a, **k: calls.append(1) or chunked(*a, **k))
    runs = []
    for head in (False, True):
        model = _classifier(head, keras_losses.CrossEntropy(from_logits=True))
        runs.append(
            model.fit(FEATURES, CLASS_IDS, batch_size=16, epochs=1, verbose=0, shuffle=False).history["loss"][0]
        )
        runs.append(model.evaluate(FEATURES, CLASS_IDS, verbose=0))
    np.testing.assert_allclose(runs[2:], runs[:2], rtol=1e-5)
    assert 4.0 < runs[0] < 4.2 and calls  # ln(50) = 3.9: not the 8-class reading (0.311)


@pytest.mark.skipif(BACKEND != "jax", reason="XLA's compiled program, read on JAX")
def test_a_compiled_step_never_computes_the_logits():
    import jax

    head = keras_losses.LossHead(V, chunk_size=CHUNK)
    head.build((B, T, D))
    loss = keras_losses.CrossEntropy(from_logits=True)

    def step(kernel, bias, hidden):
        def value(kernel, bias, hidden):
            with keras.StatelessScope(state_mapping=[(head.kernel, kernel), (head.bias, bias)]):
                return loss(LABELS, head(hidden, training=True))

        return jax.value_and_grad(value, argnums=(0, 1, 2))(kernel, bias, hidden)

    arguments = (head.kernel.value, head.bias.value, HIDDEN)
    hlo = jax.jit(step).lower(*arguments).compile().as_text()
    assert f"f32[{CHUNK},{V}]" in hlo and f"[{B},{T},{V}]" not in hlo and f"[{B * T},{V}]" not in hlo
    np.testing.assert_allclose(float(jax.jit(step)(*arguments)[0]), float(loss(LABELS, head(HIDDEN))), rtol=1e-5)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute is TensorFlow's")
def test_two_replicas_with_unequal_padding_equal_one_device():
    import tensorflow as tf

    one_device, one_device_history = _fit(_sequence_model(True))
    with mirrored_strategy_on_two_cpus().scope():
        model = _sequence_model(True)
    mirrored, mirrored_history = _fit(model)
    np.testing.assert_allclose(mirrored_history["loss"], one_device_history["loss"], rtol=1e-5)
    for a, b in zip(one_device, mirrored):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert tf.distribute.get_strategy().num_replicas_in_sync == 1


class _PlainTiedLogits(keras.layers.Layer):
    """The plain tied head: `inputs @ embeddings^T`, as keras-hub's `ReversibleEmbedding(reverse=True)`."""

    def __init__(self, embedding):
        super().__init__()
        self.embedding, self.supports_masking = embedding, True

    def call(self, inputs):
        return ops.matmul(inputs, ops.transpose(self.embedding.embeddings))


def _tied_model(head):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(V, D, mask_zero=True)
    hidden = keras.layers.Dense(D, activation="tanh")(embedding(inputs))
    if head:
        logits = keras_losses.TiedLossHead(embedding, chunk_size=CHUNK)(hidden)
    else:
        logits = _PlainTiedLogits(embedding)(hidden)
    model = keras.Model(inputs, logits)
    model.compile(
        keras.optimizers.SGD(0.5),
        loss=keras_losses.EncouragingLoss(from_logits=True, label_smoothing=0.1, ignore_class=0),
    )
    return model, embedding


def test_a_tied_head_trains_the_shared_matrix_as_the_plain_tied_model():
    runs = []
    for head in (False, True):
        model, embedding = _tied_model(head)
        assert len(model.trainable_weights) == 3  # the embedding once, the Dense layer's kernel and bias
        before = ops.convert_to_numpy(embedding.embeddings)
        history = model.fit(TOKENS, TARGETS, batch_size=4, epochs=2, shuffle=False, verbose=0).history
        runs.append((history["loss"], model.get_weights(), ops.convert_to_numpy(embedding.embeddings) - before))
    (plain_loss, plain_weights, plain_step), (head_loss, head_weights, head_step) = runs
    np.testing.assert_allclose(head_loss, plain_loss, rtol=1e-5)
    for a, b in zip(plain_weights, head_weights):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(head_step, plain_step, rtol=1e-4, atol=1e-6)
    # Both uses moved the matrix: rows of the input tokens (lookup) and of every class (head).
    moved = np.abs(head_step).sum(axis=1) > 0
    assert moved[np.unique(TOKENS[TOKENS > 0])].all() and moved[np.unique(TARGETS[TARGETS > 0])].all()


def test_a_tied_head_saves_and_loads_tied(tmp_path):
    model, _ = _tied_model(True)
    model.fit(TOKENS, TARGETS, batch_size=4, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / "tied.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    head = next(layer for layer in loaded.layers if isinstance(layer, keras_losses.TiedLossHead))
    embedding = next(layer for layer in loaded.layers if isinstance(layer, keras.layers.Embedding))
    assert head.embedding is embedding and head.kernel is embedding.embeddings  # one matrix, still shared
    assert head.chunk_size == CHUNK and len(loaded.trainable_weights) == 3
    np.testing.assert_allclose(loaded.predict(TOKENS, verbose=0), model.predict(TOKENS, verbose=0), rtol=1e-6)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(b, a)
    # Trained on, the loaded model moves the shared matrix as the original does.
    for m in (model, loaded):
        m.fit(TOKENS, TARGETS, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="untied"):
        keras_losses.TiedLossHead.from_config(head.get_config())
