"""keras-losses: square, encouraging and conservative encouraging losses for Keras 3.

    import keras_losses
    model.compile(optimizer="adam", loss=keras_losses.EncouragingLoss(log_end=0.75))

Importing the package registers every loss with Keras' serialization (package
"keras_losses"), so models saved with these losses load with
`keras.models.load_model` without `custom_objects`.
"""

import keras

from keras_losses import metrics, schedules  # noqa: F401  (registers them with Keras serialization)
from keras_losses.crossentropy import CrossEntropy, cross_entropy
from keras_losses.encouraging import (
    BONUS_EPSILON,
    ConservativeEncouragingLoss,
    EncouragingLoss,
    encouraging_loss,
)
from keras_losses.square import SquareLoss, square_loss
from keras_losses.squentropy import Squentropy, squentropy

__version__ = "0.1.0"

#: Short names accepted by `get()`, beside the class names and the function names.
ALIASES = {
    "encouraging": EncouragingLoss,
    "conservative_encouraging": ConservativeEncouragingLoss,
    "square": SquareLoss,
    "squentropy": Squentropy,
    "ce": CrossEntropy,
}

LOSSES = (EncouragingLoss, ConservativeEncouragingLoss, SquareLoss, Squentropy, CrossEntropy)
FUNCTIONS = (encouraging_loss, square_loss, squentropy, cross_entropy)

_BY_NAME = {
    **ALIASES,
    **{cls.__name__: cls for cls in LOSSES},
    "encouraging_loss": EncouragingLoss,
    "conservative_encouraging_loss": ConservativeEncouragingLoss,
    "square_loss": SquareLoss,
    "cross_entropy": CrossEntropy,
}

# Plain names too, so that `keras.losses.deserialize("EncouragingLoss")` and
# configs written without the "keras_losses>" prefix resolve.
keras.saving.get_custom_objects().update({obj.__name__: obj for obj in LOSSES + FUNCTIONS})


def get(identifier):
    """Returns a loss instance of this package from a name, a config dict or an instance.

    Keras 3's `model.compile(loss="<str>")` only looks up Keras' own names, so
    pass an instance (`loss=keras_losses.get("encouraging")`) instead.

    Args:
        identifier: one of
            - a short name: "encouraging", "conservative_encouraging", "square", "squentropy",
              "ce" (this package's `CrossEntropy`, the baseline);
            - a class name ("EncouragingLoss", ...) or function name ("encouraging_loss", ...);
            - a config dict as written by `keras.saving.serialize_keras_object(loss)`;
            - a `keras.losses.Loss` instance (returned as is), or None (returns None).

    Returns:
        A `keras.losses.Loss` instance, with default hyper-parameters for names.

    Example:

    >>> import keras_losses
    >>> keras_losses.get("conservative_encouraging")
    ConservativeEncouragingLoss(log_end=0.75, from_logits=False, label_smoothing=0.0, ignore_class=None, reduction='sum_over_batch_size')
    """
    if identifier is None or isinstance(identifier, keras.losses.Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"Unknown loss {identifier!r}. Expected one of: {', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        loss = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(loss, keras.losses.Loss):
            raise ValueError(f"The config {identifier!r} does not describe a loss instance.")
        return loss
    raise ValueError(
        f"Could not interpret loss identifier {identifier!r}: expected a name, a config dict or a Loss instance."
    )


__all__ = [
    "BONUS_EPSILON",
    "ConservativeEncouragingLoss",
    "CrossEntropy",
    "EncouragingLoss",
    "SquareLoss",
    "Squentropy",
    "cross_entropy",
    "encouraging_loss",
    "get",
    "square_loss",
    "squentropy",
]
