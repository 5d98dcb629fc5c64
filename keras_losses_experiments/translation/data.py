"""Translation data: sentence pairs from tensorflow-datasets, WordPiece tokenizers, padded token batches.

The token ids every part of the translator agrees on: `PAD_ID` (padding: masked in attention, ignored by the
loss and the metrics), `START_ID` and `END_ID`. This module imports only the standard library at import time
(`keras-losses --help` reads `TRANSLATION_DATASETS`); tensorflow-datasets, TensorFlow and keras-hub are
imported where they are used.
"""

from pathlib import Path

TRANSLATION_DATASETS = ("ted_hrlr_translate/pt_to_en", "wmt14_translate/de-en")
RESERVED_TOKENS = ["[PAD]", "[UNK]", "[START]", "[END]"]
PAD_ID, START_ID, END_ID = 0, 2, 3
SEQUENCE_LENGTH = 64  # tokens per sentence, the examples' default
VOCABULARY_FILES = ("source_vocabulary.txt", "target_vocabulary.txt")


def load_pairs(name, mock_data=None):
    """(train, test) datasets of (source, target) sentences from tensorflow-datasets; `mock_data`: that many
    random pairs per split, offline."""
    import contextlib

    import tensorflow_datasets as tfds

    if name not in TRANSLATION_DATASETS:
        raise ValueError(f"unknown translation dataset {name!r}; expected one of: {', '.join(TRANSLATION_DATASETS)}")
    mocking = tfds.testing.mock_data(num_examples=mock_data) if mock_data else contextlib.nullcontext()
    with mocking:
        train, test = tfds.load(name, split=["train", "test"], as_supervised=True)
    return train, test


def sentence_pairs(pairs, count=None):
    """The first `count` (all by default) (source, target) pairs of a dataset, as str."""
    pairs = pairs.take(-1 if count is None else count)
    return [(s.numpy().decode("utf-8"), t.numpy().decode("utf-8")) for s, t in pairs]


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
    as `VOCABULARY_FILES` (`source_vocabulary.txt`, `target_vocabulary.txt`)."""
    source_file, target_file = (Path(directory) / name for name in VOCABULARY_FILES)
    source = train_tokenizer(pairs.map(lambda s, t: s), vocabulary_size, source_file)
    target = train_tokenizer(pairs.map(lambda s, t: t), vocabulary_size, target_file)
    return source, target


def load_tokenizer(path):
    """The WordPiece tokenizer of a vocabulary file written by `train_tokenizer`."""
    import keras_hub

    vocabulary = Path(path).read_text(encoding="utf-8").splitlines()
    return keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=True, oov_token="[UNK]")


def load_tokenizers(directory):
    """The source and target tokenizers saved in `directory` by `train_tokenizers`."""
    return tuple(load_tokenizer(Path(directory) / name) for name in VOCABULARY_FILES)


def source_packer(sequence_length):
    """Token ids of a source sentence, cut or padded with `PAD_ID` to `sequence_length`."""
    import keras_hub

    return keras_hub.layers.StartEndPacker(sequence_length=sequence_length, pad_value=PAD_ID)


def make_batches(pairs, source_tokenizer, target_tokenizer, sequence_length, batch_size, shuffle_seed=None):
    """Batches of ({"encoder_inputs", "decoder_inputs"}, next-token labels), padded with `PAD_ID` to
    `sequence_length`; the target sentence starts with `START_ID` and ends with `END_ID`."""
    import keras_hub
    import tensorflow as tf

    pack_source = source_packer(sequence_length)
    pack_target = keras_hub.layers.StartEndPacker(
        sequence_length=sequence_length + 1, start_value=START_ID, end_value=END_ID, pad_value=PAD_ID
    )

    def preprocess(source, target):
        source = pack_source(source_tokenizer(source))
        target = pack_target(target_tokenizer(target))
        return {"encoder_inputs": source, "decoder_inputs": target[:, :-1]}, target[:, 1:]

    if shuffle_seed is not None:  # the same order however often the batches are iterated
        pairs = pairs.shuffle(10_000, seed=shuffle_seed, reshuffle_each_iteration=False)
    return pairs.batch(batch_size).map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
