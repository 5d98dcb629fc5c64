"""The translator: an encoder-decoder transformer of keras-hub layers, compiled with a loss of keras-losses.

`build_transformer` names its layers (`SOURCE_EMBEDDING`, `encoder_<i>`, `TARGET_EMBEDDING`, `decoder_<i>`,
`LOGITS`); `TranslatorLayers.of(model)` finds them again, in a model just built or loaded from a `.keras`
file, for the cached decoding of `decoding`. The presets (architecture, recipe, loss defaults) are in `recipes`.

The logits layer is `keras_losses.LossHead` by default (`head="chunked"`): in training the loss is computed in
chunks of tokens, never holding the `[tokens, V]` logits, with the plain head's values and gradients to float32
rounding; outside training (evaluation, `predict`, decoding) it returns the logits as the `Dense` layer of
`head="dense"` does, with the same weights.
"""

from dataclasses import dataclass

import keras

from keras_losses.loss_head import LossHead
from keras_losses.metrics import MaskedTokenAccuracy
from keras_losses_experiments import losses
from keras_losses_experiments.training.optimizers import make_optimizer
from keras_losses_experiments.translation.data import PAD_ID
from keras_losses_experiments.translation.presets import DEFAULT_HEAD, HEADS

SOURCE_EMBEDDING, TARGET_EMBEDDING, LOGITS = "source_embedding", "target_embedding", "logits"
SHARED = "shared_embedding"  # --share-all-embeddings: source, target and output
ENCODER, DECODER = "encoder_{}", "decoder_{}"


def build_transformer(source_vocabulary, target_vocabulary, sequence_length, preset, head=DEFAULT_HEAD):
    """Encoder-decoder transformer from keras-hub layers; embeddings mask padding (id 0) throughout.

    `preset` (a `TranslationPreset`) gives the layers, model and feed-forward widths, heads and dropout, and
    the architecture: `"keras_hub"` (keras-hub's `TokenAndPositionEmbedding` with a dense gradient:
    `embeddings`; learned positions, dropout `dropout`
    everywhere, a dropout before the logits layer) or `"fairseq"` (fairseq's transformer: `fairseq_layers`;
    attention dropout `preset.attention_dropout`, no bias and no dropout at the output; with
    `preset.share_all_embeddings` one matrix embeds source and target tokens and is the output projection).
    Inputs `encoder_inputs` and `decoder_inputs` (token ids, at most `sequence_length` each); output: logits
    over the target vocabulary at every decoder position (float32 under mixed precision too). `head` (one of
    `HEADS`) is the logits layer: `"chunked"`, `keras_losses.LossHead` (in training, logits that carry the
    hidden states from which the package's losses compute the loss in chunks, the unused logits dropped by the
    compiled step; it computes the argmax of the logits for the training token accuracy in chunks too), or
    `"dense"`, `keras.layers.Dense`. Both have the same weights (`kernel`,
    `bias`), drawn the same for the same seed. Shared embeddings take `"dense"`: the logits are `h @ E^T`.
    """
    if head not in HEADS:
        raise ValueError(f"`head` must be one of {HEADS}. Received: head={head!r}")
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    if preset.architecture == "fairseq":
        logits = _fairseq_transformer(
            encoder_inputs, decoder_inputs, source_vocabulary, target_vocabulary, sequence_length, preset, head
        )
    else:
        logits = _keras_hub_transformer(
            encoder_inputs, decoder_inputs, source_vocabulary, target_vocabulary, sequence_length, preset, head
        )
    return keras.Model([encoder_inputs, decoder_inputs], logits, name="translator")


def _keras_hub_transformer(encoder_inputs, decoder_inputs, source_vocabulary, target_vocabulary, length, preset, head):
    import keras_hub

    from keras_losses_experiments.translation.embeddings import TokenAndPositionEmbedding

    x = TokenAndPositionEmbedding(source_vocabulary, length, preset.model_dim, mask_zero=True, name=SOURCE_EMBEDDING)(
        encoder_inputs
    )
    for i in range(preset.layers):
        x = keras_hub.layers.TransformerEncoder(
            preset.feedforward_dim, preset.heads, preset.dropout, name=ENCODER.format(i)
        )(x)
    y = TokenAndPositionEmbedding(target_vocabulary, length, preset.model_dim, mask_zero=True, name=TARGET_EMBEDDING)(
        decoder_inputs
    )
    for i in range(preset.layers):
        y = keras_hub.layers.TransformerDecoder(
            preset.feedforward_dim, preset.heads, preset.dropout, name=DECODER.format(i)
        )(y, x)
    if head == "chunked":  # before the dropout: same seeds
        to_logits = LossHead(target_vocabulary, dtype="float32", training_predictions=True, name=LOGITS)
    else:
        to_logits = keras.layers.Dense(target_vocabulary, dtype="float32", name=LOGITS)
    return to_logits(keras.layers.Dropout(preset.dropout)(y))


