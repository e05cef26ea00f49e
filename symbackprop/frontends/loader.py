"""Read a network file (TOML) or a mapping of the same shape into a :class:`Network`.

Everything from a file is data: numbers are parsed by :mod:`symbackprop.numbers`,
names are matched against a fixed pattern, and nothing is ever evaluated.
Every problem is an :class:`InputError` naming the place, for example
``network.layers[1].weights[0][2]``. Sizes are bounded before any work is
done, so a hostile file is refused quickly.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping, Optional

from ..errors import InputError, did_you_mean
from ..numbers import NumberError, TomlFloat, exact_from_toml
from .network import METHODS, REDUCTIONS, Bias, Layer, Loss, Network, Training

MAX_FILE_BYTES = 8 * 1024 * 1024
# Every command finishes, or shows progress and finishes within minutes, up to these sizes (see
# docs/performance.md); past them a file is refused at once.
MAX_LAYERS = 64
MAX_UNITS_PER_LAYER = 1024
MAX_UNITS = 4096
MAX_PARAMETERS = 15_000
#: Dotted parts of one key, and nesting of lists and inline tables, accepted before TOML is parsed.
MAX_KEY_PARTS = 16

RESERVED_NAMES = frozenset({"net", "out", "new", "E"})
#: Prefixes of the symbols generated for every unit; a user name may not collide with them.
NODE_PREFIXES = ("net_", "out_", "delta_", "dout_", "t_")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")

TOP_LEVEL_KEYS = {"network", "loss", "data", "training", "claims", "meta", "activations"}
GRAPH_TOP_LEVEL_KEYS = {"graph", "loss", "data", "training", "claims", "meta"}
GRAPH_KEYS = {"inputs", "targets", "parameters", "nodes"}
GRAPH_NODE_KEYS = {"name", "formula"}
GRAPH_LOSS_KEYS = {"formula", "targets", "reduction"}
NETWORK_KEYS = {"convention", "inputs", "layers"}
LAYER_KEYS = {"name", "units", "activation", "weights", "weight_names", "bias", "bias_names", "alpha", "sources"}
LOSS_KEYS = {"kind", "targets", "term", "reduction"}
ACTIVATION_KEYS = {"formula"}
DATA_KEYS = {"inputs"}
TRAINING_KEYS = {"learning_rate", "update_biases", "steps", "method", "batch_size", "momentum"}
#: Most samples (rows of [data] inputs) a file may give.
MAX_SAMPLES = 10_000


@dataclass(frozen=True)
class InMemoryFile:
    """A file's content already read (standard input, for ``-``), with the name messages give it."""

    name: str
    content: bytes

    def __str__(self) -> str:
        return self.name


def read_document(path: "str | Path | InMemoryFile") -> dict[str, Any]:
    """Parse a TOML file into a plain dict, with clean errors for unreadable files."""
    import tomllib

    source = str(path)
    if isinstance(path, InMemoryFile):
        raw = path.content
    else:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise InputError(f"cannot read file: {error.strerror or error}", source=source) from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", source=source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start})", source=source) from None
    _check_nesting(text, source)
    try:
        return tomllib.loads(text, parse_float=TomlFloat.parse)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"not valid TOML: {error}", source=source) from None
    except RecursionError:
        raise InputError("not valid TOML: nested too deeply", source=source) from None
    except ValueError:  # an integer beyond Python's digit limit for int()
        raise InputError("not valid TOML: an integer of more than 4,300 digits", source=source) from None


