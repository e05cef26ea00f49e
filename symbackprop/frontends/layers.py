"""Layer kinds beyond dense: a ``[network]`` whose layers name a ``kind`` becomes nodes of the one graph.

``conv2d`` (filters over channels × height × width, stride, zero padding, a bias per filter, an activation),
``rnn`` (a recurrent cell unrolled over the steps of a sequence input, its weights shared by every step),
``maxpool2d`` and ``avgpool2d`` (a window and a stride), ``flatten`` (a no-op: a dense layer after a
spatial one reads its outputs channel by channel, row by row), and ``dense`` layers as in any network
file. Every unit is written as nodes (``net_c1_0_1_2`` and ``out_c1_0_1_2`` for filter 0 at row 1, column 2
of layer c1; ``p1_0_1_2`` for a pooled value), so every command reads the result as it reads a formula
graph. A convolution is PyTorch's (a cross-correlation: the kernel is not flipped); positions count from 0.

>>> graph = layered_graph_from_mapping({"network": {"inputs": ["x"], "input_shape": [1, 2, 2], "layers": [
...     {"name": "c", "kind": "conv2d", "filters": 1, "kernel": 2, "activation": "linear",
...      "weights": [[[["0.5", "-1"], ["2", "0.25"]]]], "bias": ["0.1"]}]},
...     "loss": {"term": "out", "targets": ["0"]}, "data": {"inputs": [[["1", "2"], ["3", "4"]]]}})
>>> graph.definitions[graph.named("net_c_0_0_0")]
b_c_0 + w_c_0_0_0_0*x_0_0_0 + w_c_0_0_0_1*x_0_0_1 + w_c_0_0_1_0*x_0_1_0 + w_c_0_0_1_1*x_0_1_1
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping, Optional

import sympy as sp

from ..errors import InputError
from ..graph import MAX_FORMULA_SIZE
from ..numbers import as_rational
from .dense import layer_activation, layer_outs, loss_of, unit_net
from .dense_tables import MAX_UNITS_PER_LAYER, _custom_activations, _layer, _loss  # the dense reader's rules, for dense layers
from .model import MAX_NODES, formula_graph
from .tables import (_check_name, _kind, _names, _no_unknown_keys, _number, _numbers, _registry, _require_key,
                     _require_table, _samples, _title, _training, fixed_parameters)

KINDS = ("dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "rnn")
CONV_KEYS = {"name", "kind", "filters", "kernel", "stride", "padding", "activation", "alpha", "weights", "bias"}
POOL_KEYS = {"name", "kind", "window", "stride"}
RNN_KEYS = {"name", "kind", "units", "activation", "alpha", "weights", "recurrent_weights", "bias", "initial"}
#: Most time steps of a sequence.
MAX_STEPS_IN_SEQUENCE = 256
#: Bounds checked before any node is written (a spatial layer multiplies quickly).
MAX_CHANNELS, MAX_SIDE, MAX_KERNEL, MAX_FILTERS = 64, 256, 16, 256


def is_layered(document: Mapping[str, Any]) -> bool:
    """Whether a ``[network]`` document names a layer kind other than dense (or a spatial input)."""
    network = document.get("network") if isinstance(document, Mapping) else None
    if not isinstance(network, Mapping):
        return False
    layers = network.get("layers")
    # (any kind but "dense", even one that is not a name, goes to the reader that can say it is unknown)
    kinds = {repr(table.get("kind", "dense")) for table in layers if isinstance(table, Mapping)} \
        if isinstance(layers, list) else set()
    return "input_shape" in network or "steps" in network or bool(kinds - {repr("dense")})


@dataclass(frozen=True)
class _Signal:
    """What a layer reads: its values' symbols, flat (c, i, j order), with their spatial shape if any."""

    symbols: tuple[sp.Symbol, ...]
    shape: Optional[tuple[int, int, int]] = None  # channels, height, width
    steps: int = 0  # a sequence of this many time steps: symbols step by step, ``names`` at each
    names: tuple[str, ...] = ()  # a sequence's value names at one step (its inputs', or its units')

    def step(self, t: int) -> tuple[sp.Symbol, ...]:
        """The values at time step t (from 1)."""
        width = len(self.names)
        return self.symbols[(t - 1) * width: t * width]

    def at(self, c: int, i: int, j: int) -> sp.Symbol:
        _, height, width = self.shape
        return self.symbols[(c * height + i) * width + j]


