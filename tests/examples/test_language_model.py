"""examples/language_model.py on tiny settings: both heads train the keras-hub model from the same weights."""

import runpy
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras_hub")

SCRIPT = Path(__file__).parents[2] / "examples" / "language_model.py"


# One backbone here: tests/test_language_models.py checks GPT-2, Gemma and Llama with the chunked head on every backend.
@pytest.mark.parametrize("model", ["gpt2"])
def test_both_heads_start_from_the_same_loss_and_train(model):
    main = runpy.run_path(str(SCRIPT))["main"]
    tiny = ["--model", model, "--vocabulary", "300", "--layers", "1", "--hidden", "16", "--sequence", "8"]
    plain, chunked = main([*tiny, "--batch", "2", "--steps", "3"])
    assert (plain["head"], chunked["head"]) == ("plain", "chunked")
    np.testing.assert_allclose(chunked["first_loss"], plain["first_loss"], rtol=1e-5)
    np.testing.assert_allclose(chunked["last_loss"], plain["last_loss"], rtol=1e-3)
    assert chunked["last_loss"] < chunked["first_loss"]  # it trains on the repeated batch
