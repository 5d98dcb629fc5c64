"""Where training runs, on either backend: `get_strategy(name)` returns a `Strategy`.

TensorFlow: `tf.distribute` -- the default strategy, `MirroredStrategy` (the GPUs, or the logical CPUs, of
one machine), `MultiWorkerMirroredStrategy` (several machines; the cluster comes from `TF_CONFIG`; Keras'
trainer needs `multi_worker_workaround`), `TPUStrategy`.

JAX: Keras' own multi-host path -- `keras.distribution.initialize` (coordinator address, number of processes
and process id from the arguments or the `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `..._NUM_PROCESSES`,
`..._PROCESS_ID` environment variables) and `keras.distribution.DataParallel` over every device of every
process. Keras' limits there: the input must be a `tf.data.Dataset` of full batches (Keras shards it by
process; `Strategy.distribute_dataset`), `predict`
fails while the distribution is set (`undistributed()` unsets it), and every process runs the
callbacks (only the chief writes results; see `training.worker_dir`).

Keras is imported when a strategy is made: `STRATEGIES` and the other names answer without it (`keras-losses
--help`).
"""

import contextlib
import json
import os
import re

from keras_losses_experiments.errors import ConfigError, LostProcess

TENSORFLOW_STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
JAX_STRATEGIES = ("default", "data_parallel")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu", "data_parallel")
CLUSTER_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)
MIXED_PRECISION = ("auto", "float16", "bfloat16")


