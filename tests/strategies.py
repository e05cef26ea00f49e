"""Hypothesis strategies: random network documents in the file format, valid by construction."""
from __future__ import annotations

from hypothesis import strategies as st

ELEMENTWISE = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
ACTIVATIONS = ELEMENTWISE + ["softmax"]
LOSSES = ["half_sse", "sse", "mse", "cross_entropy", "binary_cross_entropy"]

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
        elif last and loss == "cross_entropy":
            choice = draw(st.sampled_from(["softmax", "sigmoid", "softplus"]))
        elif last and loss == "binary_cross_entropy":
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
    if loss == "cross_entropy":
        hot = draw(st.integers(0, n_outputs - 1))
        soft = draw(st.booleans())
        if soft and n_outputs > 1:
            targets = ["0.5" if j in (hot, (hot + 1) % n_outputs) else "0" for j in range(n_outputs)]
        else:
            targets = ["1" if j == hot else "0" for j in range(n_outputs)]
    elif loss == "binary_cross_entropy":
        targets = [draw(st.sampled_from(["0", "0.25", "0.5", "1"])) for _ in range(n_outputs)]
    else:
        targets = [draw(decimals) for _ in range(n_outputs)]
    return {
        "network": {"convention": convention, "inputs": inputs, "layers": layers},
        "loss": {"kind": loss, "targets": targets},
        "data": {"inputs": [draw(nonzero_decimals) for _ in inputs]},
        "training": {"learning_rate": draw(st.sampled_from(["0.1", "0.5", "0.05"]))},
    }