def _check_nesting(text: str, source: str) -> None:
    """Refuse, before parsing, a key or table header of more than MAX_KEY_PARTS dotted parts: the TOML
    parser's time and memory grow far faster than the file (an 80 KB key takes gigabytes).
    Nested lists and inline tables need no scan: the parser's recursion limit stops them at once."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.count(".") > MAX_KEY_PARTS and _key_parts(line) > MAX_KEY_PARTS:
            raise InputError(f"a key with more than {MAX_KEY_PARTS} dotted parts", place=f"line {number}",
                             source=source)


def _key_parts(line: str) -> int:
    """The dots between the key parts that ``line`` starts with (``a.b = 1``, ``[a.b]``, ``[["a".b]]``), in one
    pass; a value's own dots, as in ``0.1, 0.2``, stop at the comma and count for little.

    >>> _key_parts("a.b.c = 1"), _key_parts('  [["x".y.z]]'), _key_parts('"0.1", "0.2",')
    (2, 2, 0)
    """
    position, end, dots = 0, len(line), 0
    bare = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

    def skip_space(at: int) -> int:
        while at < end and line[at] in " \t":
            at += 1
        return at

    position = skip_space(position)
    for _ in range(2):  # a table header, [a.b] or [[a.b]]
        if position < end and line[position] == "[":
            position += 1
    while True:
        position = skip_space(position)
        if position < end and line[position] in "\"'":
            close = line.find(line[position], position + 1)
            if close < 0:
                return dots
            position = close + 1
        else:
            start = position
            while position < end and line[position] in bare:
                position += 1
            if position == start:
                return dots
        position = skip_space(position)
        if position < end and line[position] == ".":
            dots += 1
            position += 1
            continue
        return dots  # what follows does not matter: the parser reads the parts first, in quadratic time


def load_network(path: str | Path) -> Network:
    """Read and validate a network file.

    >>> import pathlib, tempfile
    >>> text = '''
    ... [network]
    ... inputs = ["x"]
    ... [[network.layers]]
    ... units = ["y"]
    ... activation = "linear"
    ... weights = [["0.5"]]
    ... [loss]
    ... kind = "half_sse"
    ... targets = ["1"]
    ... '''
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = pathlib.Path(folder, "net.toml"); _ = file.write_text(text)
    ...     net = load_network(file)
    >>> net.layers[0].weight_names, net.layers[0].weights
    ((('w_x_y',),), ((Fraction(1, 2),),))
    """
    document = read_document(path)
    try:
        return network_from_mapping(document)
    except InputError as error:
        raise error.located(str(path)) from None


def load_model(path: str | Path):
    """Read a file: a dense ``[network]`` gives a :class:`Network`, a ``[graph]`` of formulas a graph."""
    document = read_document(path)
    try:
        if isinstance(document, dict) and "graph" in document:
            return graph_from_mapping(document)
        return network_from_mapping(document)
    except InputError as error:
        raise error.located(str(path)) from None


def graph_from_mapping(document: Mapping[str, Any]):
    """Build a :class:`~symbackprop.graph.SymbolicGraph` from a ``[graph]`` document of formulas.

    >>> graph = graph_from_mapping({"graph": {"inputs": ["x"], "targets": ["t"], "parameters": {"w": "0.5"},
    ...     "nodes": [{"name": "y", "formula": "tanh(w*x)"}]}, "loss": {"formula": "(y - t)^2/2", "targets": ["1"]},
    ...     "data": {"inputs": ["2"]}})
    >>> graph.definitions[graph.named("y")]
    tanh(w*x)
    """
    from .formula import FormulaError, parse_formula
    from .model import MAX_NODES, check_name, formula_graph

    _require_table(document, "", "the document")
    _no_unknown_keys(document, GRAPH_TOP_LEVEL_KEYS, "")
    table = _require_key(document, "graph", "")
    _require_table(table, "graph", "[graph]")
    _no_unknown_keys(table, GRAPH_KEYS, "graph")
    inputs = _graph_names(table.get("inputs", []), "graph.inputs")
    targets = _graph_names(table.get("targets", []), "graph.targets")
    parameter_table = table.get("parameters", {})
    _require_table(parameter_table, "graph.parameters", "[graph.parameters]")
    node_tables = _require_key(table, "nodes", "graph")
    if not isinstance(node_tables, list):
        raise InputError(f"expected [[graph.nodes]] tables, got {_kind(node_tables)}", place="graph.nodes")
    if len(inputs) + len(targets) + len(parameter_table) + len(node_tables) > MAX_NODES:
        raise InputError(f"a graph has at most {MAX_NODES} nodes, inputs and parameters", place="graph")
    values: dict = {}
    symbols: dict[str, Any] = {}
    leaves = []
    for names, role, place in ((inputs, "input", "graph.inputs"), (targets, "target", "graph.targets")):
        for name in names:
            leaves.append((name, _fresh(symbols, name, place, check_name), role))
    for name, value in parameter_table.items():
        place = f"graph.parameters.{name}"
        leaves.append((name, _fresh(symbols, name, place, check_name), "parameter"))
        values[symbols[name]] = _number(value, place)
    later = _Later()
    for index, node in enumerate(node_tables):
        _require_table(node, f"graph.nodes[{index}]", "a node")
        name = _require_key(node, "name", f"graph.nodes[{index}]")
        check_name(name, f"graph.nodes[{index}].name")
        later.names.add(name)
    nodes = []
    for index, node in enumerate(node_tables):
        _no_unknown_keys(node, GRAPH_NODE_KEYS, f"graph.nodes[{index}]")
        name = node["name"]
        place = f"graph.nodes.{name}.formula"
        if name in symbols:
            raise InputError(f"{name!r} is already a name in this graph", place=f"graph.nodes[{index}].name")
        later.names.discard(name)
        later.current = name
        try:
            definition = parse_formula(_require_key(node, "formula", f"graph.nodes.{name}"), symbols, later)
        except FormulaError as error:
            raise InputError(str(error), place=place) from None
        nodes.append((name, _fresh(symbols, name, place, check_name), definition))
    loss_table = _require_key(document, "loss", "")
    _require_table(loss_table, "loss", "[loss]")
    _no_unknown_keys(loss_table, GRAPH_LOSS_KEYS, "loss")
    try:
        loss = parse_formula(_require_key(loss_table, "formula", "loss"), symbols)
    except FormulaError as error:
        raise InputError(str(error), place="loss.formula") from None
    target_row, target_rows = None, None
    if "targets" in loss_table:
        target_row, target_rows = _row_or_rows(loss_table["targets"], "loss.targets", len(targets),
                                               f"one per target: {_listing(targets)}")
    data_row, data_rows = _data(document, inputs)
    for names, row in ((targets, target_row), (inputs, data_row)):
        if row is not None:
            values.update((symbols[name], value) for name, value in zip(names, row))
    samples = tuple({**{symbols[n]: v for n, v in zip(inputs, row_in)}, **{symbols[n]: v for n, v in zip(targets, row_t)}}
                    for row_in, row_t in _samples(data_rows, target_rows, "loss.targets"))
    rate, update_biases, training = _training(document, max(len(samples), 1))
    if not update_biases:
        raise InputError("a graph has no biases; update_biases applies to dense layers", place="training.update_biases")
    graph = formula_graph(leaves, nodes, loss, values, rate, _title(document), samples, training)
    _check_graph_values(graph)
    return graph


class _Later(Mapping):
    """The names a formula may not read, and why: nodes defined further down, and its own node."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.current = ""

    def __getitem__(self, name: str) -> str:
        if name == self.current:
            return "is this node itself: a formula cannot read its own value (no cycles)"
        if name in self.names:
            return "is defined later: a formula reads only inputs, targets, parameters and earlier nodes (no cycles)"
        raise KeyError(name)

    def __iter__(self):
        return iter(self.names | {self.current})

    def __len__(self) -> int:
        return len(self.names) + 1


