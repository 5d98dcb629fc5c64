"""A translation corpus from the user's own files: fairseq's tokenized, BPE-split text files or a raw TSV.

Two formats, both read into a `TranslationCorpus` (token ids of every split, the vocabularies, BLEU):

- **Parallel text files** as fairseq's `examples/translation/prepare-iwslt14.sh` writes them: `train.<src>`,
  `valid.<src>`, `test.<src>` and the same for `<tgt>`, one sentence a line, already tokenized (Moses) and
  BPE-split (`@@ ` continues a word). The BPE units are the vocabulary, built as `fairseq-preprocess` builds it
  (`Dictionary`: fairseq 0.10's `fairseq/data/dictionary.py`), per language or joint (`--joined-dictionary`);
  every sentence ends with `</s>`. BLEU is fairseq `generate.py --remove-bpe`'s: `@@ ` joined back, then BLEU
  on the tokenized words (`tokenized_bleu`).
- **A raw TSV** (`source<TAB>target` a line) in `train.tsv`, `valid.tsv`, `test.tsv`: WordPiece tokenizers trained
  on the training pairs (`data.train_tokenizers`); BLEU is sacrebleu's on the detokenized text.

Token ids. `Dictionary` numbers symbols as fairseq does (`<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3, then the
units by descending count). Keras' embeddings mask id 0, so the ids a `TranslationCorpus` holds (those the model
sees) exchange `<s>` and `<pad>` (`model_ids`): `<pad>` is 0 (`data.PAD_ID`), `</s>` is 2 (fairseq's
decoder starts with `</s>`: `data.START_ID`), `<unk>` 3, every unit its fairseq id. `<s>` is never
used by fairseq's translation task, so the exchange is a relabelling that changes no computation.
"""

import collections
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "valid", "test")
BOS, PAD, EOS, UNK = "<s>", "<pad>", "</s>", "<unk>"
_SPACE = re.compile(r"\s+")  # fairseq/tokenizer.py: SPACE_NORMALIZER


def tokenize_line(line):
    """fairseq's `tokenize_line`: the words of a line, split on runs of white space."""
    return _SPACE.sub(" ", line).strip().split()


class Dictionary:
    """fairseq's `Dictionary` (fairseq 0.10, `fairseq/data/dictionary.py`) as `fairseq-preprocess` builds it.

    Symbols `<s>`, `<pad>`, `</s>`, `<unk>` (ids 0-3), then every unit of the training text by descending count,
    ties in code-point order of the symbol (`finalize`: `Counter(dict(sorted(...))).most_common`), units seen
    fewer than `threshold` times left out (fairseq's `--thresholdsrc/--thresholdtgt`, default 0: all kept), at
    most `nwords` symbols in all (`--nwordssrc/--nwordstgt`, -1: no limit), then `madeupword0000`, ... until the
    size is a multiple of `padding_factor` (`--padding-factor`, default 8).
    """

    def __init__(self, symbols=(BOS, PAD, EOS, UNK), counts=None):
        self.symbols = list(symbols)
        self.counts = list(counts) if counts is not None else [1] * len(self.symbols)
        self.indices = {symbol: i for i, symbol in enumerate(self.symbols)}

    bos, pad, eos, unk = 0, 1, 2, 3
    nspecial = 4

    @classmethod
    def build(cls, files, threshold=0, nwords=-1, padding_factor=8):
        """The dictionary of text `files` (read in full; `</s>` counted once a line, as fairseq counts it)."""
        counter = collections.Counter()
        for path in files:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    counter.update(tokenize_line(line))
                    counter[EOS] += 1
        specials = [BOS, PAD, EOS, UNK]
        counts = [1, 1, 1 + counter.pop(EOS, 0), 1]  # fairseq's add_symbol: each special starts at 1
        for special in (BOS, PAD, UNK):
            counts[specials.index(special)] += counter.pop(special, 0)
        if nwords <= 0:
            nwords = len(specials) + len(counter)
        ranked = collections.Counter(dict(sorted(counter.items()))).most_common(nwords - len(specials))
        kept = list(itertools.takewhile(lambda symbol_count: symbol_count[1] >= threshold, ranked))
        symbols = specials + [symbol for symbol, _ in kept]
        counts += [count for _, count in kept]
        i = 0
        while padding_factor > 1 and len(symbols) % padding_factor:
            symbols.append(f"madeupword{i:04d}")
            counts.append(0)
            i += 1
        return cls(symbols, counts)

    @classmethod
    def load(cls, path):
        """A `dict.<lang>.txt` of `fairseq-preprocess` (`<symbol> <count>` a line, the special symbols left out)."""
        dictionary = cls()
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            symbol, _, count = line.rstrip().rpartition(" ")
            if not symbol or not count.isdigit() or symbol in dictionary.indices:
                raise ValueError(f"{path}:{number}: expected '<symbol> <count>' with a new symbol, got {line!r}")
            dictionary.indices[symbol] = len(dictionary.symbols)
            dictionary.symbols.append(symbol)
            dictionary.counts.append(int(count))
        return dictionary

    def save(self, path):
        """`dict.<lang>.txt` as `fairseq-preprocess` writes it."""
        lines = [f"{s} {c}\n" for s, c in zip(self.symbols[self.nspecial :], self.counts[self.nspecial :])]
        Path(path).write_text("".join(lines), encoding="utf-8")

    def __len__(self):
        return len(self.symbols)

    def encode(self, line):
        """fairseq's `encode_line(line, add_if_not_exist=False)`: the ids of the words, `</s>` appended."""
        return np.array([self.indices.get(w, self.unk) for w in tokenize_line(line)] + [self.eos], np.int32)

    def string(self, ids, bpe_symbol=None, escape_unk=False, unk_string=None):
        """fairseq's `Dictionary.string`: the words of `ids` (`</s>` and `<s>` left out), `<unk>` written
        `unk_string` if given, else `<<unk>>` if `escape_unk`, BPE removed (`remove_bpe`)."""
        unk = unk_string if unk_string is not None else f"<{UNK}>" if escape_unk else UNK
        words = (unk if i == self.unk else self.symbols[i] for i in map(int, ids) if i not in (self.eos, self.bos))
        return remove_bpe(" ".join(words), bpe_symbol)


