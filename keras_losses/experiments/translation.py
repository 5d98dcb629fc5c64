"""Machine translation with a keras-hub encoder-decoder transformer: data, WordPiece tokenizers, the model,
greedy and beam-search decoding. The presets (architecture, recipe, loss defaults) are in `recipes`."""

from pathlib import Path

import keras
from keras import ops

from keras_losses.experiments import loss_specs, recipes
from keras_losses.experiments.recipes import PRESETS  # noqa: F401  (read here by `keras-losses compare`)
from keras_losses.metrics import MaskedTokenAccuracy

TRANSLATION_DATASETS = ("ted_hrlr_translate/pt_to_en", "wmt14_translate/de-en")
RESERVED_TOKENS = ["[PAD]", "[UNK]", "[START]", "[END]"]
PAD_ID, START_ID, END_ID = 0, 2, 3
SEQUENCE_LENGTH = 64  # tokens per sentence, the examples' default


def load_pairs(name, mock_data=None):
    """(train, test) datasets of (source, target) sentences from tensorflow-datasets."""
    import contextlib

    import tensorflow_datasets as tfds

    if name not in TRANSLATION_DATASETS:
        raise ValueError(f"unknown translation dataset {name!r}; expected one of: {', '.join(TRANSLATION_DATASETS)}")
    mocking = tfds.testing.mock_data(num_examples=mock_data) if mock_data else contextlib.nullcontext()
    with mocking:
        train, test = tfds.load(name, split=["train", "test"], as_supervised=True)
    return train, test


def train_tokenizer(sentences, vocabulary_size, path):
    """A lowercasing WordPiece tokenizer trained on `sentences` (a dataset of strings); vocabulary saved to `path`."""
    import keras_hub

    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        sentences.batch(1000).prefetch(2),
        vocabulary_size=vocabulary_size,
        reserved_tokens=RESERVED_TOKENS,
        lowercase=True,
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    return load_tokenizer(path)


def train_tokenizers(pairs, vocabulary_size, directory):
    """Source and target tokenizers trained on a dataset of (source, target) sentences, saved in `directory`
    as `source_vocabulary.txt` and `target_vocabulary.txt`."""
    directory = Path(directory)
    source = train_tokenizer(pairs.map(lambda s, t: s), vocabulary_size, directory / "source_vocabulary.txt")
    target = train_tokenizer(pairs.map(lambda s, t: t), vocabulary_size, directory / "target_vocabulary.txt")
    return source, target


def sentence_pairs(pairs, count=None):
    """The first `count` (all by default) (source, target) pairs of a dataset, as str."""
    return [(s.numpy().decode("utf-8"), t.numpy().decode("utf-8")) for s, t in pairs.take(-1 if count is None else count)]


def load_tokenizer(path):
    import keras_hub

    vocabulary = Path(path).read_text(encoding="utf-8").splitlines()
    return keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=True, oov_token="[UNK]")