def _fairseq_transformer(encoder_inputs, decoder_inputs, source_vocabulary, target_vocabulary, length, preset, head):
    from keras_losses_experiments.translation import fairseq_layers as fairseq

    dim, dropout = preset.model_dim, preset.dropout
    if preset.share_all_embeddings:
        if source_vocabulary != target_vocabulary:
            raise ValueError(
                "shared embeddings need one vocabulary (--joined-dictionary). Received: "
                f"{source_vocabulary} source and {target_vocabulary} target symbols"
            )
        if head != "dense":
            raise ValueError(f"shared embeddings compute the logits h @ E^T (head 'dense'). Received: head={head!r}")
        source_embedding = target_embedding = fairseq.FairseqEmbedding(source_vocabulary, dim, length, name=SHARED)
    else:
        source_embedding = fairseq.FairseqEmbedding(source_vocabulary, dim, length, name=SOURCE_EMBEDDING)
        target_embedding = fairseq.FairseqEmbedding(target_vocabulary, dim, length, name=TARGET_EMBEDDING)
    x = keras.layers.Dropout(dropout, name="source_embedding_dropout")(source_embedding(encoder_inputs))
    for i in range(preset.layers):
        x = fairseq.FairseqEncoderLayer(
            preset.feedforward_dim,
            preset.heads,
            dropout,
            attention_dropout=preset.attention_dropout,
            name=ENCODER.format(i),
        )(x)
    y = keras.layers.Dropout(dropout, name="target_embedding_dropout")(target_embedding(decoder_inputs))
    for i in range(preset.layers):
        y = fairseq.FairseqDecoderLayer(
            preset.feedforward_dim,
            preset.heads,
            dropout,
            attention_dropout=preset.attention_dropout,
            name=DECODER.format(i),
        )(y, x)
    if preset.share_all_embeddings:
        return target_embedding(y, reverse=True)
    options = {
        "use_bias": False,
        "kernel_initializer": keras.initializers.RandomNormal(stddev=dim**-0.5),
        "name": LOGITS,
    }
    if head == "chunked":
        return LossHead(target_vocabulary, dtype="float32", training_predictions=True, **options)(y)
    return keras.layers.Dense(target_vocabulary, dtype="float32", **options)(y)


def compiled_translator(
    spec,
    source_tokenizer,
    target_tokenizer,
    sequence_length,
    preset,
    label_smoothing=None,
    optimizer=None,
    steps_per_execution=1,
    head=DEFAULT_HEAD,
):
    """`build_transformer` of `preset` (with the logits layer `head`) compiled with the loss `spec`, `optimizer`
    and token accuracy.

    The loss ignores padding and is the mean over the non-padding tokens of the whole global batch
    (`mean_over_global_batch=True`): a step on N replicas equals the one-device step on the same global
    batch, as fairseq normalises by the global token count. `label_smoothing` defaults to the preset's;
    `optimizer` to the preset's recipe (its inverse-square-root schedule does not depend on the epoch length;
    give `make_optimizer(preset.recipe, steps, global_batch)` for another recipe).

    Call it inside the strategy's scope.
    """
    vocabulary = target_tokenizer.vocabulary_size()
    model = build_transformer(source_tokenizer.vocabulary_size(), vocabulary, sequence_length, preset, head)
    label_smoothing = preset.label_smoothing if label_smoothing is None else label_smoothing
    model.compile(
        optimizer=optimizer or make_optimizer(preset.recipe, steps_per_epoch=1),
        loss=losses.build_loss(spec, vocabulary, label_smoothing, ignore_class=PAD_ID, mean_over_global_batch=True),
        metrics=[MaskedTokenAccuracy(ignore_class=PAD_ID)],
        steps_per_execution=steps_per_execution,
    )
    return model


@dataclass(frozen=True)
class TranslatorLayers:
    """The layers of a `build_transformer` model, found by name (a model loaded from a `.keras` file keeps them).

    The dropout before the logits is left out: decoding runs in inference mode, where it passes its input on.
    """

    source_embedding: object  # keras_hub.layers.TokenAndPositionEmbedding
    encoders: tuple  # keras_hub.layers.TransformerEncoder, in order
    target_embedding: object
    decoders: tuple  # keras_hub.layers.TransformerDecoder, in order
    logits: object  # keras_losses.LossHead or keras.layers.Dense: logits when called outside training

    @classmethod
    def of(cls, model):
        """Raises `ValueError` for a model that `build_transformer` did not build."""
        names = {layer.name for layer in model.layers}
        shared = SHARED in names  # one embedding matrix: source, target and (reversed) the logits
        embeddings = (SHARED,) if shared else (SOURCE_EMBEDDING, TARGET_EMBEDDING, LOGITS)
        missing = [name for name in (*embeddings, ENCODER.format(0), DECODER.format(0)) if name not in names]
        if missing:
            raise ValueError(
                f"{model.name!r} is not a translator of `translator.build_transformer`: it has no layer "
                f"{', '.join(map(repr, missing))}"
            )

        def stack(pattern):
            count = sum(1 for i in range(len(names)) if pattern.format(i) in names)
            return tuple(model.get_layer(pattern.format(i)) for i in range(count))

        if shared:
            embedding = model.get_layer(SHARED)
            return cls(embedding, stack(ENCODER), embedding, stack(DECODER), _Reversed(embedding))
        return cls(
            model.get_layer(SOURCE_EMBEDDING),
            stack(ENCODER),
            model.get_layer(TARGET_EMBEDDING),
            stack(DECODER),
            model.get_layer(LOGITS),
        )


@dataclass(frozen=True)
class _Reversed:
    """The logits of a shared embedding matrix, called as a logits layer: `h @ E^T`."""

    embedding: object

    def __call__(self, hidden, training=False):
        return self.embedding(hidden, reverse=True)