def _graph_names(value: Any, place: str) -> tuple[str, ...]:
    from .model import MAX_NODES, check_name

    return _names(value, place, MAX_NODES, check_name)


def _registry(losses: bool = False):
    """The registry module: the names a file may use are the registered ones, listed nowhere else."""
    from ..functions import activations, losses as loss_registry

    return loss_registry if losses else activations


def _fresh(symbols: dict, name: str, place: str, check_name) -> Any:
    import sympy as sp

    check_name(name, place)
    if name in symbols:
        raise InputError(f"{name!r} is declared twice", place=place)
    symbols[name] = sp.Symbol(name)
    return symbols[name]


def _check_graph_values(graph) -> None:
    """Every node's value at the file's numbers is finite and within range: an overflow names its node."""
    if graph.missing:
        return
    import mpmath

    from ..engine.program import FORMULA_MAGNITUDE, evaluate_expression

    values: dict = {symbol: value for symbol, value in graph.values.items()}
    with mpmath.workdps(30):
        for quantity in graph.order:
            definition = graph.definitions.get(quantity)
            if definition is None:
                continue
            place = "loss.formula" if quantity.kind == "loss" else f"graph.nodes.{quantity.name}.formula"
            try:
                values[graph.symbols[quantity]] = evaluate_expression(definition, values, limit=FORMULA_MAGNITUDE)
            except OverflowError:
                raise InputError(f"{quantity} overflows at the file's numbers (beyond 1e{FORMULA_MAGNITUDE_EXPONENT})",
                                 place=place) from None
            except (ValueError, ZeroDivisionError, ArithmeticError) as error:
                raise InputError(f"{quantity} is undefined at the file's numbers ({error})", place=place) from None


FORMULA_MAGNITUDE_EXPONENT = 300