def lost_process_error(error):
    """A `LostProcess` naming the lost processes if `error` is TensorFlow's report of one, else None.

    TensorFlow reports a worker that died to the others in one of two ways, depending on where they wait: its
    coordination service's "The following tasks are unhealthy (stopped sending heartbeats):
    /job:worker/replica:0/task:1" (within about 10 s on loopback), or a collective's `UnavailableError` "...
    from remote target /job:worker/replica:0/task:1 ... Socket closed". JAX's coordination service ends the
    surviving processes itself ("Task 1 heartbeat timeout", after `jax.distributed`'s heartbeat timeout, 100 s
    by default): no Python error reaches this point there.
    """
    message = str(error)
    if "unhealthy" in message:
        named = message.split("unhealthy", 1)[1].split("The tasks", 1)[0]  # the list, not who reported it
    elif type(error).__name__ == "UnavailableError" and "remote target" in message:
        named = message.split("remote target", 1)[1].split(" while ", 1)[0]
    else:
        return None
    lost = sorted({f"{job}-{task}" for job, task in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", named)})
    return LostProcess(
        f"lost {', '.join(lost) or 'a process'} of the cluster (it stopped answering: killed, preempted or crashed). "
        "Start every process again with the same command: training resumes from the newest epoch that all of "
        "them backed up"
    )


class Strategy:
    """What `--strategy` chose, whatever the backend.

    Attributes:
        name: the public name recorded in `results.json`: "default", "MirroredStrategy",
            "MultiWorkerMirroredStrategy", "TPUStrategy" (TensorFlow) or "DataParallel" (JAX).
        replicas: data-parallel replicas in sync (global batch = per-replica batch x replicas).
        task: this process's name in its cluster ("worker-1", "chief-0", "process-1"; "" on one machine).
        is_chief: whether this process writes checkpoints and results (worker 0, or TF_CONFIG's chief).
        tf_strategy: the `tf.distribute.Strategy` (TensorFlow), else None.
        distribution: the `keras.distribution.Distribution` (JAX data parallelism), else None.
    """

    def __init__(self, name, replicas, task="", is_chief=True, tf_strategy=None, distribution=None):
        self.name, self.replicas, self.task, self.is_chief = name, replicas, task, is_chief
        self.tf_strategy, self.distribution = tf_strategy, distribution

    def __repr__(self):
        return f"Strategy({self.name!r}, replicas={self.replicas}, task={self.task!r})"

    def scope(self):
        """Create the model and its optimizer inside this context."""
        return self.tf_strategy.scope() if self.tf_strategy is not None else contextlib.nullcontext()

    @property
    def multi_worker(self):
        if self.tf_strategy is None:
            return False
        import tensorflow as tf

        return isinstance(self.tf_strategy, tf.distribute.MultiWorkerMirroredStrategy)

    def distribute_dataset(self, dataset, global_batch_size):
        """`dataset` (batched `global_batch_size` at a time) ready for `fit` and `evaluate` here.

        Multi-worker TensorFlow: sharded by data (tfds and generated sets have no files to shard by). JAX with
        several processes: every batch full (`rebatch(global_batch_size, drop_remainder=True)`): Keras splits
        each global batch among the processes and hangs on a partial one; the remainder of the split is left
        out (of the per-epoch validation; `training.predict_logits` sees every example). Elsewhere unchanged.
        """
        if self.multi_worker:
            import tensorflow as tf

            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            return dataset.with_options(options)
        if self.distribution is not None and self.task:
            return dataset.rebatch(global_batch_size, drop_remainder=True)
        return dataset

    @contextlib.contextmanager
    def every_example(self, dataset, global_batch_size):
        """A context for `predict`/`evaluate` over every example of `dataset`, yielding the dataset to use.

        JAX: without the distribution (Keras' multi-process `predict` fails, and `distribute_dataset` would
        leave out a partial batch), each process on its own devices with `dataset` as is. TensorFlow: under
        the strategy, every worker taking part, with `distribute_dataset(dataset)`.
        """
        if self.distribution is None:
            yield self.distribute_dataset(dataset, global_batch_size)
            return
        with undistributed():
            yield dataset

    def chief_flags(self, flags):
        """The chief's `flags` (a list of booleans) on every process of the cluster, `flags` on one process.

        Several processes: one all-reduce -- every process must call it. So they agree on what to do where
        their file systems differ (`keras-losses compare`'s runs).
        """
        mine = [int(bool(flag) and self.is_chief) for flag in flags]
        return [bool(total > 0) for total in self.sum_over_processes(mine)] if self.task else [bool(f) for f in flags]

    def newest_common(self, epochs_held, epochs):
        """The largest of `epochs_held` (integers in [1, epochs]) that every process holds, else 0.

        One all-reduce on several processes -- every process must call it: each restored backup is then the
        same epoch (`resume.restore`).
        """
        epochs_held = [epoch for epoch in epochs_held if 1 <= epoch <= epochs]
        if not self.task:
            return max([0, *epochs_held])
        held = [1] + [int(epoch in epochs_held) for epoch in range(1, epochs + 1)]  # held[0]: the count
        totals = self.sum_over_processes(held)
        return max(epoch for epoch in range(epochs + 1) if epoch == 0 or totals[epoch] == totals[0])

    def sum_over_processes(self, values):
        """`values` (a list of ints) summed over the processes of the cluster (each replica of a process counts
        alike). Every process must call it."""
        import numpy as np

        mine = np.array(values, "int32")
        if self.distribution is not None:
            from jax.experimental import multihost_utils

            return multihost_utils.process_allgather(mine).sum(axis=0).tolist()
        import tensorflow as tf

        per_replica = self.tf_strategy.run(tf.function(lambda: tf.constant(mine)))
        return self.tf_strategy.reduce("SUM", per_replica, axis=None).numpy().tolist()

    def check_global_batch(self, global_batch_size):
        """Raises `ConfigError` unless `global_batch_size` divides evenly among the replicas."""
        if global_batch_size % self.replicas:
            raise ConfigError(
                "batch_size",
                f"the global batch {global_batch_size} does not divide among the {self.replicas} replicas of "
                f"{self.name}: give a multiple of {self.replicas}",
            )
        return global_batch_size

    def check_steps_per_execution(self, steps_per_execution):
        """Raises `ConfigError` where Keras 3.15 cannot run several steps per call: (multi-worker) mirrored
        strategies with several replicas (checked on CPUs; TPUStrategy, where it matters most, is not)."""
        import keras

        mirrored = self.name in ("MirroredStrategy", "MultiWorkerMirroredStrategy")
        if steps_per_execution > 1 and mirrored and self.replicas > 1:
            raise ConfigError(
                "steps_per_execution",
                f"{steps_per_execution} fails in Keras {keras.version()}'s TensorFlow trainer "
                f"under {self.name} with {self.replicas} replicas ('You must feed a value for placeholder tensor'); "
                "use 1 there, or the JAX backend",
            )

    def prepare(self, model):
        """The compiled `model`, patched for Keras' multi-worker defects where this strategy needs it."""
        from keras_losses_experiments.training import multi_worker_workaround

        return multi_worker_workaround.apply(model, self.tf_strategy)


@contextlib.contextmanager
def undistributed():
    """A context without Keras' distribution, for `predict` and direct calls of a model: Keras 3.15's JAX
    `predict` fails while a multi-process distribution is set ("non-addressable devices"). Each process then
    computes on its own devices; the distribution comes back on exit. Nothing to do on TensorFlow."""
    import keras

    current = keras.distribution.distribution()
    if current is None:
        yield
        return
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(current)


def get_strategy(name="auto", coordinator_address=None, num_processes=None, process_id=None):
    """The `Strategy` called `name` (one of `STRATEGIES`) on the current Keras backend.

    `auto`: on TensorFlow a TPU if one is reachable, multi-worker when `TF_CONFIG` names a cluster, mirrored
    across several GPUs, else the default strategy; on JAX `data_parallel` when a cluster is configured or
    there are several devices, else `default`. The cluster arguments (JAX only) override the
    `KERAS_DISTRIBUTION_*` environment variables. Raises `ConfigError`, naming the field, for a strategy or
    argument that does not apply to the backend.
    """
    import keras

    backend = keras.backend.backend()
    cluster = {"coordinator_address": coordinator_address, "num_processes": num_processes, "process_id": process_id}
    if name not in STRATEGIES:
        raise ConfigError("strategy", f"{name!r} is unknown; expected one of: {', '.join(STRATEGIES)}")
    if backend == "jax":
        return _jax_strategy(name, cluster)
    if backend != "tensorflow":
        raise ConfigError("strategy", f"training runs on the tensorflow and jax backends (KERAS_BACKEND={backend})")
    given = [flag for flag, value in cluster.items() if value is not None]
    if given:
        raise ConfigError(
            given[0], "applies to JAX (--strategy data_parallel); on TensorFlow the cluster comes from TF_CONFIG"
        )
    return _tensorflow_strategy(name)


def _tensorflow_strategy(name):
    import tensorflow as tf

    if name == "data_parallel":
        raise ConfigError(
            "strategy",
            "data_parallel is keras.distribution on JAX (KERAS_BACKEND=jax); on TensorFlow "
            f"use one of: {', '.join(TENSORFLOW_STRATEGIES)}",
        )
    if name == "auto":
        if os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR") or tf.config.list_logical_devices("TPU"):
            name = "tpu"
        elif "cluster" in json.loads(os.environ.get("TF_CONFIG", "{}")):
            name = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return Strategy("default", 1, tf_strategy=tf.distribute.get_strategy())
    if name == "mirrored":
        # Every GPU, or every logical CPU device where there is none (one, unless configured otherwise).
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy([device.name for device in devices])
        return Strategy("MirroredStrategy", strategy.num_replicas_in_sync, tf_strategy=strategy)
    if name == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        resolver = strategy.cluster_resolver
        task = f"{resolver.task_type}-{resolver.task_id}" if resolver.task_type else ""
        return Strategy(
            "MultiWorkerMirroredStrategy",
            strategy.num_replicas_in_sync,
            task,
            _tensorflow_chief(resolver),
            tf_strategy=strategy,
        )
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    strategy = tf.distribute.TPUStrategy(resolver)
    return Strategy("TPUStrategy", strategy.num_replicas_in_sync, tf_strategy=strategy)


def _tensorflow_chief(resolver):
    """TF_CONFIG's chief, or worker 0 of a cluster without one (Keras' and TensorFlow's convention)."""
    cluster = resolver.cluster_spec().as_dict()
    if not cluster:
        return True
    if resolver.task_type == "worker":
        return "chief" not in cluster and resolver.task_id == 0
    return resolver.task_type in (None, "chief")


def _jax_strategy(name, cluster):
    if name in ("mirrored", "multi_worker", "tpu"):
        raise ConfigError(
            "strategy",
            f"{name} is a tf.distribute strategy (KERAS_BACKEND=tensorflow); on JAX use "
            f"one of: auto, {', '.join(JAX_STRATEGIES)}",
        )
    configured = any(value is not None for value in cluster.values()) or any(v in os.environ for v in CLUSTER_VARIABLES)
    if name == "default":
        if configured:
            raise ConfigError(
                "strategy",
                "default trains on one process, but a cluster is configured (--coordinator-address, --num-processes, "
                "--process-id or KERAS_DISTRIBUTION_*): use data_parallel",
            )
        return Strategy("default", 1)
    import jax
    import keras

    if configured:
        keras.distribution.initialize(cluster["coordinator_address"], cluster["num_processes"], cluster["process_id"])
    if name == "auto" and not configured and jax.device_count() == 1:
        return Strategy("default", 1)
    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    keras.distribution.set_distribution(distribution)
    process = jax.process_index()
    task = f"process-{process}" if jax.process_count() > 1 else ""
    return Strategy("DataParallel", jax.device_count(), task, process == 0, distribution=distribution)


def set_mixed_precision(mode, strategy):
    """Sets Keras' global dtype policy; returns its name.

    `mode`: None (float32), "float16", "bfloat16", or "auto": bfloat16 on TPUs (TPUStrategy, or JAX on
    TPU devices), float16 elsewhere. Keep the logits layer in float32 (the examples' models do).
    """
    import keras

    if mode not in (None, *MIXED_PRECISION):
        raise ConfigError("mixed_precision", f"must be one of: {', '.join(MIXED_PRECISION)}. Received: {mode!r}")
    if mode == "auto":
        mode = "bfloat16" if _on_tpu(strategy) else "float16"
    policy = f"mixed_{mode}" if mode else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def _on_tpu(strategy):
    if strategy.tf_strategy is not None:
        return strategy.name == "TPUStrategy"
    import jax

    return jax.default_backend() == "tpu"
