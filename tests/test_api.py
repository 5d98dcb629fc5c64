"""The public API: attributes, keyword-only hyper-parameters, one version. (The API reference is generated from
the code: tests/test_docs_site.py checks every public name and signature in the built documentation.)"""

import inspect
import runpy
from pathlib import Path

import numpy as np
import pytest
import setuptools
from keras import ops

import keras_losses

ROOT = Path(__file__).parent.parent
CLASSES = [
    keras_losses.EncouragingLoss,
    keras_losses.ConservativeEncouragingLoss,
    keras_losses.SquareLoss,
    keras_losses.Squentropy,
    keras_losses.CrossEntropy,
]
FUNCTIONS = list(keras_losses.registration.FUNCTIONS)
# Non-default values for every constructor argument.
ARGUMENTS = {
    "k": 2.0,
    "m": 3.0,
    "log_end": 0.5,
    "from_logits": True,
    "label_smoothing": 0.1,
    "ignore_class": -1,
    "mean_over_global_batch": True,
    "reduction": "mean",
    "name": "my_loss",
    "dtype": "float64",
}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_constructor_argument_is_a_public_attribute_and_in_the_config(cls):
    parameters = list(inspect.signature(cls).parameters)
    loss = cls(**{name: ARGUMENTS[name] for name in parameters})
    for name in parameters:
        assert getattr(loss, name) == ARGUMENTS[name], name
    assert list(loss.get_config()) == ["name", "reduction", "dtype"] + [
        p for p in parameters if p not in ("name", "reduction", "dtype")
    ]
    assert loss.get_config() == {name: ARGUMENTS[name] for name in loss.get_config()}


def test_an_attribute_set_after_construction_takes_effect_and_is_validated():
    y, z = np.array([0, 2]), np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]], "float32")
    loss = keras_losses.SquareLoss(reduction="none")
    loss.k, loss.m = 2.0, 3.0
    expected = keras_losses.square_loss(y, z, k=2.0, m=3.0)
    np.testing.assert_array_equal(ops.convert_to_numpy(loss(y, z)), ops.convert_to_numpy(expected))
    assert loss.get_config()["k"] == 2.0
    loss.k = -1.0
    with pytest.raises(ValueError, match=r"`k` must be in \(0.0, inf\)"):
        loss(y, z)


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda fn: fn.__name__)
def test_function_hyper_parameters_are_keyword_only(fn):
    parameters = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in parameters[:2]] == ["y_true", "y_pred"]
    assert all(p.kind is p.KEYWORD_ONLY for p in parameters[2:]) and len(parameters) > 2
    with pytest.raises(TypeError, match="positional argument"):
        fn([0], np.zeros((1, 3), "float32"), 0.5)


def test_positional_square_loss_hyper_parameters_no_longer_swap_silently():
    with pytest.raises(TypeError):
        keras_losses.square_loss([0], np.zeros((1, 3), "float32"), 30.0, 15.0)


def test_the_version_is_written_once(monkeypatch):
    monkeypatch.chdir(ROOT)  # setup.py reads README.md
    captured = {}
    setup, setuptools.setup = setuptools.setup, captured.update
    try:
        runpy.run_path(str(ROOT / "setup.py"))
    finally:
        setuptools.setup = setup
    assert captured["version"] == keras_losses.__version__ == keras_losses.version.__version__
    assert "torch==2.13.0" in captured["extras_require"]["test"]
