"""A few steps of `fit` on a tiny model (no shuffling, no augmentation) under a strategy.

    python loopback_fit.py STRATEGY OUTPUT.npz [--plain]

Every worker of a cluster runs it (TF_CONFIG); the chief writes the final weights, the loss logged after every
step, the epochs' losses and the validation losses to OUTPUT.npz. `--plain` skips `Strategy.prepare`: Keras'
own `fit`, without the multi-worker workaround. `train()` also runs in the test process, for the one-device
reference.
"""

import sys

import numpy as np

GLOBAL_BATCH, STEPS, EPOCHS, FEATURES, CLASSES = 8, 3, 2, 5, 3


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(GLOBAL_BATCH * STEPS, FEATURES)).astype("float32")
    return x, (np.arange(len(x)) % CLASSES).astype("int32")


def initial_weights():
    rng = np.random.default_rng(1)
    shapes = [(FEATURES, 8), (8,), (8, CLASSES), (CLASSES,)]
    return [rng.normal(scale=0.5, size=shape).astype("float32") for shape in shapes]


def train(strategy, prepare=True):
    """Fits the tiny model under `strategy` (a `distribution.Strategy`); returns what the test compares."""
    import keras
    import tensorflow as tf

    import keras_losses

    x, y = data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((FEATURES,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(CLASSES)]
        )
        model.set_weights(initial_weights())
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
            loss=keras_losses.ConservativeEncouragingLoss(0.75, from_logits=True),
            metrics=["accuracy"],
        )
    if prepare:
        model = strategy.prepare(model)
    step_losses = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: step_losses.append(logs["loss"]))
    history = model.fit(
        strategy.distribute_dataset(dataset, GLOBAL_BATCH),
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        validation_data=strategy.distribute_dataset(dataset.take(1), GLOBAL_BATCH),
        callbacks=[record],
    )
    return {
        "weights": np.concatenate([np.ravel(w) for w in model.get_weights()]),
        "step_losses": np.array(step_losses, "float64"),
        "epoch_losses": np.array(history.history["loss"], "float64"),
        "validation_losses": np.array(history.history["val_loss"], "float64"),
    }


if __name__ == "__main__":
    from keras_losses_experiments.training import distribution

    strategy = distribution.get_strategy(sys.argv[1])
    results = train(strategy, prepare="--plain" not in sys.argv)
    if strategy.is_chief:
        np.savez(sys.argv[2], replicas=strategy.replicas, strategy=strategy.name, **results)
