"""The chunked loss head (`keras_losses.LossHead` / `chunked_loss`) against the plain head: time and peak memory.

    python benchmarks/loss_head.py                                   # every mode, loss, smoothing; V = 32k, 128k
    python benchmarks/loss_head.py --modes jax --vocab 32000 --losses ce,encouraging --repeats 3
    python benchmarks/loss_head.py --modes jax --memory-only          # XLA's accounting only (compiles, runs nothing)
    python benchmarks/loss_head.py --chunk-size 32,64,256             # the frontier: chunk size x time x memory
    python benchmarks/loss_head.py --vocabulary-block 2048,8192       # the memory floor, blocks of classes

One timed step, as training uses the head: hidden states `h [N, d]`, kernel `W [d, V]` and bias `b [V]` are
variables; the step computes the loss, the gradients of `h`, `W` and `b`, and updates all three in place
(`assign_sub` inside the compiled step on TensorFlow; on JAX the jitted step returns them, donated). The plain
head is `z = h @ W + b` followed by the loss on `z`: Keras' `SparseCategoricalCrossentropy(from_logits=True)`
for "keras ce", Keras' `CategoricalCrossentropy(from_logits=True, label_smoothing=s)` on one-hot labels for
smoothed rows, and the package's loss for the others. The chunked head is `chunked_loss` with the same loss.

Modes: `tf-graph` (`tf.function`), `tf-xla` (`jit_compile=True`), `jax` (`jax.jit`). In one process the plain
and chunked steps of a variant run interleaved for `--repeats` rounds after a warm-up; min and median are
reported, and the ratio chunked / plain of the medians. Peak memory: on JAX, XLA's accounting of the compiled
step (arguments + outputs + temporaries - aliased); on TensorFlow the peak resident memory of a process that
builds and runs one step only (one variant per process), minus the process's resident memory before it.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

LOSSES = ("ce", "encouraging", "conservative_encouraging", "square", "squentropy")
BACKENDS = {"tf-graph": "tensorflow", "tf-xla": "tensorflow", "jax": "jax"}
LEARNING_RATE = 1e-3


def make_loss(name, smoothing):
    import keras_losses

    common = {"label_smoothing": smoothing}
    return {
        "ce": lambda: keras_losses.CrossEntropy(from_logits=True, **common),
        "encouraging": lambda: keras_losses.EncouragingLoss(from_logits=True, **common),
        "conservative_encouraging": lambda: keras_losses.ConservativeEncouragingLoss(from_logits=True, **common),
        "square": lambda: keras_losses.SquareLoss(k=15.0, m=30.0, **common),
        "squentropy": lambda: keras_losses.Squentropy(**common),
    }[name]()


def loss_functions(name, smoothing, vocab, chunk_size, vocabulary_block=None):
    """`(plain(h, W, b, y), chunked(h, W, b, y))`: scalar losses."""
    import keras
    from keras import ops

    import keras_losses

    loss = make_loss(name, smoothing)
    if name == "ce" and not smoothing:
        reference = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def plain(h, w, b, y):
            return reference(y, ops.matmul(h, w) + b)
    elif name == "ce":
        reference = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)

        def plain(h, w, b, y):
            return reference(ops.one_hot(y, vocab), ops.matmul(h, w) + b)
    else:

        def plain(h, w, b, y):
            return loss(y, ops.matmul(h, w) + b)

    def chunked(h, w, b, y):
        return keras_losses.chunked_loss(loss, y, h, w, b, chunk_size=chunk_size, vocabulary_block=vocabulary_block)

    return plain, chunked


def tensorflow_step(fn, tensors, jit_compile):
    import tensorflow as tf

    variables = [tf.Variable(t) for t in tensors[:3]]
    labels = tf.constant(tensors[3])

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            value = fn(*variables, labels)
        for v, g in zip(variables, tape.gradient(value, variables)):
            v.assign_sub(LEARNING_RATE * g)
        return value

    return lambda: float(step()), None


def jax_step(fn, tensors):
    import jax

    def step(h, w, b, y):
        value, grads = jax.value_and_grad(lambda *p: fn(*p, y), argnums=(0, 1, 2))(h, w, b)
        return value, tuple(p - LEARNING_RATE * g for p, g in zip((h, w, b), grads))

    compiled = jax.jit(step, donate_argnums=(0, 1, 2)).lower(*tensors).compile()
    memory = compiled.memory_analysis()
    peak = memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
    peak -= memory.alias_size_in_bytes
    state = {"params": tuple(jax.numpy.asarray(t) for t in tensors[:3])}
    labels = jax.numpy.asarray(tensors[3])

    def run():
        value, state["params"] = compiled(*state["params"], labels)
        return float(value.block_until_ready())

    return run, peak


def inputs(args, vocab):
    import numpy as np

    rng = np.random.default_rng(0)
    return (
        rng.normal(size=(args.tokens, args.dim)).astype("float32"),
        (rng.normal(size=(args.dim, vocab)) / np.sqrt(args.dim)).astype("float32"),
        np.zeros(vocab, "float32"),
        rng.integers(0, vocab, size=args.tokens).astype("int32"),
    )


def make_step(mode, fn, tensors):
    if mode == "jax":
        return jax_step(fn, tensors)
    return tensorflow_step(fn, tensors, jit_compile=mode == "tf-xla")


def rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(args):
    """Times (and on JAX measures) every variant of `args.mode`; prints one JSON line per variant."""
    for vocab in map(int, args.vocab.split(",")):
        tensors = inputs(args, vocab)
        for name in args.losses.split(","):
            for smoothing in map(float, args.smoothing.split(",")):
                plain, chunked = loss_functions(name, smoothing, vocab, args.chunk_size, args.vocabulary_block)
                from keras_losses.loss_head import default_chunk_size

                row = {"mode": args.mode, "vocab": vocab, "loss": name, "smoothing": smoothing}
                if args.vocabulary_block:
                    row["vocabulary_block"] = args.vocabulary_block
                else:
                    row["chunk_size"] = args.chunk_size or default_chunk_size(vocab)
                if args.tf_memory:  # one step of one head in this process: its peak resident memory
                    before = rss_bytes()
                    run, _ = make_step(args.mode, plain if args.tf_memory == "plain" else chunked, tensors)
                    run()
                    run()
                    print(json.dumps({**row, f"{args.tf_memory}_peak_rss": rss_bytes() - before}), flush=True)
                    return
                steps = {
                    "plain": make_step(args.mode, plain, tensors),
                    "chunked": make_step(args.mode, chunked, tensors),
                }
                values = {}
                for head, (run, peak) in steps.items():
                    values[head] = run()  # warm-up; the first step's values compared
                    if peak is not None:
                        row[f"{head}_peak"] = peak
                row["value_difference"] = abs(values["plain"] - values["chunked"])
                times = {head: [] for head in steps}
                for _ in range(0 if args.memory_only else args.repeats):
                    for head, (run, _) in steps.items():
                        start = time.perf_counter()
                        run()
                        times[head].append(time.perf_counter() - start)
                for head, measured in times.items():
                    if measured:
                        row[f"{head}_min"], row[f"{head}_median"] = min(measured), statistics.median(measured)
                if times["plain"]:
                    row["time_ratio"] = row["chunked_median"] / row["plain_median"]
                if "plain_peak" in row:
                    row["memory_ratio"] = row["chunked_peak"] / row["plain_peak"]
                print(json.dumps(row), flush=True)


def run_worker(mode, args, extra=()):
    env = {**os.environ, "KERAS_BACKEND": BACKENDS[mode], "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--worker", "--mode", mode, *extra]
    for key in ("vocab", "losses", "smoothing", "tokens", "dim", "repeats"):
        command += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    if args.chunk_size:
        command += ["--chunk-size", str(args.chunk_size)]
    if args.vocabulary_block:
        command += ["--vocabulary-block", str(args.vocabulary_block)]
    # rows name their chunk size: the default one when none is given
    if args.memory_only:
        command.append("--memory-only")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode:
        print(result.stderr[-3000:], file=sys.stderr)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="tf-graph,tf-xla,jax")
    parser.add_argument("--vocab", default="32000,128000")
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--smoothing", default="0,0.1")
    parser.add_argument("--tokens", type=int, default=2048)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--chunk-size", default=None, help="comma-separated tokens per chunk (a frontier); default: keras_losses' for V"
    )
    parser.add_argument(
        "--vocabulary-block",
        default=None,
        help="comma-separated classes per block: the memory floor (not with --chunk-size)",
    )
    parser.add_argument("--memory-only", action="store_true", help="JAX: XLA's accounting; nothing is timed")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--tf-memory", choices=("plain", "chunked"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.chunk_size = int(args.chunk_size) if args.chunk_size else None
        args.vocabulary_block = int(args.vocabulary_block) if args.vocabulary_block else None
        return worker(args)
    rows = []
    settings = (
        [("vocabulary_block", block) for block in args.vocabulary_block.split(",")] if args.vocabulary_block else []
    )
    settings += [("chunk_size", chunk) for chunk in (args.chunk_size or "").split(",")] if not settings else []
    for key, value in settings:
        rows += run_modes(argparse.Namespace(**{**vars(args), "chunk_size": None, key: value or None}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def run_modes(args):
    """The rows of every mode of `args` at one chunk size."""
    rows = []
    for mode in args.modes.split(","):
        if BACKENDS[mode] == "tensorflow":
            for vocab in args.vocab.split(","):
                for name in args.losses.split(","):
                    for smoothing in args.smoothing.split(","):
                        one = argparse.Namespace(
                            **{**vars(args), "vocab": vocab, "losses": name, "smoothing": smoothing}
                        )
                        peaks = {}
                        for head in ("plain", "chunked"):  # one variant per process
                            for row in run_worker(mode, one, ("--tf-memory", head)):
                                peaks.update(row)
                        timed = [] if args.memory_only else run_worker(mode, one)
                        row = {**peaks, **(timed[0] if timed else {})}
                        if "plain_peak_rss" in row and "chunked_peak_rss" in row:
                            row["memory_ratio"] = row["chunked_peak_rss"] / row["plain_peak_rss"]
                        rows.append(row)
                        print(json.dumps(row), flush=True)
        else:
            for row in run_worker(mode, args):
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
