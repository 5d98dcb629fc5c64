"""Train an encoder-decoder transformer translator with any loss of keras-losses and report BLEU.

The papers' machine-translation experiments as a program (needs `pip install "keras-losses[translation]"`).
The encouraging-loss paper trains fairseq's IWSLT'14 De-En transformer; `--preset iwslt` is that setup
(architecture, Adam and its inverse-square-root schedule, dropout, weight decay, conservative encouraging
loss with LE 0.5, label smoothing 0.1, beam 5), here on tensorflow-datasets' TED Pt-En (the default data set;
IWSLT De-En is not in tensorflow-datasets) or WMT14 De-En (with `--preset base`, Transformer-base, by default):

    # the encouraging-loss paper's setup
    python examples/translation.py --preset iwslt
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
once per batch, the decoder one token per step: `keras_losses_experiments.translation.decoding`). Same strategies
(TensorFlow and JAX), mixed-precision, backup/restore, logging and `results.json` conventions as
examples/image_classification.py.
"""

import argparse
from dataclasses import dataclass

ARCHITECTURE_FLAGS = ("layers", "model_dim", "heads", "feedforward_dim", "dropout")
RECIPE_FLAGS = ("epochs", "batch_size", "learning_rate", "weight_decay", "warmup_steps")

TOKEN_EXACT = (
    "The loss is the mean over the non-padding tokens of the whole global batch "
    "(mean_over_global_batch=True), as fairseq normalises by the global token count: a step on N "
    "replicas or processes equals the one-device step on the same global batch, whatever padding each "
    "replica holds."
)


def build_parser():
    from keras_losses_experiments import flags
    from keras_losses_experiments.flags import HEAD_HELP
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation.presets import (
        DEFAULT_HEAD,
        DEFAULT_PRESET,
        PAPER_PRESET,
        PRESETS,
    )

    presets = "; ".join(f"{name}: {preset.source}: {preset.describe()}" for name, preset in PRESETS.items())
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
            "preset",
            *ARCHITECTURE_FLAGS,
            "head",
            *flags.LOSS_FLAGS,
            "vocabulary_size",
            "sequence_length",
            *RECIPE_FLAGS,
            "beams",
            "test_sentences",
            *flags.RUN_FLAGS,
        ),
        defaults={
            "dataset": "ted_hrlr_translate/pt_to_en",
            "head": DEFAULT_HEAD,
            "sequence_length": translation_data.SEQUENCE_LENGTH,
            "output_dir": "runs/translation",
        },
        choices={"dataset": translation_data.TRANSLATION_DATASETS, "preset": tuple(PRESETS)},
        about={
            "preset": f"{PAPER_PRESET} is the encouraging-loss paper's setup (fairseq transformer_iwslt_de_en), base "
            "is Transformer-base; the preset gives the architecture, the recipe, the loss, label smoothing, dropout "
            "and beam size unless a flag overrides them",
            "head": HEAD_HELP,
        },
        helps={
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
        },
    )
    return parser


@dataclass(frozen=True)
class Config:
    """What the flags ask for, validated; `main` trains it."""

    dataset: str
    preset_name: str
    preset: object  # TranslationPreset, overrides applied
    loss: object  # flags.LossChoice
    head: str  # the logits layer: one of HEADS
    beams: int
    batch_size: int  # sentence pairs in the global batch; None: the recipe's
    vocabulary_size: int
    sequence_length: int
    test_sentences: int
    run: object  # flags.RunOptions


