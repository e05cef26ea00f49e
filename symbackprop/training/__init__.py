"""Numbers over many steps and samples: training runs (:mod:`.train`), float64 code (:mod:`.codegen`)
and the matrix form of a layered network (:mod:`.matrix`).
"""
