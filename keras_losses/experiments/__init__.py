"""Deprecated: the experiments moved to the package `keras_losses_experiments` (this alias goes in the next release).

`MOVED` maps every old module path to its new one (or, for a module split by job, to the new modules that hold
its names). Importing an old path warns (`DeprecationWarning`, naming the new path) and gives the new module
itself; a split module's alias gives each name from the new module that holds it.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

_OLD = "keras_losses.experiments"
_NEW = "keras_losses_experiments"
MOVED = {
    _OLD: _NEW,
    "keras_losses.cli": f"{_NEW}.cli",
    f"{_OLD}.arguments": f"{_NEW}.flags",
    f"{_OLD}.loss_specs": f"{_NEW}.losses",
    f"{_OLD}.distribution": f"{_NEW}.training.distribution",
    f"{_OLD}.multi_worker_workaround": f"{_NEW}.training.multi_worker_workaround",
    f"{_OLD}.quiet": f"{_NEW}.training.quiet",
    f"{_OLD}.resume": f"{_NEW}.training.resume",
    f"{_OLD}.training": f"{_NEW}.training.harness",
    f"{_OLD}.recipes": tuple(
        f"{_NEW}.{name}"
        for name in (
            "training.recipe",
            "training.optimizers",
            "training.schedules",
            "classification.recipes",
            "translation.presets",
            "recipe_tables",
            "flags",
            "errors",
        )
    ),
    f"{_OLD}.datasets": f"{_NEW}.classification.datasets",
    f"{_OLD}.user_data": f"{_NEW}.classification.user_data",
    f"{_OLD}.models": f"{_NEW}.classification.models",
    f"{_OLD}.metrics": (f"{_NEW}.classification.metrics", f"{_NEW}.translation.bleu"),
    f"{_OLD}.translation_data": f"{_NEW}.translation.data",
    f"{_OLD}.translator": f"{_NEW}.translation.model",
    f"{_OLD}.decoding": f"{_NEW}.translation.decoding",
    **{f"{_OLD}.{name}": f"{_NEW}.comparison.{name}" for name in ("compare", "report", "run_store", "runner")},
    **{f"{_OLD}.{name}": f"{_NEW}.comparison.{name}" for name in ("settings", "tasks", "verdict")},
}


def moved(old):
    """The module (or, for a split module, a module forwarding each name) now at `MOVED[old]`, with a warning."""
    new = MOVED[old]
    where = new if isinstance(new, str) else " and ".join(new)
    warnings.warn(f"{old} moved to {where}; the old path goes in the next release", DeprecationWarning, stacklevel=3)
    if isinstance(new, str):
        return importlib.import_module(new)
    modules = [importlib.import_module(name) for name in new]
    alias = types.ModuleType(old, f"Deprecated: moved to {where}.")

    def forward(name):
        for module in modules:
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {old!r} (moved to {where}) has no attribute {name!r}")

    alias.__getattr__ = forward
    return alias


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old path of `MOVED` as its new module (registered in `sys.modules` under the old name too)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED and name != _OLD else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        sys.modules[module.__name__] = moved(module.__name__)


if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _Finder())
warnings.warn(f"{_OLD} moved to {_NEW}; the old path goes in the next release", DeprecationWarning, stacklevel=2)
