"""The ways in: a dense network file, a formula file, a Python :class:`~.model.Model`; each becomes one graph.

:mod:`.loader` reads files (never evaluating their text), :mod:`.formula` parses a formula with an
allow-list, :mod:`.network` is the dense description, and :mod:`.model` the Python front-end with
:func:`~.model.as_graph`, the one coercion every public function uses.
"""
