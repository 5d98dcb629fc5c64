"""Translating with a trained translator (`translator.build_transformer`): greedy or beam search that scales.

Per batch of sentences the encoder runs once; its output's keys and values are computed once per decoder
layer (the cross-attention cache); the decoder then runs one token per step, keeping the keys and values of
the tokens before it (the self-attention cache), as keras-hub's own sequence-to-sequence models generate
(`BartSeq2SeqLM.generate_step`). keras-hub's `GreedySampler` and `BeamSampler` choose the tokens; the whole
loop is one compiled function (`tf.function` on TensorFlow, `jax.jit` on JAX). The padding token is never
generated. The tokens are those of running the whole model on the whole prefix at every step (an uncached
decoder: `benchmarks/decoding_speed.py`), at a fraction of the cost.
"""

import keras
from keras import ops

from keras_losses_experiments.translation.data import END_ID, PAD_ID, START_ID, source_packer
from keras_losses_experiments.translation.model import TranslatorLayers


def translate(model, source_tokenizer, target_tokenizer, sentences, sequence_length, beams=1, batch_size=64):
    """Translates `sentences` (a list of str) greedily (`beams=1`) or by beam search; returns strings.

    `sequence_length` is the translator's (source sentences are cut to it, translations end by it).
    """
    if not isinstance(beams, int) or beams < 1:
        raise ValueError(f"`beams` must be an integer >= 1. Received: beams={beams!r}")
    pack = source_packer(sequence_length)
    generate = CachedDecoder(model, beams).compiled()
    outputs = []
    for begin in range(0, len(sentences), batch_size):
        encoder_tokens = ops.convert_to_tensor(pack(source_tokenizer(sentences[begin : begin + batch_size])), "int32")
        outputs += [detokenize(target_tokenizer, row) for row in ops.convert_to_numpy(generate(encoder_tokens))]
    return outputs


def detokenize(target_tokenizer, generated):
    """The sentence of one row of generated ids: after `START_ID`, up to `END_ID`."""
    tokens = [int(t) for t in generated[1:]]
    tokens = tokens[: tokens.index(END_ID)] if END_ID in tokens else tokens
    tokens = [t for t in tokens if t not in (PAD_ID, START_ID)]
    text = target_tokenizer.detokenize(tokens) if tokens else ""
    return text.numpy().decode("utf-8") if hasattr(text, "numpy") else str(text)


