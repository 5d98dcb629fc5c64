"""The names of the losses: Keras serialization and `keras_losses.get()`, in one place.

Keras' registry (`keras.saving.get_custom_objects()`) is global, shared with every other package:

- every class and function is registered as `keras_losses>Name`, the name `keras.saving` writes into
  configs and `.keras` files;
- the paper losses (and their functions) are also registered under their plain names, so that
  `keras.losses.deserialize("EncouragingLoss")` and configs written without the prefix resolve. Their
  names are specific to the papers;
- `CrossEntropy` / `cross_entropy` are not: a plain "CrossEntropy" could collide with another package's
  class, so they are registered with the prefix only.
"""

import keras

from keras_losses.crossentropy import CrossEntropy, cross_entropy
from keras_losses.encouraging import ConservativeEncouragingLoss, EncouragingLoss, encouraging_loss
from keras_losses.loss_head import LossHead, TiedLossHead
from keras_losses.square import SquareLoss, square_loss
from keras_losses.squentropy import Squentropy, squentropy

PACKAGE = "keras_losses"

LOSSES = (EncouragingLoss, ConservativeEncouragingLoss, SquareLoss, Squentropy, CrossEntropy)
FUNCTIONS = (encouraging_loss, square_loss, squentropy, cross_entropy)

#: Registered under their plain names too (the paper losses).
PLAIN_NAMES = (
    EncouragingLoss,
    ConservativeEncouragingLoss,
    SquareLoss,
    Squentropy,
    encouraging_loss,
    square_loss,
    squentropy,
)

#: Short names accepted by `get()`, beside the class names and the function names.
ALIASES = {
    "encouraging": EncouragingLoss,
    "conservative_encouraging": ConservativeEncouragingLoss,
    "square": SquareLoss,
    "squentropy": Squentropy,
    "ce": CrossEntropy,
}

_BY_NAME = {
    **ALIASES,
    **{cls.__name__: cls for cls in LOSSES},
    "encouraging_loss": EncouragingLoss,
    "conservative_encouraging_loss": ConservativeEncouragingLoss,
    "square_loss": SquareLoss,
    "cross_entropy": CrossEntropy,
}


def register():
    """Registers every loss with Keras' serialization (runs once, on `import keras_losses`)."""
    for obj in LOSSES + FUNCTIONS + (LossHead, TiedLossHead):
        keras.saving.register_keras_serializable(package=PACKAGE)(obj)
    keras.saving.get_custom_objects().update({obj.__name__: obj for obj in PLAIN_NAMES})


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

    Examples:

        >>> import keras_losses
        >>> keras_losses.get("conservative_encouraging")
        ConservativeEncouragingLoss(log_end=0.75, from_logits=False, label_smoothing=0.0, ignore_class=None,
                                    mean_over_global_batch=False, reduction='sum_over_batch_size')
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
