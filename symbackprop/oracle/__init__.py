"""The independent proof: finite differences at high precision (:mod:`.numeric`, written without the
engine on purpose) and the check of every engine gradient against them (:mod:`.check`).
"""