class _Writer:
    """The graph's leaves, nodes and values as the layers are read."""

    def __init__(self) -> None:
        self.leaves: list[tuple[str, sp.Symbol, str]] = []
        self.nodes: list[tuple[str, sp.Symbol, sp.Expr]] = []
        self.values: dict[sp.Symbol, Fraction] = {}
        self.names: set[str] = set()

    def symbol(self, name: str, place: str) -> sp.Symbol:
        if name in self.names:
            raise InputError(f"{name!r} names two things (a unit or parameter of another layer): rename a layer",
                             place=place)
        if len(self.names) >= MAX_NODES:
            raise InputError(f"more than {MAX_NODES:,} nodes, inputs and parameters", place=place)
        self.names.add(name)
        return sp.Symbol(name)

    def leaf(self, name: str, role: str, place: str, value: Optional[Fraction] = None) -> sp.Symbol:
        symbol = self.symbol(name, place)
        self.leaves.append((name, symbol, role))
        if value is not None:
            self.values[symbol] = value
        return symbol

    def node(self, name: str, definition: sp.Expr, place: str) -> sp.Symbol:
        symbol = self.symbol(name, place)
        self.nodes.append((name, symbol, definition))
        return symbol


def layered_graph_from_mapping(document: Mapping[str, Any]):
    """The graph of a ``[network]`` document with layer kinds (see the module's docstring)."""
    network = _require_key(document, "network", "")
    _require_table(network, "network", "[network]")
    _no_unknown_keys(network, {"convention", "inputs", "input_shape", "steps", "layers"}, "network")
    convention = network.get("convention", "row")
    custom = _custom_activations(document)
    write = _Writer()
    signal, input_symbols = _inputs(network, write)
    layer_tables = _require_key(network, "layers", "network")
    if not isinstance(layer_tables, list) or not layer_tables:
        raise InputError("expected one or more [[network.layers]] tables", place="network.layers")
    biases: list[str] = []
    for index, table in enumerate(layer_tables):
        place = f"network.layers[{index}]"
        _require_table(table, place, "a layer")
        kind = table.get("kind", "dense")
        if not isinstance(kind, str) or kind not in KINDS:
            raise InputError(f"unknown layer kind {str(kind)[:40]!r}; known: {', '.join(KINDS)}", place=f"{place}.kind")
        name = table.get("name", f"layer{index + 1}")
        _check_name(name, f"{place}.name")
        if kind == "conv2d":
            signal = _conv2d(table, place, name, signal, write, custom, biases)
        elif kind in ("maxpool2d", "avgpool2d"):
            signal = _pool(table, place, name, kind, signal, write)
        elif kind == "rnn":
            signal = _rnn(table, index, place, name, signal, write, convention, custom, biases)
        elif kind == "flatten":
            _no_unknown_keys(table, {"name", "kind"}, place)
            signal = _Signal(signal.symbols)
        else:
            if signal.steps:
                raise InputError("a dense layer reads one value per input, not a sequence: put an rnn layer first "
                                 "(its last step is what the next layer reads)", place=place)
            dense_table = {k: v for k, v in table.items() if k != "kind"}
            sources = signal.names or tuple(str(s) for s in signal.symbols)  # (an rnn's last step: its units)
            layer = _layer(dense_table, index, sources, convention, list(sources), custom)
            signal = _dense(layer, place, signal, write, custom, biases)
    # an output is named as its unit: out_c_0_1_2's target is t_c_0_1_2, its loss term E_c_0_1_2
    outputs = tuple(str(s)[4:] if str(s).startswith("out_") else str(s) for s in signal.symbols)
    loss, target_rows = _loss(document, outputs)
    rule = loss_of(loss)
    # a term of the file's own that never reads t (L = mean(exp(y))) needs no targets
    uses_targets = loss.kind != "custom" or sp.Symbol("t") in loss.term.free_symbols
    targets = [write.leaf(f"t_{unit}", "target", "loss.targets") if uses_targets else sp.Symbol(f"t_{unit}")
               for unit in outputs]
    terms = [write.node(f"E_{unit}", rule.term(out, target, len(outputs)), "loss")
             for unit, out, target in zip(outputs, signal.symbols, targets)]
    data_rows = _data_rows(document, input_symbols, network.get("input_shape") is not None, network.get("steps", 0))
    rows = _samples(data_rows, target_rows, "loss.targets") if target_rows is not None or \
        (data_rows is not None and len(data_rows) > 1) else ()
    samples: tuple = ()
    if rows:
        samples = tuple({**dict(zip(input_symbols, inputs)), **dict(zip(targets, outs))} for inputs, outs in rows)
    else:
        if data_rows is not None:
            write.values.update(zip(input_symbols, data_rows[0]))
        if loss.targets is not None and uses_targets:
            write.values.update(zip(targets, loss.targets))
    rate, update_biases, training = _training(document, max(len(samples), 1))
    parameters = [name for name, _, role in write.leaves if role == "parameter"]
    fixed = fixed_parameters(document, parameters) | (frozenset() if update_biases else frozenset(biases))
    return formula_graph(write.leaves, write.nodes, sp.Add(*terms), write.values, rate, _title(document), samples,
                         training, fixed)


