"""The recipes: the learning rate at the key steps of every recipe against hand-computed numbers, the
optimizers they build, the overrides, and the docs' tables."""

import contextlib
import doctest
import math
import re
from dataclasses import replace
from pathlib import Path

import keras
import pytest

import keras_losses
from keras_losses_experiments.classification.recipes import RECIPES
from keras_losses_experiments.errors import ConfigError
from keras_losses_experiments.recipe_tables import recipe_table
from keras_losses_experiments.training.optimizers import SGD, make_optimizer
from keras_losses_experiments.training.schedules import Cosine, Step, make_schedule
from keras_losses_experiments.translation.presets import PRESETS

RECIPES_PAGE = Path(__file__).resolve().parents[2] / "docs" / "examples.md"


def rates(schedule, steps):
    return [float(schedule(step)) if callable(schedule) else schedule for step in steps]


def test_imagenet_warms_up_from_zero_over_5_epochs_then_steps_at_30_60_80_of_90():
    # global batch 1024 (e.g. 4 replicas x 256): peak 0.1 x 1024 / 256 = 0.4; 1,281,167 // 1024 = 1251 steps an epoch
    schedule = make_schedule(RECIPES["imagenet2012"], 1251, 1024)
    e = 1251  # steps per epoch
    steps = [0, 1, 5 * e // 2, 5 * e, 30 * e - 1, 30 * e, 60 * e - 1, 60 * e, 80 * e - 1, 80 * e, 90 * e - 1]
    expected = [0.0, 0.4 / (5 * e), 0.4 * (5 * e // 2) / (5 * e), 0.4, 0.4, 0.04, 0.04, 0.004, 0.004, 0.0004, 0.0004]
    assert rates(schedule, steps) == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_imagenet_boundaries_keep_their_fractions_with_other_epochs():
    recipe = RECIPES["imagenet2012"].override(epochs=45)
    schedule = make_schedule(recipe, 100, 256)  # peak 0.1
    steps = [0, 250, 500, 1499, 1500, 2999, 3000, 3999, 4000, 4499]  # warm-up 5 epochs; x0.1 at epochs 15, 30, 40
    expected = [0.0, 0.05, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]
    assert rates(schedule, steps) == pytest.approx(expected, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_cifar_cosine_from_0_1_per_128_to_zero_over_200_epochs(dataset):
    schedule = make_schedule(RECIPES[dataset], 195, 256)  # 50,000 // 256 = 195; peak 0.1 x 256 / 128 = 0.2
    total = 200 * 195
    steps = [0, total // 4, total // 2, total - 1]
    expected = [0.2, 0.1 * (1 + math.cos(math.pi / 4)), 0.1, 0.1 * (1 + math.cos(math.pi * (total - 1) / total))]
    assert rates(schedule, steps) == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_digits_adam_at_a_constant_rate():
    optimizer = make_optimizer(RECIPES["digits"], 22)
    assert isinstance(optimizer, keras.optimizers.Adam) and float(optimizer.learning_rate) == pytest.approx(1e-3)
    assert rates(make_schedule(RECIPES["digits"], 22), [0, 20 * 22 - 1]) == [1e-3, 1e-3]


def test_iwslt_preset_is_the_papers_fairseq_schedule():
    # fairseq inverse_sqrt: 0 -> 5e-4 linearly over 4000 updates, then 5e-4 * sqrt(4000 / step)
    schedule = make_schedule(PRESETS["iwslt_sentences"].recipe, 400)  # 30 epochs of 400 steps: last step 11,999
    steps = [0, 1, 2000, 4000, 8000, 11999]
    expected = [0.0, 5e-4 / 4000, 2.5e-4, 5e-4, 5e-4 * math.sqrt(0.5), 5e-4 * math.sqrt(4000 / 11999)]
    assert rates(schedule, steps) == pytest.approx(expected, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name,model_dim", [("base", 512), ("tiny", 32)])
def test_base_and_tiny_follow_vaswanis_formula(name, model_dim):
    recipe = PRESETS[name].recipe
    schedule = make_schedule(recipe, 1000)
    last = recipe.epochs * 1000 - 1

    def vaswani(step):
        return model_dim**-0.5 * min(step**-0.5, step * 4000**-1.5)

    steps = [1, 2000, 4000, 16000, last]
    assert rates(schedule, [0] + steps) == pytest.approx([0.0] + [vaswani(s) for s in steps], rel=1e-6)


def test_the_optimizers_are_the_recipes():
    sgd = make_optimizer(RECIPES["imagenet2012"], 10, 512)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    assert sgd.weight_decay == pytest.approx(1e-4)
    adamw = make_optimizer(PRESETS["iwslt_sentences"].recipe, 10)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == pytest.approx(1e-4)
    assert (adamw.beta_1, adamw.beta_2, adamw.epsilon) == (0.9, 0.98, 1e-8)
    adam = make_optimizer(PRESETS["base"].recipe, 10)
    assert type(adam) is keras.optimizers.Adam and adam.weight_decay is None and adam.epsilon == 1e-9


def test_mixed_float16_optimizers_carry_their_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        optimizer = make_optimizer(RECIPES["cifar10"], 10)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(optimizer.inner_optimizer, keras.optimizers.SGD)


def test_learning_rate_scales_linearly_only_where_the_recipe_says_so():
    assert RECIPES["cifar10"].peak_learning_rate(512) == pytest.approx(0.4)
    assert PRESETS["iwslt_sentences"].recipe.peak_learning_rate(512) == 5e-4  # fairseq does not scale Adam's rate


def test_every_field_takes_effect():
    base = RECIPES["imagenet2012"]
    changes = {
        "optimizer": SGD(0.5, nesterov=False),
        "schedule": Cosine(warmup_epochs=5),
        "learning_rate": 0.2,
        "batch_size": 512,
        "epochs": 60,
        "weight_decay": 3e-4,
        "scale_learning_rate": False,
    }
    reference = make_optimizer(base, 10, 1024).get_config()
    for field, value in changes.items():
        changed = make_optimizer(replace(base, **{field: value}), 10, 1024).get_config()
        assert changed != reference, field
    assert all(recipe.source in recipe_table() for recipe in RECIPES.values())  # --help and the docs
    step_factor = make_schedule(replace(base, schedule=Step(factor=0.5, warmup_epochs=5)), 10, 256)
    assert float(step_factor(300)) == pytest.approx(0.05)


@contextlib.contextmanager
def raises_config_error(field, match):
    """`pytest.raises` for a `ConfigError` about `field` (the command line names its flag)."""
    with pytest.raises(ConfigError, match=match) as info:
        yield
    assert info.value.field == field


def test_overrides_name_the_field_that_does_not_apply():
    imagenet = RECIPES["imagenet2012"]
    cosine = imagenet.override(schedule="cosine")
    assert cosine.schedule == Cosine(warmup_epochs=5)  # the recipe's warm-up is kept
    assert imagenet.override(warmup_epochs=0).schedule == Step(warmup_epochs=0)
    with raises_config_error("warmup_steps", "does not apply to the step schedule"):
        imagenet.override(warmup_steps=100)
    with raises_config_error("warmup_epochs", "does not apply to the inverse_sqrt schedule"):
        PRESETS["iwslt_sentences"].recipe.override(warmup_epochs=1)
    with raises_config_error("schedule", "cosine does not apply"):
        PRESETS["iwslt_sentences"].recipe.override(schedule="cosine")
    with raises_config_error("learning_rate", "must be > 0"):
        imagenet.override(learning_rate=0.0)
    # a new reference batch (keras-losses compare's global --batch-size): the same peak there
    assert RECIPES["cifar10"].override(batch_size=256).peak_learning_rate(256) == 0.1
    with raises_config_error("batch_size", "must be >= 1"):
        imagenet.override(batch_size=0)
    with raises_config_error("epochs", r"must be more than the recipe's 5 warm-up epochs. Received: 3"):
        imagenet.override(epochs=3)


def test_translation_overrides():
    iwslt = PRESETS["iwslt_sentences"].override(learning_rate=1e-3, dropout=0.1, warmup_steps=8000)
    assert (iwslt.recipe.learning_rate, iwslt.dropout, iwslt.recipe.schedule.warmup_steps) == (1e-3, 0.1, 8000)
    wide = PRESETS["base"].override(model_dim=1024, heads=16)  # Transformer-big's width: Vaswani's rate follows
    assert wide.recipe.learning_rate == pytest.approx((1024 * 4000) ** -0.5)
    fixed = PRESETS["base"].override(model_dim=1024, heads=16, learning_rate=1e-3)
    assert fixed.recipe.learning_rate == 1e-3 and not fixed.learning_rate_from_model_dim
    assert PRESETS["iwslt_sentences"].override(model_dim=256).recipe.learning_rate == 5e-4  # a fixed peak stays
    with raises_config_error("model_dim", r"must be a multiple of the attention heads \(8\). Received: 100"):
        PRESETS["base"].override(model_dim=100)
    with raises_config_error("dropout", r"must be in \[0, 1\)"):
        PRESETS["base"].override(dropout=1.0)


def test_schedules_are_registered_and_round_trip():
    for schedule in (
        keras_losses.schedules.StepDecay(0.1, [3, 6], 0.5, 2),
        keras_losses.schedules.InverseSquareRootSchedule(5e-4, 40),
    ):
        config = keras.optimizers.schedules.serialize(schedule)
        assert config["registered_name"].startswith("keras_losses>")
        again = keras.optimizers.schedules.deserialize(config)
        assert rates(again, range(10)) == rates(schedule, range(10))
    with pytest.raises(ValueError, match="`warmup_steps` must be an integer >= 1"):
        keras_losses.schedules.InverseSquareRootSchedule(1e-3, 0)
    with pytest.raises(ValueError, match="`boundaries` must be an integer >= 5"):
        keras_losses.schedules.StepDecay(0.1, [3], warmup_steps=5)


@pytest.mark.parametrize("module", [keras_losses.schedules, keras_losses.metrics])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_the_docs_recipe_tables_are_the_recipes():
    text = RECIPES_PAGE.read_text(encoding="utf-8")
    block = re.search(r"<!-- recipes:begin.*?-->\n(.*?)<!-- recipes:end -->", text, re.DOTALL)
    assert block, "docs/examples.md has no recipes block"
    assert block.group(1) == recipe_table(), "regenerate with: python -m keras_losses_experiments.recipe_tables"
