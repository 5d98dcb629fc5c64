"""The encouraging-loss paper's translation presets realize the authors' script: every value against the official
one (and the official file and line it names), the learning rate at key updates, fairseq's Adam with its weight
decay on a step computed by hand, token batches within the budget, --update-freq 4 equal to one big update, the
averaged checkpoint equal to the mean of the saved ones, the architecture and its one shared matrix, beam
settings, loss, baseline and seeds; one shrunk run of the De-En preset on a prepare-iwslt14-style corpus."""

import json
import math
import re
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from keras_losses_experiments import flags, papers
from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.papers import zhao2022_translation
from keras_losses_experiments.translation import batching, corpus, program

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.data")

MIRROR = Path("/work/.mirror/lancopku+well-classified-examples-are-underestimated/repo")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "papers_translation.md"
DE_EN, FR_EN = (preset.name for preset in zhao2022_translation.PRESETS)
# What each preset must realize: the script's values (translation/readme.sh) and fairseq 0.10's defaults.
OFFICIAL = {
    DE_EN: {"layers": 6, "lr": 1e-3, "dropout": 0.4, "wd": 1e-4, "update_freq": 4, "max_updates": 20000},
    FR_EN: {"layers": 2, "lr": 5e-4, "dropout": 0.3, "wd": 1e-3, "update_freq": 1, "max_updates": 100000},
}


def write_corpus(directory, sentences=48, seed=0):
    """A prepare-iwslt14.sh-style corpus: tokenized, BPE-split train/valid/test.{de,en}."""
    rng = np.random.default_rng(seed)
    words = {"ich": "i", "haus": "house", "hund": "dog", "gr@@": "bi@@", "oß": "g", "ist": "is", "gut": "good"}
    for split, count in (("train", sentences), ("valid", 8), ("test", 6)):
        pairs = []
        for _ in range(count):
            source = [str(w) for w in rng.choice(list(words), size=rng.integers(2, 8))]
            source += ["oß"] if source[-1].endswith("@@") else []
            pairs.append((" ".join(source), " ".join(words[w] for w in source) + " ."))
        for side, language in enumerate(("de", "en")):
            (directory / f"{split}.{language}").write_text("\n".join(p[side] for p in pairs) + "\n", encoding="utf-8")
    return directory


def configure(translation_example, argv):
    parser = translation_example["build_parser"]()
    args, paper, overrides = papers.parse(parser, argv, "translation")
    return program.configure(args, paper, overrides)


@pytest.mark.parametrize("name", [DE_EN, FR_EN])
def test_the_preset_realizes_the_scripts_values(name, translation_example, tmp_path):
    config = configure(translation_example, ["--preset", name, "--corpus", str(tmp_path)])
    official, preset, options = OFFICIAL[name], config.preset, config.corpus
    assert (preset.architecture, preset.layers, preset.model_dim, preset.feedforward_dim, preset.heads) == (
        "fairseq",
        official["layers"],
        512,
        1024,
        4,
    )
    assert (preset.dropout, preset.attention_dropout, preset.share_all_embeddings) == (
        official["dropout"],
        0.0,
        (name == FR_EN),
    )
    recipe = preset.recipe
    assert (recipe.optimizer.beta_1, recipe.optimizer.beta_2, recipe.optimizer.epsilon) == (0.9, 0.98, 1e-8)
    assert (recipe.learning_rate, recipe.weight_decay, recipe.schedule.warmup_steps) == (
        official["lr"],
        official["wd"],
        4000,
    )
    assert (options.max_tokens, options.update_freq, options.max_updates) == (
        4096,
        official["update_freq"],
        official["max_updates"],
    )
    assert (options.average_last, options.best_by, options.joined_dictionary) == (10, "bleu", (name == FR_EN))
    assert (config.beams, options.length_penalty, options.max_len_a, options.max_len_b) == (5, 1.0, 0.0, 200)
    assert (options.valid_max_len_a, options.valid_max_len_b) == (1.2, 10)
    assert options.bpe == ("sentencepiece" if (name == FR_EN) else "subword_nmt")
    assert config.run.mixed_precision == "float16" and config.sequence_length == 1024
    assert config.head == ("dense" if (name == FR_EN) else "chunked")
    assert config.loss == flags.LossChoice("conservative_encouraging", log_end=0.5, label_smoothing=0.1)
    paper = papers.get(name, "translation")
    assert (paper.loss.value, paper.baseline.value, paper.seeds.value) == (
        "conservative_encouraging:0.5",
        "ce",
        (1, 2, 3, 4, 5),
    )
    baseline = configure(translation_example, ["--preset", name, "--corpus", str(tmp_path), "--loss", "ce"])
    assert baseline.loss == flags.LossChoice("ce", label_smoothing=0.1)  # label-smoothed cross-entropy
    assert baseline.preset == preset and baseline.corpus == options


