"""Hypothesis strategies: random network documents in the file format, valid by construction."""
from __future__ import annotations

from hypothesis import strategies as st

from symbackprop.functions.activations import ACTIVATIONS as ACTIVATION_RULES
from symbackprop.functions.losses import LOSSES as LOSS_RULES

# Read from the registries, so that a newly registered activation or loss is drawn by every property test.
ELEMENTWISE = [name for name, rule in ACTIVATION_RULES.items() if rule.elementwise]
ACTIVATIONS = list(ACTIVATION_RULES)
LOSSES = list(LOSS_RULES)

# Tenths in [-1.5, 1.5]: exact, varied, and small enough that every activation stays in range.
decimals = st.integers(-15, 15).map(lambda k: f"{k / 10:.1f}")
nonzero_decimals = st.integers(1, 15).flatmap(lambda k: st.sampled_from([f"{k / 10:.1f}", f"-{k / 10:.1f}"]))


@st.composite
def network_documents(draw, max_depth: int = 4, max_width: int = 4, losses=LOSSES, activations=ACTIVATIONS,
                      output_activation=None, min_outputs: int = 1):
    """A random network with data, targets and a learning rate, as a mapping like the TOML file."""
    loss = draw(st.sampled_from(losses))
    depth = draw(st.integers(1, max_depth))
    widths = [draw(st.integers(1, max_width)) for _ in range(depth)] + [draw(st.integers(min_outputs, max_width))]
    convention = draw(st.sampled_from(["row", "column"]))
    inputs = [f"x{i + 1}" for i in range(widths[0])]
    layers = []
    for index in range(depth):
        n_in, n_out = widths[index], widths[index + 1]
        last = index == depth - 1
        if last and output_activation:
            choice = output_activation
        elif last and LOSS_RULES[loss].targets_sum_to_one:  # (its log needs a positive output)
            choice = draw(st.sampled_from(["softmax", "sigmoid", "softplus"]))
        elif last and LOSS_RULES[loss].targets_in_unit_interval:  # (its log(1 - o) needs o < 1)
            # A one-unit softmax always outputs 1, where ln(1 − o) is undefined.
            choice = draw(st.sampled_from(["softmax", "sigmoid"] if n_out > 1 else ["sigmoid"]))
        else:
            choice = draw(st.sampled_from(activations))
        units = [f"u{index + 1}_{j + 1}" for j in range(n_out)]
        rows, columns = (n_in, n_out) if convention == "row" else (n_out, n_in)
        layer = {
            "units": units,
            "activation": choice,
            "weights": [[draw(decimals) for _ in range(columns)] for _ in range(rows)],
        }
        if choice == "leaky_relu":
            layer["alpha"] = draw(st.sampled_from(["0.01", "0.1", "0.2"]))
        bias_mode = draw(st.sampled_from(["none", "shared", "per_unit"]))
        if bias_mode == "shared":
            layer["bias"] = draw(decimals)
        elif bias_mode == "per_unit":
            layer["bias"] = [draw(decimals) for _ in range(n_out)]
        layers.append(layer)
    n_outputs = widths[-1]
    if LOSS_RULES[loss].targets_sum_to_one:
        hot = draw(st.integers(0, n_outputs - 1))
        soft = draw(st.booleans())
        if soft and n_outputs > 1:
            targets = ["0.5" if j in (hot, (hot + 1) % n_outputs) else "0" for j in range(n_outputs)]
        else:
            targets = ["1" if j == hot else "0" for j in range(n_outputs)]
    elif LOSS_RULES[loss].targets_in_unit_interval:
        targets = [draw(st.sampled_from(["0", "0.25", "0.5", "1"])) for _ in range(n_outputs)]
    else:
        targets = [draw(decimals) for _ in range(n_outputs)]
    return {
        "network": {"convention": convention, "inputs": inputs, "layers": layers},
        "loss": {"kind": loss, "targets": targets},
        "data": {"inputs": [draw(nonzero_decimals) for _ in inputs]},
        "training": {"learning_rate": draw(st.sampled_from(["0.1", "0.5", "0.05"]))},
    }


OWN_ACTIVATIONS = {"swish": "x*sigmoid(x)", "gelu": "0.5*x*(1 + erf(x/sqrt(2)))", "bent": "x + 0.1*x^2",
                   "smooth_abs": "sqrt(1 + x^2) - 1"}


@st.composite
def extended_network_documents(draw):
    """A random network using what a plain chain cannot: skip connections (``sources``), tied weights
    (one name in two places, with one value) and activations and loss terms of the file's own."""
    document = draw(network_documents(max_depth=3, max_width=3, losses=["half_sse", "mse"],
                                      activations=ELEMENTWISE))
    document["network"]["convention"] = "row"  # the draws below index weights[source][unit]
    inputs = document["network"]["inputs"]
    layers = document["network"]["layers"]
    names: list[str] = []
    available = list(inputs)
    previous = list(inputs)
    for index, layer in enumerate(layers):
        sources = list(previous)
        extra = [u for u in available if u not in sources]
        if index and extra and draw(st.booleans()):
            sources.append(draw(st.sampled_from(extra)))  # a skip connection from an earlier layer or input
            layer["sources"] = sources
        units = layer["units"]
        layer["weights"] = [[draw(decimals) for _ in units] for _ in sources]
        layer["weight_names"] = [[f"w{index}_{i}_{j}" for j in range(len(units))] for i in range(len(sources))]
        names += [(index, i, j) for i in range(len(sources)) for j in range(len(units))]
        if draw(st.booleans()):
            own = draw(st.sampled_from(sorted(OWN_ACTIVATIONS)))
            document.setdefault("activations", {})[own] = {"formula": OWN_ACTIVATIONS[own]}
            layer["activation"] = own
            layer.pop("alpha", None)
        available += units
        previous = list(units)
    if len(names) > 1 and draw(st.booleans()):  # tie one weight to another: same name, same value
        (a, i, j), (b, k, m) = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
        layers[b]["weight_names"][k][m] = layers[a]["weight_names"][i][j]
        layers[b]["weights"][k][m] = layers[a]["weights"][i][j]
    if draw(st.booleans()):
        document["loss"] = {"term": draw(st.sampled_from(["(out - t)^2/2", "log(1 + (out - t)^2)",
                                                          "sqrt(1 + (out - t)^2)"])),
                            "targets": document["loss"]["targets"]}
    return document
