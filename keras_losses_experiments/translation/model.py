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
ENCODER, DECODER = "encoder_{}", "decoder_{}"


def build_transformer(source_vocabulary, target_vocabulary, sequence_length, preset, head=DEFAULT_HEAD):
    """Encoder-decoder transformer from keras-hub layers; embeddings mask padding (id 0) throughout.

    `preset` (a `TranslationPreset`) gives the layers, model and feed-forward widths, heads and dropout.
    Inputs `encoder_inputs` and `decoder_inputs` (token ids, at most `sequence_length` each); output: logits
    over the target vocabulary at every decoder position (float32 under mixed precision too). `head` (one of
    `HEADS`) is the logits layer: `"chunked"`, `keras_losses.LossHead` (in training, logits that carry the
    hidden states from which the package's losses compute the loss in chunks, the unused logits dropped by the
    compiled step; it computes the argmax of the logits for the training token accuracy in chunks too), or
    `"dense"`, `keras.layers.Dense`. Both have the same weights (`kernel`,
    `bias`), drawn the same for the same seed.
    """
    import keras_hub

    if head not in HEADS:
        raise ValueError(f"`head` must be one of {HEADS}. Received: head={head!r}")

    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        source_vocabulary, sequence_length, preset.model_dim, mask_zero=True, name=SOURCE_EMBEDDING
    )(encoder_inputs)
    for i in range(preset.layers):
        x = keras_hub.layers.TransformerEncoder(
            preset.feedforward_dim, preset.heads, preset.dropout, name=ENCODER.format(i)
        )(x)
    y = keras_hub.layers.TokenAndPositionEmbedding(
        target_vocabulary, sequence_length, preset.model_dim, mask_zero=True, name=TARGET_EMBEDDING
    )(decoder_inputs)
    for i in range(preset.layers):
        y = keras_hub.layers.TransformerDecoder(
            preset.feedforward_dim, preset.heads, preset.dropout, name=DECODER.format(i)
        )(y, x)
    if head == "chunked":  # before the dropout: same seeds
        to_logits = LossHead(target_vocabulary, dtype="float32", training_predictions=True, name=LOGITS)
    else:
        to_logits = keras.layers.Dense(target_vocabulary, dtype="float32", name=LOGITS)
    logits = to_logits(keras.layers.Dropout(preset.dropout)(y))
    return keras.Model([encoder_inputs, decoder_inputs], logits, name="translator")


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
        missing = [
            name
            for name in (SOURCE_EMBEDDING, TARGET_EMBEDDING, LOGITS, ENCODER.format(0), DECODER.format(0))
            if name not in names
        ]
        if missing:
            raise ValueError(
                f"{model.name!r} is not a translator of `translator.build_transformer`: it has no layer "
                f"{', '.join(map(repr, missing))}"
            )

        def stack(pattern):
            count = sum(1 for i in range(len(names)) if pattern.format(i) in names)
            return tuple(model.get_layer(pattern.format(i)) for i in range(count))

        return cls(
            model.get_layer(SOURCE_EMBEDDING),
            stack(ENCODER),
            model.get_layer(TARGET_EMBEDDING),
            stack(DECODER),
            model.get_layer(LOGITS),
        )