def network_from_mapping(document: Mapping[str, Any]) -> Network:
    """Build a :class:`Network` from a mapping shaped like the TOML file (the Python way in)."""
    _require_table(document, "", "the document")
    _no_unknown_keys(document, TOP_LEVEL_KEYS, "")
    network_table = _require_key(document, "network", "")
    _require_table(network_table, "network", "[network]")
    _no_unknown_keys(network_table, NETWORK_KEYS, "network")

    convention = network_table.get("convention", "row")
    if convention not in ("row", "column"):
        raise InputError(f"convention must be \"row\" or \"column\", not {convention!r}", place="network.convention")
    inputs = _names(_require_key(network_table, "inputs", "network"), "network.inputs", MAX_UNITS_PER_LAYER)
    if not inputs:
        raise InputError("a network needs at least one input", place="network.inputs")

    layer_tables = _require_key(network_table, "layers", "network")
    if not isinstance(layer_tables, list) or not layer_tables:
        raise InputError("expected at least one [[network.layers]] table", place="network.layers")
    if len(layer_tables) > MAX_LAYERS:
        raise InputError(f"{len(layer_tables)} layers; at most {MAX_LAYERS} are supported", place="network.layers")
    _check_sizes(inputs, layer_tables)

    custom = _custom_activations(document)
    layers: list[Layer] = []
    previous = inputs
    available = list(inputs)
    for index, table in enumerate(layer_tables):
        layer = _layer(table, index, previous, convention, available, custom)
        layers.append(layer)
        previous = layer.units
        available += layer.units

    loss, target_rows = _loss(document, layers[-1].units)
    data, data_rows = _data(document, inputs)
    samples = _samples(data_rows, target_rows, "loss.targets")
    learning_rate, update_biases, training = _training(document, max(len(samples), 1))
    if len(samples) == 1:  # one row is the one-sample form
        (data, targets), samples = samples[0], ()
        loss = dataclasses.replace(loss, targets=targets)
    network = Network(inputs, tuple(layers), loss, convention, data, learning_rate, update_biases, custom,
                      samples, training, _title(document))
    _check_names(network)
    return network


def _check_sizes(inputs: tuple[str, ...], layer_tables: list[Any]) -> None:
    """Refuse absurd sizes before building anything."""
    total_units = len(inputs)
    parameters = 0
    width = len(inputs)
    for index, table in enumerate(layer_tables):
        units = table.get("units") if isinstance(table, dict) else None
        count = len(units) if isinstance(units, list) else 0
        sources = table.get("sources") if isinstance(table, dict) else None
        if isinstance(sources, list):
            width = len(sources)
        if count > MAX_UNITS_PER_LAYER:
            raise InputError(
                f"{count} units; at most {MAX_UNITS_PER_LAYER} per layer are supported",
                place=f"network.layers[{index}].units",
            )
        total_units += count
        parameters += width * count + count
        width = count
    if total_units > MAX_UNITS:
        raise InputError(f"{total_units} units in all; at most {MAX_UNITS} are supported", place="network.layers")
    if parameters > MAX_PARAMETERS:
        raise InputError(f"about {parameters} parameters; at most {MAX_PARAMETERS} are supported", place="network.layers")