def remove_bpe(sentence, symbol="@@ "):
    """fairseq's `data_utils.post_process`: `"@@ "` (`--remove-bpe`) deleted, or `"sentencepiece"`'s `▁` word
    starts (`--remove-bpe sentencepiece`, the paper's Fr-En) turned into spaces; None: unchanged."""
    if symbol == "sentencepiece":
        return sentence.replace(" ", "").replace("\u2581", " ").strip()
    if symbol is None or symbol == "none":
        return sentence
    return (sentence + " ").replace(symbol, "").rstrip()


def model_ids(fairseq_ids):
    """fairseq ids as the model sees them: `<s>` (0) and `<pad>` (1) exchanged (see the module)."""
    ids = np.asarray(fairseq_ids, np.int32)
    return np.where(ids == Dictionary.bos, Dictionary.pad, np.where(ids == Dictionary.pad, Dictionary.bos, ids))


def tokenized_bleu(hypotheses, references):
    """Corpus BLEU (0-100) of tokenized sentences as fairseq `generate.py` reports it (`fairseq/scoring/bleu.py`
    `Scorer`, `libbleu.cpp`): words split on white space, n-grams up to 4 clipped by the reference's counts, no
    smoothing, brevity penalty `min(1, exp(1 - reference length / hypothesis length))`. That is sacrebleu's
    corpus BLEU with `tokenize="none"`, `smooth_method="none"`. (libbleu counts an empty hypothesis as one
    word, its `</s>`; sacrebleu as none: beam search with fairseq's `min_len=1` never gives one.)"""
    import sacrebleu

    return float(
        sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="none", smooth_method="none").score
    )


def _sentence(ids, end_id, pad_id=0):
    """The ids of a generated sentence (after its start token) up to its first `end_id`, padding left out."""
    ids = [int(i) for i in ids]
    return [i for i in ids[: ids.index(end_id) if end_id in ids else len(ids)] if i != pad_id]


