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
    "Derivation": "chain", "Engine": "chain", "Factor": "chain",
    "CheckReport": "check", "GradientCheck": "check", "check_gradients": "check",
    "InputError": "errors",
    "BatchFunction": "codegen", "compile_gradients": "codegen",
    "Document": "document", "to_latex": "document", "to_markdown": "document",
    "network_dot": "diagram",
    "SymbolicGraph": "graph", "build_graph": "graph",
    "Quantity": "quantity", "parse_quantity": "quantity",
    "load_network": "loader", "network_from_mapping": "loader", "read_document": "loader",
    "load_model": "loader", "graph_from_mapping": "loader",
    "Model": "model", "sigmoid": "activations", "relu": "activations", "leaky_relu": "activations",
    "softplus": "activations", "softmax": "activations", "register_activation": "activations",
    "register_loss": "losses",
    "Bias": "network", "Layer": "network", "Loss": "network", "Network": "network", "Parameter": "network",
}
__all__ = sorted([*_EXPORTS, "audit", "explain"])
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("audit", "explain"):  # callable modules: sbp.audit(path), sbp.explain(engine)
        return import_module(f".{name}", __name__)
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
