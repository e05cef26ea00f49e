"""The chain-rule engine over one graph: derivations (:mod:`.chain`), the straight-line program
(:mod:`.program`), node values (:mod:`.values`) and the update rule (:mod:`.update`). It never prints.
"""
