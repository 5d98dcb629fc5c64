"""Warnings about how a loss is used: they name the loss, point at the user's code, and come once per loss object.

A function form (`square_loss(...)`) warns on every call (Python's default filter then shows a warning
once per line of user code). A loss object (`SquareLoss()`) runs its function inside
`warnings_of(loss)`: its warnings name the class and each is issued once per object, however often
the loss is called or traced.
"""

import contextlib
import contextvars
import os
import sys
import warnings

_LOSS_OBJECT = contextvars.ContextVar("keras_losses_loss_object", default=None)

#: Frames in these packages are skipped to find the user's code (resolved on first use).
_LIBRARIES = ("keras_losses", "keras", "tensorflow", "jax", "jaxlib", "torch", "optree")


@contextlib.contextmanager
def warnings_of(loss):
    """Inside: warnings name `type(loss)` and each is issued once per `loss` object."""
    token = _LOSS_OBJECT.set(loss)
    try:
        yield
    finally:
        _LOSS_OBJECT.reset(token)


def warn_user(function_name, message):
    """Warns "`<loss>` <message>" at the first frame outside the libraries (the user's code)."""
    loss = _LOSS_OBJECT.get()
    if loss is not None:
        issued = loss.__dict__.setdefault("_issued_warnings", set())
        if message in issued:
            return
        issued.add(message)
        function_name = type(loss).__name__
    warnings.warn(f"`{function_name}` {message}", UserWarning, stacklevel=_user_stacklevel())


def _library_directories():
    directories = []
    for name in _LIBRARIES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            directories.append(os.path.dirname(os.path.abspath(module.__file__)) + os.sep)
    return tuple(directories)


def _user_stacklevel():
    """The `stacklevel`, counted from `warn_user`, of the first frame outside the libraries."""
    skipped = _library_directories()
    frame, level = sys._getframe(1), 1  # level 1: warn_user itself
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(skipped):
        frame, level = frame.f_back, level + 1
    return level