def _layer(table: Any, index: int, previous: tuple[str, ...], convention: str, available: list[str],
           custom: Mapping[str, Any]) -> Layer:
    place = f"network.layers[{index}]"
    _require_table(table, place, "a layer")
    _no_unknown_keys(table, LAYER_KEYS, place)
    name = table.get("name", f"layer{index + 1}")
    _check_name(name, f"{place}.name")
    units = _names(_require_key(table, "units", place), f"{place}.units", MAX_UNITS_PER_LAYER)
    if not units:
        raise InputError("a layer needs at least one unit", place=f"{place}.units")
    own_sources = None
    if "sources" in table:
        own_sources = _names(table["sources"], f"{place}.sources", MAX_UNITS_PER_LAYER)
        known = set(available)
        for i, source in enumerate(own_sources):
            if source not in known:
                raise InputError(f"{source!r} is not an input or a unit of an earlier layer", place=f"{place}.sources[{i}]")
        if len(set(own_sources)) != len(own_sources) or not own_sources:
            raise InputError("sources must name each unit once (and at least one)", place=f"{place}.sources")
    sources = own_sources if own_sources is not None else previous
    activation = _require_key(table, "activation", place)
    known = tuple(_registry().ACTIVATIONS)
    if not isinstance(activation, str) or activation not in known and activation not in custom:
        raise InputError(
            f"unknown activation {str(activation)[:40]!r}; known: {', '.join(known + tuple(custom))} "
            "(or define one under [activations.NAME])", place=f"{place}.activation"
        )
    alpha: Optional[Fraction] = None
    if activation == "leaky_relu":
        alpha = _number(table.get("alpha", "0.01"), f"{place}.alpha")
    elif "alpha" in table:
        raise InputError("alpha applies only to leaky_relu", place=f"{place}.alpha")

    weights = None
    if "weights" in table:
        grid = _matrix(table["weights"], f"{place}.weights", sources, units, convention)
        weights = tuple(tuple(_number(cell, f"{place}.weights{where}") for cell, where in row) for row in grid)
    if "weight_names" in table:
        grid = _matrix(table["weight_names"], f"{place}.weight_names", sources, units, convention)
        weight_names = tuple(tuple(_name_cell(cell, f"{place}.weight_names{where}") for cell, where in row) for row in grid)
    else:
        weight_names = tuple(tuple(f"w_{source}_{unit}" for source in sources) for unit in units)
    bias = _bias(table, place, name, units)
    return Layer(name, units, activation, weight_names, weights, bias, alpha, own_sources)