def make_batches(pairs, source_tokenizer, target_tokenizer, sequence_length, batch_size, shuffle_seed=None):
    """Batches of ({"encoder_inputs", "decoder_inputs"}, next-token labels), padded with 0 to `sequence_length`."""
    import keras_hub
    import tensorflow as tf

    source_packer = keras_hub.layers.StartEndPacker(sequence_length=sequence_length, pad_value=PAD_ID)
    target_packer = keras_hub.layers.StartEndPacker(
        sequence_length=sequence_length + 1, start_value=START_ID, end_value=END_ID, pad_value=PAD_ID
    )

    def preprocess(source, target):
        source = source_packer(source_tokenizer(source))
        target = target_packer(target_tokenizer(target))
        return {"encoder_inputs": source, "decoder_inputs": target[:, :-1]}, target[:, 1:]

    if shuffle_seed is not None:
        pairs = pairs.shuffle(10_000, seed=shuffle_seed)
    return pairs.batch(batch_size).map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def build_transformer(source_vocabulary, target_vocabulary, sequence_length, preset):
    """Encoder-decoder transformer from keras-hub layers; embeddings mask padding (id 0) throughout."""
    import keras_hub

    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        source_vocabulary, sequence_length, preset.model_dim, mask_zero=True, name="source_embedding"
    )(encoder_inputs)
    for i in range(preset.layers):
        x = keras_hub.layers.TransformerEncoder(preset.feedforward_dim, preset.heads, preset.dropout, name=f"encoder_{i}")(x)
    y = keras_hub.layers.TokenAndPositionEmbedding(
        target_vocabulary, sequence_length, preset.model_dim, mask_zero=True, name="target_embedding"
    )(decoder_inputs)
    for i in range(preset.layers):
        y = keras_hub.layers.TransformerDecoder(preset.feedforward_dim, preset.heads, preset.dropout, name=f"decoder_{i}")(y, x)
    logits = keras.layers.Dense(target_vocabulary, dtype="float32", name="logits")(keras.layers.Dropout(preset.dropout)(y))
    return keras.Model([encoder_inputs, decoder_inputs], logits, name="translator")


def compiled_translator(spec, source_tokenizer, target_tokenizer, sequence_length, preset, label_smoothing=None,
                        optimizer=None, steps_per_execution=1):
    """`build_transformer` of `preset` (a `recipes.TranslationPreset`) compiled with the loss `spec` (padding
    ignored; `label_smoothing` defaults to the preset's), `optimizer` (default: the preset's recipe, whose
    inverse-square-root schedule does not depend on the epoch length) and token accuracy.

    Call it inside the strategy's scope.
    """
    vocabulary = target_tokenizer.vocabulary_size()
    model = build_transformer(source_tokenizer.vocabulary_size(), vocabulary, sequence_length, preset)
    label_smoothing = preset.label_smoothing if label_smoothing is None else label_smoothing
    model.compile(
        optimizer=optimizer or recipes.make_optimizer(preset.recipe, steps_per_epoch=1),
        loss=loss_specs.build_loss(spec, vocabulary, label_smoothing, ignore_class=PAD_ID),
        metrics=[MaskedTokenAccuracy(ignore_class=PAD_ID)],
        steps_per_execution=steps_per_execution,
    )
    return model


def translate(model, source_tokenizer, target_tokenizer, sentences, sequence_length, beams=1, batch_size=64):
    """Translates `sentences` (a list of str) greedily (`beams=1`) or by beam search; returns strings."""
    import keras_hub
    import numpy as np

    packer = keras_hub.layers.StartEndPacker(sequence_length=sequence_length, pad_value=PAD_ID)
    sampler = keras_hub.samplers.GreedySampler() if beams == 1 else keras_hub.samplers.BeamSampler(num_beams=beams)
    outputs = []
    for begin in range(0, len(sentences), batch_size):
        batch = sentences[begin : begin + batch_size]
        encoder_tokens = ops.convert_to_tensor(packer(source_tokenizer(batch)))
        # The beam sampler flattens (sentence, beam) into the batch axis, beams of a sentence adjacent.
        context = ops.repeat(encoder_tokens, beams, axis=0) if beams > 1 else encoder_tokens

        def next_token_logits(prompt, cache, index, context=context):
            return model([context, prompt])[:, index - 1, :], None, cache

        prompt = np.zeros((len(batch), sequence_length), "int32")
        prompt[:, 0] = START_ID
        generated = ops.convert_to_numpy(
            sampler(next_token_logits, ops.convert_to_tensor(prompt), stop_token_ids=[END_ID], index=1)
        )
        for row in generated:
            tokens = [int(t) for t in row[1:]]
            tokens = tokens[: tokens.index(END_ID)] if END_ID in tokens else tokens
            tokens = [t for t in tokens if t not in (PAD_ID, START_ID)]
            text = target_tokenizer.detokenize(tokens) if tokens else ""
            outputs.append(text.numpy().decode("utf-8") if hasattr(text, "numpy") else str(text))
    return outputs