class CachedDecoder:
    """Greedy (`beams=1`) or beam-search decoding of a translator with key/value caches.

    `generate(encoder_tokens)` maps source token ids `[batch, length]` (padded with `PAD_ID`) to generated
    ids `[batch, length]`: `START_ID`, the translation, `END_ID`, then whatever followed (cut by `detokenize`).
    With `search` (a `beam_search.FairseqBeamSearch`: fairseq's beam search, its `beams`) in place of keras-hub's
    samplers, `generate(encoder_tokens, max_lengths)` gives `[batch, length + 1]`: `START_ID`, the translation
    ending with the search's end token, then `PAD_ID`; `max_lengths` (`beam_search.max_lengths`, `[batch]`) at
    most `length - 1` (the positions of the translator).
    """

    def __init__(self, model, beams=1, search=None):
        import keras_hub

        self.model, self.search = model, search
        self.beams = beams if search is None else search.beams
        self.layers = TranslatorLayers.of(model)
        self.sampler = keras_hub.samplers.GreedySampler() if beams == 1 else keras_hub.samplers.BeamSampler(beams)

    def generate(self, encoder_tokens, max_lengths=None):
        batch, length = ops.shape(encoder_tokens)[0], ops.shape(encoder_tokens)[1]
        # The cross-attention mask: [batch, 1 (the query), length] (the encoder's padding).
        encoder_mask = ops.expand_dims(ops.not_equal(encoder_tokens, PAD_ID), 1)
        encoded = self.encode(encoder_tokens)
        width = length if self.search is None else length + 1  # fairseq's: the start, max_len tokens, </s>
        prompt = ops.pad(ops.full((batch, 1), START_ID, "int32"), [[0, 0], [0, width - 1]], constant_values=PAD_ID)
        # Once per sentence: the keys and values of the encoder output in every decoder layer.
        self_cache, cross_cache = self._empty_caches(batch, length)
        _, _, cross_cache = self._decode(prompt[:, :1], 0, encoded, encoder_mask, self_cache, cross_cache, 0)
        if self.beams > 1:  # the beams of a sentence share them (as the beam sampler lays beams out: adjacent)
            encoded, encoder_mask, cross_cache = (
                ops.repeat(x, self.beams, 0) for x in (encoded, encoder_mask, cross_cache)
            )

        def next_token_logits(prompt, self_cache, index):
            token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
            logits, self_cache, _ = self._decode(token, index - 1, encoded, encoder_mask, self_cache, cross_cache)
            return logits[:, 0, :], None, self_cache

        if self.search is not None:  # it lays the beams out as the encoder's: adjacent
            prompt, self_cache = (ops.repeat(x, self.beams, 0) for x in (prompt, self_cache))
            return self.search(next_token_logits, prompt, self_cache, max_lengths)[0]
        # The sampler keeps the self-attention cache (and reorders it with the beams).
        return self.sampler(next_token_logits, prompt, cache=self_cache, index=1, stop_token_ids=[END_ID])

    def encode(self, encoder_tokens):
        """The encoder's output (the embedding masks the padding)."""
        x = self.layers.source_embedding(encoder_tokens)
        for layer in self.layers.encoders:
            x = layer(x)
        return x

    def _empty_caches(self, batch, length):
        """Zero self- and cross-attention caches `[batch, layers, 2 (keys, values), length, heads, head size]`."""
        decoder = self.layers.decoders[0]
        width = self.layers.target_embedding.embedding_dim
        shape = (batch, len(self.layers.decoders), 2, length, decoder.num_heads, width // decoder.num_heads)
        return ops.zeros(shape, decoder.compute_dtype), ops.zeros(shape, decoder.compute_dtype)

    def _decode(self, tokens, position, encoded, encoder_mask, self_cache, cross_cache, cross_index=None):
        """Logits of `tokens` (`[batch, 1]`, at `position`) and the caches: the self-attention cache updated
        at `position`; the cross-attention cache computed with `cross_index=0`, else read."""
        x = self.layers.target_embedding(tokens, start_index=position)
        self_caches, cross_caches = [], []
        for i, layer in enumerate(self.layers.decoders):
            x, layer_self_cache, layer_cross_cache = layer(
                x,
                encoded,
                encoder_attention_mask=encoder_mask,
                self_attention_cache=self_cache[:, i],
                self_attention_cache_update_index=position,
                cross_attention_cache=cross_cache[:, i],
                cross_attention_cache_update_index=cross_index,
            )
            self_caches.append(layer_self_cache)
            cross_caches.append(layer_cross_cache)
        logits = self.layers.logits(x, training=False)  # a `LossHead` gives logits outside training only
        # Never the padding token: the whole-prefix decoder would mask it as a key in later steps.
        logits = ops.where(ops.arange(ops.shape(logits)[-1]) == PAD_ID, ops.cast(-1e9, logits.dtype), logits)
        cross_cache = cross_cache if cross_index is None else ops.stack(cross_caches, axis=1)
        return logits, ops.stack(self_caches, axis=1), cross_cache

    def compiled(self):
        """`generate` compiled for the backend, as keras-hub's generation compiles: a `tf.function` with XLA
        (TensorFlow) or `jax.jit` over the model's variables (JAX); under `torch.no_grad` on PyTorch."""
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.function(self.generate, jit_compile=True, reduce_retracing=True)
        if backend == "jax":
            return self._jax_compiled()
        import torch

        def generate(encoder_tokens, max_lengths=None):
            with torch.no_grad():
                return self.generate(encoder_tokens, max_lengths)

        return generate

    def _jax_compiled(self):
        import jax

        variables = [*self.model.trainable_variables, *self.model.non_trainable_variables]

        @jax.jit
        def stateless_generate(values, encoder_tokens, max_lengths):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return self.generate(encoder_tokens, max_lengths)

        return lambda encoder_tokens, max_lengths=None: stateless_generate(
            [_local(v.value) for v in variables], encoder_tokens, max_lengths
        )


def _local(value):
    """This process's copy of a variable that `keras.distribution.DataParallel` replicates across processes (the
    decoding then runs on this process alone, as `distribution.undistributed` has Keras' `predict` run)."""
    return value if value.is_fully_addressable else value.addressable_data(0)
