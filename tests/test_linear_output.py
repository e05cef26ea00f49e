"""`derive`'s text stays linear in the size of the graph: each summed factor (a δ) is written once and
referred to by name after, and no line runs on (issue 20: an LSTM's derive was 51 KB with 1,691-character
lines, because every δ was written out inside every factor that used it)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from symbackprop.cli import main

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted([*(ROOT / "examples").glob("*.toml"), *(ROOT / "examples" / "graphs").glob("*.toml")])
MAX_LINE = 500


def _derive(path: Path, capsys) -> str:
    assert main(["derive", str(path)]) == 0
    return capsys.readouterr().out


def _blocks(text: str) -> list[list[str]]:
    return [block.splitlines() for block in text.split("\n\n")]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_delta_is_written_once_and_named_after(path, capsys):
    text = _derive(path, capsys)
    assert max(len(line) for line in text.splitlines()) <= MAX_LINE
    defined: dict[str, str] = {}  # δ -> the derivation it is written under
    headers: list[str] = []
    for block in _blocks(text):
        header = block[0].split(" = ", 1)[0]
        headers.append(header)
        named_here = set()
        for line in block:
            written = re.match(r"  where (\S+) = ", line)
            referred = re.match(r"  where (\S+) is as under (\S+)$", line)
            if written:
                assert written[1] not in defined, f"{written[1]} written twice"
                defined[written[1]] = header
                named_here.add(written[1])
            elif referred:
                assert defined.get(referred[1]) == referred[2] and referred[2] in headers[:-1], line
                named_here.add(referred[1])
        # every summed factor a line of this block uses is written here or referred to here
        used = {token.strip() for line in block for token in re.split(r" [·+=] ", line)
                if token.strip().startswith("∂")} - {header}
        for factor in used - named_here:
            assert not any(line.startswith(f"  where {factor}") for b in _blocks(text) for line in b), \
                (header, factor)


@pytest.mark.parametrize("name, limit", [("lstm_3_steps", 100_000), ("attention_3x4", 150_000)])
def test_recurrent_and_attention_graphs_derive_in_bounded_text(name, limit, capsys):
    text = _derive(ROOT / "examples" / "graphs" / f"{name}.toml", capsys)
    assert len(text.encode()) <= limit
    assert max(len(line) for line in text.splitlines()) <= MAX_LINE


def _recurrence(steps: int) -> str:
    """h_t = tanh(w·h_(t-1) + u·x_t) over ``steps`` steps, the weights shared: every gradient reaches every step."""
    lines = ["[graph]", "inputs = [" + ", ".join(f'"x{t}"' for t in range(1, steps + 1)) + "]", 'targets = ["t"]',
             "", "[graph.parameters]", 'w = "0.5"', 'u = "-0.3"', 'v = "0.8"', "",
             "[[graph.nodes]]", 'name = "h1"', 'formula = "tanh(u*x1)"']
    for t in range(2, steps + 1):
        lines += ["[[graph.nodes]]", f'name = "h{t}"', f'formula = "tanh(w*h{t - 1} + u*x{t})"']
    lines += ["[[graph.nodes]]", 'name = "y"', f'formula = "v*h{steps}"', "", "[loss]",
              'formula = "(y - t)^2 / 2"', 'targets = ["0.25"]', "", "[data]",
              "inputs = [" + ", ".join(f'"{(t % 5 - 2) / 10}"' for t in range(1, steps + 1)) + "]"]
    return "\n".join(lines) + "\n"


def test_a_longer_recurrence_writes_proportionally_more(tmp_path, capsys):
    sizes = {}
    for steps in (8, 16, 32):
        path = tmp_path / f"rnn{steps}.toml"
        path.write_text(_recurrence(steps))
        text = _derive(path, capsys)
        assert max(len(line) for line in text.splitlines()) <= MAX_LINE
        sizes[steps] = len(text)
    # twice the steps, at most a little over twice the text (written out in full it grew with the square)
    assert sizes[16] <= 2.3 * sizes[8] and sizes[32] <= 2.3 * sizes[16], sizes