def _inputs(network: Mapping[str, Any], write: _Writer) -> tuple[_Signal, list[sp.Symbol]]:
    inputs = _names(_require_key(network, "inputs", "network"), "network.inputs", 4096)
    if "steps" in network:
        if "input_shape" in network:
            raise InputError("a sequence of images is not supported: give steps or input_shape", place="network.steps")
        steps = _whole(network, "steps", "network", None, 1, MAX_STEPS_IN_SEQUENCE)
        if steps * len(inputs) > MAX_NODES:
            raise InputError(f"{steps} steps of {len(inputs)} inputs: more than the {MAX_NODES:,} nodes a graph may "
                             "have", place="network.steps")
        symbols = [write.leaf(f"{name}_{t}", "input", "network.steps") for t in range(1, steps + 1) for name in inputs]
        return _Signal(tuple(symbols), steps=steps, names=inputs), symbols
    if "input_shape" not in network:
        symbols = [write.leaf(name, "input", f"network.inputs[{i}]") for i, name in enumerate(inputs)]
        return _Signal(tuple(symbols)), symbols
    if len(inputs) != 1:
        raise InputError("a spatial input (input_shape) is one name: its values are named name_c_i_j",
                         place="network.inputs")
    shape = network["input_shape"]
    if not isinstance(shape, list) or len(shape) != 3 or not all(isinstance(n, int) and not isinstance(n, bool)
                                                                 for n in shape):
        raise InputError(f"input_shape is [channels, height, width], three whole numbers; got {_kind(shape)}",
                         place="network.input_shape")
    channels, height, width = shape
    if channels * height * width > MAX_NODES:
        raise InputError(f"{channels}×{height}×{width} inputs: more than the {MAX_NODES:,} nodes a graph may have",
                         place="network.input_shape")
    for size, limit, what in ((channels, MAX_CHANNELS, "channels"), (height, MAX_SIDE, "height"),
                              (width, MAX_SIDE, "width")):
        if not 1 <= size <= limit:
            raise InputError(f"{what} must be from 1 to {limit}, got {size}", place="network.input_shape")
    symbols = [write.leaf(f"{inputs[0]}_{c}_{i}_{j}", "input", "network.input_shape")
               for c in range(channels) for i in range(height) for j in range(width)]
    return _Signal(tuple(symbols), (channels, height, width)), symbols


def _whole(table: Mapping[str, Any], key: str, place: str, default: Optional[int], low: int, high: int) -> int:
    value = table.get(key, default)
    if value is None:
        raise InputError(f"missing required key {key!r}", place=place)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{key} must be a whole number from {low} to {high}, got {str(value)[:40]}",
                         place=f"{place}.{key}")
    return value


def _spatial(signal: _Signal, place: str, kind: str) -> tuple[int, int, int]:
    if signal.shape is None:
        raise InputError(f"a {kind} layer reads a spatial signal (input_shape, or a conv2d or pooling layer "
                         "before it), not a flat one", place=place)
    return signal.shape


