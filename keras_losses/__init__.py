"""keras-losses: square, encouraging and conservative encouraging losses and squentropy for Keras 3.

    import keras_losses
    model.compile(optimizer="adam", loss=keras_losses.EncouragingLoss(log_end=0.75))

Importing the package registers every loss with Keras' serialization (see `keras_losses.registration`),
so models saved with these losses load with `keras.models.load_model` without `custom_objects`.
"""

from keras_losses import metrics, optimizers, registration, schedules  # noqa: F401  (registers them with Keras serialization)
from keras_losses.crossentropy import CrossEntropy, cross_entropy
from keras_losses.encouraging import (
    BONUS_EPSILON,
    ConservativeEncouragingLoss,
    EncouragingLoss,
    encouraging_loss,
)
from keras_losses.language_models import chunked_language_model
from keras_losses.loss_head import LossHead, TiedLossHead, chunked_loss
from keras_losses.registration import get
from keras_losses.square import SquareLoss, square_loss
from keras_losses.squentropy import Squentropy, squentropy
from keras_losses.version import __version__

registration.register()

__all__ = [
    "BONUS_EPSILON",
    "ConservativeEncouragingLoss",
    "CrossEntropy",
    "EncouragingLoss",
    "LossHead",
    "SquareLoss",
    "Squentropy",
    "TiedLossHead",
    "__version__",
    "chunked_language_model",
    "chunked_loss",
    "cross_entropy",
    "encouraging_loss",
    "get",
    "square_loss",
    "squentropy",
]
