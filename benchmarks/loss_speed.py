"""Training-step time and peak memory of every loss against Keras' cross-entropy, on every backend.

    python benchmarks/loss_speed.py                                  # every mode, default sizes, prints the table
    python benchmarks/loss_speed.py --json benchmarks/loss_speed.json   # then: python benchmarks/report.py
    python benchmarks/loss_speed.py --modes jax,tf-xla --sizes 256x1000 --repeats 20

What one timed step does, as training uses a loss: the logits come out of a small dense layer
(`z = x @ W`, `x` of shape `[N, 8]`), the loss reduces them to its scalar (Keras' `Loss.__call__`, mean
over the batch), the gradient flows back to `W` and `W` is updated in place (`W.assign_sub(lr * dW)`
inside the compiled step on TensorFlow; on JAX the jitted step returns the updated `W`, donated, and the
timer waits for it with `block_until_ready`; on PyTorch `W -= lr * W.grad` under `no_grad`). The
gradient of the logits is therefore materialised and consumed on the device as in training, and nothing
of size `[N, C]` is copied to the host. The row "(linear layer, loss = mean of squares)" is the same
step with about the cheapest loss there is, `mean(z^2)`: what the dense layer and the update cost alone.
(The mean of the logits would be cheaper still, but XLA fuses its constant gradient into the matrix
product and makes that slower than cross-entropy.)

Modes: `tf-graph` (`tf.function`), `tf-xla` (`tf.function(jit_compile=True)`), `jax` (`jax.jit`),
`torch` (eager) and `torch-compile` (`torch.compile` of the forward and loss, backward by AOTAutograd).
Each backend runs in a process of its own (Keras fixes its backend at import). In one process every
variant of a size runs once per round, interleaved, for `--repeats` rounds after two warm-up steps;
the minimum and the median of the rounds are reported, and each loss's ratio to the reference of its
group: Keras' `SparseCategoricalCrossentropy(from_logits=True)` for class ids, Keras'
`CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)` on one-hot labels for the smoothed
rows (where the package's losses get the class ids and `label_smoothing=0.1`). Peak memory is XLA's
accounting of the compiled step on JAX (arguments + outputs + temporaries - aliased), on a GPU also
the TensorFlow allocator's peak.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

DEFAULT_SIZES = "256x10,256x1000,8192x32000"
DEFAULT_MODES = "tf-graph,tf-xla,jax,torch"
BACKENDS = {"tf-graph": "tensorflow", "tf-xla": "tensorflow", "jax": "jax", "torch": "torch", "torch-compile": "torch"}
FEATURES = 8  # width of the dense layer's input
LEARNING_RATE = 1e-3
SMOOTHING = 0.1
SPARSE_REFERENCE = "keras SparseCategoricalCrossentropy"
SMOOTHED_REFERENCE = "keras CategoricalCrossentropy(label_smoothing=0.1), one-hot labels"
FLOOR = "(linear layer, loss = mean of squares)"


def variants():
    """`{(group, name): (loss, label form)}`; the first entry of each group is its reference."""
    import keras

    import keras_losses

    def package(label_smoothing=0.0):
        return {
            "encouraging": keras_losses.EncouragingLoss(from_logits=True, label_smoothing=label_smoothing),
            "conservative encouraging (0.75)": keras_losses.ConservativeEncouragingLoss(
                log_end=0.75, from_logits=True, label_smoothing=label_smoothing
            ),
            "square (k 15, m 30)": keras_losses.SquareLoss(k=15.0, m=30.0, label_smoothing=label_smoothing),
            "squentropy": keras_losses.Squentropy(label_smoothing=label_smoothing),
            "CrossEntropy (this package)": keras_losses.CrossEntropy(from_logits=True, label_smoothing=label_smoothing),
        }

    table = {("sparse", SPARSE_REFERENCE): (keras.losses.SparseCategoricalCrossentropy(from_logits=True), "ids")}
    table[("sparse", FLOOR)] = (lambda y, z: keras.ops.mean(keras.ops.square(z)), "ids")
    table.update({("sparse", name): (loss, "ids") for name, loss in package().items()})
    smoothed_reference = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=SMOOTHING)
    table[("smoothed", SMOOTHED_REFERENCE)] = (smoothed_reference, "one-hot")
    table.update({("smoothed", name): (loss, "ids") for name, loss in package(SMOOTHING).items()})
    return table


def tensorflow_step(loss_fn, x, w, jit_compile):
    import tensorflow as tf

    kernel = tf.Variable(w)

    @tf.function(jit_compile=jit_compile)
    def step(y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, tf.matmul(x, kernel))
        kernel.assign_sub(LEARNING_RATE * tape.gradient(loss, kernel))
        return loss

    return lambda y: float(step(y)), None


def jax_step(loss_fn, x, w):
    import jax

    def step(kernel, y):
        loss, gradient = jax.value_and_grad(lambda k: loss_fn(y, x @ k))(kernel)
        return kernel - LEARNING_RATE * gradient, loss

    compiled = jax.jit(step, donate_argnums=0)
    state = {"kernel": jax.numpy.array(w)}

    def run(y):
        state["kernel"], _ = compiled(state["kernel"], y)
        state["kernel"].block_until_ready()

    def peak(y):
        analysis = compiled.lower(state["kernel"], y).compile().memory_analysis()
        if analysis is None:
            return None
        return (
            analysis.argument_size_in_bytes
            + analysis.output_size_in_bytes
            + analysis.temp_size_in_bytes
            - analysis.alias_size_in_bytes
        )

    return run, peak


def torch_step(loss_fn, x, w, compiled):
    import torch

    kernel = torch.tensor(w, requires_grad=True)
    x = torch.as_tensor(x)

    def forward(kernel, y):
        return loss_fn(y, x @ kernel)

    if compiled:
        # Every variant compiles the same function with another closure: one cache entry each.
        torch._dynamo.config.recompile_limit = 64
        forward = torch.compile(forward)

    def run(y):
        forward(kernel, y).backward()
        with torch.no_grad():
            kernel.sub_(LEARNING_RATE * kernel.grad)
        kernel.grad = None

    return run, None


def make_step(mode, loss_fn, x, w):
    """`(run(labels), peak(labels) or None)` for one variant."""
    if mode in ("tf-graph", "tf-xla"):
        return tensorflow_step(loss_fn, x, w, jit_compile=mode == "tf-xla")
    if mode == "jax":
        return jax_step(loss_fn, x, w)
    return torch_step(loss_fn, x, w, compiled=mode == "torch-compile")


def gpu_peak_bytes(run, labels):
    """TensorFlow's GPU allocator peak over one step, where a GPU is present."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        return None
    tf.config.experimental.reset_memory_stats("GPU:0")
    run(labels)
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def bench_size(mode, n, c, repeats, log):
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, FEATURES)).astype("float32")
    w = (rng.normal(size=(FEATURES, c)) * 3 / np.sqrt(FEATURES)).astype("float32")  # logits ~ N(0, 9)
    ids = rng.integers(0, c, size=(n,)).astype("int32")
    labels = {"ids": keras.ops.convert_to_tensor(ids), "one-hot": keras.ops.one_hot(ids, c)}
    steps, peaks = {}, {}
    for key, (loss, form) in variants().items():
        run, peak = make_step(mode, loss, keras.ops.convert_to_tensor(x), w)
        run(labels[form])  # compile
        run(labels[form])
        steps[key] = (run, labels[form])
        peaks[key] = peak(labels[form]) if peak else gpu_peak_bytes(run, labels[form])
    log(f"{mode} {n}x{c}: compiled {len(steps)} variants")
    times = {key: [] for key in steps}
    for _ in range(repeats):
        for key, (run, label) in steps.items():
            start = time.perf_counter()
            run(label)
            times[key].append(time.perf_counter() - start)
    return [
        {
            "mode": mode,
            "size": f"{n}x{c}",
            "group": group,
            "loss": name,
            "median_ms": 1000 * statistics.median(t),
            "min_ms": 1000 * min(t),
            "peak_mb": None if peaks[(group, name)] is None else peaks[(group, name)] / 2**20,
        }
        for (group, name), t in times.items()
    ]