def _output_side(side: int, window: int, stride: int, padding: int, place: str, what: str) -> int:
    if window > side + 2 * padding:
        raise InputError(f"the {what} {window} is larger than the padded input ({side} + 2·{padding} = "
                         f"{side + 2 * padding})", place=place)
    return (side + 2 * padding - window) // stride + 1


def _conv2d(table, place: str, name: str, signal: _Signal, write: _Writer, custom, biases: list) -> _Signal:
    _no_unknown_keys(table, CONV_KEYS, place)
    channels, height, width = _spatial(signal, place, "conv2d")
    filters = _whole(table, "filters", place, None, 1, MAX_FILTERS)
    kernel = _whole(table, "kernel", place, None, 1, MAX_KERNEL)
    stride = _whole(table, "stride", place, 1, 1, MAX_KERNEL)
    padding = _whole(table, "padding", place, 0, 0, MAX_KERNEL - 1)
    rows = _output_side(height, kernel, stride, padding, f"{place}.kernel", "kernel")
    columns = _output_side(width, kernel, stride, padding, f"{place}.kernel", "kernel")
    # counted before anything is built: the nodes and parameters it adds, and the products its nets hold
    added = 2 * filters * rows * columns + filters * (channels * kernel * kernel + 1)
    if len(write.names) + added > MAX_NODES:
        raise InputError(f"{filters} filters of {channels}×{kernel}×{kernel} over {rows}×{columns} positions add "
                         f"{added:,} nodes and parameters: more than the {MAX_NODES:,} a graph may have", place=place)
    if 2 * filters * rows * columns * channels * kernel * kernel > MAX_FORMULA_SIZE:
        raise InputError(f"{filters} filters of {channels}×{kernel}×{kernel} over {rows}×{columns} positions hold "
                         f"{filters * rows * columns * channels * kernel * kernel:,} products: more than the graph's "
                         f"{MAX_FORMULA_SIZE:,} subexpressions", place=place)
    rule, alpha = _activation(table, place, custom)
    weights = _kernels(table.get("weights"), f"{place}.weights", filters, channels, kernel)
    kernels = [[[[write.leaf(f"w_{name}_{f}_{c}_{a}_{b}", "parameter", f"{place}.weights",
                             weights[f][c][a][b] if weights else None)
                  for b in range(kernel)] for a in range(kernel)] for c in range(channels)] for f in range(filters)]
    bias_values = None
    if "bias" in table:
        bias_values = _numbers(table["bias"], f"{place}.bias", filters, "one per filter")
    bias = [write.leaf(f"b_{name}_{f}", "parameter", f"{place}.bias", bias_values[f]) for f in range(filters)] \
        if bias_values is not None else None
    if bias is not None:
        biases.extend(str(b) for b in bias)
    outputs = []
    for f in range(filters):
        for i in range(rows):
            for j in range(columns):
                pairs = [(kernels[f][c][a][b], signal.at(c, i * stride + a - padding, j * stride + b - padding))
                         for c in range(channels) for a in range(kernel) for b in range(kernel)
                         if 0 <= i * stride + a - padding < height and 0 <= j * stride + b - padding < width]
                net = write.node(f"net_{name}_{f}_{i}_{j}", unit_net(pairs, bias[f] if bias else None), place)
                outputs.append(write.node(f"out_{name}_{f}_{i}_{j}", rule.forward(net, alpha), place))
    return _Signal(tuple(outputs), (filters, rows, columns))


def _activation(table, place: str, custom):
    activation = _require_key(table, "activation", place)
    known = tuple(name for name, rule in _registry().ACTIVATIONS.items() if rule.elementwise)
    if not isinstance(activation, str) or activation not in known and activation not in custom:
        raise InputError(f"unknown activation {str(activation)[:40]!r} for a conv2d layer; known: "
                         f"{', '.join(known + tuple(custom))}", place=f"{place}.activation")
    alpha = _number(table.get("alpha", "0.01"), f"{place}.alpha") if activation == "leaky_relu" else None
    if alpha is None and "alpha" in table:
        raise InputError("alpha applies only to leaky_relu", place=f"{place}.alpha")
    return layer_activation(custom, activation), as_rational(alpha) if alpha is not None else None


