"""Training on a corpus of the user's files as fairseq 0.10's `train.py` and `generate.py` do (`--corpus`).

The pieces `examples/translation.py --corpus DIR` puts together, each fairseq's:

- `load_corpus`: parallel files of prepare-iwslt14.sh (`corpus.read_parallel_files`) or a TSV folder;
- `update_optimizer`: the recipe's Adam (decoupled weight decay `p -= lr * wd * p` inside the update, as
  fairseq's `optim/adam.py:213-216` and Keras' `weight_decay`; epsilon added to `sqrt(v)` before the bias
  correction's step size, fairseq's `:205-211` and Keras' `Adam.update_step`) updating every `update_freq`
  batches (`accumulation.accumulating`; the schedule and Adam's step count updates), wrapped for float16
  loss scaling last;
- `training_batches`: batches of at most `max_tokens` tokens (`batching.TokenBatches`), each weighted by its
  share of its update's tokens (`accumulation.weight_by_token_share`);
- `StopAtUpdates`: `--max-update`, the training stopped after that many updates, mid-epoch if need be (fairseq
  then validates but writes no epoch checkpoint: `remove_partial_epoch` takes it out of the average);
- `ValidationBleu`: `--eval-bleu` after every epoch on the validation split (fairseq's `val_bleu`);
- `translate`: fairseq's beam search (`beam_search.FairseqBeamSearch`) over batches, with `max_len_a`,
  `max_len_b` per batch.
"""

import math
import os
from dataclasses import dataclass

import keras
import numpy as np

from keras_losses_experiments.translation import batching, beam_search, corpus
from keras_losses_experiments.translation.decoding import CachedDecoder

BPE_SYMBOLS = {"subword_nmt": "@@ ", "sentencepiece": "sentencepiece"}
VALIDATION_BPE = "@@ "  # --eval-bleu-remove-bpe without a value (tasks/translation.py:229): what both scripts pass
TEST_BATCH = 128  # generate.py --batch-size 128 (translation/readme.sh:63)
WIDTH_MULTIPLE = 16  # decoding shapes rounded up: fewer compilations, the same tokens (padding is masked)


@dataclass(frozen=True)
class Vocabulary:
    """A vocabulary's size, as `model.compiled_translator` asks a tokenizer for it."""

    size: int

    def vocabulary_size(self):
        return self.size


def load_corpus(directory, source_lang, target_lang, joined_dictionary, bpe, vocabulary_size, vocabulary_dir):
    """The `TranslationCorpus` of `directory`: `train.<source_lang>` ... (parallel files) or `train.tsv` ...
    Raises `ValueError` naming what is missing."""
    if source_lang and target_lang and os.path.exists(os.path.join(directory, f"train.{source_lang}")):
        return corpus.read_parallel_files(
            directory, source_lang, target_lang, joined_dictionary, BPE_SYMBOLS[bpe or "subword_nmt"]
        )
    if os.path.exists(os.path.join(directory, "train.tsv")):
        if bpe or joined_dictionary:
            raise ValueError("a TSV corpus gets our WordPiece tokenizers: --bpe, --joined-dictionary: files only")
        return corpus.read_tsv(directory, vocabulary_size, vocabulary_dir)
    wanted = (
        f"train.{source_lang}" if source_lang and target_lang else "--source-lang and --target-lang with train.<lang>"
    )
    raise ValueError(f"{directory} has neither {wanted} (prepare-iwslt14.sh's files) nor train.tsv")


def update_optimizer(optimizer, update_freq):
    """`optimizer` (from `make_optimizer`, maybe in a `LossScaleOptimizer`) updating every `update_freq` batches."""
    from keras_losses_experiments.training.accumulation import accumulating

    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(accumulating(optimizer.inner_optimizer, update_freq))
    return accumulating(optimizer, update_freq)


def training_batches(token_batches, update_freq, pad_id):
    """`epoch_batches(data_epoch)` for `resume.stream`: fairseq's batches of the epoch, weighted by token share."""
    from keras_losses_experiments.training.accumulation import weight_by_token_share

    return lambda data_epoch: weight_by_token_share(token_batches.epoch_batches(data_epoch), update_freq, pad_id)


def updates_per_epoch(token_batches, update_freq):
    return -(-len(token_batches.batches) // update_freq)


def epochs_for(max_updates, token_batches, update_freq):
    """The epochs `fit` is given to reach `max_updates`: twice those of as many updates, as updates skipped for
    non-finite float16 gradients do not count (fairseq's neither); `StopAtUpdates` ends training."""
    return 2 * math.ceil(max_updates / updates_per_epoch(token_batches, update_freq))


class StopAtUpdates(keras.callbacks.Callback):
    """Stops training once the optimizer has made `max_updates` updates (fairseq's `--max-update`).
    `partial_epoch` is the epoch (from 1) it stopped in before its end, or None."""

    def __init__(self, max_updates):
        super().__init__()
        self.max_updates, self.partial_epoch, self._batches = max_updates, None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches = batch + 1
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) >= self.max_updates:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and self._batches < (self.params or {}).get("steps", self._batches):
            self.partial_epoch = epoch + 1


def remove_partial_epoch(directory, stopper):
    """fairseq writes no epoch checkpoint when `--max-update` ends an epoch early: neither is it averaged."""
    from keras_losses_experiments.training.checkpoints import epoch_checkpoint_path

    if stopper is not None and stopper.partial_epoch is not None:
        path = epoch_checkpoint_path(directory, stopper.partial_epoch)
        if os.path.exists(path):
            os.remove(path)


