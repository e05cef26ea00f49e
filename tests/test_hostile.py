"""The hostile corpus: each file in tests/hostile/ once broke a command (its header says which).

A bad file gets one line on stderr naming the file, the place and the problem, every quoted name
escaped, and exit 2 — never a traceback, never a hang. A file that is valid however extreme gets its
result. Large hostile files are generated here rather than kept.
"""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from symbackprop.cli import main

from .test_explain import _pdflatex

CORPUS = Path(__file__).resolve().parent / "hostile"


def header(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"# (command|exit|says): (.*)", line)
        if not match:
            break
        found[match[1]] = match[2]
    return found


def run(arguments: list[str], capsys) -> tuple[int, str, str, float]:
    started = time.monotonic()
    code = main(arguments)
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    return code, captured.out, captured.err, elapsed


def assert_one_clean_line(err: str, path: Path) -> None:
    assert err.count("\n") == 1 and err.startswith(f"symbackprop: {path}: "), err
    assert "Traceback" not in err and not any(ord(c) < 32 and c != "\n" or c == "\x7f" for c in err), repr(err)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.toml")), ids=lambda p: p.stem)
def test_the_hostile_corpus(path, capsys):
    spec = header(path)
    command = spec["command"].split()
    code, out, err, elapsed = run([command[0], str(path), *command[1:]], capsys)
    assert code == int(spec["exit"]), (code, err[-2000:])
    assert elapsed < 20, elapsed
    if code == 2:
        assert_one_clean_line(err, path)
        assert spec["says"] in err, err
    else:
        assert "Traceback" not in err


def test_the_markdown_report_carries_no_injected_markup(capsys):
    path = CORPUS / "markdown_title_injection.toml"
    code, out, err, _ = run(["audit", str(path), "--format", "markdown"], capsys)
    assert code == 0
    title = out.splitlines()[0]
    assert "<script>" not in out and "](javascript" not in out.replace("\\](javascript", "")
    assert not re.search(r"(?<!\\)\|", title) and "&lt;" not in title.replace("\\&lt;", "")
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(table) == 2, table  # the header and the one claim: no forged row


@pytest.mark.parametrize("text, says", [
    ("a" + ".a" * 40_000 + " = 1\n", "dotted parts"),                         # 80 KB: once 20 s and 6.3 GB
    ("a" + ".a" * 100_000 + " = 1\n", "dotted parts"),                        # 200 KB: once killed at 24 GB
    ("[" + "a." * 400_000 + "a]\n", "dotted parts"),                          # an 800 KB table header: once 203 s
    ("ab." * 200_000 + "!\n", "dotted parts"),                                # not even a key: the parser is quadratic
    ("a = " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
    ("a = " + "{b = " * 50_000 + "1" + "}" * 50_000 + "\n", "nested too deeply"),
])
def test_files_under_the_size_limit_are_refused_fast(text, says, tmp_path, capsys):
    import resource

    path = tmp_path / "hostile.toml"
    path.write_text(text)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, _, err, elapsed = run(["derive", str(path)], capsys)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # MiB
    assert code == 2 and says in err, err
    assert_one_clean_line(err, path)
    assert elapsed < 2 and grown < 200, (elapsed, grown)


def test_a_large_network_refuses_a_form_it_cannot_give(tmp_path, capsys):
    widths = [40, 30, 3]
    layers = "".join(
        f'[[network.layers]]\nunits = {[f"u{k}_{j}" for j in range(n)]}\nactivation = "sigmoid"\n'.replace("'", '"')
        for k, n in enumerate(widths[1:]))
    path = tmp_path / "large.toml"
    path.write_text(f'[network]\ninputs = {[f"x{i}" for i in range(widths[0])]}\n'.replace("'", '"') + layers
                    + '[loss]\nkind = "half_sse"\n')
    code, _, err, _ = run(["derive", str(path), "--form", "closed"], capsys)
    assert code == 2 and "--form closed is not available" in err


names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: n not in ("net", "out", "new", "E") and not n.startswith(("net_", "out_", "delta_", "dout_", "t_")))


@settings(max_examples=12, deadline=None, derandomize=True)
@given(st.lists(names, min_size=4, max_size=4, unique=True), st.text(max_size=60))
@example(["x_", "h__", "y", "w_"], "Two\n\nparagraphs\x01 with \u0180 and \\input{/etc/passwd} % # $")
def test_every_valid_file_gives_latex_that_compiles(tmp_path_factory, chosen, title):
    """Random valid names (trailing underscores included) and any title: pdflatex compiles the explanation."""
    program = _pdflatex()
    x, h, y, w = chosen
    folder = tmp_path_factory.mktemp("latex")
    # The title in TOML's escapes: Python's unicode_escape, with \xNN written \u00NN.
    escaped = title.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    escaped = re.sub(r"\\x([0-9a-f]{2})", r"\\u00\1", escaped)
    escaped = re.sub(r"\\U([0-9a-f]{8})", r"\\U\1", escaped)
    source = folder / "net.toml"
    source.write_text(
        f'[meta]\ntitle = "{escaped}"\n[network]\ninputs = ["{x}"]\n[[network.layers]]\nunits = ["{h}"]\n'
        f'activation = "sigmoid"\nweights = [["0.5"]]\nweight_names = [["{w}"]]\n[[network.layers]]\nunits = ["{y}"]\n'
        f'activation = "linear"\nweights = [["-0.3"]]\n[loss]\nkind = "half_sse"\ntargets = ["0.2"]\n'
        f'[data]\ninputs = ["0.7"]\n')
    tex = folder / "explained.tex"
    assert main(["explain", str(source), "--format", "latex", "-o", str(tex)]) == 0
    result = subprocess.run([program, "-interaction=nonstopmode", "-halt-on-error", tex.name],
                            cwd=folder, capture_output=True, text=True, errors="replace", timeout=120)
    log = (folder / "explained.log").read_text(errors="replace")
    assert result.returncode == 0 and not re.search(r"^! ", log, flags=re.M), (chosen, title, log[-2000:])


def deep_narrow(layers: int) -> str:
    text = '[network]\ninputs = ["x0", "x1"]\n'
    for index in range(layers):
        text += (f'[[network.layers]]\nunits = ["u{index}_0", "u{index}_1"]\nactivation = "sigmoid"\nbias = "0.1"\n'
                 'weights = [["0.3", "-0.2"], ["0.5", "0.4"]]\n')
    return text + '[loss]\nkind = "half_sse"\ntargets = ["0.1", "0.9"]\n[data]\ninputs = ["0.5", "-0.3"]\n'


@pytest.mark.parametrize("arguments, code", [
    (["derive"], 0), (["derive", "--format", "json"], 0), (["derive", "--format", "latex"], 0), (["latex"], 0),
    (["check", "--precision", "20"], 0), (["diagram"], 0), (["derive", "--form", "closed"], 2), (["explain"], 2),
    (["graph"], 0),
])
def test_a_deep_narrow_network_at_the_layer_limit_is_quick(arguments, code, tmp_path, capsys):
    """64 layers of width 2: a per-weight formula would sum 2^64 paths; these once hung for minutes."""
    path = tmp_path / "deep.toml"
    path.write_text(deep_narrow(64))
    result, out, err, elapsed = run([arguments[0], str(path), *arguments[1:]], capsys)
    assert result == code and elapsed < 30, (result, elapsed, err[-300:])
    if code == 2:
        assert_one_clean_line(err, path)
        assert "paths" in err
    else:
        assert len(out) < 200_000  # linear in the network: δ named once, referred to after
