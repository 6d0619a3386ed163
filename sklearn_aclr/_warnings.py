"""Warnings that point at the user's line, however deep in library code they are raised."""

import inspect
import os
import sys
import warnings

# Frames in these packages are skipped: a warning raised inside a Pipeline, GridSearchCV, a
# skorch callback or a joblib worker is reported at the user's call that started it.
_LIBRARIES = ("sklearn_aclr", "sklearn", "skorch", "torch", "joblib", "numpy")


def _library_dirs():
    dirs = []
    for name in _LIBRARIES:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if path:
            dirs.append(os.path.dirname(path) + os.sep)
    return tuple(dirs)


def find_stack_level():
    """The ``stacklevel`` of the first frame outside the libraries above (pandas' recipe).

    Counted from the caller of :func:`warn`, so ``warnings.warn(..., stacklevel=...)`` there
    names the user's file and line.
    """
    library_dirs = _library_dirs()
    frame = inspect.currentframe()
    level = 0
    try:
        while frame is not None:
            if not frame.f_code.co_filename.startswith(library_dirs) and level > 0:
                break
            frame = frame.f_back
            level += 1
    finally:
        del frame
    return level


def warn(message, category):
    """``warnings.warn`` at the user's line (see :func:`find_stack_level`)."""
    warnings.warn(message, category, stacklevel=find_stack_level())
