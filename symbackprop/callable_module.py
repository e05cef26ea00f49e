"""A module that can be called as the function it is named after.

``symbackprop.audit`` is both a package and the function users call. Once the package is imported,
Python binds the attribute ``sbp.audit`` to it, so ``sbp.audit(path)`` would call a module; making the
module callable keeps one name for both.

>>> import symbackprop as sbp, symbackprop.audit
>>> callable(sbp.audit), sbp.audit.audit.__name__
(True, 'audit')
"""
from __future__ import annotations

import sys
import types
from typing import Callable


def make_callable(module_name: str, function: Callable) -> None:
    """Calling the module ``module_name`` calls ``function`` (with its docstring as the module's help)."""

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return function(*args, **kwargs)

    CallableModule.__call__.__doc__ = function.__doc__
    sys.modules[module_name].__class__ = CallableModule
