"""Forward+backward time and peak memory of every loss against Keras' cross-entropy and a naive formulation.

    python benchmarks/loss_speed.py                       # TF graph, TF XLA, then JAX (a subprocess)
    python benchmarks/loss_speed.py --sizes 256x1000 --repeats 20 --json out.json --markdown out.md

Times are medians (and minima) of `--repeats` interleaved calls (every variant once per round, in one process per
backend), reported as ratios to `keras.losses.SparseCategoricalCrossentropy(from_logits=True)` for sparse
labels and `keras.losses.CategoricalCrossentropy(from_logits=True)` for dense ones. "naive" is the
straightforward formulation of the same loss (one-hot labels, per-class bonus: the authors' published
form). Peak memory is XLA's own accounting of the compiled forward+backward (arguments + outputs +
temporaries, JAX backend) and the GPU allocator's peak where a GPU is present.
"""

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time

DEFAULT_SIZES = "256x10,256x1000,8192x32000"
DENSE_LIMIT = 10_000_000  # dense-label rows are timed only up to this many logits (N * C)


def naive_losses():
    """Straightforward formulations with keras.ops: one-hot labels, every class's term built, then reduced."""
    from keras import ops

    def one_hot(y, z):
        return ops.one_hot(ops.cast(y, "int32"), z.shape[-1], dtype=z.dtype)

    def encouraging(log_end):
        def fn(y, z):
            log_p = ops.log_softmax(z, axis=-1)
            p = ops.exp(log_p)
            bonus = ops.log(ops.maximum(1.0 - p, 1e-5))
            if log_end < 1:
                tangent = ops.log(1.0 - log_end) - (p - log_end) / (1.0 - log_end)
                bonus = ops.where(p > log_end, tangent, bonus)
            return ops.mean(-ops.sum(one_hot(y, z) * (log_p - bonus), axis=-1))

        return fn

    def square(k, m):
        def fn(y, z):
            target = one_hot(y, z)
            return ops.mean(ops.mean((1.0 + (k - 1.0) * target) * ops.square(z - m * target), axis=-1))

        return fn

    def squentropy(y, z):
        target = one_hot(y, z)
        nll = -ops.sum(target * ops.log_softmax(z, axis=-1), axis=-1)
        return ops.mean(nll + ops.sum((1.0 - target) * ops.square(z), axis=-1) / (z.shape[-1] - 1))

    return {
        "encouraging": encouraging(1.0),
        "conservative_encouraging:0.75": encouraging(0.75),
        "square:15,30": square(15.0, 30.0),
        "squentropy": squentropy,
    }


def package_losses():
    import keras_losses

    return {
        "encouraging": keras_losses.EncouragingLoss(from_logits=True),
        "conservative_encouraging:0.75": keras_losses.ConservativeEncouragingLoss(log_end=0.75, from_logits=True),
        "square:15,30": keras_losses.SquareLoss(k=15.0, m=30.0),
        "squentropy": keras_losses.Squentropy(),
        "ce (keras_losses)": keras_losses.CrossEntropy(from_logits=True),
    }


