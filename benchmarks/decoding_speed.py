"""Translation decoding speed: sentences per second before (the whole model on the whole prefix at every step,
eagerly) and after (`keras_losses_experiments.translation.decoding`: the encoder once per batch, key/value caches, one
compiled loop), greedy and beam 5.

    python benchmarks/decoding_speed.py                        # tiny and iwslt shapes, greedy and beam 5
    python benchmarks/decoding_speed.py --presets tiny --sentences 32 --json out.json --markdown out.md

The translators have random weights (no data, no training): they almost never emit the end token, so every
sentence is decoded to the full `--length` (the worst case, the same work for both decoders). Source sentences
have random lengths between a quarter of `--length` and `--length`. Each decoder translates the same batch
once untimed (tracing and compilation), then `--repeats` times timed; the table gives the median.

`uncached_generate` is the decoder of `keras_losses.experiments.translation.translate` before the cache (only
the padding token forbidden, as the cached decoder forbids it): the tests compare the cached decoder's tokens
with it.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def uncached_generate(model, encoder_tokens, beams=1):
    """Token ids `[batch, length]` of greedy (`beams=1`) or beam search, the whole model called on the whole
    prefix at every step."""
    import keras_hub
    import numpy as np
    from keras import ops

    from keras_losses_experiments.translation.data import END_ID, PAD_ID, START_ID

    sampler = keras_hub.samplers.GreedySampler() if beams == 1 else keras_hub.samplers.BeamSampler(num_beams=beams)
    encoder_tokens = ops.convert_to_tensor(encoder_tokens, "int32")
    # The beam sampler flattens (sentence, beam) into the batch axis, beams of a sentence adjacent.
    context = ops.repeat(encoder_tokens, beams, axis=0) if beams > 1 else encoder_tokens

    def next_token_logits(prompt, cache, index):
        logits = model([context, prompt])[:, index - 1, :]
        logits = ops.where(ops.arange(ops.shape(logits)[-1]) == PAD_ID, ops.cast(-1e9, logits.dtype), logits)
        return logits, None, cache

    prompt = np.full(ops.shape(encoder_tokens), PAD_ID, "int32")
    prompt[:, 0] = START_ID
    return sampler(next_token_logits, ops.convert_to_tensor(prompt), stop_token_ids=[END_ID], index=1)


def random_translator(preset_name, vocabulary, length, seed=0):
    from types import SimpleNamespace

    import keras

    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.presets import PRESETS

    keras.utils.set_random_seed(seed)
    tokenizer = SimpleNamespace(vocabulary_size=lambda: vocabulary)
    return translator.compiled_translator("ce", tokenizer, tokenizer, length, PRESETS[preset_name])


def random_sources(count, vocabulary, length, seed=0):
    import numpy as np

    from keras_losses_experiments.translation.data import END_ID, PAD_ID, START_ID

    rng = np.random.default_rng(seed)
    tokens = np.full((count, length), PAD_ID, "int32")
    for row, size in zip(tokens, rng.integers(length // 4, length + 1, count)):
        row[:size] = rng.integers(END_ID + 1, vocabulary, size)
    assert START_ID < END_ID < tokens[:, 0].min()
    return tokens


def time_decoder(generate, sources, batch_size, repeats):
    """The median seconds of `repeats` passes over `sources` in batches (after one untimed pass)."""
    from keras import ops

    def one_pass():
        for begin in range(0, len(sources), batch_size):
            ops.convert_to_numpy(generate(sources[begin : begin + batch_size]))

    one_pass()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        one_pass()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def measure(preset_name, beams, args):
    from keras_losses_experiments.translation.decoding import CachedDecoder

    model = random_translator(preset_name, args.vocabulary, args.length)
    sources = random_sources(args.sentences, args.vocabulary, args.length)
    cached = CachedDecoder(model, beams).compiled()
    row = {
        "preset": preset_name,
        "beams": beams,
        "sentences": args.sentences,
        "batch_size": args.batch_size,
        "length": args.length,
        "vocabulary": args.vocabulary,
    }
    for name, generate in (("uncached", lambda tokens: uncached_generate(model, tokens, beams)), ("cached", cached)):
        row[f"{name}_seconds"] = time_decoder(generate, sources, args.batch_size, args.repeats)
        row[f"{name}_sentences_per_second"] = args.sentences / row[f"{name}_seconds"]
    row["speed_up"] = row["uncached_seconds"] / row["cached_seconds"]
    return row


def markdown(rows, environment):
    lines = [
        f"Decoding speed, sentences per second ({environment}; random weights, every sentence decoded to "
        f"{rows[0]['length']} tokens; median of the timed passes)",
        "",
        "| preset | decoding | sentences (batch) | before: uncached, eager | after: cached, compiled | speed-up |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        decoding = "greedy" if row["beams"] == 1 else f"beam {row['beams']}"
        lines.append(
            f"| {row['preset']} | {decoding} | {row['sentences']} ({row['batch_size']}) | "
            f"{row['uncached_sentences_per_second']:.2f} | {row['cached_sentences_per_second']:.2f} | "
            f"{row['speed_up']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--presets", default="tiny,iwslt", help="comma-separated translation presets (PRESETS)")
    parser.add_argument("--beams", default="1,5", help="comma-separated beam sizes (1: greedy)")
    parser.add_argument("--sentences", type=int, default=16, help="source sentences per pass")
    parser.add_argument("--batch-size", type=int, default=16, help="sentences per decoding call")
    parser.add_argument("--length", type=int, default=64, help="tokens per sentence (the examples' default)")
    parser.add_argument("--vocabulary", type=int, default=8000, help="source and target vocabulary size")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per decoder")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--markdown", help="write the table to this file")
    args = parser.parse_args(argv)

    import keras

    environment = f"Keras {keras.version()}, {keras.backend.backend()}, {os.cpu_count()} CPU cores"
    rows = [measure(preset, int(beams), args) for preset in args.presets.split(",") for beams in args.beams.split(",")]
    table = markdown(rows, environment)
    print(table, end="")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"environment": environment, "rows": rows}, handle, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(table)


if __name__ == "__main__":
    main()