def _kernels(value: Any, place: str, filters: int, channels: int, kernel: int):
    """filters × channels × kernel × kernel numbers, or None when the file gives none."""
    if value is None:
        return None
    shape = (filters, channels, kernel, kernel)

    def read(item, depth: int, where: str):
        if depth == 4:
            return _number(item, place + where)
        if not isinstance(item, list) or len(item) != shape[depth]:
            what = ("filters", "channels", "kernel rows", "kernel columns")[depth]
            raise InputError(f"expected {shape[depth]} {what} (weights are filters × channels × {kernel} × {kernel})",
                             place=place + where)
        return [read(part, depth + 1, f"{where}[{k}]") for k, part in enumerate(item)]

    return read(value, 0, "")


def _rnn(table, index: int, place: str, name: str, signal: _Signal, write: _Writer, convention: str, custom,
         biases: list) -> _Signal:
    """h_t = f(W·x_t + U·h_(t−1) + b) for t = 1 … T, h_0 the ``initial`` values (zeros by default); W, U and b shared
    by every step. The next layer reads h_T."""
    _no_unknown_keys(table, RNN_KEYS, place)
    if not signal.steps:
        raise InputError("an rnn layer reads a sequence: give [network] steps, and inputs per step", place=place)
    rule, alpha = _activation(table, place, custom)
    units = _names(_require_key(table, "units", place), f"{place}.units", MAX_UNITS_PER_LAYER)
    if signal.steps * len(units) * 2 + len(write.names) > MAX_NODES:
        raise InputError(f"{len(units)} units over {signal.steps} steps: more than the {MAX_NODES:,} nodes a graph "
                         "may have", place=f"{place}.units")
    dense = {k: v for k, v in table.items() if k in ("name", "units", "activation", "alpha", "weights", "bias")}
    layer = _layer(dense, index, signal.names, convention, list(signal.names), custom)  # W and b, as a dense layer's
    recurrent = {"name": name, "units": list(units), "activation": layer.activation}
    if "recurrent_weights" in table:
        recurrent["weights"] = table["recurrent_weights"]
    try:
        loop = _layer(recurrent, index, layer.units, convention, list(layer.units), custom)  # U: w_h1_h2, h1 to h2
    except InputError as error:
        raise InputError(error.problem, place=error.place.replace(f"{place}.weights", f"{place}.recurrent_weights")) \
            from None
    initial = [Fraction(0)] * len(units)
    if "initial" in table:
        initial = list(_numbers(table["initial"], f"{place}.initial", len(units), "one per unit: h at step 0"))
    parameters: dict[str, sp.Symbol] = {}
    _layer_parameters(place, write, parameters, biases, (layer, "weights"), (loop, "recurrent_weights"))
    previous: list[sp.Expr] = [as_rational(v) for v in initial]
    for t in range(1, signal.steps + 1):
        current = []
        for j, unit in enumerate(layer.units):
            pairs = [(parameters[w], x) for w, x in zip(layer.weight_names[j], signal.step(t))]
            pairs += [(parameters[u], h) for u, h in zip(loop.weight_names[j], previous)]
            bias = layer.bias.name_for(j)
            net = write.node(f"net_{unit}_{t}", unit_net(pairs, parameters[bias] if bias else None), place)
            current.append(write.node(f"{unit}_{t}", rule.forward(net, alpha), place))
        previous = current
    return _Signal(tuple(previous), names=layer.units)


def _pool(table, place: str, name: str, kind: str, signal: _Signal, write: _Writer) -> _Signal:
    _no_unknown_keys(table, POOL_KEYS, place)
    channels, height, width = _spatial(signal, place, kind)
    window = _whole(table, "window", place, None, 1, MAX_KERNEL)
    stride = _whole(table, "stride", place, window, 1, MAX_KERNEL)
    rows = _output_side(height, window, stride, 0, f"{place}.window", "window")
    columns = _output_side(width, window, stride, 0, f"{place}.window", "window")
    if len(write.names) + channels * rows * columns > MAX_NODES:
        raise InputError(f"{channels}×{rows}×{columns} pooled values: more than the {MAX_NODES:,} nodes a graph may "
                         "have", place=place)
    outputs = []
    for c in range(channels):
        for i in range(rows):
            for j in range(columns):
                cells = [signal.at(c, i * stride + a, j * stride + b) for a in range(window) for b in range(window)]
                value = sp.Max(*cells) if kind == "maxpool2d" else sp.Add(*cells) / len(cells)
                outputs.append(write.node(f"{name}_{c}_{i}_{j}", value, place))
    return _Signal(tuple(outputs), (channels, rows, columns))


