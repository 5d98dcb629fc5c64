"""`examples/translation.py` as functions: its configuration (`configure`: flags -> `Config`) and its two ways of
training (`train`): tensorflow-datasets' sentence pairs in batches of sentences (`train_sentences`) or the
user's corpus as fairseq's train.py and generate.py (`--corpus`: `train_corpus`), one run or one per seed
(`--seeds`: `harness.over_seeds`, BLEU's mean ± std in `summary.json`). `keras-losses compare` trains a
corpus preset's runs through `train_corpus` too.
"""

from dataclasses import dataclass, replace

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

#: BLEU's summary over seeds (`--seeds`): the saved weights', and the final, best and averaged ones of --corpus.
SUMMARY_METRICS = ("bleu", "bleu_final", "bleu_best", "bleu_averaged", "token_accuracy")


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
    seeds: list = None  # None: one run (run.seed) in run.output_dir; else one run per seed in seed-<s>/


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
    run = replace(flags.run_options(args), seed=args.seed or 0)
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
        run,
        corpus,
        paper,
        overrides or {},
        flags.seeds_to_run(args, paper, overrides),
    )


def train(config, strategy):
    """Trains as `config` says (one run, or one per seed with `--seeds` and their summary); returns the results
    (the summary). Raises `ConfigError` for a strategy or corpus that does not apply, before training."""
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.training import harness

    if config.corpus is not None:
        if strategy.replicas > 1:
            raise ConfigError("max_tokens", "--corpus trains its token batches on one device (--strategy default)")
        one = lambda config: train_corpus(config, strategy)  # noqa: E731
    else:
        global_batch = strategy.check_global_batch(config.batch_size or config.preset.recipe.batch_size)
        one = lambda config: train_sentences(config, strategy, global_batch)  # noqa: E731
    if config.seeds is None:
        return one(config)
    return harness.over_seeds(config, config.seeds, strategy, one, SUMMARY_METRICS)


def train_sentences(config, strategy, global_batch):
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
        "seed": run.seed,
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
    print(f"{spec} (seed {run.seed}): BLEU {results['bleu']:.2f}, token accuracy {results['token_accuracy']:.4f}")
    return results


def train_corpus(config, strategy):
    """Training on the user's corpus as fairseq's train.py, then generate.py with the final, best and averaged
    weights (`translation.corpus_training`)."""
    from pathlib import Path

    import keras

    from keras_losses_experiments.training import harness
    from keras_losses_experiments.training.checkpoints import EpochCheckpoints
    from keras_losses_experiments.training.optimizers import make_optimizer
    from keras_losses_experiments.translation import batching
    from keras_losses_experiments.translation import corpus_training as training
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.beam_search import FairseqBeamSearch

    run, preset, options, length = config.run, config.preset, config.corpus, config.sequence_length
    directory = harness.worker_dir(run.output_dir, strategy)
    data = _read_corpus(config, directory)
    batches, valid, test = (
        batching.TokenBatches.of(
            *data.splits[split], options.max_tokens, run.seed, data.pad_id, data.start_id, max_positions=length
        )
        for split in ("train", "valid", "test")
    )
    epochs = _epochs(options, batches, preset.recipe.epochs)
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
    updates = int(
        keras.ops.convert_to_numpy(model.optimizer.iterations)
    )  # before a checkpoint's optimizer state is loaded
    training.remove_partial_epoch(checkpoint_dir, stopper)
    reports, averaged = _test_bleu(model, data, search, options, length, checkpoint_dir)
    evaluation = model.evaluate(test.epoch_batches(0), verbose=0, return_dict=True)
    saved = "averaged" if options.average_last else "final"
    sources = data.splits["test"][0]
    results = {
        **summary,
        "corpus": str(Path(options.directory)),
        "corpus_options": options,
        "loss": spec,
        "loss_config": model.loss.get_config(),
        "label_smoothing": config.loss.label_smoothing,
        "seed": run.seed,
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
    print(f"{spec} (seed {run.seed}): test BLEU {scores}; the saved model: {saved}")
    return results


def _read_corpus(config, directory):
    """The user's corpus (`translation.corpus_training.load_corpus`); its problems as `ConfigError("corpus")`."""
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.translation import corpus_training as training

    options = config.corpus
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
    return data


def _epochs(options, batches, recipe_epochs):
    """The epochs to train: enough for --max-updates (the last one cut short), else the recipe's; refuses an
    --average-last longer than the whole epochs."""
    from keras_losses_experiments.errors import ConfigError
    from keras_losses_experiments.translation import corpus_training as training

    if not options.max_updates:
        epochs = complete_epochs = recipe_epochs
    else:
        epochs = training.epochs_for(options.max_updates, batches, options.update_freq)
        complete_epochs = options.max_updates // training.updates_per_epoch(batches, options.update_freq)
    if options.average_last and complete_epochs < options.average_last:
        raise ConfigError(
            "average_last",
            f"needs {options.average_last} whole epochs; this corpus gives {complete_epochs} "
            f"({training.updates_per_epoch(batches, options.update_freq)} updates an epoch)",
        )
    return epochs


def _test_bleu(model, data, search, options, length, checkpoint_dir):
    """`({"final"|"best"|"averaged": (test BLEU, translations)}, the averaged checkpoints or None)`, as
    generate.py scores each; the model is left with the weights it is saved with (averaged, else final)."""
    from keras_losses_experiments.training.checkpoints import average_epoch_checkpoints
    from keras_losses_experiments.translation import corpus_training as training

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
    return reports, averaged
