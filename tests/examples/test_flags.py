"""Every public flag of both examples changes what is trained (the configuration `main` trains) or is
refused with an error that names it; the defaults are the recipe's and the preset's."""

import pytest

from keras_losses_experiments import flags, papers
from keras_losses_experiments.classification.recipes import RECIPES
from keras_losses_experiments.classification.vision import Pipeline
from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.training.optimizers import PyTorchSGD
from keras_losses_experiments.training.schedules import Cosine, InverseSqrt, MultiStep, Step, TimmStep
from keras_losses_experiments.translation.presets import PRESETS


def configure(example, argv):
    """The example's `Config` for `argv` (a paper preset's settings its flags' defaults, as `main` parses), or the
    command line's message of `configure`'s error (naming the flag)."""
    from pathlib import Path

    from keras_losses_experiments.translation import program

    name = Path(example["__file__"]).stem
    parser = example["build_parser"]()
    try:
        parsed = papers.parse(parser, argv, name)
        return (program.configure if name == "translation" else example["configure"])(*parsed)
    except ConfigError as error:
        return flags.usage(error)


def parse_error(example, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        example["build_parser"]().parse_args(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


PRESET = ("zhao2022-cifar10-resnet50", "resnet50_v1_5")
PAPER_NET = ["--model", "resnet50_v1_5"]
RESIZED = [*PAPER_NET, "--augment", "resized_crop"]


def SCHEDULE(config):
    return config.recipe.schedule


def PIPELINE(config):
    return config.vision.pipeline


# flag: (extra arguments, what of the configuration it changes, the value it gives)
IMAGE_FLAGS = {
    "--dataset": (["--dataset", "imagenet2012"], lambda c: c.recipe, RECIPES["imagenet2012"]),
    "--model": (["--model", "cnn"], lambda c: c.model, "cnn"),
    "--loss": (["--loss", "squentropy"], lambda c: c.loss.spec(10), "squentropy"),
    # alone, --k keeps the paper's m for the number of classes (30 for 1000), --m the paper's k (1 for 100)
    "--k": (["--loss", "square", "--k", "15"], lambda c: c.loss.spec(1000), "square:15.0,30.0"),
    "--m": (["--loss", "square", "--m", "20"], lambda c: c.loss.spec(100), "square:1.0,20.0"),
    "--log-end": (["--loss", "encouraging", "--log-end", "0.5"], lambda c: c.loss.spec(10), "encouraging:0.5"),
    "--label-smoothing": (["--label-smoothing", "0.1"], lambda c: c.loss.label_smoothing, 0.1),
    "--epochs": (["--epochs", "7"], lambda c: c.recipe.epochs, 7),
    "--batch-size": (["--batch-size", "32"], lambda c: c.batch_size, 32),
    "--learning-rate": (["--learning-rate", "0.05"], lambda c: c.recipe.learning_rate, 0.05),
    "--weight-decay": (["--weight-decay", "1e-3"], lambda c: c.recipe.weight_decay, 1e-3),
    "--schedule": (["--schedule", "step"], lambda c: c.recipe.schedule, Step(warmup_epochs=0.0)),
    "--warmup-epochs": (["--warmup-epochs", "2"], lambda c: c.recipe.schedule, Cosine(warmup_epochs=2.0)),
    "--image-size": (["--image-size", "64"], lambda c: c.image_size, 64),
    "--validation-steps": (["--validation-steps", "3"], lambda c: c.validation_steps, 3),
    "--preset": (["--preset", "zhao2022-cifar10-resnet50"], lambda c: (c.preset and c.preset.name, c.model), PRESET),
    "--seeds": (["--seeds", "1,2"], lambda c: c.seeds, [1, 2]),
    "--optimizer": (["--optimizer", "pytorch_sgd"], lambda c: c.recipe.optimizer, PyTorchSGD(0.9, nesterov=True)),
    "--momentum": (["--momentum", "0.8"], lambda c: c.recipe.optimizer.momentum, 0.8),
    "--nesterov": (["--optimizer", "pytorch_sgd", "--nesterov"], lambda c: c.recipe.optimizer.kind, "pytorch_sgd"),
    "--no-nesterov": (["--no-nesterov"], lambda c: c.recipe.optimizer.nesterov, False),
    "--optimizer-epsilon": (
        ["--optimizer", "rmsprop_tf", "--optimizer-epsilon", "0.01"],
        lambda c: getattr(c.recipe.optimizer, "epsilon", None),
        0.01,
    ),
    "--weight-decay-mode": (
        ["--optimizer", "pytorch_sgd", "--weight-decay-mode", "l2"],
        lambda c: c.recipe.weight_decay_mode,
        "l2",
    ),
    "--weight-decay-on-1d": (
        ["--optimizer", "rmsprop_tf", "--weight-decay-on-1d"],
        lambda c: (c.recipe.weight_decay_on_1d, c.recipe.optimizer.kind),
        (True, "rmsprop_tf"),
    ),
    "--no-weight-decay-on-1d": (
        ["--optimizer", "rmsprop_tf", "--no-weight-decay-on-1d"],
        lambda c: c.recipe.weight_decay_on_1d,
        False,
    ),
    "--milestones": (["--schedule", "multistep", "--milestones", "10,20"], SCHEDULE, MultiStep((10, 20))),
    "--decay-rate": (["--schedule", "multistep", "--decay-rate", "0.5"], SCHEDULE, MultiStep(decay_rate=0.5)),
    "--schedule-step-at": (
        ["--schedule", "multistep", "--schedule-step-at", "epoch_start"],
        SCHEDULE,
        MultiStep(step_at="epoch_start"),
    ),
    "--decay-epochs": (["--schedule", "timm_step", "--decay-epochs", "2.4"], SCHEDULE, TimmStep(decay_epochs=2.4)),
    "--warmup-lr": (["--schedule", "timm_step", "--warmup-lr", "1e-6"], SCHEDULE, TimmStep(warmup_lr=1e-6)),
    "--ema-decay": (["--ema-decay", "0.999"], lambda c: c.vision.ema_decay, 0.999),
    "--augment": ([*PAPER_NET, "--augment", "resized_crop"], PIPELINE, Pipeline("resized_crop", normalization="cifar")),
    "--randaugment": (
        [*RESIZED, "--randaugment", "rand-m9-mstd0.5"],
        lambda c: c.vision.pipeline.randaugment,
        "rand-m9-mstd0.5",
    ),
    "--random-erasing": ([*RESIZED, "--random-erasing", "0.2"], lambda c: c.vision.pipeline.random_erasing, 0.2),
    "--train-interpolation": (
        [*RESIZED, "--train-interpolation", "random"],
        lambda c: c.vision.pipeline.train_interpolation,
        "random",
    ),
    "--test-interpolation": (
        [*RESIZED, "--test-interpolation", "bicubic"],
        lambda c: c.vision.pipeline.test_interpolation,
        "bicubic",
    ),
    "--normalization": (
        [*RESIZED, "--normalization", "imagenet"],
        lambda c: c.vision.pipeline.normalization,
        "imagenet",
    ),
    "--dropout": (["--model", "efficientnet_b0_timm", "--dropout", "0.3"], lambda c: c.vision.dropout, 0.3),
    "--drop-connect": (
        ["--model", "efficientnet_b0_timm", "--drop-connect", "0.1"],
        lambda c: c.vision.drop_connect,
        0.1,
    ),
}
CORPUS = ["--corpus", "c", "--max-tokens", "64"]  # the flags that apply to a corpus of the user's files only
TRANSLATION_FLAGS = {
    "--dataset": (
        ["--dataset", "wmt14_translate/de-en"],
        lambda c: (c.dataset, c.preset),
        ("wmt14_translate/de-en", PRESETS["base"]),
    ),
    "--preset": (["--preset", "tiny"], lambda c: c.preset, PRESETS["tiny"]),
    "--layers": (["--layers", "2"], lambda c: c.preset.layers, 2),
    "--model-dim": (["--model-dim", "256"], lambda c: c.preset.model_dim, 256),
    "--heads": (["--heads", "8"], lambda c: c.preset.heads, 8),
    "--feedforward-dim": (["--feedforward-dim", "2048"], lambda c: c.preset.feedforward_dim, 2048),
    "--dropout": (["--dropout", "0.1"], lambda c: c.preset.dropout, 0.1),
    "--head": (["--head", "dense"], lambda c: c.head, "dense"),
    "--loss": (["--loss", "ce"], lambda c: c.loss.spec(8000), "ce"),  # the preset's LE 0.5 goes with its loss
    "--k": (["--loss", "square", "--k", "2"], lambda c: c.loss.spec(8000), "square:2.0,30.0"),
    "--m": (["--loss", "square", "--m", "5"], lambda c: c.loss.spec(8000), "square:15.0,5.0"),
    "--log-end": (["--log-end", "0.75"], lambda c: c.loss.spec(8000), "conservative_encouraging:0.75"),
    "--label-smoothing": (["--label-smoothing", "0"], lambda c: c.loss.label_smoothing, 0.0),
    "--vocabulary-size": (["--vocabulary-size", "300"], lambda c: c.vocabulary_size, 300),
    "--sequence-length": (["--sequence-length", "32"], lambda c: c.sequence_length, 32),
    "--epochs": (["--epochs", "3"], lambda c: c.preset.recipe.epochs, 3),
    "--batch-size": (["--batch-size", "16"], lambda c: c.batch_size, 16),
    "--learning-rate": (["--learning-rate", "1e-3"], lambda c: c.preset.recipe.learning_rate, 1e-3),
    "--weight-decay": (["--weight-decay", "0"], lambda c: c.preset.recipe.weight_decay, 0.0),
    "--warmup-steps": (["--warmup-steps", "8000"], lambda c: c.preset.recipe.schedule, InverseSqrt(8000)),
    "--beams": (["--beams", "1"], lambda c: c.beams, 1),
    "--test-sentences": (["--test-sentences", "10"], lambda c: c.test_sentences, 10),
    "--architecture": (["--architecture", "fairseq"], lambda c: c.preset.architecture, "fairseq"),
    "--attention-dropout": (
        ["--architecture", "fairseq", "--attention-dropout", "0.1"],
        lambda c: c.preset.attention_dropout,
        0.1,
    ),
    "--share-all-embeddings": (
        ["--architecture", "fairseq", "--share-all-embeddings"],
        lambda c: (c.preset.share_all_embeddings, c.head),
        (True, "dense"),
    ),
    "--adam-betas": (["--adam-betas", "0.8,0.9"], lambda c: c.preset.recipe.optimizer.beta_2, 0.9),
    "--adam-eps": (["--adam-eps", "1e-6"], lambda c: c.preset.recipe.optimizer.epsilon, 1e-6),
    "--length-penalty": (
        CORPUS + ["--length-penalty", "0.6"],
        lambda c: getattr(c.corpus, "length_penalty", None),
        0.6,
    ),
    **{
        flags.option(name): (
            CORPUS + [flags.option(name), text],
            lambda c, name=name: getattr(c.corpus, name, None),
            value,
        )
        for name, text, value in (
            ("source_lang", "de", "de"),
            ("target_lang", "en", "en"),
            ("bpe", "sentencepiece", "sentencepiece"),
            ("max_tokens", "512", 512),
            ("update_freq", "4", 4),
            ("max_updates", "9", 9),
            ("average_last", "3", 3),
            ("best_by", "bleu", "bleu"),
            ("max_len_a", "1.5", 1.5),
            ("max_len_b", "20", 20),
            ("valid_max_len_a", "2", 2.0),
            ("valid_max_len_b", "5", 5),
        )
    },
    "--seeds": (["--seeds", "3"], lambda c: c.seeds, [0, 1, 2]),
    "--joined-dictionary": (
        CORPUS + ["--joined-dictionary"],
        lambda c: getattr(c.corpus, "joined_dictionary", None),
        True,
    ),
    "--corpus": (
        ["--corpus", "elsewhere", "--max-tokens", "9"],
        lambda c: getattr(c.corpus, "directory", None),
        "elsewhere",
    ),
}
# Both examples: how and where to run (taken into effect by training.set_up, training.fit and training.finish).
RUN_FLAGS = {
    "--strategy": (["--strategy", "mirrored"], lambda c: c.run.strategy, "mirrored"),
    "--coordinator-address": (
        ["--coordinator-address", "10.0.0.1:1234"],
        lambda c: c.run.coordinator_address,
        "10.0.0.1:1234",
    ),
    "--num-processes": (["--num-processes", "2"], lambda c: c.run.num_processes, 2),
    "--process-id": (["--process-id", "1"], lambda c: c.run.process_id, 1),
    "--mixed-precision": (["--mixed-precision"], lambda c: c.run.mixed_precision, "auto"),
    "--steps-per-epoch": (["--steps-per-epoch", "5"], lambda c: c.run.steps_per_epoch, 5),
    "--steps-per-execution": (["--steps-per-execution", "8"], lambda c: c.run.steps_per_execution, 8),
    "--seed": (["--seed", "4"], lambda c: c.run.seed, 4),
    "--deterministic": (["--deterministic"], lambda c: c.run.deterministic, True),
    "--output-dir": (["--output-dir", "elsewhere"], lambda c: c.run.output_dir, "elsewhere"),
    "--mock-data": (["--mock-data", "9"], lambda c: c.run.mock_data, 9),
}


def public_flags(example):
    return {
        option
        for action in example["build_parser"]()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


@pytest.mark.parametrize("name,flags", [("image", IMAGE_FLAGS), ("translation", TRANSLATION_FLAGS)])
def test_every_flag_changes_the_configuration(name, flags, image_example, translation_example):
    example = image_example if name == "image" else translation_example
    flags = {**flags, **RUN_FLAGS}
    assert public_flags(example) == set(flags), "a flag without a test here"
    default = configure(example, [])
    for flag, (argv, read, value) in flags.items():
        config = configure(example, argv)
        assert not isinstance(config, str), f"{flag}: {config}"
        assert read(config) == value and read(config) != read(default), flag


def test_image_defaults_are_the_datasets_recipe(image_example):
    config = configure(image_example, ["--dataset", "imagenet2012"])
    assert config.recipe == RECIPES["imagenet2012"] and config.loss == flags.LossChoice("ce")
    assert config.run == flags.RunOptions(output_dir="runs/image_classification")


def test_translation_defaults_are_the_presets(translation_example):
    config = configure(translation_example, [])
    iwslt = PRESETS["iwslt_sentences"]
    assert (
        config.preset_name == "iwslt_sentences"
        and config.preset == iwslt
        and config.beams == 5
        and config.head == "chunked"
    )
    assert config.loss == flags.LossChoice("conservative_encouraging", log_end=0.5, label_smoothing=0.1)
    assert (iwslt.dropout, iwslt.recipe.learning_rate, iwslt.recipe.weight_decay) == (0.3, 5e-4, 1e-4)
    assert (iwslt.layers, iwslt.model_dim, iwslt.feedforward_dim, iwslt.heads) == (6, 512, 1024, 4)
    assert configure(translation_example, ["--loss", "encouraging"]).loss.spec(100) == "encouraging"


def test_square_loss_with_m_alone_keeps_the_papers_k_for_the_vocabulary(translation_example):
    config = configure(translation_example, ["--loss", "square", "--m", "5"])
    # the spec is completed with the trained target vocabulary's size: below 1000 classes the paper's k is 1
    assert config.loss.spec(150) == "square:1.0,5.0" and config.loss.spec(8000) == "square:15.0,5.0"
    assert config.loss.label_smoothing == 0.1  # the preset's, kept with another loss


def test_help_names_the_papers_preset(translation_example, capsys):
    with pytest.raises(SystemExit):
        translation_example["build_parser"]().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "zhao2022-iwslt14-de-en and zhao2022-iwslt17-fr-en are the encouraging-loss paper's experiments" in text
    assert "iwslt_sentences fairseq's transformer_iwslt_de_en sizes on sentence batches (not the paper's" in text
    assert "mean over the non-padding tokens of the whole global batch" in text


IMAGE_REFUSALS = [
    (["--k", "2"], "--k: applies to --loss square only (the loss is ce)"),
    (["--loss", "squentropy", "--log-end", "0.5"], "--log-end: applies to --loss encouraging only"),
    (["--epochs", "4"], "--epochs: must be more than the recipe's 5 warm-up epochs. Received: 4"),  # ImageNet's 5
    (["--warmup-epochs", "90"], "--warmup-epochs: must be less than the 90 epochs. Received: 90"),
]


@pytest.mark.parametrize("argv,message", IMAGE_REFUSALS)
def test_image_flags_that_do_not_apply_are_refused(image_example, argv, message):
    error = configure(image_example, ["--dataset", "imagenet2012", *argv])
    assert isinstance(error, str) and message in error


TRANSLATION_REFUSALS = [
    (["--loss", "ce", "--log-end", "0.5"], "--log-end: applies to --loss encouraging only (the loss is ce)"),
    (["--m", "3"], "--m: applies to --loss square only (the loss is conservative_encouraging)"),
    (["--model-dim", "102"], "--model-dim: must be a multiple of the attention heads (4). Received: 102"),
    (["--heads", "3"], "--heads: must divide the model dimension (512). Received: 3"),
]


@pytest.mark.parametrize("argv,message", TRANSLATION_REFUSALS)
def test_translation_flags_that_do_not_apply_are_refused(translation_example, argv, message):
    error = configure(translation_example, argv)
    assert isinstance(error, str) and message in error


@pytest.mark.parametrize(
    "name,argv,message",
    [
        ("image", ["--epochs", "0"], "argument --epochs: must be at least 1. Received: 0"),
        ("image", ["--steps-per-execution", "0"], "argument --steps-per-execution: must be at least 1"),
        ("image", ["--process-id", "-1"], "argument --process-id: must be at least 0"),
        ("image", ["--mixed-precision", "float8"], "argument --mixed-precision: invalid choice"),
        ("image", ["--strategy", "horovod"], "argument --strategy: invalid choice"),
        ("image", ["--schedule", "inverse_sqrt"], "argument --schedule: invalid choice"),
        # each value is checked by the flag table as it enters, the same in every program
        ("image", ["--loss", "encouraging", "--log-end", "1.5"], "argument --log-end: must be in (0, 1]"),
        ("image", ["--loss", "square", "--m", "-1"], "argument --m: must be > 0. Received: -1.0"),
        ("image", ["--label-smoothing", "1"], "argument --label-smoothing: must be in [0, 1). Received: 1.0"),
        ("image", ["--learning-rate", "-0.1"], "argument --learning-rate: must be > 0"),
        ("image", ["--weight-decay", "-1"], "argument --weight-decay: must be at least 0"),
        ("image", ["--warmup-epochs", "-1"], "argument --warmup-epochs: must be at least 0"),
        ("translation", ["--dropout", "1"], "argument --dropout: must be in [0, 1)"),
        ("translation", ["--learning-rate", "0"], "argument --learning-rate: must be > 0"),
    ],
)
def test_out_of_range_values_are_refused_by_argparse(name, argv, message, image_example, translation_example, capsys):
    example = image_example if name == "image" else translation_example
    assert message in parse_error(example, argv, capsys)


def test_main_reports_a_refusal_as_a_usage_error(image_example, capsys):
    with pytest.raises(SystemExit) as exit_info:
        image_example["main"](["--dataset", "imagenet2012", "--warmup-steps", "10"])
    assert exit_info.value.code == 2 and "unrecognized arguments: --warmup-steps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        image_example["main"](["--loss", "ce", "--k", "3"])
    assert "error: --k: applies to --loss square only" in capsys.readouterr().err