def add_ratios(rows):
    """Each row's median, minimum and peak memory as a ratio to its group's reference (same mode and size)."""
    references = {}
    for row in rows:
        reference = SPARSE_REFERENCE if row["group"] == "sparse" else SMOOTHED_REFERENCE
        if row["loss"] == reference:
            references[(row["mode"], row["size"], row["group"])] = row
    for row in rows:
        base = references[(row["mode"], row["size"], row["group"])]
        row["median_ratio"] = row["median_ms"] / base["median_ms"]
        row["min_ratio"] = row["min_ms"] / base["min_ms"]
        has_memory = row["peak_mb"] is not None and base["peak_mb"]
        row["memory_ratio"] = row["peak_mb"] / base["peak_mb"] if has_memory else None
    return rows


def machine():
    import keras

    text = f"{platform.machine()}, {os.cpu_count()} CPU cores, Keras {keras.__version__}"
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        text += f", TensorFlow {tf.__version__}"
    elif backend == "jax":
        import jax

        text += f", JAX {jax.__version__} ({', '.join(sorted({d.device_kind for d in jax.devices()}))})"
    else:
        import torch

        text += f", PyTorch {torch.__version__}"
    return text


def worker(args):
    """Runs the modes of this process's backend; prints `{"machine", "rows"}` as JSON."""
    import keras

    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    rows = []
    for mode in args.modes.split(","):
        for n, c in sizes:
            rows += bench_size(mode, n, c, args.repeats, lambda text: print(text, file=sys.stderr, flush=True))
            keras.backend.clear_session()
    print(json.dumps({"machine": machine(), "rows": rows}))


def run_backend(backend, modes, args):
    """One worker process per backend (Keras fixes its backend at import)."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        f"--modes={','.join(modes)}",
        f"--sizes={args.sizes}",
        f"--repeats={args.repeats}",
    ]
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    output = subprocess.run(command, env=environment, stdout=subprocess.PIPE, text=True, check=False)
    if output.returncode != 0:
        sys.exit(f"the {backend} benchmark ({', '.join(modes)}) failed with exit code {output.returncode}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated NxC (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds (default %(default)s)")
    parser.add_argument("--modes", default=DEFAULT_MODES, help=f"any of {', '.join(BACKENDS)} (default %(default)s)")
    parser.add_argument("--json", help="write the results here (benchmarks/report.py renders them)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.modes.split(",")) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(BACKENDS)}")
    if args.worker:
        return worker(args)
    started = time.strftime("%Y-%m-%d %H:%M")
    load = os.getloadavg()
    result = {"started": started, "load_average_at_start": load, "repeats": args.repeats, "machines": {}, "rows": []}
    by_backend = {}
    for mode in args.modes.split(","):
        by_backend.setdefault(BACKENDS[mode], []).append(mode)
    for backend, modes in by_backend.items():
        print(f"running {', '.join(modes)} ...", file=sys.stderr, flush=True)
        part = run_backend(backend, modes, args)
        result["machines"][backend] = part["machine"]
        result["rows"] += part["rows"]
    result["load_average_at_end"] = os.getloadavg()
    add_ratios(result["rows"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
    from report import loss_table  # benchmarks/report.py, next to this file

    print(loss_table(result["rows"]))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
