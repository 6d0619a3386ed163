"""Public names that load their module on first use (PEP 562), as SPEC 1's lazy_loader does.

A package lists ``name -> module`` and gets the ``__getattr__`` and ``__dir__`` that import a
module only when one of its names is looked up, so that importing the package stays light.
"""

import importlib
import sys

__all__ = ["attach"]


def attach(package, names):
    """``__getattr__`` and ``__dir__`` for ``package`` whose ``names`` map to their modules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict of str to str
        Public name -> the module that defines it.

    Returns
    -------
    __getattr__, __dir__ : callable
    """

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
