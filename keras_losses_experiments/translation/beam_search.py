"""fairseq's beam search (fairseq 0.10, `fairseq/sequence_generator.py` `SequenceGenerator._generate` and
`fairseq/search.py` `BeamSearch.step`), in `keras.ops`, for a decoder that gives next-token logits with a cache.

At step `s` (0, 1, ...; the token written at position `s + 1` after the start token) each live hypothesis
extends by every token; `<pad>` is never chosen, `</s>` not before step `min_len` and nothing but `</s>` from
step `max_len` on. Of the `2 x beams` best extensions by total log-probability, those among the first `beams`
that end with `</s>` are finished (while the sentence has fewer than `beams` finished), with the score
`total log-probability / (s + 1) ** len_penalty` (the length counts the `</s>`); the first `beams` that do not
end with `</s>` live on. A sentence is done once `beams` hypotheses are finished, or at step `max_len`; its
translation is the finished hypothesis of the best score. `max_len` is `max_lengths`: fairseq's
`min(int(max_len_a x source length + max_len_b), max_positions - 1)`, the source length being the batch's
padded width (its longest source, `</s>` included).
"""

import numpy as np
from keras import ops

NEGATIVE_INFINITY = float("-inf")


def max_lengths(source_tokens, pad_id, max_len_a=0.0, max_len_b=200, max_positions=1024):
    """fairseq's `max_len` for each sentence of a batch of sources `[batch, width]` (NumPy): `int(max_len_a x
    src_len + max_len_b)` at most `max_positions - 1`, `src_len` the longest source of the batch (the width
    fairseq's collater pads the batch to). Defaults: `generate.py`'s (`max_len_a` 0, `max_len_b` 200); the
    paper's validation BLEU uses 1.2 and 10."""
    source_tokens = np.asarray(source_tokens)
    source_length = int((source_tokens != pad_id).sum(axis=1).max())
    length = min(int(max_len_a * source_length + max_len_b), max_positions - 1)
    return np.full(len(source_tokens), length, np.int32)


