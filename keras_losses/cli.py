"""Deprecated: moved to `keras_losses_experiments.cli` (see `keras_losses.experiments.MOVED`)."""

import sys

from keras_losses.experiments import moved

sys.modules[__name__] = moved(__name__)
