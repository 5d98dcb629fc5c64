"""The old module paths (`keras_losses.experiments.*`, `keras_losses.cli`) keep working for one release: each
imports, warns naming its new path, and gives the new module itself (a split module: the same objects)."""

import importlib
import subprocess
import sys

import pytest

from keras_losses.experiments import MOVED

# A name of each split module, and the new module that holds it.
SPLIT_NAMES = {
    "keras_losses.experiments.recipes": {
        "Recipe": "keras_losses_experiments.training.recipe",
        "make_optimizer": "keras_losses_experiments.training.optimizers",
        "Cosine": "keras_losses_experiments.training.schedules",
        "RECIPES": "keras_losses_experiments.classification.recipes",
        "PRESETS": "keras_losses_experiments.translation.presets",
        "recipe_table": "keras_losses_experiments.recipe_tables",
        "HEAD_HELP": "keras_losses_experiments.flags",
    },
    "keras_losses.experiments.metrics": {
        "classification_metrics": "keras_losses_experiments.classification.metrics",
        "bleu": "keras_losses_experiments.translation.bleu",
    },
}


def fresh_import(name):
    """Imports `name` as a first import would (the alias is registered once per process)."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.mark.parametrize("old", sorted(set(MOVED) - {"keras_losses.experiments"}))
def test_an_old_path_warns_and_is_the_new_module(old):
    new = MOVED[old]
    with pytest.warns(DeprecationWarning, match=rf"{old} moved to {(new if isinstance(new, str) else new[0])}"):
        module = fresh_import(old)
    if isinstance(new, str):
        assert module is importlib.import_module(new)
    else:
        assert set(SPLIT_NAMES[old].values()) <= set(new)
        for name, holder in SPLIT_NAMES[old].items():
            assert getattr(module, name) is getattr(importlib.import_module(holder), name)
        with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
            module.no_such_name  # noqa: B018


def test_from_imports_of_the_old_package_give_the_new_modules():
    sys.modules.pop("keras_losses.experiments.compare", None)
    with pytest.warns(DeprecationWarning, match="keras_losses_experiments.comparison.compare"):
        from keras_losses.experiments import compare
        from keras_losses.experiments.compare import Settings
    from keras_losses_experiments.comparison import compare as new

    assert compare is new and Settings is new.Settings


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)


def test_the_old_package_warns():
    code = (
        "import warnings, keras_losses\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import keras_losses.experiments\n"
        "print([str(w.message) for w in caught if w.category is DeprecationWarning])\n"
    )
    last = run_python(code).stdout.strip().splitlines()[-1]
    assert (
        last == "['keras_losses.experiments moved to keras_losses_experiments; the old path goes in the next release']"
    )


def test_the_core_package_does_not_import_the_experiments():
    code = "import sys, keras_losses; print(sorted(m for m in sys.modules if 'experiments' in m))"
    result = run_python(code)
    assert result.stdout.strip().splitlines()[-1] == "[]"
