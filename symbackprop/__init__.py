"""symbackprop: the exact, closed-form gradient of every weight of a small neural network, proved.

>>> import symbackprop as sbp
>>> net = sbp.network_from_mapping({
...     "network": {"inputs": ["x"], "layers": [
...         {"units": ["y"], "activation": "sigmoid", "weights": [["0.5"]], "weight_names": [["w"]]}]},
...     "loss": {"kind": "half_sse", "targets": ["1"]},
...     "data": {"inputs": ["2"]}})
>>> gradient = sbp.Engine(net).gradient("w")
>>> gradient.compact                      # a SymPy expression in node symbols
out_y*x*(1 - out_y)*(out_y - t_y)
>>> gradient.exact                        # exact, at the file's numbers
2*(-1 + sigmoid(1))*(1 - sigmoid(1))*sigmoid(1)
>>> gradient.decimal(12)
'-0.105754185569'
>>> sbp.check_gradients(net).passed       # proved against finite differences
True
"""
from .chain import Derivation, Engine, Factor
from .check import CheckReport, GradientCheck, check_gradients
from .errors import InputError
from .graph import Quantity, SymbolicGraph, build_graph, parse_quantity
from .loader import load_network, network_from_mapping, read_document
from .network import Bias, Layer, Loss, Network, Parameter

__all__ = [
    "Bias", "CheckReport", "Derivation", "Engine", "Factor", "GradientCheck", "InputError", "Layer", "Loss",
    "Network", "Parameter", "Quantity", "SymbolicGraph", "build_graph", "check_gradients", "load_network",
    "network_from_mapping", "parse_quantity", "read_document",
]
__version__ = "0.1.0"
