"""Train an encoder-decoder transformer translator with any loss of keras-losses and report BLEU.

The papers' machine-translation experiments as a program (needs `pip install "keras-losses[translation]"`).
Two kinds of data:

- **Your corpus** (`--corpus DIR`): fairseq's prepare-iwslt14.sh output (tokenized, BPE-split parallel files,
  `--source-lang`, `--target-lang`) or a TSV folder, trained as fairseq trains: batches of at most
  `--max-tokens` tokens, `--update-freq`, `--max-updates`, the average of the last `--average-last` epoch
  checkpoints, the best checkpoint by validation BLEU (`--best-by bleu`), fairseq's beam search and BLEU.
  The encouraging-loss paper's experiments, exactly as its scripts run them, are presets of this kind:
  `--preset zhao2022-iwslt14-de-en` and `--preset zhao2022-iwslt17-fr-en` (docs/papers_translation.md; the
  baseline: the same with `--loss ce`).
- **tensorflow-datasets**: TED Pt-En (the default) or WMT14 De-En, in batches of sentences, with WordPiece
  vocabularies trained on the training split.

    # the encouraging-loss paper's IWSLT'14 De-En experiment, on prepare-iwslt14.sh's output: seeds 1 to 5 (each
    # in runs/translation/seed-<s>, summary.json: BLEU's mean ± std); --loss ce: the baseline; --seed 1: one run
    python examples/translation.py --preset zhao2022-iwslt14-de-en --corpus iwslt14.tokenized.de-en
    # fairseq's transformer_iwslt_de_en sizes with keras-hub layers, on TED Pt-En in batches of sentences
    python examples/translation.py --preset iwslt_sentences
    # Transformer-base with cross-entropy on WMT14
    python examples/translation.py --dataset wmt14_translate/de-en --preset base --loss ce

    # Offline smoke test on random sentences (a few steps on a CPU)
    python examples/translation.py --mock-data 32 --preset tiny --epochs 1 --steps-per-epoch 2

Sub-word WordPiece vocabularies are trained on the training split and saved beside the model
(`source_vocabulary.txt`, `target_vocabulary.txt`). Padding (id 0) is masked in attention and ignored by the
loss (`ignore_class=0`) and by token accuracy. The logits layer is `keras_losses.LossHead` (`--head chunked`,
the default): training computes the loss in chunks of tokens without holding the `[tokens, vocabulary]` logits,
and equals the plain `Dense` layer's training (`--head dense`) to float32 rounding. The loss is the mean over
the non-padding tokens of the whole global batch of a step (`mean_over_global_batch=True`; fairseq normalises by
the global token count too), so N replicas or processes train exactly as one device on the same global batch.
BLEU is sacrebleu's corpus BLEU on detokenized test translations, decoded with key/value caches (the encoder
once per batch, the decoder one token per step: `keras_losses_experiments.translation.decoding`). The
configuration and both ways of training are `keras_losses_experiments.translation.program`. Same strategies
(TensorFlow and JAX), mixed-precision, backup/restore, logging and `results.json` conventions as
examples/image_classification.py.
"""

import argparse


def build_parser():
    from keras_losses_experiments import flags, papers
    from keras_losses_experiments.flags import HEAD_HELP
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation.presets import DEFAULT_PRESET, PRESETS
    from keras_losses_experiments.translation.program import (
        ARCHITECTURE_FLAGS,
        CORPUS_FLAGS,
        FAIRSEQ_FLAGS,
        RECIPE_FLAGS,
        TOKEN_EXACT,
    )

    paper_presets = [p for p in papers.presets().values() if p.program == "translation"]
    presets = "; ".join(f"{name}: {preset.source}: {preset.describe()}" for name, preset in PRESETS.items())
    presets += "".join(f"; {p.name}: {p.title}, on --corpus (docs/papers_translation.md)" for p in paper_presets)
    defaults = ", ".join(f"{dataset}: {preset}" for dataset, preset in DEFAULT_PRESET.items())
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Presets: {presets}. {TOKEN_EXACT}",
        formatter_class=flags.HelpFormatter,
    )
    flags.add(
        parser,
        (
            "dataset",
            "corpus",
            "preset",
            *ARCHITECTURE_FLAGS,
            *FAIRSEQ_FLAGS,
            "head",
            *flags.LOSS_FLAGS,
            "vocabulary_size",
            "sequence_length",
            *RECIPE_FLAGS,
            "beams",
            "length_penalty",
            "test_sentences",
            *CORPUS_FLAGS,
            "seeds",
            *flags.RUN_FLAGS,
        ),
        defaults={
            "sequence_length": translation_data.SEQUENCE_LENGTH,
            "output_dir": "runs/translation",
            "seeds": None,
            "seed": None,
        },
        choices={"dataset": translation_data.TRANSLATION_DATASETS},
        about={
            "preset": f"one of {', '.join([*PRESETS, *(p.name for p in paper_presets)])}: "
            "zhao2022-iwslt14-de-en and zhao2022-iwslt17-fr-en are the encouraging-loss paper's experiments as its "
            "scripts run them (on --corpus), iwslt_sentences fairseq's transformer_iwslt_de_en sizes on sentence "
            "batches (not the paper's recipe), base Transformer-base; the preset gives the architecture, the recipe, "
            "the loss, label smoothing, dropout and beam size unless a flag overrides them",
            "head": HEAD_HELP,
        },
        helps={
            "dataset": "ted_hrlr_translate/pt_to_en without --corpus",
            "head": "chunked; dense with --share-all-embeddings",
            "preset": defaults,
            "loss": "the preset's",
            "log_end": "1.0 for encouraging, 0.75 for conservative_encouraging, or the preset's",
            "label_smoothing": "the preset's, 0.1",
            "epochs": "the preset's",
            "batch_size": "the preset's",
            "learning_rate": "the preset's",
            "beams": "the preset's",
            "test_sentences": "all",
            "steps_per_epoch": "one pass over the training split",
            "seeds": "one run, with --seed; the paper presets' 1 to 5; each seed's run in --output-dir/seed-<s>, "
            "and summary.json (BLEU's mean ± std)",
            "seed": "0",
        },
    )
    return parser


def main(argv=None):
    from keras_losses_experiments import flags, papers
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.training import harness
    from keras_losses_experiments.translation import program

    parser = build_parser()
    try:
        args, paper, overrides = papers.parse(parser, argv, "translation")
        config = program.configure(args, paper, overrides)
        return program.train(config, harness.set_up(config.run))
    except ConfigError as error:
        parser.error(flags.usage(error))


if __name__ == "__main__":
    from keras_losses_experiments.training import harness

    harness.run_main(main, "translation.py")
