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

    # the encouraging-loss paper's IWSLT'14 De-En experiment, on prepare-iwslt14.sh's output
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
once per batch, the decoder one token per step: `keras_losses_experiments.translation.decoding`). Same strategies
(TensorFlow and JAX), mixed-precision, backup/restore, logging and `results.json` conventions as
examples/image_classification.py.
"""

import argparse
from dataclasses import dataclass

ARCHITECTURE_FLAGS = ("layers", "model_dim", "heads", "feedforward_dim", "dropout")
FAIRSEQ_FLAGS = ("architecture", "attention_dropout", "share_all_embeddings", "adam_betas", "adam_eps")
#: The flags of training on `--corpus` (refused without it); `update_freq` and `length_penalty` have defaults.
CORPUS_FLAGS = (
    "source_lang",
    "target_lang",
    "joined_dictionary",
    "bpe",
    "max_tokens",
    "update_freq",
    "max_updates",
    "average_last",
    "best_by",
    "max_len_a",
    "max_len_b",
    "valid_max_len_a",
    "valid_max_len_b",
)
RECIPE_FLAGS = ("epochs", "batch_size", "learning_rate", "weight_decay", "warmup_steps")

TOKEN_EXACT = (
    "The loss is the mean over the non-padding tokens of the whole global batch "
    "(mean_over_global_batch=True), as fairseq normalises by the global token count: a step on N "
    "replicas or processes equals the one-device step on the same global batch, whatever padding each "
    "replica holds."
)


def build_parser():
    from keras_losses_experiments import flags, papers
    from keras_losses_experiments.flags import HEAD_HELP
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation.presets import DEFAULT_PRESET, PRESETS

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
            *flags.RUN_FLAGS,
        ),
        defaults={"sequence_length": translation_data.SEQUENCE_LENGTH, "output_dir": "runs/translation"},
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
        },
    )
    return parser


@dataclass(frozen=True)
class CorpusOptions:
    """Training on the user's corpus as fairseq does (`--corpus`)."""

    directory: str
    source_lang: str
    target_lang: str
    joined_dictionary: bool
    bpe: str
    max_tokens: int
    update_freq: int
    max_updates: int  # None: the preset's epochs
    average_last: int  # None: the final weights
    best_by: str  # None or "bleu"
    length_penalty: float
    max_len_a: float  # the test translations' (generate.py's)
    max_len_b: int
    valid_max_len_a: float  # the validation BLEU's (--eval-bleu-args)
    valid_max_len_b: int


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
    corpus: CorpusOptions = None  # None: tensorflow-datasets' sentence pairs
    paper: object = None  # the `papers.PaperPreset` of --preset, if it names one
    overrides: dict = None  # the paper preset's settings the command line changed


def _refuse_without_corpus(args):
    from keras_losses_experiments.errors import ConfigError

    unchanged = {"update_freq": 1, "length_penalty": 1.0, "joined_dictionary": False}
    for name in (*CORPUS_FLAGS, "length_penalty"):
        if getattr(args, name) not in (None, unchanged.get(name)):
            raise ConfigError(
                name, "applies to --corpus only (fairseq's batches, updates, checkpoints and beam search)"
            )


def _corpus_options(args):
    from keras_losses_experiments.errors import ConfigError

    for name, problem in (
        ("mock_data", "--corpus is your data"),
        ("dataset", "--corpus is your data"),
        ("batch_size", "--corpus batches by --max-tokens"),
        ("steps_per_epoch", "--corpus trains on whole epochs, as fairseq; shorten training with --max-updates"),
    ):
        if getattr(args, name) is not None:
            raise ConfigError(name, f"does not apply with --corpus: {problem}")
    if args.max_tokens is None:
        raise ConfigError("max_tokens", "--corpus needs a token budget per batch (the papers': 4096)")
    if args.max_updates is not None and args.epochs is not None:
        raise ConfigError("epochs", "does not apply with --max-updates, which sets the length of training")
    return CorpusOptions(
        args.corpus,
        args.source_lang,
        args.target_lang,
        args.joined_dictionary,
        args.bpe,
        args.max_tokens,
        args.update_freq,
        args.max_updates,
        args.average_last,
        args.best_by,
        args.length_penalty,
        0.0 if args.max_len_a is None else args.max_len_a,
        200 if args.max_len_b is None else args.max_len_b,
        1.2 if args.valid_max_len_a is None else args.valid_max_len_a,
        10 if args.valid_max_len_b is None else args.valid_max_len_b,
    )