def compile_step(loss_fn, mode):
    """A compiled function returning (loss, d loss / d logits)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(jax.value_and_grad(lambda z, y: loss_fn(y, z)))
    import tensorflow as tf

    def step(z, y):
        with tf.GradientTape() as tape:
            tape.watch(z)
            loss = loss_fn(y, z)
        return loss, tape.gradient(loss, z)

    return tf.function(step, jit_compile=(mode == "tf-xla"))


def block(result):
    import keras

    if keras.backend.backend() == "jax":
        for x in result:
            x.block_until_ready()
    else:
        result[1].numpy().ravel()[:1]  # forces the gradient


def xla_peak_bytes(step, z, y):
    """Arguments + outputs + temporaries of the compiled forward+backward (JAX backend), else None."""
    import keras

    if keras.backend.backend() != "jax":
        return None
    analysis = step.lower(z, y).compile().memory_analysis()
    if analysis is None:
        return None
    return analysis.argument_size_in_bytes + analysis.output_size_in_bytes + analysis.temp_size_in_bytes


def gpu_peak_bytes(run):
    """The GPU allocator's peak while `run()` executes, where a GPU is present (TensorFlow)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        return None
    tf.config.experimental.reset_memory_stats("GPU:0")
    run()
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def bench_mode(mode, sizes, repeats, rng_seed=0):
    import keras
    import numpy as np

    rows = []
    naive = naive_losses()
    ours = package_losses()
    for n, c in sizes:
        rng = np.random.default_rng(rng_seed)
        z = keras.ops.convert_to_tensor(rng.normal(size=(n, c)).astype("float32") * 3)
        y = keras.ops.convert_to_tensor(rng.integers(0, c, size=(n,)).astype("int32"))
        label_forms = [("sparse", y, keras.losses.SparseCategoricalCrossentropy(from_logits=True))]
        if n * c <= DENSE_LIMIT:
            dense = keras.ops.one_hot(y, c)
            label_forms.append(("dense", dense, keras.losses.CategoricalCrossentropy(from_logits=True)))
        for form, labels, reference in label_forms:
            variants = {"keras cross-entropy": reference}
            for name, loss in ours.items():
                variants[name] = loss
                if name in naive and form == "sparse":
                    variants[name + " [naive]"] = naive[name]
            steps = {name: compile_step(fn, mode) for name, fn in variants.items()}
            for step in steps.values():  # compile and warm up
                block(step(z, labels))
                block(step(z, labels))
            times = {name: [] for name in steps}
            for _ in range(repeats):
                for name, step in steps.items():
                    start = time.perf_counter()
                    block(step(z, labels))
                    times[name].append(time.perf_counter() - start)
            base = statistics.median(times["keras cross-entropy"])
            base_memory = _peak(steps["keras cross-entropy"], z, labels)
            for name in steps:
                median = statistics.median(times[name])
                memory = _peak(steps[name], z, labels)
                rows.append(
                    {
                        "mode": mode,
                        "size": f"{n}x{c}",
                        "labels": form,
                        "loss": name,
                        "median_ms": 1000 * median,
                        "min_ms": 1000 * min(times[name]),
                        "ratio_to_keras_ce": median / base,
                        "peak_mb": None if memory is None else memory / 2**20,
                        "memory_ratio_to_keras_ce": None if memory is None or not base_memory else memory / base_memory,
                    }
                )
            for name in ours:
                if name + " [naive]" in times:
                    speedup = statistics.median(times[name + " [naive]"]) / statistics.median(times[name])
                    next(r for r in rows if r["loss"] == name and r["size"] == f"{n}x{c}" and r["labels"] == form)[
                        "speedup_over_naive"
                    ] = speedup
            print(f"  {mode} {n}x{c} {form}: done", file=sys.stderr, flush=True)
            del steps  # the compiled steps hold [N, C] buffers: free them before the next size
            gc.collect()
    return rows


def _peak(step, z, labels):
    memory = xla_peak_bytes(step, z, labels)
    return memory if memory is not None else gpu_peak_bytes(lambda: block(step(z, labels)))


def machine():
    import keras

    cores = os.cpu_count()
    text = f"{platform.processor() or platform.machine()}, {cores} cores, Keras {keras.__version__} ({keras.backend.backend()})"
    try:
        import jax

        devices = {d.device_kind for d in jax.devices()}
        text += f", JAX devices: {', '.join(sorted(devices))}"
    except ImportError:
        pass
    return text


def markdown(rows):
    lines = [
        "| mode | size | labels | loss | median ms | min ms | × keras CE | × faster than naive | peak MB | × CE memory |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        if r["loss"].endswith("[naive]"):
            continue
        speedup = f"{r['speedup_over_naive']:.2f}" if "speedup_over_naive" in r else ""
        memory = f"{r['peak_mb']:.1f}" if r["peak_mb"] is not None else "n/a"
        memory_ratio = f"{r['memory_ratio_to_keras_ce']:.2f}" if r["memory_ratio_to_keras_ce"] else "n/a"
        lines.append(
            f"| {r['mode']} | {r['size']} | {r['labels']} | {r['loss']} | {r['median_ms']:.2f} | {r['min_ms']:.2f} | "
            f"{r['ratio_to_keras_ce']:.2f} | {speedup} | {memory} | {memory_ratio} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated NxC")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--modes", default="tf-graph,tf-xla,jax", help="any of tf-graph, tf-xla, jax")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--markdown", help="write the table as Markdown here")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    modes = args.modes.split(",")

    import keras

    backend = keras.backend.backend()
    rows = []
    info = {"machine": machine(), "repeats": args.repeats}
    if backend != "jax" and "jax" in modes:
        # Keras fixes its backend at import: the JAX rows come from a second process, run first,
        # while this one holds no [N, C] buffers.
        command = [sys.executable, __file__, "--sizes", args.sizes, "--repeats", str(args.repeats), "--modes", "jax", "--json", "-"]
        output = subprocess.run(command, env={**os.environ, "KERAS_BACKEND": "jax"}, stdout=subprocess.PIPE, text=True)
        if output.returncode != 0:
            sys.exit(f"the JAX benchmark failed with exit code {output.returncode}")
        jax_result = json.loads(output.stdout)
        rows += jax_result["rows"]
        info["machine_jax"] = jax_result["machine"]
    for mode in modes:
        if (mode == "jax") == (backend == "jax"):
            rows += bench_mode(mode, sizes, args.repeats)
    result = {**info, "rows": rows}
    if args.json == "-":
        print(json.dumps(result))
        return
    table = markdown(rows)
    print(f"Machine: {info['machine']}\n\n{table}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(f"Machine: {info['machine']}; median of {args.repeats} interleaved runs.\n\n{table}\n")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
