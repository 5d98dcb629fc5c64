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

    def __post_init__(self):
        for name in ("layers", "model_dim", "heads", "feedforward_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(name, f"must be >= 1. Received: {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError("dropout", f"must be in [0, 1). Received: {self.dropout}")

    def override(
        self,
        layers=None,
        model_dim=None,
        heads=None,
        feedforward_dim=None,
        dropout=None,
        learning_rate=None,
        warmup_steps=None,
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
        return (
            f"{self.layers}+{self.layers} layers, d_model {self.model_dim}, ff {self.feedforward_dim}, "
            f"{self.heads} heads, dropout {self.dropout:g}; {self.recipe.describe()}; {loss}"
        )


def _translation_recipe(learning_rate, batch_size, epochs, weight_decay=0.0, epsilon=1e-9, source=""):
    return Recipe(
        Adam(0.9, 0.98, epsilon), InverseSqrt(4000), learning_rate, batch_size, epochs, weight_decay, source=source
    )


PRESETS = {
    # The encouraging-loss paper's IWSLT'14 De-En setup: fairseq's `transformer_iwslt_de_en`.
    "iwslt": TranslationPreset(
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
            source="fairseq transformer_iwslt_de_en, as trained in Zhao et al. 2022; fairseq batches "
            "by tokens (--max-tokens 4096, about 150 IWSLT sentences), we by sentences",
        ),
        "conservative_encouraging:0.5",
        0.1,
        5,
        source="the encouraging-loss paper's IWSLT De-En setup (Zhao et al. 2022, fairseq)",
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
PAPER_PRESET = "iwslt"  # the preset of the encouraging-loss paper's translation experiments
#: The translator's output layers: `chunked` is `keras_losses.LossHead` (the loss in chunks of tokens, never the
#: `[tokens, V]` logits: the same training to float32 rounding, less memory), `dense` the plain `Dense` layer.
HEADS = ("chunked", "dense")
DEFAULT_HEAD = "chunked"
DEFAULT_PRESET = {"ted_hrlr_translate/pt_to_en": "iwslt", "wmt14_translate/de-en": "base"}
