"""What makes the pairing by seed valid: the same seed gives every loss the same initial weights and the same
order of training batches, epoch after epoch; each epoch's order is a function of the seed and the epoch alone."""

import keras
import numpy as np
import pytest

from keras_losses_experiments.comparison import compare, tasks
from keras_losses_experiments.training import distribution


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    np.savez(folder / "d.npz", x_train=rng.normal(size=(60, 5)).astype("float32"), y_train=np.arange(60) % 3)
    settings = compare.Settings(data=str(folder / "d.npz"), batch_size=8, epochs=2)
    plan = compare.prepare(settings)
    return tasks.make_task(settings, plan.data, distribution.get_strategy("default"), folder / "out")


def start(task, loss, seed):
    """What runner.train_one does before fit: the seed, the model, the pipeline."""
    keras.utils.set_random_seed(seed)
    model = task.build(loss)
    two_epochs = [np.concatenate([x.numpy()[:, 0] for x, _ in task.epoch_batches(seed, e)]) for e in range(2)]
    return [w.copy() for w in model.get_weights()], two_epochs


def test_same_seed_same_start_and_order_for_every_loss(task):
    weights_ce, order_ce = start(task, "ce", 1)
    weights_square, order_square = start(task, "square", 1)
    assert all(np.array_equal(a, b) for a, b in zip(weights_ce, weights_square))
    assert all(np.array_equal(a, b) for a, b in zip(order_ce, order_square))
    assert not np.array_equal(order_ce[0], order_ce[1])  # reshuffled every epoch
    assert sorted(order_ce[0]) == sorted(order_ce[1])  # a permutation of the same examples


def test_another_seed_another_start_and_order(task):
    weights_0, order_0 = start(task, "ce", 0)
    weights_1, order_1 = start(task, "ce", 1)
    assert not np.array_equal(weights_0[0], weights_1[0]) and not np.array_equal(order_0[0], order_1[0])


def test_an_epochs_order_is_the_same_however_often_it_is_read(task):
    """Keras' JAX and Mirrored `fit` draw a batch from an iterator of their own before training: that must not
    move the order of any epoch (it did, with `shuffle(reshuffle_each_iteration=True)`)."""
    batches = task.epoch_batches(1, 3)
    first, second = (np.concatenate([x.numpy()[:, 0] for x, _ in batches]) for _ in range(2))
    again = np.concatenate([x.numpy()[:, 0] for x, _ in task.epoch_batches(1, 3)])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, again)