def configure(args, paper=None, overrides=None):
    """The `Config` of parsed flags (`paper`: the paper preset `papers.parse` found); raises `ConfigError`
    naming the field of a flag that does not apply."""
    from dataclasses import replace

    from keras_losses_experiments import flags
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.papers import zhao2022_translation
    from keras_losses_experiments.training.optimizers import Adam
    from keras_losses_experiments.translation.presets import DEFAULT_HEAD, DEFAULT_PRESET, PRESETS, RENAMED

    dataset = args.dataset or "ted_hrlr_translate/pt_to_en"
    name = args.preset or DEFAULT_PRESET[dataset]
    if name in RENAMED:
        raise ConfigError(
            "preset",
            f"{name} is now {RENAMED[name]} (transformer_iwslt_de_en's sizes on sentence batches, not the "
            "encouraging-loss paper's recipe); the paper's experiment is --preset zhao2022-iwslt14-de-en (on --corpus)",
        )
    if paper is None and name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; expected one of: {', '.join(PRESETS)}")
    if paper is not None and args.corpus is None:
        raise ConfigError("corpus", zhao2022_translation.NEEDS_CORPUS.format(name=name))
    corpus = _corpus_options(args) if args.corpus is not None else None
    if corpus is None:
        _refuse_without_corpus(args)
    base = PRESETS["iwslt_sentences"] if paper is not None else PRESETS[name]
    preset = base.override(
        layers=args.layers,
        model_dim=args.model_dim,
        heads=args.heads,
        feedforward_dim=args.feedforward_dim,
        dropout=args.dropout,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        epochs=args.epochs,
        weight_decay=args.weight_decay,
        architecture=args.architecture,
        attention_dropout=args.attention_dropout,
        share_all_embeddings=args.share_all_embeddings or None,
    )
    if args.adam_betas is not None or args.adam_eps is not None:
        adam = preset.recipe.optimizer
        betas = args.adam_betas or (adam.beta_1, adam.beta_2)
        optimizer = Adam(*betas, adam.epsilon if args.adam_eps is None else args.adam_eps)
        preset = replace(preset, recipe=replace(preset.recipe, optimizer=optimizer))
    if preset.share_all_embeddings and args.head == "chunked":
        raise ConfigError("head", "chunked cannot share the embedding matrix yet: --share-all-embeddings takes dense")
    head = args.head or ("dense" if preset.share_all_embeddings else DEFAULT_HEAD)
    loss = flags.loss_choice(
        args, default=paper.loss.value if paper else preset.loss, label_smoothing=preset.label_smoothing
    )
    return Config(
        dataset if corpus is None else None,
        name,
        preset,
        loss,
        head,
        args.beams or preset.beams,
        args.batch_size,
        args.vocabulary_size,
        args.sequence_length,
        args.test_sentences,
        flags.run_options(args),
        corpus,
        paper,
        overrides or {},
    )


def main(argv=None):
    parser = build_parser()
    from keras_losses_experiments import flags, papers
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.training import harness

    try:
        args, paper, overrides = papers.parse(parser, argv, "translation")
        config = configure(args, paper, overrides)
        strategy = harness.set_up(config.run)
        if config.corpus is not None:
            if strategy.replicas > 1:
                raise ConfigError("max_tokens", "--corpus trains its token batches on one device (--strategy default)")
            global_batch = None
        else:
            global_batch = strategy.check_global_batch(config.batch_size or config.preset.recipe.batch_size)
    except ConfigError as error:
        parser.error(flags.usage(error))
    if config.corpus is not None:
        try:
            return corpus_main(config, strategy)
        except ConfigError as error:
            parser.error(flags.usage(error))
    return sentences_main(config, strategy, global_batch)


def sentences_main(config, strategy, global_batch):
    """Training on tensorflow-datasets' sentence pairs, in batches of sentences."""
    from keras_losses_experiments.training import harness, resume
    from keras_losses_experiments.training.optimizers import make_optimizer
    from keras_losses_experiments.translation import data as translation_data
    from keras_losses_experiments.translation import decoding
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.bleu import bleu

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