def _layer_parameters(place: str, write: _Writer, parameters: dict, biases: list, *weighted) -> None:
    """The parameters of one or more layers over the same units (``weighted``: each a layer and the file's key of
    its weights): for each unit, every layer's weights, then the biases; each name once (a tied weight is one)."""
    for j in range(len(weighted[0][0].units)):
        for layer, key in weighted:
            for i, weight in enumerate(layer.weight_names[j]):
                if weight not in parameters:
                    value = layer.weights[j][i] if layer.weights is not None else None
                    parameters[weight] = write.leaf(weight, "parameter", f"{place}.{key}", value)
        for layer, _ in weighted:
            bias = layer.bias.name_for(j)
            if bias is not None and bias not in parameters:
                parameters[bias] = write.leaf(bias, "parameter", f"{place}.bias", layer.bias.value_for(j))
                biases.append(bias)


def _dense(layer, place: str, signal: _Signal, write: _Writer, custom, biases: list) -> _Signal:
    """A dense layer over the previous layer's outputs: a weighted sum and an activation per unit."""
    rule = layer_activation(custom, layer.activation)
    alpha = as_rational(layer.alpha) if layer.alpha is not None else None
    parameters: dict[str, sp.Symbol] = {}
    _layer_parameters(place, write, parameters, biases, (layer, "weights"))
    nets = []
    for j, unit in enumerate(layer.units):
        bias = layer.bias.name_for(j)
        pairs = [(parameters[w], x) for w, x in zip(layer.weight_names[j], signal.symbols)]
        nets.append(write.node(f"net_{unit}", unit_net(pairs, parameters[bias] if bias else None), place))
    return _Signal(tuple(write.node(f"out_{unit}", formula, place)
                         for unit, formula in zip(layer.units, layer_outs(rule, alpha, nets))))


def _data_rows(document: Mapping[str, Any], inputs: list[sp.Symbol], spatial: bool,
               steps: int = 0) -> Optional[list[tuple]]:
    """The rows of input values: a flat list per sample; for a spatial input channels × height × width (one
    sample) or a list of those (several); for a sequence a row per time step (one sample) or a list of those."""
    if "data" not in document:
        return None
    table = document["data"]
    _require_table(table, "data", "[data]")
    _no_unknown_keys(table, {"inputs"}, "data")
    value = _require_key(table, "inputs", "data")
    count = len(inputs)

    def depth(item) -> int:
        return 1 + depth(item[0]) if isinstance(item, list) and item else 0

    if spatial and depth(value) in (3, 4):
        samples = [value] if depth(value) == 3 else value
        rows = []
        for s, sample in enumerate(samples):
            flat = [cell for channel in sample if isinstance(channel, list) for row in channel
                    if isinstance(row, list) for cell in row]
            rows.append(_numbers(flat, "data.inputs" + (f"[{s}]" if depth(value) == 4 else ""), count,
                                 "channels × height × width values"))
        return rows
    if steps and depth(value) in (2, 3):
        samples = [value] if depth(value) == 2 else value
        rows = []
        for s, sample in enumerate(samples):
            where = "data.inputs" + (f"[{s}]" if depth(value) == 3 else "")
            if not isinstance(sample, list) or len(sample) != steps:
                raise InputError(f"expected {steps} rows, one per time step", place=where)
            flat = [cell for t, row in enumerate(sample)
                    for cell in _numbers(row, f"{where}[{t}]", count // steps, "one per input at a step")]
            rows.append(tuple(flat))
        return rows
    if depth(value) == 2:
        return [_numbers(row, f"data.inputs[{s}]", count, "one per input") for s, row in enumerate(value)]
    return [_numbers(value, "data.inputs", count, "one per input")]
