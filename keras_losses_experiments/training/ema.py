"""The exponential moving average of a model's weights, as timm's `ModelEmaV2` keeps it (`train.py --model-ema
--model-ema-decay 0.9999`), with validation and saving on the averaged weights.

timm (v0.4.9, the version of the paper's `imagenet-efficientnetb0/train_el.py`) copies the model before
training and, after every optimizer step, sets `ema <- decay * ema + (1 - decay) * w` for every entry of the
model's `state_dict`: the parameters and the buffers (batch normalisation's running mean and variance). It
validates the averaged copy after every epoch, and that accuracy replaces the model's in the best-checkpoint
choice and the saved checkpoint (`eval_metrics = ema_eval_metrics`).

Keras' own `use_ema=True` differs in four ways, hence this callback:
1. its average starts at the weights after the first update (momentum 0 on the first step), timm's at the
   initial weights (`ema_1 = decay * w_0 + (1 - decay) * w_1`);
2. it averages the trainable variables only: batch normalisation's moving statistics stay the live model's;
3. with `gradient_accumulation_steps` it updates the average after every batch, not every update;
4. validation during `fit` uses the live weights (unless `ema_overwrite_frequency`, which writes the average
   into the weights being trained, changing the training), and the end of `fit` overwrites the trainable
   weights with the average for good.

`ExponentialMovingAverage` keeps the average of every floating-point weight of the model (trainable and not),
updates it after every training batch, swaps it into the model for evaluation (`on_test_begin`, back at
`on_test_end`: the validation of `fit` and `model.evaluate(..., callbacks=[ema])` see the averaged model), and
`swapped_in()` does the same around a save. Integer state (seed generators) is left alone; timm averages
`num_batches_tracked`, which its batch norm (momentum 0.1) does not use.
"""

import contextlib

import keras
from keras import ops


class ExponentialMovingAverage(keras.callbacks.Callback):
    """timm's `ModelEmaV2` as a Keras callback: after every training batch,

        average <- decay * average + (1 - decay) * weight

    for every floating-point weight of the model (batch normalisation's moving statistics included), the
    average starting at the model's weights when training begins. Evaluation in `fit` (and in `evaluate` when
    passed as a callback) uses the averaged weights; `swapped_in()` puts them in the model for a save.

    Args:
        decay: float in [0, 1), timm's `--model-ema-decay` (the EfficientNet-B0 recipe: 0.9999).

    Raises:
        ValueError: at the start of training, where the average cannot follow the updates exactly: under
            `steps_per_execution > 1` (Keras calls the callback once per execution), with the optimizer's own
            `use_ema`, or with `gradient_accumulation_steps` (one batch is not one update).
        NotImplementedError: on JAX, whose `fit` keeps the weights outside the model until the epoch ends.
    """

    def __init__(self, decay=0.9999):
        super().__init__()
        if not isinstance(decay, (int, float)) or isinstance(decay, bool) or not 0 <= decay < 1:
            raise ValueError(f"`decay` must be in [0, 1). Received: decay={decay!r}")
        self.decay = float(decay)
        self.averages = None  # the averaged weights, in the order of `self._weights`
        self._weights = None
        self._update = None
        self._trained = None  # the trained weights while evaluation runs on the averages

    def on_train_begin(self, logs=None):
        if keras.backend.backend() == "jax":
            raise NotImplementedError(
                "ExponentialMovingAverage reads the weights after every batch; on JAX `fit` keeps them outside the "
                "model until the epoch ends. Use the TensorFlow or PyTorch backend."
            )
        if getattr(self.model, "steps_per_execution", 1) != 1:
            raise ValueError(
                "The moving average of the weights is updated once per training batch and needs "
                f"`steps_per_execution=1`. Received: steps_per_execution={self.model.steps_per_execution}"
            )
        optimizer = getattr(self.model.optimizer, "inner_optimizer", self.model.optimizer)
        if optimizer.use_ema or optimizer.gradient_accumulation_steps:
            raise ValueError(
                "ExponentialMovingAverage updates the average after every batch as timm does: it cannot be combined "
                "with the optimizer's `use_ema` or `gradient_accumulation_steps`. "
                f"Received: use_ema={optimizer.use_ema}, "
                f"gradient_accumulation_steps={optimizer.gradient_accumulation_steps}"
            )
        if self.averages is None:
            self._weights = [w for w in self.model.weights if "float" in str(w.dtype)]
            self.averages = [
                keras.Variable(ops.convert_to_numpy(w), dtype=w.dtype, trainable=False, name=f"ema_{i}")
                for i, w in enumerate(self._weights)
            ]
            self._update = _compiled(self._update_averages)

    def _update_averages(self):
        for average, weight in zip(self.averages, self._weights):
            average.assign(self.decay * average + (1.0 - self.decay) * ops.cast(weight, average.dtype))

    def on_train_batch_end(self, batch, logs=None):
        self._update()

    def on_test_begin(self, logs=None):
        if self.averages is not None and self._trained is None:
            self._trained = self._swap_in()

    def on_test_end(self, logs=None):
        if self._trained is not None:
            self._restore(self._trained)
            self._trained = None

    @contextlib.contextmanager
    def swapped_in(self):
        """The averaged weights in the model inside the `with` block, the trained ones back after it."""
        if self.averages is None:
            raise ValueError("No moving average yet: train the model with this callback first.")
        trained = self._swap_in()
        try:
            yield self.model
        finally:
            self._restore(trained)

    def _swap_in(self):
        """Assigns the averages to the model's weights; returns the weights they replaced."""
        trained = [ops.convert_to_numpy(w) for w in self._weights]
        self._restore(ops.convert_to_numpy(a) for a in self.averages)
        return trained

    def _restore(self, values):
        for weight, value in zip(self._weights, values):
            weight.assign(value)


def _compiled(fn):
    """`fn` as one TensorFlow graph on TensorFlow (a few hundred small assignments per batch), else as it is."""
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    return tf.function(fn)
