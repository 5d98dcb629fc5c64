"""Batches of sentence pairs by a token budget (fairseq's `--max-tokens`), in fairseq's order, as tf.data.

fairseq 0.10 (the paper's fork), `fairseq_cli/train.py` -> `FairseqTask.get_batch_iterator`:

1. **Order** (`LanguagePairDataset.ordered_indices`): a random permutation of the sentences
   (`np.random.permutation` seeded with the run's `--seed`), stably sorted by target length, then stably by
   source length (lengths count the `</s>` every sentence ends with).
2. **Too long** (`filter_indices_by_size`): pairs with a side longer than `max_positions` are left out of
   training.
3. **Batches** (`data_utils_fast.pyx` `batch_by_size_fast`): sentences taken in that order; a sentence's size is
   `max(source length, target length)` (`num_tokens`); a batch is closed when one more sentence would make
   `sentences x largest size` exceed `max_tokens`, keeping a multiple of `required_batch_size_multiple` (8,
   fairseq's default) sentences and starting the next batch with the rest. The batches are made once.
4. **Epochs** (`iterators.EpochBatchIterator`): epoch `e` (from 1) visits the batches in the order
   `np.random.shuffle` gives with seed `seed + e`: a function of (seed, epoch) alone, as an exact resume needs.

A batch's padded size (sentences x largest size) is at most `max_tokens` whenever 8 of the longest sentences fit
in it (`max_tokens >= required_batch_size_multiple x` the longest size; IWSLT'14: 4096 against at most
about 8 x 250): fairseq's rule may otherwise carry up to 7 sentences into a batch it does not check again.

The tensors: sources and targets right-padded with `pad_id` (fairseq left-pads the source, but its positions
count only real tokens, so the model computes the same; keras-hub's position embedding counts from the first
column); the decoder's input is `start_id` then the target but its last token; the labels are the target.
"""

from dataclasses import dataclass

import numpy as np

REQUIRED_BATCH_SIZE_MULTIPLE = 8  # fairseq 0.10, fairseq/dataclass/data_class.py: required_batch_size_multiple
MAX_POSITIONS = 1024  # transformer_iwslt_de_en's max_source_positions and max_target_positions


def ordered_indices(source_lengths, target_lengths, seed):
    """fairseq's training order: a permutation seeded by `seed`, stably sorted by target then source length."""
    with_seed = np.random.RandomState(seed)  # `data_utils.numpy_seed(seed)` seeds NumPy's global RandomState
    indices = with_seed.permutation(len(source_lengths)).astype(np.int64)
    indices = indices[np.argsort(np.asarray(target_lengths)[indices], kind="mergesort")]
    return indices[np.argsort(np.asarray(source_lengths)[indices], kind="mergesort")]


def batch_by_size(indices, num_tokens, max_tokens, required_batch_size_multiple=REQUIRED_BATCH_SIZE_MULTIPLE):
    """fairseq's `batch_by_size_fast` (no sentence limit): lists of indices; `num_tokens[i]` is sentence i's size."""
    batches, batch, sizes, largest = [], [], [], 0
    for index in indices:
        size = int(num_tokens[index])
        if size > max_tokens:
            raise ValueError(f"sentence {index} has {size} tokens, more than max_tokens={max_tokens}")
        sizes.append(size)
        largest = max(largest, size)
        if batch and (len(batch) + 1) * largest > max_tokens:
            keep = max(required_batch_size_multiple * (len(batch) // required_batch_size_multiple),
                       len(batch) % required_batch_size_multiple)  # fmt: skip
            batches.append(batch[:keep])
            batch, sizes = batch[keep:], sizes[keep:]
            largest = max(sizes)
        batch.append(int(index))
    if batch:
        batches.append(batch)
    return batches


@dataclass
class TokenBatches:
    """The batches of a training split: `epoch_batches(epoch)` is one pass (a `tf.data.Dataset` of
    `({"encoder_inputs", "decoder_inputs"}, labels)`), `tokens(epoch)` the number of target tokens (padding
    left out: fairseq's `ntokens`, by which its losses are normalised) of each of its batches, in order."""

    sources: list  # int32 arrays, each ending with the end id
    targets: list
    batches: list  # lists of sentence indices, fairseq's frozen batches (length order)
    skipped: list  # indices of pairs longer than max_positions, left out
    seed: int
    pad_id: int
    start_id: int

    @classmethod
    def of(
        cls,
        sources,
        targets,
        max_tokens,
        seed,
        pad_id,
        start_id,
        max_positions=MAX_POSITIONS,
        required_batch_size_multiple=REQUIRED_BATCH_SIZE_MULTIPLE,
    ):
        """The batches of (source, target) id arrays as fairseq makes them (see the module)."""
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"`max_tokens` must be an integer >= 1. Received: max_tokens={max_tokens!r}")
        if len(sources) != len(targets) or not sources:
            raise ValueError(f"expected as many sources as targets, at least one: {len(sources)} and {len(targets)}")
        source_lengths = np.array([len(s) for s in sources])
        target_lengths = np.array([len(t) for t in targets])
        indices = ordered_indices(source_lengths, target_lengths, seed)
        too_long = (source_lengths[indices] > max_positions) | (target_lengths[indices] > max_positions)
        num_tokens = np.maximum(source_lengths, target_lengths)
        batches = batch_by_size(indices[~too_long], num_tokens, max_tokens, required_batch_size_multiple)
        return cls(list(sources), list(targets), batches, sorted(indices[too_long].tolist()), seed, pad_id, start_id)

    def epoch_order(self, epoch):
        """The batches of `epoch` (from 1) in fairseq's order: shuffled with seed `seed + epoch`."""
        batches = list(self.batches)
        np.random.RandomState(self.seed + epoch).shuffle(batches)
        return batches

    def tokens(self, epoch):
        """The target tokens (padding left out) of each batch of `epoch`, in its order."""
        return [sum(len(self.targets[i]) for i in batch) for batch in self.epoch_order(epoch)]

    def epoch_batches(self, data_epoch):
        """One pass: the padded batches of fairseq's epoch `data_epoch + 1` (`resume.stream` counts from 0)."""
        import tensorflow as tf

        def ragged(rows):
            return tf.RaggedTensor.from_row_lengths(np.concatenate(rows), [len(r) for r in rows])

        sources, targets = ragged(self.sources), ragged(self.targets)
        order = self.epoch_order(data_epoch + 1)
        batches = tf.RaggedTensor.from_row_lengths(np.concatenate(order).astype(np.int64), [len(b) for b in order])

        def pad(indices):
            source, target = tf.gather(sources, indices), tf.gather(targets, indices)
            start = tf.fill([tf.shape(indices)[0], 1], tf.constant(self.start_id, target.dtype))
            decoder = tf.concat([start, target[:, :-1]], axis=1)
            return (
                {"encoder_inputs": source.to_tensor(self.pad_id), "decoder_inputs": decoder.to_tensor(self.pad_id)},
                target.to_tensor(self.pad_id),
            )

        return tf.data.Dataset.from_tensor_slices(batches).map(pad).prefetch(tf.data.AUTOTUNE)
