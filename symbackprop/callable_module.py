"""A module that can be called as the function it is named after.

``symbackprop.explain`` and ``symbackprop.audit`` are both a module and the function users call. Once the
module is imported, Python binds the package attribute to the module, so ``sbp.explain(engine)`` would
call a module; making the module callable keeps one name for both.

>>> import symbackprop as sbp, symbackprop.explain
>>> callable(sbp.explain), sbp.explain.explain.__name__
(True, 'explain')
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