def test_the_loss_and_baseline_are_the_criterions_formula_by_hand():
    # encourage_loss.py: (1-e) nll + e/V sum -log p + (1-e) b(p_y) + e/V sum b(p_v), b conservative at LE 0.5.
    from keras_losses_experiments import losses

    rng = np.random.default_rng(0)
    logits, labels, vocabulary, e = rng.normal(size=(5, 7)).astype("float32") * 3, np.array([1, 2, 0, 3, 6]), 7, 0.1
    logits[0, 1] = 9.0  # one confident token: its bonus on the tangent
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    log_p = np.log(p)
    bonus = np.where(p > 0.5, np.log(0.5) - (p - 0.5) / 0.5, np.log(np.maximum(1 - p, 1e-5)))
    rows, valid = np.arange(5), labels != 0  # 0: padding, masked (--el_mask_pad 1)
    ce = (1 - e) * -log_p[rows, labels] + e / vocabulary * -log_p.sum(-1)
    el = ce + (1 - e) * bonus[rows, labels] + e / vocabulary * bonus.sum(-1)
    for spec, expected in (("conservative_encouraging:0.5", el), ("ce", ce)):
        loss = losses.build_loss(spec, vocabulary, 0.1, ignore_class=0)
        got = float(ops.convert_to_numpy(loss(labels, logits)))
        assert got == pytest.approx(expected[valid].mean(), rel=1e-5), spec


def fairseq_lr(num_updates, lr, warmup=4000):
    """inverse_square_root_schedule.py step_update(num_updates), the rate of the next update."""
    return num_updates * lr / warmup if num_updates < warmup else lr * warmup**0.5 * num_updates**-0.5


def realized_optimizer(translation_example, name, tmp_path):
    from keras_losses_experiments.training.optimizers import make_optimizer
    from keras_losses_experiments.translation import corpus_training

    config = configure(translation_example, ["--preset", name, "--corpus", str(tmp_path)])
    optimizer = make_optimizer(config.preset.recipe, steps_per_epoch=1)
    return corpus_training.update_optimizer(optimizer, config.corpus.update_freq), config


@pytest.mark.parametrize("name", [DE_EN, FR_EN])
def test_learning_rate_at_key_updates_counted_in_updates(name, translation_example, tmp_path):
    optimizer, config = realized_optimizer(translation_example, name, tmp_path)
    assert type(optimizer) is keras.optimizers.AdamW or type(optimizer) is keras.optimizers.Adam
    n, lr = config.corpus.update_freq, config.preset.recipe.learning_rate
    assert optimizer.gradient_accumulation_steps == (n if n > 1 else None)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, optimizer.weight_decay) == (
        0.9,
        0.98,
        1e-8,
        config.preset.recipe.weight_decay,
    )
    schedule = optimizer._learning_rate  # Keras calls it with the batches done when update k (from 1) applies
    for k in (1, 2000, 4000, 16000):
        got = float(ops.convert_to_numpy(schedule(k * n - 1)))
        assert got == pytest.approx(fairseq_lr(k - 1, lr), rel=1e-6, abs=1e-12), k
    assert float(ops.convert_to_numpy(schedule(0))) == 0.0  # fairseq's first update: warmup_init_lr 0


