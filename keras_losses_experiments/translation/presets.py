"""The translation presets: an encoder-decoder transformer's architecture, its training recipe, and the loss and
decoding defaults (`PRESETS`; `DEFAULT_PRESET` per data set), and the translator's logits layers (`HEADS`)."""

from dataclasses import dataclass, replace

from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.training.optimizers import Adam
from keras_losses_experiments.training.recipe import Recipe
from keras_losses_experiments.training.schedules import InverseSqrt


def transformer_learning_rate(model_dim, warmup_steps):
    """The peak of Vaswani et al.'s schedule `d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)`."""
    return (model_dim * warmup_steps) ** -0.5


@dataclass(frozen=True)
class TranslationPreset:
    """An encoder-decoder transformer, its training recipe, and the loss and decoding defaults."""

    layers: int  # encoder layers = decoder layers
    model_dim: int
    heads: int
    feedforward_dim: int
    dropout: float
    recipe: Recipe
    loss: str  # a loss specification (losses): "ce", "conservative_encouraging:0.5", ...
    label_smoothing: float
    beams: int  # beam size of the test translations (1: greedy)
    #: True: the peak learning rate is Vaswani's (model_dim * warmup_steps)^-0.5, recomputed by `override`.
    learning_rate_from_model_dim: bool = False
    source: str = ""
    #: "keras_hub" (keras-hub's embedding with learned positions, dropout everywhere) or "fairseq" (fairseq's
    #: transformer: `fairseq_layers`).
    architecture: str = "keras_hub"
    attention_dropout: float = 0.0  # fairseq only: the attention probabilities' dropout (keras_hub: `dropout`)
    share_all_embeddings: bool = False  # fairseq only: one matrix for source, target and output

    def __post_init__(self):
        for name in ("layers", "model_dim", "heads", "feedforward_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(name, f"must be >= 1. Received: {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError("dropout", f"must be in [0, 1). Received: {self.dropout}")
        if self.architecture not in ARCHITECTURES:
            raise ConfigError("architecture", f"must be one of {ARCHITECTURES}. Received: {self.architecture!r}")
        if self.architecture != "fairseq":
            for name in ("attention_dropout", "share_all_embeddings"):
                if getattr(self, name):
                    raise ConfigError(name, "applies to --architecture fairseq only")

    def override(
        self,
        layers=None,
        model_dim=None,
        heads=None,
        feedforward_dim=None,
        dropout=None,
        learning_rate=None,
        warmup_steps=None,
        architecture=None,
        attention_dropout=None,
        share_all_embeddings=None,
        **recipe_flags,
    ):
        """This preset with a run's overrides (None: keep); `recipe_flags` go to `Recipe.override`. Raises
        `ConfigError` naming the field."""
        dim, heads_ = model_dim or self.model_dim, heads or self.heads
        if dim >= 1 and heads_ >= 1 and dim % heads_:
            if model_dim is None:
                raise ConfigError("heads", f"must divide the model dimension ({dim}). Received: {heads_}")
            raise ConfigError("model_dim", f"must be a multiple of the attention heads ({heads_}). Received: {dim}")
        architecture = {
            "layers": layers,
            "model_dim": model_dim,
            "heads": heads,
            "feedforward_dim": feedforward_dim,
            "dropout": dropout,
            "architecture": architecture,
            "attention_dropout": attention_dropout,
            "share_all_embeddings": share_all_embeddings,
        }
        preset = replace(self, **{k: v for k, v in architecture.items() if v is not None})
        recipe = preset.recipe.override(learning_rate=learning_rate, warmup_steps=warmup_steps, **recipe_flags)
        following = self.learning_rate_from_model_dim and learning_rate is None
        if following:
            recipe = replace(
                recipe, learning_rate=transformer_learning_rate(preset.model_dim, recipe.schedule.warmup_steps)
            )
        return replace(preset, recipe=recipe, learning_rate_from_model_dim=following)

    def describe(self):
        loss = f"{self.loss}, label smoothing {self.label_smoothing:g}, beam {self.beams}"
        fairseq = f", fairseq's transformer, attention dropout {self.attention_dropout:g}" * (
            self.architecture == "fairseq"
        )
        return (
            f"{self.layers}+{self.layers} layers, d_model {self.model_dim}, ff {self.feedforward_dim}, "
            f"{self.heads} heads, dropout {self.dropout:g}{fairseq}; {self.recipe.describe()}; {loss}"
        )


def _translation_recipe(learning_rate, batch_size, epochs, weight_decay=0.0, epsilon=1e-9, source=""):
    return Recipe(
        Adam(0.9, 0.98, epsilon), InverseSqrt(4000), learning_rate, batch_size, epochs, weight_decay, source=source
    )


ARCHITECTURES = ("keras_hub", "fairseq")
PRESETS = {
    # fairseq's `transformer_iwslt_de_en` sizes with keras-hub's layers, trained on sentence batches: NOT the
    # encouraging-loss paper's setup (that is `--preset zhao2022-iwslt14-de-en`, on a corpus of your files).
    "iwslt_sentences": TranslationPreset(
        6,
        512,
        4,
        1024,
        0.3,
        _translation_recipe(
            5e-4,
            128,
            30,
            weight_decay=1e-4,
            epsilon=1e-8,
            source="the sizes of fairseq's transformer_iwslt_de_en with keras-hub layers, Adam lr 5e-4 on "
            "batches of 128 sentences for 30 epochs (not the encouraging-loss paper's recipe: "
            "--preset zhao2022-iwslt14-de-en)",
        ),
        "conservative_encouraging:0.5",
        0.1,
        5,
        source="transformer_iwslt_de_en's sizes on sentence batches (keras-hub layers)",
    ),
    # Transformer-base (Vaswani et al. 2017): d_model^-0.5 schedule, 4000 warm-up steps.
    "base": TranslationPreset(
        6,
        512,
        8,
        2048,
        0.1,
        _translation_recipe(
            transformer_learning_rate(512, 4000),
            512,
            12,
            source="Vaswani et al. 2017; they batch ~25,000 source + 25,000 target tokens "
            "(~900 WMT sentences) for 100k steps, we 512 sentences for 12 epochs",
        ),
        "ce",
        0.1,
        4,
        learning_rate_from_model_dim=True,
        source="Transformer-base (Vaswani et al. 2017)",
    ),
    # Transformer-base's recipe on a model small enough for a CPU (smoke tests).
    "tiny": TranslationPreset(
        1,
        32,
        2,
        64,
        0.1,
        _translation_recipe(transformer_learning_rate(32, 4000), 64, 30, source="for CPUs and tests"),
        "ce",
        0.1,
        4,
        learning_rate_from_model_dim=True,
        source="a small model with Transformer-base's recipe, for CPUs",
    ),
}
#: Former names: refused with the new name and the paper's preset.
RENAMED = {"iwslt": "iwslt_sentences"}
#: The translator's output layers: `chunked` is `keras_losses.LossHead` (the loss in chunks of tokens, never the
#: `[tokens, V]` logits: the same training to float32 rounding, less memory), `dense` the plain `Dense` layer.
HEADS = ("chunked", "dense")
DEFAULT_HEAD = "chunked"
DEFAULT_PRESET = {"ted_hrlr_translate/pt_to_en": "iwslt_sentences", "wmt14_translate/de-en": "base"}
