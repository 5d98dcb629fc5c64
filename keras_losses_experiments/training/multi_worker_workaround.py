"""`model.fit` under `tf.distribute.MultiWorkerMirroredStrategy`: a workaround for two Keras defects.

Written for Keras 3.15.1 with TensorFlow 2.21 (the defects are in every Keras 3 release up to it). Plain
`fit`/`evaluate` under MultiWorkerMirroredStrategy with two or more workers fails in Keras' TensorFlow
trainer (`keras/src/backend/tensorflow/trainer.py`):

1. `_maybe_symbolic_build` builds the model from `strategy.reduce("MEAN", batch, axis=None)` of the first
   distributed batch, a nest of PerReplica values that the collective strategy cannot reduce: "Attempt to
   convert a value (PerReplica...) to a Tensor" (keras-team/keras#20585, open; keras-team/keras#20329).
2. `reduce_per_replica` reduces every log with `strategy.reduce("MEAN", value, axis=0)`, which fails on the
   scalar logs: "Invalid reduction dimension 0 for input with 0 dimensions" (tensorflow/tensorflow#72388).

`apply(model, strategy)` overrides three methods on the model *instance* (its class is untouched, so its
`.keras` file loads anywhere without custom objects) and only under MultiWorkerMirroredStrategy:
`_maybe_symbolic_build` builds from the data's element spec (building needs shapes and dtypes, not a mean of
the data); `train_step` and `test_step`
return their logs with shape [1], whose axis-0 mean over the replicas is the mean Keras meant to take.
Weights and logged losses then equal one process with the same global batch
(tests/examples/test_distribution.py). The strict expected-failure test of plain `fit` there turns into a
failure the day Keras fixes both: then delete this module. (Keras' build drawing a batch no longer matters:
each epoch's pipeline gives the same order however often it is read, `resume.stream`.)
"""

import types


def apply(model, strategy):
    """Patches `model` (compiled, built in `strategy.scope()`) for `fit` under MultiWorkerMirroredStrategy.

    Any other strategy (or None) returns `model` unchanged. Returns `model`.
    """
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return model
    model_class = type(model)
    model._maybe_symbolic_build = types.MethodType(_build_from_the_data_spec, model)
    model.train_step = types.MethodType(_vector_logs(model_class.train_step), model)
    model.test_step = types.MethodType(_vector_logs(model_class.test_step), model)
    return model


def _build_from_the_data_spec(model, iterator=None, data_batch=None):
    """Keras' `TensorFlowTrainer._maybe_symbolic_build`, from the shapes and dtypes of the data (Keras' own
    reduces a batch across the workers, which the collective strategy cannot do)."""
    if model._distribute_strategy is None:
        return
    if iterator is not None:  # Keras' TFEpochIterator: its data adapter holds the (global) tf.data.Dataset
        data_batch = iterator.data_adapter.get_tf_dataset().element_spec
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=data_batch)


def _vector_logs(step):
    """`step` (a train or test step of Keras' trainer) with every log reshaped from [] to [1]."""
    import tensorflow as tf

    def step_with_vector_logs(model, data):
        return tf.nest.map_structure(lambda value: tf.reshape(value, [1]), step(model, data))

    return step_with_vector_logs