def _lines(path):
    """The lines of a text file; one-line errors for a missing file or an empty line."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"translation corpus: {path} is missing")
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise ValueError(f"translation corpus: {path}:{number}: empty line")
    return lines


@dataclass
class TranslationCorpus:
    """Token ids of the splits (`splits[name] = (sources, targets)`, lists of int32 arrays ending with the end
    id), as the model sees them (`pad_id` 0); the vocabulary sizes; the references and BLEU of a split."""

    splits: dict
    source_vocabulary_size: int
    target_vocabulary_size: int
    pad_id: int
    start_id: int  # the decoder's first input token
    end_id: int  # the last token of every sentence
    detokenize: object  # a generated sentence's model ids, after the start token -> the text BLEU compares
    reference_text: dict  # split -> the references as BLEU compares them
    bleu: object  # (hypotheses, references) -> BLEU
    target_dictionary: object = None  # parallel files: the target side's `Dictionary` (fairseq's --eval-bleu)

    def references(self, split):
        return self.reference_text[split]


def read_parallel_files(directory, source_language, target_language, joined_dictionary=False, bpe_symbol="@@ "):
    """The corpus of `directory/{train,valid,test}.{source_language,target_language}` (prepare-iwslt14.sh's
    output), dictionaries as `fairseq-preprocess` builds them (joint over both training files with
    `joined_dictionary`, fairseq's `--joined-dictionary`). References are the test targets through the target
    dictionary (an unknown unit written `<<unk>>`: it matches nothing) with `bpe_symbol` removed, as fairseq's
    `generate.py --remove-bpe` writes them."""
    directory = Path(directory)
    paths = {
        (split, lang): directory / f"{split}.{lang}" for split in SPLITS for lang in (source_language, target_language)
    }
    text = {key: _lines(path) for key, path in paths.items()}
    for split in SPLITS:
        source, target = (paths[split, lang] for lang in (source_language, target_language))
        if len(text[split, source_language]) != len(text[split, target_language]):
            raise ValueError(
                f"translation corpus: {source} has {len(text[split, source_language])} lines, {target} has "
                f"{len(text[split, target_language])}: the sides of a split must be line by line translations"
            )
    train = [paths["train", lang] for lang in (source_language, target_language)]
    if joined_dictionary:
        source_dictionary = target_dictionary = Dictionary.build(train)
    else:
        source_dictionary, target_dictionary = Dictionary.build(train[:1]), Dictionary.build(train[1:])
    splits = {
        split: (
            [model_ids(source_dictionary.encode(line)) for line in text[split, source_language]],
            [model_ids(target_dictionary.encode(line)) for line in text[split, target_language]],
        )
        for split in SPLITS
    }
    references = {
        split: [target_dictionary.string(model_ids(ids), bpe_symbol, escape_unk=True) for ids in splits[split][1]]
        for split in SPLITS
    }
    return TranslationCorpus(
        splits,
        len(source_dictionary),
        len(target_dictionary),
        pad_id=Dictionary.bos,  # `<pad>`'s model id
        start_id=Dictionary.eos,
        end_id=Dictionary.eos,
        detokenize=lambda ids: target_dictionary.string(model_ids(_sentence(ids, Dictionary.eos)), bpe_symbol),
        reference_text=references,
        bleu=tokenized_bleu,
        target_dictionary=target_dictionary,
    )


def read_tsv(directory, vocabulary_size, vocabulary_directory):
    """The corpus of `directory/{train,valid,test}.tsv` (`source<TAB>target` a line), with WordPiece
    tokenizers of `vocabulary_size` trained on the training pairs and saved in `vocabulary_directory`
    (`data.train_tokenizers`); BLEU is sacrebleu's on the detokenized text (`bleu.bleu`)."""
    import tensorflow as tf

    from keras_losses_experiments.translation import bleu, data

    pairs = {}
    for split in SPLITS:
        path = Path(directory) / f"{split}.tsv"
        pairs[split] = []
        for number, line in enumerate(_lines(path), start=1):
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
                raise ValueError(f"translation corpus: {path}:{number}: expected 'source<TAB>target', got {line!r}")
            pairs[split].append(tuple(fields))
    sources, targets = zip(*pairs["train"])
    tokenizers = data.train_tokenizers(
        tf.data.Dataset.from_tensor_slices((list(sources), list(targets))), vocabulary_size, vocabulary_directory
    )
    end = np.array([data.END_ID], np.int32)

    def encode(tokenizer, sentences):
        return [np.concatenate([np.asarray(ids, np.int32), end]) for ids in tokenizer(list(sentences))]

    def detokenize(ids):
        ids = [i for i in _sentence(ids, data.END_ID) if i != data.START_ID]
        text = tokenizers[1].detokenize(ids) if ids else ""
        return text.numpy().decode("utf-8") if hasattr(text, "numpy") else str(text)

    splits = {
        split: tuple(encode(tokenizer, side) for tokenizer, side in zip(tokenizers, zip(*pairs[split])))
        for split in SPLITS
    }
    return TranslationCorpus(
        splits,
        int(tokenizers[0].vocabulary_size()),
        int(tokenizers[1].vocabulary_size()),
        pad_id=data.PAD_ID,
        start_id=data.START_ID,
        end_id=data.END_ID,
        detokenize=detokenize,
        reference_text={split: [target for _, target in pairs[split]] for split in SPLITS},
        bleu=bleu.bleu,
    )