def fairseq_adam(p, grads, lrs, betas=(0.9, 0.98), eps=1e-8, wd=1e-4, first_step=1):
    """translation/fairseq/optim/adam.py step(), written plainly (float64), from `first_step` (fresh moments)."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=first_step):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        denom = np.sqrt(v) + eps
        step_size = lr * math.sqrt(1 - betas[1] ** t) / (1 - betas[0] ** t)
        p = p - wd * lr * p  # p_data_fp32.add_(p_data_fp32, alpha=-weight_decay * lr)
        p = p - step_size * m / denom
    return p


def test_adam_and_its_weight_decay_are_fairseqs_step_by_hand(translation_example, tmp_path):
    optimizer, _ = realized_optimizer(translation_example, FR_EN, tmp_path)  # update_freq 1, decay 1e-3
    p0, rng = np.array([0.5, -1.0, 2.0], "float32"), np.random.default_rng(1)
    grads = [rng.normal(size=3).astype("float32") for _ in range(3)]
    variable = keras.Variable(p0)
    optimizer.build([variable])
    optimizer.iterations.assign(3998)  # updates 3999 to 4001: the peak of the warm-up
    for g in grads:
        optimizer.apply_gradients([(ops.convert_to_tensor(g), variable)])
    lrs = [fairseq_lr(k, 5e-4) for k in (3998, 3999, 4000)]
    grads64 = [g.astype("float64") for g in grads]
    expected = fairseq_adam(p0.astype("float64"), grads64, lrs, wd=1e-3, first_step=3999)
    np.testing.assert_allclose(ops.convert_to_numpy(variable), expected, rtol=1e-6)
    without_decay = fairseq_adam(p0.astype("float64"), grads64, lrs, wd=0.0, first_step=3999)
    assert np.abs(expected - without_decay).max() > 2e-6  # p -= lr * wd * p shows: 3 x 5e-4 x 1e-3 x 2


def test_tokens_per_batch_within_the_budget_and_update_freq_4_is_one_big_update(translation_example, tmp_path):
    from keras_losses_experiments import losses
    from keras_losses_experiments.training.accumulation import weight_by_token_share
    from keras_losses_experiments.translation.fairseq_layers import FairseqEmbedding

    data = corpus.read_parallel_files(write_corpus(tmp_path), "de", "en")
    batches = batching.TokenBatches.of(*data.splits["train"], 32, 1, data.pad_id, data.start_id)
    sources, targets = data.splits["train"]
    for batch in batches.batches:
        largest = max(max(len(sources[i]), len(targets[i])) for i in batch)
        assert len(batch) * largest <= 32
    assert len(batches.batches) >= 8

    def model(accumulate):
        from keras_losses_experiments.training.optimizers import make_optimizer
        from keras_losses_experiments.translation import corpus_training

        config = configure(translation_example, ["--preset", DE_EN, "--corpus", str(tmp_path), "--warmup-steps", "1"])
        optimizer = make_optimizer(config.preset.recipe, steps_per_epoch=1)
        optimizer = corpus_training.update_optimizer(optimizer, 4) if accumulate else optimizer
        keras.utils.set_random_seed(0)
        inputs = keras.Input((None,), dtype="int32")
        hidden = FairseqEmbedding(data.source_vocabulary_size, 8)(inputs)  # the translator's (dense gradients)
        net = keras.Model(inputs, keras.layers.Dense(data.target_vocabulary_size)(hidden))
        loss = losses.build_loss("conservative_encouraging:0.5", data.target_vocabulary_size, 0.1, ignore_class=0)
        net.compile(optimizer=optimizer, loss=loss)
        return net

    order = batches.epoch_order(1)[:8]  # two updates of four batches
    padded = [batches_padded(targets, group, data.pad_id) for group in order]
    import tensorflow as tf

    pieces = tf.data.Dataset.from_generator(
        lambda: iter(padded), output_signature=(tf.TensorSpec([None, None], tf.int32),) * 2
    )
    accumulated = model(True)
    accumulated.fit(weight_by_token_share(pieces, 4, 0), epochs=1, verbose=0)
    whole = model(False)
    for start in (0, 4):  # each update: the 4 batches as one, padded to the widest
        group = [i for g in order[start : start + 4] for i in g]
        x, y = batches_padded(targets, group, data.pad_id)
        whole.train_on_batch(x, y)
    assert int(ops.convert_to_numpy(accumulated.optimizer.iterations)) == 2
    for got, expected in zip(accumulated.get_weights(), whole.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def batches_padded(targets, indices, pad_id):
    """(inputs, labels): the targets of `indices` right-padded (a model reading its own labels: a stand-in)."""
    width = max(len(targets[i]) for i in indices)
    array = np.full((len(indices), width), pad_id, np.int32)
    for row, i in enumerate(indices):
        array[row, : len(targets[i])] = targets[i]
    return array, array


def test_shared_embeddings_are_one_matrix_and_the_architecture_is_fairseqs(translation_example, tmp_path):
    from keras_losses_experiments.translation import model as translator
    from keras_losses_experiments.translation.fairseq_layers import FairseqEmbedding, sinusoidal_table

    argv = ["--preset", FR_EN, "--corpus", str(tmp_path), "--model-dim", "16", "--feedforward-dim", "32"]
    config = configure(translation_example, argv)
    keras.utils.set_random_seed(0)
    net = translator.build_transformer(40, 40, 1024, config.preset, head=config.head)
    embeddings = [w for w in net.weights if w.path.endswith("embeddings")]
    assert len(embeddings) == 1 and tuple(embeddings[0].shape) == (40, 16)
    assert translator.LOGITS not in {layer.name for layer in net.layers}  # the output is that matrix, reversed
    assert sum(isinstance(layer, FairseqEmbedding) for layer in net.layers) == 1
    np.testing.assert_array_equal(ops.convert_to_numpy(embeddings[0])[0], 0.0)  # the padding row
    encoders = [layer for layer in net.layers if re.fullmatch(r"encoder_\d+", layer.name)]
    decoders = [layer for layer in net.layers if re.fullmatch(r"decoder_\d+", layer.name)]
    assert len(encoders) == len(decoders) == 2
    for layer in encoders + decoders:
        assert layer.dropout == 0.3 and layer._self_attention_layer._dropout_layer.rate == 0.0
        assert not layer.normalize_first and layer.activation is keras.activations.relu
    assert decoders[0]._cross_attention_layer._dropout_layer.rate == 0.0
    tokens = np.array([[5, 6, 2, 0]], "int32")  # a sentence, </s>, padding
    layer = net.get_layer(translator.SHARED)
    got = ops.convert_to_numpy(layer(tokens))
    table, matrix = sinusoidal_table(8, 16), ops.convert_to_numpy(embeddings[0])
    np.testing.assert_allclose(got[0, :3], 4.0 * matrix[[5, 6, 2]] + table[2:5], rtol=1e-6)  # sqrt(16), from 2
    np.testing.assert_allclose(got[0, 3], 0.0, atol=1e-7)  # padding: zero row, zero position
    hidden = np.ones((1, 1, 16), "float32")
    np.testing.assert_allclose(ops.convert_to_numpy(layer(hidden, reverse=True))[0, 0], matrix.sum(1), rtol=1e-5)
    half = np.exp(np.arange(8) * -(math.log(10000) / 7))  # fairseq's frequencies: [sin | cos] halves
    np.testing.assert_allclose(table[3], np.concatenate([np.sin(3 * half), np.cos(3 * half)]), rtol=1e-6)
    # It trains (the logits keep the decoder's padding mask) and decodes through the same matrix.
    from keras_losses_experiments import losses
    from keras_losses_experiments.translation import corpus_training
    from keras_losses_experiments.translation.beam_search import FairseqBeamSearch

    net.compile(optimizer="adam", loss=losses.build_loss("conservative_encouraging:0.5", 40, 0.1, ignore_class=0))
    sources, targets = np.array([[5, 6, 2, 0], [7, 2, 0, 0]], "int32"), np.array([[8, 9, 2], [4, 2, 0]], "int32")
    decoder = np.concatenate([np.full((2, 1), 2, "int32"), targets[:, :-1]], axis=1)
    assert np.isfinite(net.train_on_batch([sources, decoder], targets))
    generate = corpus_training.generator(net, FairseqBeamSearch(2, pad_id=0, eos_id=2))
    found = corpus_training.translate(generate, [sources[0][:3], sources[1][:2]], [[0, 1]], 1.2, 10, 1024, 0)
    for ids in found.values():
        assert 2 in ids.tolist() and ids.tolist().index(2) <= int(1.2 * 3 + 10)  # ends within fairseq's max_len


def test_refusals_name_the_flag(translation_example):
    def error(argv):
        parser = translation_example["build_parser"]()
        try:
            args, paper, overrides = papers.parse(parser, argv, "translation")
            program.configure(args, paper, overrides)
        except ConfigError as raised:
            return flags.usage(raised)
        return None

    assert error(["--preset", DE_EN]).startswith("--corpus: zhao2022-iwslt14-de-en trains on IWSLT")
    assert "prepare-iwslt14.sh" in error(["--preset", FR_EN])
    renamed = error(["--preset", "iwslt"])
    assert renamed.startswith("--preset: iwslt is now iwslt_sentences") and "zhao2022-iwslt14-de-en" in renamed
    assert error(["--max-tokens", "4096"]).startswith("--max-tokens: applies to --corpus only")
    assert error(["--corpus", "c", "--batch-size", "8", "--max-tokens", "9"]).startswith("--batch-size: does not")
    assert error(["--corpus", "c"]).startswith("--max-tokens: --corpus needs a token budget")
    shared = ["--corpus", "c", "--max-tokens", "9", "--architecture", "fairseq", "--share-all-embeddings"]
    assert error([*shared, "--head", "chunked"]).startswith("--head: chunked cannot share")
    assert error(["--share-all-embeddings"]).startswith("--share-all-embeddings: applies to --architecture fairseq")


SOURCE = re.compile(r"(translation/[\w/.-]+\.(?:sh|py)):(\d+)(?:-(\d+))?")


def test_every_source_names_an_existing_file_and_line_of_the_authors_repository():
    for preset in zhao2022_translation.PRESETS:
        for setting, official in {
            "loss": preset.loss,
            "baseline": preset.baseline,
            "seeds": preset.seeds,
            **preset.flags,
        }.items():
            cited = SOURCE.findall(official.source)
            assert cited, f"{preset.name} {setting}: {official.source!r} names no file:line"
            if not MIRROR.exists():
                continue  # CI: the format only
            for path, first, last in cited:
                text = subprocess.run(
                    ["git", "-C", str(MIRROR), "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
                ).stdout
                assert int(last or first) <= len(text.splitlines()), f"{preset.name} {setting}: {path}:{first}"


# The script's own spelling of a value on the line the preset cites (checked where the mirror is present).
ON_THE_LINE = {
    DE_EN: {
        "learning_rate": "--lr 1e-3",
        "dropout": "--dropout 0.4",
        "update_freq": "--update-freq 4",
        "max_updates": "--max-update 20000",
        "weight_decay": "--weight-decay 0.0001",
        "max_tokens": "--max-tokens 4096",
        "adam_betas": "(0.9, 0.98)",
        "mixed_precision": "--fp16",
        "average_last": "--num-epoch-checkpoints 10",
        "valid_max_len_a": '"max_len_a": 1.2',
    },
    FR_EN: {
        "learning_rate": "--lr 0.0005",
        "dropout": "--dropout 0.3",
        "max_updates": "--max-update 100000",
        "weight_decay": "--weight-decay 0.001",
        "layers": "--encoder-layers 2 --decoder-layers 2",
        "share_all_embeddings": "--share-all-embeddings",
        "bpe": "--remove-bpe sentencepiece",
    },
}


@pytest.mark.skipif(not MIRROR.exists(), reason="the authors' repository is not mirrored here")
@pytest.mark.parametrize("name", [DE_EN, FR_EN])
def test_the_cited_readme_lines_hold_the_values(name):
    readme = subprocess.run(
        ["git", "-C", str(MIRROR), "show", "HEAD:translation/readme.sh"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    preset = papers.get(name, "translation")
    for setting, spelling in ON_THE_LINE[name].items():
        line = int(SOURCE.search(preset.flags[setting].source).group(2))
        assert spelling in readme[line - 1], f"{name} {setting}: line {line} is {readme[line - 1]!r}"


def test_the_docs_page_is_the_generated_one():
    assert DOCS.read_text(encoding="utf-8") == zhao2022_translation.page()
    for preset in zhao2022_translation.PRESETS:
        assert papers.table(preset) in DOCS.read_text(encoding="utf-8")


def test_the_de_en_preset_trains_as_fairseq_shrunk(translation_example, tmp_path, monkeypatch):
    """Two whole epochs of updates of four token batches, the EL, validation BLEU, the average of both."""
    from keras_losses_experiments.translation import corpus_training

    try:
        import sacremoses  # noqa: F401
    except ImportError:  # the translation extra's; without it, BLEU on the tokenized text (the rest is the same)
        monkeypatch.setattr(corpus_training, "moses_detokenizer", lambda language: lambda text: text)
    (tmp_path / "corpus").mkdir()
    write_corpus(tmp_path / "corpus")
    output = tmp_path / "run"
    argv = [
        "--preset",
        DE_EN,
        "--corpus",
        str(tmp_path / "corpus"),
        "--seed",
        "0",
        "--layers",
        "1",
        "--model-dim",
        "16",
    ]
    argv += ["--feedforward-dim", "32", "--max-tokens", "64", "--average-last", "2", "--strategy", "default"]
    data = corpus.read_parallel_files(tmp_path / "corpus", "de", "en")
    batches = batching.TokenBatches.of(*data.splits["train"], 64, 0, data.pad_id, data.start_id)
    updates = 2 * -(-len(batches.batches) // 4)
    try:
        results = translation_example["main"]([*argv, "--max-updates", str(updates), "--output-dir", str(output)])
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert results["updates"] == updates and results["mixed_precision_policy"] == "mixed_float16"
    assert results["paper_preset"] == DE_EN and results["loss"] == "conservative_encouraging:0.5"
    assert results["checkpoints"]["monitor"] == "val_bleu" and results["saved_weights"] == "averaged"
    assert {"bleu_final", "bleu_best", "bleu_averaged"} <= set(results) and results["bleu"] == results["bleu_averaged"]
    assert results["overrides"] == {"layers": 1, "model_dim": 16, "feedforward_dim": 32, "max_tokens": 64,
                                    "average_last": 2, "max_updates": updates}  # fmt: skip
    saved = json.loads((output / "results.json").read_text())
    assert saved["loss_config"]["label_smoothing"] == 0.1 and saved["loss_config"]["ignore_class"] == 0
    model = keras.models.load_model(output / "model.keras")
    averaged = [ops.convert_to_numpy(w) for w in model.weights]
    epochs = []
    for path in results["averaged_checkpoints"]:
        model.load_weights(path)
        epochs.append([ops.convert_to_numpy(w) for w in model.weights])
    assert len(epochs) == 2
    for got, first, second in zip(averaged, *epochs):
        np.testing.assert_allclose(got, ((first.astype("float64") + second) / 2).astype(got.dtype), rtol=1e-6)
    assert any(not np.array_equal(a, b) for a, b in zip(*epochs))  # two different epochs were averaged


@pytest.mark.parametrize("name", [DE_EN, FR_EN])
def test_compare_refuses_a_translation_preset_naming_the_example_command(name, capsys):
    from keras_losses_experiments import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.parse(["compare", "--preset", name, "--seeds", "2"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("keras-losses compare: error: --preset: ")
    assert f"`python examples/translation.py --preset {name} --corpus DIR`" in error and "--loss ce" in error
