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
from importlib import import_module
from typing import Any

# The public API, imported on first use so that `symbackprop --help` never loads SymPy.
_EXPORTS = {
    "Derivation": "engine.chain", "Engine": "engine.chain", "Factor": "engine.chain",
    "CheckReport": "oracle.check", "GradientCheck": "oracle.check", "check_gradients": "oracle.check",
    "InputError": "errors",
    "BatchFunction": "training.codegen", "compile_gradients": "training.codegen",
    "Document": "reports.document", "to_latex": "reports.document", "to_markdown": "reports.document",
    "network_dot": "reports.diagram", "explain": "reports.explain", "formula_file": "reports.formula_file",
    "SymbolicGraph": "graph", "build_graph": "frontends.dense",
    "Quantity": "quantity", "parse_quantity": "quantity",
    "load_network": "frontends.loader", "network_from_mapping": "frontends.loader",
    "read_document": "frontends.toml", "load_model": "frontends.loader", "graph_from_mapping": "frontends.loader",
    "Model": "frontends.model", "sigmoid": "functions.activations", "relu": "functions.activations",
    "leaky_relu": "functions.activations", "softplus": "functions.activations", "softmax": "functions.activations",
    "register_activation": "functions.activations", "register_loss": "functions.losses",
    "Bias": "frontends.network", "Layer": "frontends.network", "Loss": "frontends.network",
    "Network": "frontends.network", "Parameter": "frontends.network",
}
__all__ = sorted([*_EXPORTS, "audit"])
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "audit":  # a callable package: sbp.audit(path)
        return import_module(".audit", __name__)
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
