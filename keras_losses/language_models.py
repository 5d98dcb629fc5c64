"""A keras-hub causal language model with the chunked loss head over its token embedding.

keras-hub's causal language models (`GPT2CausalLM`, `GemmaCausalLM`, `LlamaCausalLM`, ...) end in
`backbone.token_embedding(hidden_states, reverse=True)`: the logits `[batch, sequence, V]` of the embedding
matrix (tied: GPT-2, Gemma) or of its own `reverse_embeddings` (Llama with `tie_word_embeddings=False`).
`chunked_language_model` builds the same model with a `TiedLossHead` over that matrix in their place, so that
any loss of this package trains it in chunks of tokens. Duck-typed: this module does not import keras-hub.
"""

import keras

from keras_losses.loss_head import TiedLossHead


def chunked_language_model(model, chunk_size=None, training_predictions=False, name=None):
    """`backbone -> TiedLossHead(backbone.token_embedding)`: a keras-hub causal LM whose head computes the loss
    in chunks.

    The model shares the backbone (its layers and variables) with `model`: the same logits outside training,
    and in training any loss of the package in chunks of tokens (the embedding matrix gets the gradients of both
    its uses). Its inputs are the backbone's (`{"token_ids", "padding_mask"}`); feed it what the causal LM's
    preprocessor makes (`x, y, sample_weight = causal_lm.preprocessor(texts)`), and compile it as usual:

        model = keras_losses.chunked_language_model(keras_hub.models.GPT2CausalLM.from_preset(...))
        model.compile("adamw", loss=keras_losses.EncouragingLoss(from_logits=True))
        model.fit(dataset.map(causal_lm.preprocessor))

    Generation (`generate`) stays the causal LM's own: it shares the weights, so it uses the trained ones.

    Args:
        model: a keras-hub `CausalLM` (any object with a `backbone`) or its backbone: an object with `input`
            and a `token_embedding` layer (`ReversibleEmbedding`, or any embedding with an `embeddings`
            variable `[V, d]`), called on its inputs to give the hidden states `[batch, sequence, d]`.
        chunk_size: tokens per chunk of the head (None: `default_chunk_size(V)`).
        training_predictions: bool, as `LossHead`'s (for `MaskedTokenAccuracy` in `fit`).
        name: the model's name (default: the backbone's name with "_chunked_lm").

    Returns:
        A `keras.Model` from the backbone's inputs to the logits `[batch, sequence, V]`.

    Raises:
        ValueError: `model` has no `backbone` and is no backbone (no `token_embedding`).
        NotImplementedError: the embedding soft-caps its logits (`logit_soft_cap`, as Gemma 2's).
    """
    backbone = getattr(model, "backbone", model)
    embedding = getattr(backbone, "token_embedding", None)
    if embedding is None or not hasattr(backbone, "input"):
        raise ValueError(
            "`model` must be a keras-hub causal LM (with a `backbone`) or a backbone with a `token_embedding` "
            f"layer. Received: {type(model).__name__}"
        )
    inputs = backbone.input
    # Over the backbone, which holds the embedding: a saved model's config names the backbone, rebuilt on loading.
    head = TiedLossHead(backbone, chunk_size=chunk_size, training_predictions=training_predictions, name="logits")
    return keras.Model(inputs, head(backbone(inputs)), name=name or f"{backbone.name}_chunked_lm")
