"""Notebook display for objects made low in the data flow, without importing any printer there.

Derivations, check reports and audit reports inherit :class:`Displayable`,
which has no dependencies. Their renderers live in the report layer
(:mod:`symbackprop.reports.display`) and register themselves by class name; the first
time an object is displayed, that module is loaded, the way IPython loads a
formatter. Nothing calls ``init_printing``.

>>> class Thing(Displayable):
...     pass
>>> register("Thing", "html")(lambda thing: "<b>thing</b>")  # doctest: +ELLIPSIS
<function <lambda> at ...>
>>> Thing()._repr_html_(), Thing()._repr_latex_()
('<b>thing</b>', None)
"""
from __future__ import annotations

from importlib import import_module
from typing import Callable, Optional

_RENDERERS: dict[tuple[str, str], Callable[[object], Optional[str]]] = {}
#: The module whose import registers the renderers of the package's own classes.
RENDERER_MODULE = "symbackprop.reports.display"


def register(class_name: str, kind: str) -> Callable:
    """Register ``renderer(obj) -> str`` as the ``kind`` ("latex" or "html") display of ``class_name``."""

    def decorate(renderer: Callable[[object], Optional[str]]) -> Callable[[object], Optional[str]]:
        _RENDERERS[(class_name, kind)] = renderer
        return renderer

    return decorate


def _render(obj: object, kind: str) -> Optional[str]:
    import_module(RENDERER_MODULE)  # registers on first import, a dictionary look-up after
    for klass in type(obj).__mro__:
        renderer = _RENDERERS.get((klass.__name__, kind))
        if renderer is not None:
            return renderer(obj)
    return None


class Displayable:
    """Mixin: ``_repr_latex_`` and ``_repr_html_`` through the registered renderers."""

    __slots__ = ()

    def _repr_latex_(self) -> Optional[str]:
        return _render(self, "latex")

    def _repr_html_(self) -> Optional[str]:
        return _render(self, "html")