class FairseqBeamSearch:
    """fairseq's beam search (see the module): `beams` (fairseq's `--beam`, 5 in the paper), `len_penalty`
    (`--lenpen`, 1: the score is the mean log-probability per token; 0: the total), `min_len` (1)."""

    def __init__(self, beams=5, len_penalty=1.0, min_len=1, pad_id=0, eos_id=2):
        if not isinstance(beams, int) or beams < 1:
            raise ValueError(f"`beams` must be an integer >= 1. Received: beams={beams!r}")
        self.beams, self.len_penalty, self.min_len, self.pad_id, self.eos_id = (
            beams,
            len_penalty,
            min_len,
            pad_id,
            eos_id,
        )

    def __call__(self, next, prompt, cache, max_lengths):
        """The best finished hypothesis of each sentence, `(tokens [batch, width], score [batch])`.

        `prompt`: `[batch x beams, width]`, the start token then `pad_id`, the beams of a sentence adjacent (rows
        `b x beams` to `b x beams + beams - 1`); `width >= max(max_lengths) + 2`. `next(prompt, cache, index)`
        returns `(logits [batch x beams, vocabulary], _, cache)` for the token at `index` after the token at
        `index - 1`. `cache` (any structure of tensors with the hypotheses first) follows the hypotheses.
        `max_lengths`: `[batch]` integers (`max_lengths(...)`). The tokens: the start token, the hypothesis
        ending with `eos_id`, then `pad_id`.
        """
        k = self.beams
        batch = ops.shape(prompt)[0] // k
        width = ops.shape(prompt)[1]
        row_max_lengths = ops.repeat(ops.cast(max_lengths, "int32"), k, axis=0)
        first_beam = ops.tile(ops.arange(k) == 0, [batch])
        state = {
            "prompt": prompt,
            "cache": cache,
            "step": ops.convert_to_tensor(0, "int32"),
            "scores": ops.where(first_beam, 0.0, NEGATIVE_INFINITY),  # step 0: the first beam alone
            "finished_tokens": ops.full((batch, k, width), self.pad_id, prompt.dtype),
            "finished_scores": ops.full((batch, k), NEGATIVE_INFINITY),
            "finished_count": ops.zeros((batch,), "int32"),
            "done": ops.zeros((batch,), "bool"),
        }
        state = ops.while_loop(
            lambda state: ops.logical_not(ops.all(state["done"])),
            lambda state: self._step(next, state, row_max_lengths, max_lengths),
            (state,),
            maximum_iterations=width - 1,
        )[0]
        best = ops.argmax(state["finished_scores"], axis=1)
        tokens = ops.take_along_axis(state["finished_tokens"], best[:, None, None], axis=1)[:, 0]
        return tokens, ops.take_along_axis(state["finished_scores"], best[:, None], axis=1)[:, 0]

    def _step(self, next, state, row_max_lengths, max_lengths):
        k, step, prompt = self.beams, state["step"], state["prompt"]
        logits, _, cache = next(prompt, state["cache"], step + 1)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        vocabulary = ops.shape(log_probs)[-1]
        if vocabulary <= 2 * k:
            raise ValueError(f"fairseq's beam search needs more than 2 x beams tokens: {vocabulary} for beams={k}")
        token = ops.arange(vocabulary)[None, :]
        log_probs = ops.where(token == self.pad_id, NEGATIVE_INFINITY, log_probs)
        at_max_length = (step >= row_max_lengths)[:, None]
        log_probs = ops.where(at_max_length & (token != self.eos_id), NEGATIVE_INFINITY, log_probs)
        log_probs = ops.where((step < self.min_len) & (token == self.eos_id), NEGATIVE_INFINITY, log_probs)
        totals = ops.reshape(log_probs + state["scores"][:, None], (-1, k * vocabulary))
        candidate_scores, candidates = ops.top_k(totals, 2 * k)
        candidate_beams, candidate_tokens = candidates // vocabulary, candidates % vocabulary
        ends = (candidate_tokens == self.eos_id) & (candidate_scores > NEGATIVE_INFINITY)

        # Finish the hypotheses ending with </s> among the first `k` candidates, in order, up to `k` a sentence.
        rows = ops.arange(ops.shape(totals)[0])[:, None] * k + candidate_beams  # [batch, 2k] prompt rows
        finishing = ends[:, :k] & ops.logical_not(state["done"])[:, None]
        slot = state["finished_count"][:, None] + ops.cumsum(ops.cast(finishing, "int32"), axis=1) - 1
        finishing = finishing & (slot < k)
        hypotheses = ops.take(prompt, rows[:, :k], axis=0)  # [batch, k, width]
        position = ops.arange(ops.shape(prompt)[1])[None, None, :] == step + 1
        hypotheses = ops.where(position, ops.cast(self.eos_id, prompt.dtype), hypotheses)
        length = ops.cast(step + 1, "float32")
        normalized = candidate_scores[:, :k] / ops.power(length, self.len_penalty)
        finished_tokens, finished_scores = state["finished_tokens"], state["finished_scores"]
        for j in range(k):
            into = (ops.arange(k)[None, :] == slot[:, j : j + 1]) & finishing[:, j : j + 1]  # [batch, k]
            finished_tokens = ops.where(into[:, :, None], hypotheses[:, j : j + 1], finished_tokens)
            finished_scores = ops.where(into, normalized[:, j : j + 1], finished_scores)
        finished_count = state["finished_count"] + ops.sum(ops.cast(finishing, "int32"), axis=1)
        done = state["done"] | (finished_count >= k) | (step >= ops.cast(max_lengths, "int32"))

        # The first `k` candidates not ending with </s> live on.
        order = ops.cast(ends, "int32") * (2 * k) + ops.arange(2 * k)[None, :]
        _, active = ops.top_k(-order, k)
        live_rows = ops.reshape(ops.take_along_axis(rows, active, axis=1), (-1,))
        live_tokens = ops.reshape(ops.take_along_axis(candidate_tokens, active, axis=1), (-1, 1))
        prompt = ops.take(prompt, live_rows, axis=0)
        prompt = ops.slice_update(prompt, [0, step + 1], ops.cast(live_tokens, prompt.dtype))
        cache = _map(lambda x: ops.take(x, live_rows, axis=0), cache)
        scores = ops.reshape(ops.take_along_axis(candidate_scores, active, axis=1), (-1,))
        names = ("prompt", "cache", "step", "scores", "finished_tokens", "finished_scores", "finished_count", "done")
        values = (prompt, cache, step + 1, scores, finished_tokens, finished_scores, finished_count, done)
        return (dict(zip(names, values)),)


def _map(function, structure):
    from keras import tree

    return tree.map_structure(function, structure)
