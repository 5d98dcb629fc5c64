"""Fine-tune a keras-hub causal language model with the encouraging loss through the chunked head.

    python examples/language_model.py                                  # GPT-2 config, V = 50257, both heads
    python examples/language_model.py --model gemma --vocabulary 256000 --layers 2 --hidden 256
    python examples/language_model.py --head chunked --steps 20

The backbone is built from a small configuration at the model's real vocabulary size, with random weights
(offline: no preset is downloaded), and trained on random token sequences for `--steps` steps: it shows what
the head changes, not a language. `--head both` (the default) runs the plain head (the causal LM's own logits,
`token_embedding(hidden, reverse=True)`) and the chunked one (`keras_losses.chunked_language_model`), each in a
process of its own, from the same weights and data, and prints for each the first and last loss, the time per
step (the median after the first, compiled, step) and the process's peak resident memory.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

VOCABULARIES = {"gpt2": 50257, "gemma": 256000, "llama": 32000}


def backbone(args):
    import keras_hub

    common = {
        "vocabulary_size": args.vocabulary,
        "num_layers": args.layers,
        "hidden_dim": args.hidden,
        "intermediate_dim": 4 * args.hidden,
    }
    if args.model == "gpt2":
        return keras_hub.models.GPT2Backbone(num_heads=4, max_sequence_length=args.sequence, dropout=0.0, **common)
    if args.model == "gemma":
        heads = {"num_query_heads": 4, "num_key_value_heads": 1, "head_dim": args.hidden // 4}
        return keras_hub.models.GemmaBackbone(**heads, **common)
    return keras_hub.models.LlamaBackbone(num_query_heads=4, num_key_value_heads=1, **common)


def train(args):
    """One head: prints a JSON line with the losses, the time per step and the peak resident memory."""
    import keras
    import numpy as np

    import keras_losses

    keras.utils.set_random_seed(0)
    model = backbone(args)
    if args.head == "chunked":
        model = keras_losses.chunked_language_model(model)
    else:
        model = keras.Model(model.input, model.token_embedding(model(model.input), reverse=True))
    model.compile(keras.optimizers.AdamW(1e-4), loss=keras_losses.EncouragingLoss(from_logits=True))
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, args.vocabulary, size=(args.batch, args.sequence + 1))
    x = {"token_ids": tokens[:, :-1], "padding_mask": np.ones((args.batch, args.sequence), bool)}
    losses, times = [], []
    for _ in range(args.steps):
        start = time.perf_counter()
        losses.append(float(model.train_on_batch(x, tokens[:, 1:])))
        times.append(time.perf_counter() - start)
    step = statistics.median(times[1:]) if len(times) > 1 else times[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"head": args.head, "first_loss": losses[0], "last_loss": losses[-1], "step_s": step, "peak_mb": peak}
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(VOCABULARIES), default="gpt2")
    parser.add_argument(
        "--vocabulary", type=int, help="default: the model's own (gpt2 50257, gemma 256000, llama 32000)"
    )
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--sequence", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--head", choices=("both", "plain", "chunked"), default="both")
    args = parser.parse_args(argv)
    args.vocabulary = args.vocabulary or VOCABULARIES[args.model]
    if args.head != "both":
        return train(args)
    rows = []
    for head in ("plain", "chunked"):
        command = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--head", head]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path)), "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if result.returncode:
            raise RuntimeError(f"The {head} head's run failed:\n{result.stderr[-3000:]}")
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"{args.model}, V = {args.vocabulary}, {args.batch} x {args.sequence} tokens, {args.steps} steps")
    for row in rows:
        print(
            f"{row['head']:>8}: loss {row['first_loss']:.4f} -> {row['last_loss']:.4f}, "
            f"{row['step_s']:.3f} s/step, peak memory {row['peak_mb']:.0f} MB"
        )
    plain, chunked = rows
    time_ratio, memory_ratio = chunked["step_s"] / plain["step_s"], chunked["peak_mb"] / plain["peak_mb"]
    print(f"chunked / plain: time {time_ratio:.2f}, memory {memory_ratio:.2f}")
    return rows


if __name__ == "__main__":
    main()