def corpus_main(config, strategy):
    """Training on the user's corpus as fairseq's train.py, then generate.py with the final, best and averaged
    weights (`translation.corpus_training`)."""
    from pathlib import Path

    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.training import harness
    from keras_losses_experiments.training.checkpoints import EpochCheckpoints, average_epoch_checkpoints
    from keras_losses_experiments.training.optimizers import make_optimizer
    from keras_losses_experiments.translation import batching
    from keras_losses_experiments.translation import corpus_training as training
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.beam_search import FairseqBeamSearch

    run, preset, options, length = config.run, config.preset, config.corpus, config.sequence_length
    directory = harness.worker_dir(run.output_dir, strategy)
    try:
        data = training.load_corpus(
            options.directory,
            options.source_lang,
            options.target_lang,
            options.joined_dictionary,
            options.bpe,
            config.vocabulary_size,
            directory,
        )
        if options.best_by:
            training.moses_detokenizer(options.target_lang)  # sacremoses is there, before training
    except (ValueError, FileNotFoundError, ImportError) as error:
        raise ConfigError("corpus", str(error)) from None
    batches = batching.TokenBatches.of(
        *data.splits["train"], options.max_tokens, run.seed, data.pad_id, data.start_id, max_positions=length
    )
    valid = batching.TokenBatches.of(
        *data.splits["valid"], options.max_tokens, run.seed, data.pad_id, data.start_id, max_positions=length
    )
    epochs = (
        training.epochs_for(options.max_updates, batches, options.update_freq)
        if options.max_updates
        else preset.recipe.epochs
    )
    complete_epochs = (
        options.max_updates // training.updates_per_epoch(batches, options.update_freq)
        if options.max_updates
        else epochs
    )
    if options.average_last and complete_epochs < options.average_last:
        raise ConfigError(
            "average_last",
            f"needs {options.average_last} whole epochs; this corpus gives {complete_epochs} "
            f"({training.updates_per_epoch(batches, options.update_freq)} updates an epoch)",
        )
    spec = config.loss.spec(data.target_vocabulary_size)
    with strategy.scope():
        optimizer = training.update_optimizer(make_optimizer(preset.recipe, steps_per_epoch=1), options.update_freq)
        model = translator.compiled_translator(
            spec,
            training.Vocabulary(data.source_vocabulary_size),
            training.Vocabulary(data.target_vocabulary_size),
            length,
            preset,
            config.loss.label_smoothing,
            optimizer,
            run.steps_per_execution,
            head=config.head,
        )
    search = FairseqBeamSearch(config.beams, options.length_penalty, pad_id=data.pad_id, eos_id=data.end_id)
    checkpoint_dir = directory / "checkpoints"
    extra = []
    if options.best_by:
        extra.append(
            training.ValidationBleu(
                data,
                search,
                options.max_tokens,
                run.seed,
                options.valid_max_len_a,
                options.valid_max_len_b,
                length,
                options.target_lang,
            )
        )
    checkpoints = EpochCheckpoints(checkpoint_dir, "val_bleu" if options.best_by else None, replace_on_tie=True)
    stopper = training.StopAtUpdates(options.max_updates) if options.max_updates else None
    extra += [checkpoints] + ([stopper] if stopper else [])
    _, summary = harness.fit(
        model,
        strategy,
        training.training_batches(batches, options.update_freq, data.pad_id),
        None,
        valid.epoch_batches(0),
        epochs,
        None,
        run.output_dir,
        monitor="val_token_accuracy",
        extra_callbacks=extra,
    )
    updates = int(keras_ops_numpy(model.optimizer.iterations))  # before a checkpoint's optimizer state is loaded
    training.remove_partial_epoch(checkpoint_dir, stopper)
    generate = (training.generator(model, search), data, options.max_len_a, options.max_len_b, length)
    reports = {"final": training.generation_bleu(*generate)}
    if options.best_by:
        model.load_weights(checkpoint_dir / "best.weights.h5")
        reports["best"] = training.generation_bleu(*generate)
    averaged = None
    if options.average_last:
        averaged = average_epoch_checkpoints(model, checkpoint_dir, options.average_last)
        reports["averaged"] = training.generation_bleu(*generate)
    elif options.best_by:
        model.load_weights(checkpoint_dir / "last.weights.h5")
    test = batching.TokenBatches.of(
        *data.splits["test"], options.max_tokens, run.seed, data.pad_id, data.start_id, max_positions=length
    ).epoch_batches(0)
    evaluation = model.evaluate(test, verbose=0, return_dict=True)
    saved = "averaged" if options.average_last else "final"
    sources = data.splits["test"][0]
    results = {
        **summary,
        "corpus": str(Path(options.directory)),
        "corpus_options": options,
        "loss": spec,
        "loss_config": model.loss.get_config(),
        "label_smoothing": config.loss.label_smoothing,
        "preset": config.preset_name,
        "preset_config": preset,
        "paper_preset": config.paper.name if config.paper else None,
        "overrides": config.overrides,
        "head": config.head,
        "vocabulary_sizes": {"source": data.source_vocabulary_size, "target": data.target_vocabulary_size},
        "updates": updates,
        "skipped_too_long": len(batches.skipped),
        "checkpoints": checkpoints.report(),
        "averaged_checkpoints": [str(path) for path in averaged] if averaged else None,
        "test_loss": evaluation["loss"],
        "token_accuracy": evaluation["token_accuracy"],
        "beams": config.beams,
        "test_sentences": len(sources),
        "bleu": reports[saved][0],
        "saved_weights": saved,
        **{f"bleu_{name}": bleu for name, (bleu, _) in reports.items()},
        "samples": [
            {"reference": r, "translation": h} for r, h in list(zip(data.references("test"), reports[saved][1]))[:3]
        ],
    }
    harness.finish(model, results, run.output_dir, strategy)
    scores = ", ".join(f"{name} {bleu:.2f}" for name, (bleu, _) in reports.items())
    print(f"{spec}: test BLEU {scores}; the saved model: {saved}")
    return results


def keras_ops_numpy(value):
    import keras

    return keras.ops.convert_to_numpy(value)


if __name__ == "__main__":
    from keras_losses_experiments.training import harness

    harness.run_main(main, "translation.py")