def configure(args):
    """The `Config` of parsed flags; raises `ConfigError` naming the field of a flag that does not apply."""
    from keras_losses_experiments import flags
    from keras_losses_experiments.translation.presets import (
        DEFAULT_PRESET,
        PRESETS,
    )

    name = args.preset or DEFAULT_PRESET[args.dataset]
    preset = PRESETS[name].override(
        layers=args.layers,
        model_dim=args.model_dim,
        heads=args.heads,
        feedforward_dim=args.feedforward_dim,
        dropout=args.dropout,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        epochs=args.epochs,
        weight_decay=args.weight_decay,
    )
    loss = flags.loss_choice(args, default=preset.loss, label_smoothing=preset.label_smoothing)
    return Config(
        args.dataset,
        name,
        preset,
        loss,
        args.head,
        args.beams or preset.beams,
        args.batch_size,
        args.vocabulary_size,
        args.sequence_length,
        args.test_sentences,
        flags.run_options(args),
    )


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from keras_losses_experiments import flags
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.training import harness, resume
    from keras_losses_experiments.training.optimizers import make_optimizer
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import decoding
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.bleu import bleu

    try:
        config = configure(args)
        strategy = harness.set_up(config.run)
        global_batch = strategy.check_global_batch(config.batch_size or config.preset.recipe.batch_size)
    except ConfigError as error:
        parser.error(flags.usage(error))
    run, preset, length = config.run, config.preset, config.sequence_length
    train_pairs, test_pairs = translation_data.load_pairs(config.dataset, run.mock_data)
    vocabularies = harness.worker_dir(run.output_dir, strategy)
    source, target = translation_data.train_tokenizers(train_pairs, config.vocabulary_size, vocabularies)

    def epoch_batches(data_epoch):
        shuffle_seed = resume.epoch_seed(run.seed, data_epoch)
        return translation_data.make_batches(train_pairs, source, target, length, global_batch, shuffle_seed)

    test = translation_data.make_batches(test_pairs, source, target, length, global_batch)
    steps = run.steps_per_epoch or max(1, (run.mock_data or sum(1 for _ in train_pairs)) // global_batch)
    spec = config.loss.spec(target.vocabulary_size())
    with strategy.scope():
        model = translator.compiled_translator(
            spec,
            source,
            target,
            length,
            preset,
            config.loss.label_smoothing,
            make_optimizer(preset.recipe, steps, global_batch),
            run.steps_per_execution,
            head=config.head,
        )
    _, summary = harness.fit(
        model,
        strategy,
        epoch_batches,
        global_batch,
        strategy.distribute_dataset(test, global_batch),
        preset.recipe.epochs,
        steps,
        run.output_dir,
        monitor="val_token_accuracy",
    )
    sources, references = zip(*translation_data.sentence_pairs(test_pairs, config.test_sentences))
    with strategy.every_example(test, global_batch) as every_batch:
        evaluation = model.evaluate(every_batch, verbose=0, return_dict=True)
        hypotheses = decoding.translate(model, source, target, list(sources), length, beams=config.beams)
    results = {
        **summary,
        "dataset": config.dataset,
        "loss": spec,
        "loss_config": model.loss.get_config(),
        "label_smoothing": config.loss.label_smoothing,
        "preset": config.preset_name,
        "preset_config": preset,
        "head": config.head,
        "global_batch_size": global_batch,
        "vocabulary_sizes": {"source": source.vocabulary_size(), "target": target.vocabulary_size()},
        "test_loss": evaluation["loss"],
        "token_accuracy": evaluation["token_accuracy"],
        "beams": config.beams,
        "test_sentences": len(sources),
        "bleu": bleu(hypotheses, list(references)),
        "samples": [
            {"source": s, "reference": r, "translation": h}
            for s, r, h in list(zip(sources, references, hypotheses))[:3]
        ],
    }
    harness.finish(model, results, run.output_dir, strategy)
    for sample in results["samples"]:
        print(f"  {sample['source']}\n  -> {sample['translation']}\n  (reference: {sample['reference']})")
    print(f"{spec}: BLEU {results['bleu']:.2f}, token accuracy {results['token_accuracy']:.4f}")
    return results


if __name__ == "__main__":
    from keras_losses_experiments.training import harness

    harness.run_main(main, "translation.py")
