"""The examples in the docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "keras_losses.registration",
    "keras_losses.encouraging",
    "keras_losses.square",
    "keras_losses.squentropy",
    "keras_losses.crossentropy",
    "keras_losses.loss_head",
    "keras_losses.optimizers",
    "keras_losses.schedules",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