def _custom_activations(document: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    """``[activations.NAME] formula = "x*sigmoid(x)"``: each a formula in x, read by the formula parser."""
    table = document.get("activations", {})
    _require_table(table, "activations", "[activations]")
    if len(table) > 64:
        raise InputError("at most 64 activations may be defined", place="activations")
    found = {}
    for name, entry in table.items():
        place = f"activations.{name}"
        _check_name(name, place)
        if name in _registry().ACTIVATIONS:
            raise InputError(f"{name!r} is a built-in activation; give yours another name", place=place)
        _require_table(entry, place, "an activation")
        _no_unknown_keys(entry, ACTIVATION_KEYS, place)
        text = _require_key(entry, "formula", place)
        found[name] = (_formula(text, ("x",), f"{place}.formula"), text)
    return found


def _formula(text: Any, names: tuple[str, ...], place: str):
    """A formula over the given names (SymPy; the parser never evaluates anything)."""
    import sympy as sp

    from .formula import FormulaError, parse_formula

    try:
        return parse_formula(text, {name: sp.Symbol(name) for name in names})
    except FormulaError as error:
        raise InputError(str(error), place=place) from None


def _matrix(value: Any, place: str, sources: tuple[str, ...], units: tuple[str, ...], convention: str):
    """Check a matrix's shape and return it as ``grid[unit][source]`` of (cell, "[r][c]") pairs."""
    rows_are_sources = convention == "row"
    row_names, column_names = (sources, units) if rows_are_sources else (units, sources)
    row_kind, column_kind = ("input", "unit") if rows_are_sources else ("unit", "input")
    if not isinstance(value, list):
        raise InputError(f"expected a matrix (a list of rows), got {_kind(value)}", place=place)
    if len(value) != len(row_names):
        raise InputError(
            f"expected {len(row_names)} rows (one per {row_kind}: {_listing(row_names)}) in the {convention} "
            f"convention, found {len(value)}",
            place=place,
        )
    for r, row in enumerate(value):
        if not isinstance(row, list):
            raise InputError(f"expected a row (a list), got {_kind(row)}", place=f"{place}[{r}]")
        if len(row) != len(column_names):
            raise InputError(
                f"expected {len(column_names)} entries (one per {column_kind}: {_listing(column_names)}), found {len(row)}",
                place=f"{place}[{r}]",
            )
    if rows_are_sources:
        return [[(value[i][j], f"[{i}][{j}]") for i in range(len(sources))] for j in range(len(units))]
    return [[(value[j][i], f"[{j}][{i}]") for i in range(len(sources))] for j in range(len(units))]


def _bias(table: Mapping[str, Any], place: str, layer_name: str, units: tuple[str, ...]) -> Bias:
    if "bias" not in table:
        if "bias_names" in table:
            raise InputError("bias_names given without a bias", place=f"{place}.bias_names")
        return Bias()
    value = table["bias"]
    names = table.get("bias_names")
    if isinstance(value, list):
        if len(value) != len(units):
            raise InputError(
                f"expected {len(units)} biases (one per unit: {_listing(units)}), found {len(value)}", place=f"{place}.bias"
            )
        values = tuple(_number(cell, f"{place}.bias[{j}]") for j, cell in enumerate(value))
        if names is None:
            return Bias("per_unit", tuple(f"b_{unit}" for unit in units), values)
        if not isinstance(names, list) or len(names) != len(units):
            raise InputError(
                f"expected a list of {len(units)} names, one per unit, like the bias", place=f"{place}.bias_names"
            )
        return Bias("per_unit", tuple(_name_cell(n, f"{place}.bias_names[{j}]") for j, n in enumerate(names)), values)
    shared = _number(value, f"{place}.bias")
    if names is None:
        return Bias("shared", (f"b_{layer_name}",), (shared,))
    return Bias("shared", (_name_cell(names, f"{place}.bias_names"),), (shared,))


def _loss(document: Mapping[str, Any], outputs: tuple[str, ...]) -> tuple[Loss, Optional[tuple]]:
    """The loss, and its rows of targets when the file gives one per sample."""
    table = _require_key(document, "loss", "")
    _require_table(table, "loss", "[loss]")
    _no_unknown_keys(table, LOSS_KEYS, "loss")
    if "term" in table:
        if "kind" in table:
            raise InputError("give either kind (a built-in loss) or term (your own), not both", place="loss.term")
        term = _formula(table["term"], ("out", "t", "n"), "loss.term")
        targets, rows = None, None
        if "targets" in table:
            targets, rows = _row_or_rows(table["targets"], "loss.targets", len(outputs), f"one per output: {_listing(outputs)}")
        return Loss("custom", targets, term, table["term"]), rows
    kind = _require_key(table, "kind", "loss")
    losses = _registry(losses=True).LOSSES
    if not isinstance(kind, str) or kind not in losses:
        raise InputError(f"unknown loss {str(kind)[:40]!r}; known: {', '.join(losses)}", place="loss.kind")
    if "targets" not in table:
        return Loss(kind), None
    row, rows = _row_or_rows(table["targets"], "loss.targets", len(outputs), f"one per output: {_listing(outputs)}")
    for index, targets in enumerate(rows or (row,)):
        _check_targets(kind, outputs, targets, f"loss.targets[{index}]" if rows else "loss.targets")
    return Loss(kind, row), rows


def _check_targets(kind: str, outputs: tuple[str, ...], targets: tuple[Fraction, ...], place: str) -> None:
    rule = _registry(losses=True).LOSSES.get(kind)  # (a file's own term, "custom", holds its targets to nothing)
    if rule is not None and rule.targets_sum_to_one:
        negative = [(unit, t) for unit, t in zip(outputs, targets) if t < 0]
        if negative:
            unit, value = negative[0]
            raise InputError(f"{kind} targets must be a distribution; the target of {unit} is negative "
                             f"({_fraction_text(value)})", place=place)
        if sum(targets) != 1:
            raise InputError(
                f"{kind} targets must be a distribution (non-negative, summing to 1); they sum to {_fraction_text(sum(targets))}",
                place=place,
            )
    if rule is not None and rule.targets_in_unit_interval:
        for j, target in enumerate(targets):
            if not 0 <= target <= 1:
                raise InputError(f"{kind} targets must lie in [0, 1]", place=f"{place}[{j}]")


def _row_or_rows(value: Any, place: str, count: int, what: str):
    """(one row, None) for a list of numbers; (None, rows) for a list of rows, one per sample."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        if len(value) > MAX_SAMPLES:
            raise InputError(f"{len(value):,} rows; at most {MAX_SAMPLES:,} samples are supported", place=place)
        return None, tuple(_numbers(row, f"{place}[{i}]", count, what) for i, row in enumerate(value))
    return _numbers(value, place, count, what), None


def _samples(data_rows, target_rows, targets_place: str) -> tuple:
    """The samples when the file gives rows: inputs and targets, the same count of each."""
    if data_rows is None and target_rows is None:
        return ()
    if data_rows is None or target_rows is None:
        given, other = ("data.inputs", targets_place) if data_rows is not None else (targets_place, "data.inputs")
        raise InputError(f"{given} gives rows (one per sample), so {other} must give a row per sample too", place=other)
    if len(data_rows) != len(target_rows):
        raise InputError(f"{len(target_rows)} rows of targets for {len(data_rows)} samples: give one row per sample",
                         place=targets_place)
    return tuple(zip(data_rows, target_rows))


def _data(document: Mapping[str, Any], inputs: tuple[str, ...]):
    """(one row, None), (None, rows) or (None, None) when the file gives no data."""
    if "data" not in document:
        return None, None
    table = document["data"]
    _require_table(table, "data", "[data]")
    _no_unknown_keys(table, DATA_KEYS, "data")
    values = _require_key(table, "inputs", "data")
    return _row_or_rows(values, "data.inputs", len(inputs), f"one per input: {_listing(inputs)}")


def _reduction(document: Mapping[str, Any]) -> str:
    table = document.get("loss", {})
    reduction = table.get("reduction", "mean") if isinstance(table, dict) else "mean"
    if reduction not in REDUCTIONS:
        raise InputError(f"unknown reduction {str(reduction)[:40]!r}; known: {', '.join(REDUCTIONS)}",
                         place="loss.reduction")
    return reduction


#: Longest ``[meta] title``: a heading, not a paragraph.
MAX_TITLE = 300


def _title(document: Mapping[str, Any]) -> str:
    """The file's ``[meta] title`` ("" when it gives none)."""
    meta = document.get("meta", {})
    title = meta.get("title", "") if isinstance(meta, dict) else ""
    if not isinstance(title, str):
        raise InputError(f"the title must be text, not {_kind(title)}", place="meta.title")
    if len(title) > MAX_TITLE:
        raise InputError(f"the title has {len(title):,} characters; at most {MAX_TITLE} are allowed", place="meta.title")
    return title


def _training(document: Mapping[str, Any], samples: int = 1) -> tuple[Optional[Fraction], bool, Training]:
    if "training" not in document:
        return None, True, Training(reduction=_reduction(document))
    table = document["training"]
    _require_table(table, "training", "[training]")
    _no_unknown_keys(table, TRAINING_KEYS, "training")
    rate = None
    if "learning_rate" in table:
        rate = _number(table["learning_rate"], "training.learning_rate")
        if rate <= 0:
            raise InputError("the learning rate must be positive", place="training.learning_rate")
    update_biases = table.get("update_biases", True)
    if not isinstance(update_biases, bool):
        raise InputError(f"expected true or false, got {_kind(update_biases)}", place="training.update_biases")
    return rate, update_biases, _plan(table, samples, _reduction(document))


def _plan(table: Mapping[str, Any], samples: int, reduction: str) -> Training:
    """Steps, method, batch size and momentum, each checked before any work."""
    steps = table.get("steps", 1)
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise InputError(f"expected a whole number of steps, got {_kind(steps)}", place="training.steps")
    from ..training.train import MAX_STEPS

    if not 0 <= steps <= MAX_STEPS:
        raise InputError(f"steps must lie between 0 and {MAX_STEPS:,}, got {steps:,}", place="training.steps")
    method = table.get("method", "batch")
    if method not in METHODS:
        raise InputError(f"unknown method {str(method)[:40]!r}; known: {', '.join(METHODS)}", place="training.method")
    size = table.get("batch_size")
    if method == "minibatch" and size is None:
        raise InputError("method = \"minibatch\" needs batch_size", place="training.batch_size")
    if size is not None:
        if method != "minibatch":
            raise InputError(f"batch_size applies to method = \"minibatch\", not {method!r}", place="training.batch_size")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= samples:
            raise InputError(f"batch_size must be a whole number from 1 to the {samples} sample(s), got {str(size)[:40]}",
                             place="training.batch_size")
    momentum = Fraction(0)
    if "momentum" in table:
        momentum = _number(table["momentum"], "training.momentum")
        if not 0 <= momentum < 1:
            raise InputError(f"momentum must lie in [0, 1), got {_fraction_text(momentum)}", place="training.momentum")
    return Training(steps, method, size, momentum, reduction)


def _check_names(network: Network) -> None:
    """Names are unique across units and parameters, and never collide with generated symbols."""
    seen: dict[str, str] = {}
    owners: list[tuple[str, str]] = [(name, f"network.inputs[{i}]") for i, name in enumerate(network.inputs)]
    tied: set[str] = set()  # a weight name used again is the same parameter (tied weights)
    _check_tied_values(network)
    for index, layer in enumerate(network.layers):
        place = f"network.layers[{index}]"
        owners += [(unit, f"{place}.units[{j}]") for j, unit in enumerate(layer.units)]
        for row in layer.weight_names:
            for name in row:
                if name not in tied:
                    owners.append((name, f"{place}.weight_names"))
                    tied.add(name)
        owners += [(name, f"{place}.bias_names") for name in layer.bias.names]
    for name, place in owners:
        _check_name(name, place)
        if name in seen:
            raise InputError(f"name {name!r} is used twice (also at {seen[name]})", place=place)
        seen[name] = place
    units = list(network.inputs) + [u for layer in network.layers for u in layer.units]
    generated = {f"{prefix}{unit}": unit for unit in units for prefix in NODE_PREFIXES}
    for name, place in owners:
        if name in generated:
            raise InputError(
                f"name {name!r} collides with a symbol generated for unit {generated[name]!r}; rename it", place=place
            )
    layer_names: dict[str, int] = {}
    for index, layer in enumerate(network.layers):
        if layer.name in layer_names:
            raise InputError(f"layer name {layer.name!r} is used twice", place=f"network.layers[{index}].name")
        layer_names[layer.name] = index


def _check_tied_values(network: Network) -> None:
    """A weight name used in several places is one parameter: it must have one value."""
    values: dict[str, Fraction] = {}
    for index, layer in enumerate(network.layers):
        if layer.weights is None:
            continue
        for names, row in zip(layer.weight_names, layer.weights):
            for name, value in zip(names, row):
                if values.setdefault(name, value) != value:
                    raise InputError(f"the tied weight {name!r} has two values ({_fraction_text(values[name])} and "
                                     f"{_fraction_text(value)}); one parameter has one value",
                                     place=f"network.layers[{index}].weights")


def _check_name(name: Any, place: str) -> None:
    if not isinstance(name, str):
        raise InputError(f"expected a name (a string), got {_kind(name)}", place=place)
    if not _NAME.fullmatch(name):
        raise InputError(
            f"{name[:40]!r} is not a valid name: a letter, then letters, digits or underscores, at most 32 characters",
            place=place,
        )
    if name in RESERVED_NAMES:
        raise InputError(f"{name!r} is reserved ({', '.join(sorted(RESERVED_NAMES))})", place=place)


def _name_cell(value: Any, place: str) -> str:
    _check_name(value, place)
    return value


def _names(value: Any, place: str, limit: int, check=None) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InputError(f"expected a list of names, got {_kind(value)}", place=place)
    if len(value) > limit:
        raise InputError(f"{len(value)} names; at most {limit} are supported", place=place)
    for i, name in enumerate(value):
        (check or _check_name)(name, f"{place}[{i}]")
    return tuple(value)


def _number(value: Any, place: str) -> Fraction:
    try:
        return exact_from_toml(value)
    except NumberError as error:
        raise InputError(str(error), place=place) from None


def _numbers(value: Any, place: str, count: int, what: str) -> tuple[Fraction, ...]:
    if not isinstance(value, list):
        raise InputError(f"expected a list of {count} numbers ({what}), got {_kind(value)}", place=place)
    if len(value) != count:
        raise InputError(f"expected {count} numbers ({what}), found {len(value)}", place=place)
    return tuple(_number(cell, f"{place}[{i}]") for i, cell in enumerate(value))


def _require_key(table: Mapping[str, Any], key: str, place: str) -> Any:
    if key not in table:
        raise InputError(f"missing required key {key!r}", place=f"{place}.{key}" if place else key)
    return table[key]


def _require_table(value: Any, place: str, what: str) -> None:
    if not isinstance(value, dict):
        raise InputError(f"expected {what} to be a table, got {_kind(value)}", place=place)


def _no_unknown_keys(table: Mapping[str, Any], known: set[str], place: str) -> None:
    for key in table:
        if key not in known:
            hint = did_you_mean(str(key)[:80], sorted(known), quote=True) or f"; known keys: {', '.join(sorted(known))}"
            raise InputError(f"unknown key {str(key)[:40]!r}{hint}", place=f"{place}.{key}" if place else str(key)[:40])


def _kind(value: Any) -> str:
    if isinstance(value, TomlFloat):
        return f"the float {value.text}"  # as written: steps = 2.0 is a float, not "TomlFloat"
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"
    }.get(type(value), type(value).__name__)


def _listing(names: tuple[str, ...]) -> str:
    return ", ".join(names) if len(names) <= 6 else ", ".join(names[:5]) + f", … ({len(names)} in all)"


def _fraction_text(value: Fraction) -> str:
    from ..numbers import format_decimal

    return format_decimal(value, 12, trim=True)