def _padded(rows, pad_id, width, count):
    out = np.full((count, width), pad_id, np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def generator(model, search):
    """The compiled beam search of `model` (it reads the model's weights as they are when called)."""
    return CachedDecoder(model, search=search).compiled()


def translate(generate, sources, batches, max_len_a, max_len_b, max_positions, pad_id):
    """{sentence index: the generated ids after the start token} for the sentences of `batches` (lists of
    indices of `sources`), each batch decoded by `generate` (`generator`) with fairseq's `max_len` of the batch."""
    translations = {}
    for batch in batches:
        rows = [sources[i] for i in batch]
        source_width = max(len(row) for row in rows)
        max_len = beam_search.max_lengths(
            _padded(rows, pad_id, source_width, len(rows)), pad_id, max_len_a, max_len_b, max_positions
        )
        needed = max(source_width, int(max_len[0]) + 1)
        width = min(-(-needed // WIDTH_MULTIPLE) * WIDTH_MULTIPLE, max(needed, max_positions))
        count = -(-len(rows) // 8) * 8  # batch shapes rounded up too; extra rows repeat the first
        tokens = _padded(rows + [rows[0]] * (count - len(rows)), pad_id, width, count)
        lengths = np.full(count, max_len[0], np.int32)
        generated = keras.ops.convert_to_numpy(generate(tokens, lengths))
        for i, index in enumerate(batch):
            translations[index] = generated[i, 1:]
    return translations


def generation_batches(sources, targets):
    """generate.py's batches of the test split: sorted by target then source length (stable), 128 a batch."""
    source_lengths, target_lengths = np.array([len(s) for s in sources]), np.array([len(t) for t in targets])
    order = np.argsort(target_lengths, kind="mergesort")
    order = order[np.argsort(source_lengths[order], kind="mergesort")]
    return [order[i : i + TEST_BATCH].tolist() for i in range(0, len(order), TEST_BATCH)]


def generation_bleu(generate, data, max_len_a, max_len_b, max_positions):
    """generate.py's BLEU of the test split (`--remove-bpe`: the corpus's own BLEU) and the hypotheses."""
    sources, targets = data.splits["test"]
    translations = translate(
        generate, sources, generation_batches(sources, targets), max_len_a, max_len_b, max_positions, data.pad_id
    )
    hypotheses = [data.detokenize(translations[i]) for i in range(len(sources))]
    return data.bleu(hypotheses, data.references("test")), hypotheses


def moses_detokenizer(language):
    """sacremoses' detokenizer for `language` (fairseq's `--eval-bleu-detok moses`); a one-line error without it."""
    try:
        from sacremoses import MosesDetokenizer
    except ImportError:
        raise ImportError(
            "--best-by bleu detokenizes with Moses as fairseq's --eval-bleu-detok moses: pip install sacremoses "
            '(or "keras-losses[translation]")'
        ) from None
    detokenizer = MosesDetokenizer(lang=language)
    return lambda text: detokenizer.detokenize(text.split())


class ValidationBleu(keras.callbacks.Callback):
    """`val_bleu` in the logs after every epoch: fairseq's `--eval-bleu` on the validation split.

    Parallel files: hypotheses and references through the target dictionary with `VALIDATION_BPE` removed
    (unknown units `UNKNOWNTOKENINHYP` / `UNKNOWNTOKENINREF`), Moses-detokenized, then sacrebleu's corpus BLEU
    (13a, exponential smoothing): fairseq's `tasks/translation.py:414-448`. The sentences are decoded in
    fairseq's validation batches (`max_tokens`), each with `max_len = max_len_a x its longest source +
    max_len_b`. A TSV corpus: the corpus's own detokenized BLEU.
    """

    def __init__(self, data, search, max_tokens, seed, max_len_a, max_len_b, max_positions, target_lang=None):
        super().__init__()
        self.data, self.search, self.max_len_a, self.max_len_b = data, search, max_len_a, max_len_b
        self.max_positions, self._generate, self._generate_model = max_positions, None, None
        sources, targets = data.splits["valid"]
        self.batches = batching.TokenBatches.of(
            sources, targets, max_tokens, seed, data.pad_id, data.start_id, max_positions=max_positions
        ).batches
        dictionary = data.target_dictionary
        if dictionary is None:
            self.decode = data.detokenize
            self.references = data.references("valid")
            self.score = data.bleu
            return
        import sacrebleu

        detokenize = moses_detokenizer(target_lang)

        def text(ids, unk_string):
            ids = corpus.model_ids(corpus._sentence(ids, data.end_id, data.pad_id))
            return detokenize(dictionary.string(ids, VALIDATION_BPE, unk_string=unk_string))

        self.decode = lambda ids: text(ids, "UNKNOWNTOKENINHYP")
        self.references = [text(ids, "UNKNOWNTOKENINREF") for ids in targets]
        self.score = lambda hypotheses, references: float(sacrebleu.corpus_bleu(hypotheses, [references]).score)

    def bleu(self, model):
        if self._generate is None or self._generate_model is not model:
            self._generate, self._generate_model = generator(model, self.search), model
        sources = self.data.splits["valid"][0]
        translations = translate(
            self._generate,
            sources,
            self.batches,
            self.max_len_a,
            self.max_len_b,
            self.max_positions,
            self.data.pad_id,
        )
        indices = sorted(translations)
        return self.score([self.decode(translations[i]) for i in indices], [self.references[i] for i in indices])

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["val_bleu"] = self.bleu(self.model)
