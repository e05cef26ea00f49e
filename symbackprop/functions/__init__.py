"""The rules: every activation and loss, each defined once in SymPy (:mod:`.activations`, :mod:`.losses`).

Everything else reads these registries; nothing here imports another stage.
"""
