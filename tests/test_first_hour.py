"""A newcomer's first hour: each friction seen from outside, tested as a user meets it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import mpmath
import sympy as sp

import symbackprop as sbp
from symbackprop.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
AUDIT = EXAMPLES / "audit"


# ---- closed forms lambdify as they are -------------------------------------------------------
def test_closed_forms_lambdify_without_rewriting():
    """sp.lambdify(symbols, g.closed) once failed with NameError: sigmoid. Every built-in function, at a
    point, against an mpmath central difference of the loss (not the engine's number)."""
    model = sbp.load_model(EXAMPLES / "every_activation.toml")
    engine = sbp.Engine(model)
    graph = engine.graph
    leaves = {symbol: graph.values[symbol] for symbol in graph.values}
    loss_closed = engine.closed_form(graph.symbols[sbp.Quantity.loss()])
    for gradient in engine.gradients()[:6]:
        symbols = sorted(gradient.closed.free_symbols, key=str)
        function = sp.lambdify(symbols, gradient.closed)  # NumPy/math, no .rewrite(sp.exp)
        value = function(*[float(leaves[s]) for s in symbols])
        parameter = graph.symbols[gradient.wrt]
        loss = sp.lambdify(sorted(loss_closed.free_symbols, key=str), loss_closed, "mpmath")
        names = sorted(loss_closed.free_symbols, key=str)

        def at(shift, parameter=parameter, names=names, loss=loss):
            return loss(*[mpmath.mpf(leaves[s].numerator) / leaves[s].denominator + (shift if s == parameter else 0) for s in names])

        with mpmath.workdps(40):
            central = (at(mpmath.mpf("1e-12")) - at(mpmath.mpf("-1e-12"))) / mpmath.mpf("2e-12")
        assert abs(value - float(central)) <= 1e-9 * max(1.0, abs(float(central))), gradient.wrt


# ---- Python objects read as mathematics --------------------------------------------------------
def test_chain_and_paths_print_as_factors():
    gradient = sbp.Engine(sbp.load_model(EXAMPLES / "mazur.toml")).gradient("w1")
    assert repr(gradient.chain) == "∂E/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1"
    assert repr(gradient.paths()) == (
        "∂E/∂out(o1) · ∂out(o1)/∂net(o1) · ∂net(o1)/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1 + "
        "∂E/∂out(o2) · ∂out(o2)/∂net(o2) · ∂net(o2)/∂out(h1) · ∂out(h1)/∂net(h1) · ∂net(h1)/∂w1")
    assert "Factor(" not in repr(gradient) and "Quantity(" not in repr(gradient)
    assert repr(gradient).startswith("∂E/∂w1 = ∂E/∂out(h1) · ")
    assert gradient.paths()[1][0].of == sbp.Quantity.loss()  # still a tuple of factors underneath


def test_audit_is_exported_and_renders_in_a_notebook():
    report = sbp.audit(AUDIT / "mazur_loss_after_update.toml")
    assert not report.clean and report.summary["error"] == 1
    shown = report._repr_html_()
    assert "<h3>Audit: " in shown and "recomputed" in shown
    assert "The first error is #29, E" in shown


def test_explain_in_python_uses_the_files_title():
    document = sbp.explain(sbp.Engine(sbp.load_model(EXAMPLES / "mazur.toml")))
    assert document.title == "A Step by Step Backpropagation Example"


# ---- audit reports ---------------------------------------------------------------------------------
def _audit(capsys, *arguments):
    code = main(["audit", *map(str, arguments)])
    return code, capsys.readouterr().out


def test_audit_text_numbers_claims_from_one_and_gives_reasons(capsys):
    _, text = _audit(capsys, AUDIT / "mazur_published.toml")
    rows = [line for line in text.splitlines() if re.match(r"\d+  +", line)]
    assert [int(row.split()[0]) for row in rows] == list(range(1, 29))
    assert "rounding  rounding" not in text
    rounded = next(row for row in rows if " rounding " in row)
    assert "recomputed from the author's own earlier numbers" in rounded
    code, text = _audit(capsys, AUDIT / "mazur_loss_after_update.toml")
    assert code == 1 and re.search(r"^29 +E \[after step 1\] .*FIRST ERROR: updated_weight_used", text, re.M)


def test_audit_json_keeps_the_zero_based_index(capsys):
    _, text = _audit(capsys, AUDIT / "mazur_loss_after_update.toml", "--format", "json")
    claims = json.loads(text)["claims"]
    assert [c["index"] for c in claims] == list(range(len(claims)))


def test_audit_markdown_opens_with_two_lines_and_has_a_recomputed_column(capsys):
    code, markdown = _audit(capsys, AUDIT / "mazur_loss_after_update.toml", "--format", "markdown")
    lines = markdown.splitlines()
    assert lines[0].startswith("# Audit: ")
    assert lines[2].startswith("**1 wrong and 0 inheriting an error, of 29 numbers checked")
    assert r"The first error is \#29, E: written 0.291027924" in lines[2]  # \# renders as #
    header = next(line for line in lines if line.startswith("| # |"))
    cells = [cell.strip() for cell in header.strip("|").split("|")]
    assert cells == ["#", "quantity", "written", "correct value", "recomputed", "verdict", "note"]
    last = next(line for line in lines if line.startswith("| 29 |"))
    assert len(last.strip("|").split("|")) == len(cells) and "0.2910277737" in last
    _, clean = _audit(capsys, AUDIT / "mazur_published.toml", "--format", "markdown")
    assert clean.splitlines()[2] == ("**Every number is right: 27 exactly, 1 up to rounding, of 28 checked.** "
                                     "Nothing to correct.")


def test_check_float64_json_says_what_float64_gives(capsys):
    assert main(["check", str(EXAMPLES / "mazur.toml"), "--float64", "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    row = record["gradients"]["w5"]
    significant = lambda text: len(text.lstrip("-0.").replace(".", "").split("e")[0])
    assert significant(row["analytic"]) >= 30
    assert significant(row["numeric"]) <= 17 and float(row["numeric"]) == float(row["numeric"][:19])
    assert "17 significant digits a double holds" in (ROOT / "README.md").read_text()


# ---- --form chain means the same in every format --------------------------------------------------
def _out(capsys, *arguments) -> str:
    assert main([*map(str, arguments)]) == 0
    return capsys.readouterr().out


def test_form_chain_names_the_factors_in_latex_and_json(capsys):
    mazur = EXAMPLES / "mazur.toml"
    derived = _out(capsys, "derive", mazur, "--wrt", "w5", "--format", "latex", "--form", "chain")
    latex = _out(capsys, "latex", mazur, "--wrt", "w5", "--form", "chain")
    assert derived == latex
    assert r"\frac{\partial E}{\partial \mathrm{out}_{o1}} \frac{\partial \mathrm{out}_{o1}}" in derived
    compact = _out(capsys, "derive", mazur, "--wrt", "w5", "--format", "latex", "--form", "compact")
    assert compact == _out(capsys, "latex", mazur, "--wrt", "w5") and r"\partial \mathrm{out}" not in compact
    chain = json.loads(_out(capsys, "derive", mazur, "--wrt", "w5", "--format", "json", "--form", "chain"))
    plain = json.loads(_out(capsys, "derive", mazur, "--wrt", "w5", "--format", "json", "--form", "compact"))
    assert (chain["form"], plain["form"]) == ("chain", "compact")
    assert len(chain["gradients"]["w5"]["chain"]) == 3 and "chain" not in plain["gradients"]["w5"]
    assert chain["gradients"]["w5"]["latex"] == derived.strip().split(" = ", 1)[1]
    assert plain["gradients"]["w5"]["latex"] == compact.strip().split(" = ", 1)[1]


# ---- the command line follows the conventions ------------------------------------------------------
def test_a_dash_reads_standard_input(capsys, monkeypatch):
    import io

    text = (EXAMPLES / "mazur.toml").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert _out(capsys, "derive", "-", "--wrt", "w5") == _out(capsys, "derive", EXAMPLES / "mazur.toml", "--wrt", "w5")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"[network\n")))
    assert main(["check", "-"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("symbackprop: <stdin>: not valid TOML") and error.count("\n") == 1
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"#" * (9 * 1024 * 1024))))
    assert main(["check", "-"]) == 2 and "larger than" in capsys.readouterr().err


def _help(capsys, *command) -> str:
    try:
        main([*command, "--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines at the terminal's width


def test_help_explains_every_argument_with_defaults_and_exit_codes(capsys):
    top = _help(capsys)
    assert "exit codes: 0 done, 1 a check, audit or training found a problem, 2 bad input" in top
    for command in ("derive", "check", "audit", "explain", "latex", "train", "diagram"):
        text = _help(capsys, command)
        assert "file " in text and "- reads it from standard input" in text, command
        assert "exit codes: 0 done" in text and "2 bad input" in text, command
    derive = _help(capsys, "derive")
    assert "--form {chain,compact,closed,simplified,matrix} chain: the chain rule" in derive
    assert "(default: chain)" in derive and "(default: text)" in derive and "(default: None)" not in derive
    assert "--digits 5..1000 significant digits of every value (default: 40)" in derive
    assert "--decimals 1..30 decimals shown" in _help(capsys, "explain")
    assert "--precision 5..1000 working precision" in _help(capsys, "check")
    assert "1 a gradient disagrees" in _help(capsys, "check")


def test_digits_means_significant_digits_everywhere(capsys):
    """--digits is significant digits shown (derive, train, diagram); explain's decimals and check's
    working precision have names of their own, and the old spelling says where to go."""
    value = _out(capsys, "derive", EXAMPLES / "mazur.toml", "--wrt", "w5", "--digits", "7").splitlines()[-1]
    assert value.endswith("= 0.08216704")
    dot = _out(capsys, "diagram", EXAMPLES / "mazur.toml", "--digits", "3")
    assert 'out = 0.593"' in dot and '∂E/∂w5 = 0.0822"' in dot and "0.5933" not in dot
    for command, instead in (("explain", "--decimals N"), ("check", "--precision P")):
        try:
            main([command, str(EXAMPLES / "mazur.toml"), "--digits", "5"])
        except SystemExit as exit_:
            assert exit_.code == 2
        assert f"use {instead}" in capsys.readouterr().err


def test_fragment_needs_latex(capsys):
    assert main(["explain", str(EXAMPLES / "mazur.toml"), "--fragment"]) == 2
    assert "--fragment: " in capsys.readouterr().err
    assert _out(capsys, "explain", EXAMPLES / "mazur.toml", "--fragment", "--format", "latex").startswith(r"\section*{")


def test_wrt_suggests_the_name_meant(capsys):
    for written, meant, path in (("W5", "w5", "mazur.toml"), ("out_h1", "out(h1)", "mazur.toml"),
                                 ("h1", "out(h1)", "mazur.toml"), ("out(H1)", "out(h1)", "mazur.toml"),
                                 ("W1", "w1", "graphs/residual.toml")):
        assert main(["derive", str(EXAMPLES / path), "--wrt", written]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and f"did you mean {meant}?" in error, error
    assert main(["derive", str(EXAMPLES / "mazur.toml"), "--wrt", "zz"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_parameters_are_listed_as_the_tutorial_numbers_them(capsys):
    rows = _out(capsys, "check", EXAMPLES / "mazur.toml").splitlines()[2:12]
    assert [row.split()[0] for row in rows] == ["w1", "w2", "w3", "w4", "b1", "w5", "w6", "w7", "w8", "b2"]
    # unnamed weights keep the matrix order of the file
    names = sbp.Engine(sbp.load_model(EXAMPLES / "relu_sigmoid_softmax.toml")).graph.parameters()
    layer = sbp.load_model(EXAMPLES / "relu_sigmoid_softmax.toml").layers[0]
    assert names[:9] == [name for row in layer.weight_names for name in row]


# ---- notebooks render the worked example ---------------------------------------------------------
def _markdown_tokens(text: str):
    """Tokens of a real Markdown renderer with the dollar-math rules Jupyter's renderer follows."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    return MarkdownIt("commonmark").enable("table").use(dollarmath_plugin, double_inline=True).parse(text)


def _flatten(tokens):
    for token in tokens:
        yield token
        yield from _flatten(token.children or ())


def test_notebook_display_renders_every_equation_as_mathematics():
    """sbp.explain(engine) in Jupyter showed each display equation as a code block labelled "math"."""
    from symbackprop.reports.document import Display, Math, Paragraph, to_markdown

    for path in (EXAMPLES / "mazur.toml", EXAMPLES / "relu_sigmoid_softmax.toml", EXAMPLES / "graphs" / "residual.toml"):
        document = sbp.explain(sbp.Engine(sbp.load_model(path)))
        tokens = list(_flatten(_markdown_tokens(document._repr_markdown_())))
        displays = [block.latex for block in document.blocks if isinstance(block, Display)]
        assert [t.content.strip() for t in tokens if t.type == "math_block"] == displays, path
        assert not [t for t in tokens if t.type in ("fence", "code_block")], path
        inline = [span for block in document.blocks if isinstance(block, Paragraph) for span in block.spans
                  if isinstance(span, Math)]
        rendered = [t.content for t in tokens if t.type == "math_inline"]
        assert set(inline) <= set(rendered), path
        # the files stay in GitHub's fence, which GitHub renders
        fences = [t for t in _markdown_tokens(to_markdown(document)) if t.type == "fence"]
        assert [t.info for t in fences] == ["math"] * len(displays) and [t.content.strip() for t in fences] == displays


# ---- the terms of a worked sum share one form ------------------------------------------------------------
_NUMBER = r"-?\d+(?:\.\d+)?(?: \\times 10\^\{-?\d+\})?"
_TERM = rf"(?:\\left\({_NUMBER}\\right\)|{_NUMBER})"
_NUMERIC_SUM = re.compile(rf"^{_TERM}(?: \+ {_TERM})+$")


def _numeric_sums(latex: str):
    """(terms, total) of every side of an equation that is a sum of plain numbers, with the side after it."""
    flat = latex.replace("\\begin{aligned}", "").replace("\\end{aligned}", "").replace("\\quad", "")
    flat = " ".join(flat.replace("\\\\", " ").replace("&", " ").split())
    sides = [side.strip() for side in flat.split("=")]
    for side, after in zip(sides, sides[1:]):
        if _NUMERIC_SUM.match(side) and re.fullmatch(_NUMBER, after):
            yield [term.replace("\\left(", "").replace("\\right)", "") for term in side.split(" + ")], after


def _as_float(text: str) -> float:
    mantissa, _, power = text.partition(r" \times 10^{")
    return float(mantissa) * 10.0 ** int(power.rstrip("}") or 0)


def test_terms_of_a_worked_sum_share_one_form_and_add_up():
    """"0.0013 + (−4.5966×10⁻⁴) = 8.7714×10⁻⁴" made a reader 4% off; exact zeros are 0."""
    from symbackprop.reports.document import Display

    seen = scientific = 0
    for path in (EXAMPLES / "relu_sigmoid_softmax.toml", EXAMPLES / "mazur.toml", EXAMPLES / "every_activation.toml"):
        document = sbp.explain(sbp.Engine(sbp.load_model(path)))
        for block in document.blocks:
            if not isinstance(block, Display):
                continue
            for terms, total in _numeric_sums(block.latex):
                seen += 1
                nonzero = [term for term in terms if term != "0"]
                forms = {r"\times" in term for term in nonzero + [total] if total != "0"}
                assert len(forms) <= 1, (path.stem, terms, total)
                assert all(term == "0" or _as_float(term) != 0 for term in terms)
                scientific += forms == {True}
                unit = max([10.0 ** -4] + [10.0 ** (int(t.partition("{")[2].rstrip("}") or 0) - 4)
                                          for t in nonzero + [total] if r"\times" in t])
                assert abs(sum(map(_as_float, nonzero)) - _as_float(total)) <= unit * (len(terms) + 1) / 2, (terms, total)
    assert seen > 30 and scientific > 5


# ---- diagrams keep the file's order ------------------------------------------------------------------------
def _svg_centres(svg: str) -> dict[str, tuple[float, float]]:
    """Each node's centre in Graphviz's SVG: ellipses give cx, cy; boxes the mean of their corners."""
    centres = {}
    for match in re.finditer(r'<g id="node\d+" class="node">\s*<title>([^<]*)</title>\s*<(ellipse|polygon)([^>]*)>', svg):
        name, shape, attributes = match.groups()
        if shape == "ellipse":
            centres[name] = tuple(float(re.search(rf'{axis}="([-\d.]+)"', attributes)[1]) for axis in ("cx", "cy"))
        else:
            corners = [tuple(map(float, point.split(","))) for point in re.search(r'points="([^"]+)"', attributes)[1].split()]
            centres[name] = (sum(x for x, _ in corners) / len(corners), sum(y for _, y in corners) / len(corners))
    return centres


def test_diagram_keeps_units_in_file_order(tmp_path):
    """Graphviz drew x2, x3, x1 / h1, h3, h2: each layer now reads top to bottom as the file lists it."""
    from .test_diagram_and_display import _dot

    path = EXAMPLES / "relu_sigmoid_softmax.toml"
    network = sbp.load_model(path)
    ranks = [list(network.inputs) + ["bias 1"]] + [
        list(layer.units) + ([f"bias {index + 2}"] if index + 1 < len(network.layers) else [])
        for index, layer in enumerate(network.layers)]
    out = tmp_path / "dot.dot"
    assert main(["diagram", str(path), "-o", str(out)]) == 0
    dot = out.read_text()
    for rank in ranks:
        assert " -> ".join(f'"{name}"' for name in rank) + " [style=invis];" in dot
    assert "decorate=true" in dot  # every label is tied to its edge
    _dot()  # Graphviz, or a skip here and a failure in CI
    svg = tmp_path / "net.svg"
    assert main(["diagram", str(path), "-o", str(svg)]) == 0
    centres = _svg_centres(svg.read_text())
    for rank in ranks:
        heights = [centres[name][1] for name in rank]
        assert heights == sorted(heights), (rank, heights)  # SVG y grows downwards: top to bottom in file order


# ---- LaTeX fits the page ------------------------------------------------------------------------------------
MAX_OVERFULL_PT = 10
SHIPPED = sorted(p for p in [*EXAMPLES.glob("*.toml"), *(EXAMPLES / "graphs").glob("*.toml"),
                             *(EXAMPLES / "layers").glob("*.toml")])


def _widest_overfull_box(source: Path) -> float:
    """Compile with pdflatex and read its log: the widest overfull \\hbox, in points (0 when none)."""
    import subprocess

    from .test_explain import _pdflatex

    result = subprocess.run([_pdflatex(), "-interaction=nonstopmode", "-halt-on-error", source.name],
                            cwd=source.parent, capture_output=True, text=True, errors="replace", timeout=300)
    log = source.with_suffix(".log").read_text(errors="replace")
    assert result.returncode == 0 and not re.search(r"^! ", log, flags=re.M), log[-2000:]
    return max([float(width) for width in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)], default=0.0)


def test_every_shipped_example_fits_the_page(tmp_path):
    """relu_sigmoid_softmax had boxes 317 pt too wide; every_activation 577 pt."""
    widths = {}
    for path in SHIPPED:
        if "[data]" not in path.read_text() and "[graph.values]" not in path.read_text():
            continue  # a network without numbers has no worked example
        if "kind = \"maxpool2d\"" in path.read_text() and "conv2d" not in path.read_text():
            continue  # nor one without parameters (a pooling alone: explain refuses it, test_layers holds)
        source = tmp_path / f"{path.stem}.tex"
        assert main(["explain", str(path), "--format", "latex", "-o", str(source)]) == 0, path
        widths[path.stem] = _widest_overfull_box(source)
    assert len(widths) >= 15 and max(widths.values()) <= MAX_OVERFULL_PT, widths


def test_zero_paths_collapse_into_a_sentence():
    from symbackprop.reports.document import Display, Paragraph

    document = sbp.explain(sbp.Engine(sbp.load_model(EXAMPLES / "relu_sigmoid_softmax.toml")))
    sentences = ["".join(block.spans) for block in document.blocks if isinstance(block, Paragraph)]
    zero = [s for s in sentences if "paths have the factor" in s and "a ReLU that is off" in s]
    assert zero, "a dead ReLU's paths are summed up in one sentence"
    listed = [block.latex for block in document.blocks if isinstance(block, Display) and r"\text{path" in block.latex]
    assert listed and all(not re.search(r"= 0(?:\.0+)? *(?:\\\\|$)", latex, flags=re.M) for latex in listed)


def _random_deep_documents():
    from tests.strategies import network_documents

    return network_documents(max_depth=4, max_width=4).filter(lambda d: len(d["network"]["layers"]) >= 3)


def test_random_three_and_four_layer_networks_fit_the_page(tmp_path_factory):
    from hypothesis import HealthCheck, assume, given, settings

    from symbackprop.errors import InputError

    @settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.filter_too_much, HealthCheck.nested_given])
    @given(_random_deep_documents())
    def fits(document):
        try:
            explained = sbp.explain(sbp.Engine(sbp.network_from_mapping(document)))
        except InputError:
            assume(False)  # undefined at these numbers (ln 0): refused, nothing to typeset
        source = tmp_path_factory.mktemp("tex") / "random.tex"
        source.write_text(sbp.to_latex(explained))
        assert _widest_overfull_box(source) <= MAX_OVERFULL_PT

    fits()


# ---- a skeleton to transcribe a tutorial into ---------------------------------------------------------------
def test_claims_skeleton_lists_every_number_in_tutorial_order_and_audits_clean_when_filled(capsys, tmp_path):
    """Filled with the exact values it gives as comments, the skeleton is a worked example the auditor passes
    claim by claim; its order is Mazur's: forward unit by unit, the loss, the output layer, then the hidden."""
    for path in (EXAMPLES / "mazur.toml", EXAMPLES / "graphs" / "residual.toml", EXAMPLES / "xor.toml"):
        skeleton = _out(capsys, "claims", path)
        quantities = re.findall(r'^quantity = "([^"]+)"', skeleton, flags=re.M)
        filled = re.sub(r'value = ""  # exact (\S+)', r'value = "\1"', skeleton)
        assert 'value = ""' not in filled
        worked = tmp_path / f"{path.stem}_claims.toml"
        worked.write_text(path.read_text() + "\n" + filled)
        code, report = main(["audit", str(worked), "--format", "json"]), json.loads(capsys.readouterr().out)
        assert code == 0 and report["summary"]["ok"] == len(quantities), (path, report["summary"])
        if path.stem == "mazur":
            assert quantities[:4] == ["net(h1)", "out(h1)", "net(h2)", "out(h2)"]
            assert quantities[10:13] == ["E", "dE/dw5", "dE/dw6"]
            assert quantities.index("new(w8)") < quantities.index("dE/dw1") and quantities[-1] == "new(b1)"
    # a network without numbers has nothing to transcribe: one line, exit 2
    bare = tmp_path / "bare.toml"
    bare.write_text((EXAMPLES / "mazur.toml").read_text().split("[data]")[0])
    assert main(["claims", str(bare)]) == 2 and capsys.readouterr().err.count("\n") == 1


def test_explain_opens_with_a_two_line_summary(capsys):
    """The loss and what one step does to it, then the largest gradient and the proof, before anything else;
    every number in it is checked against the finite-difference oracle of the check."""
    from symbackprop.oracle.check import check_gradients

    markdown = _out(capsys, "explain", EXAMPLES / "mazur.toml").splitlines()
    assert markdown[2] == r"The loss is $E = 0.2984$ and one step of gradient descent ($\eta = 0.5000$) brings it to $E^{+} = 0.2910$."
    report = check_gradients(sbp.load_model(EXAMPLES / "mazur.toml"))
    largest = max(report.rows, key=lambda row: abs(row.numeric))
    assert largest.name == "b2" and f"{float(largest.numeric):.4f}" == "0.1004"
    assert markdown[4] == (r"The largest of the 10 gradients is $\frac{\partial E}{\partial b_{2}} = 0.1004$; every one "
                           "agrees with finite differences at 30 digits.")
    assert markdown[6].startswith("## ")


def test_readme_command_table_is_one_table_with_every_command():
    """A blank line once split the table, so the explain, latex and diagram rows rendered as pipes."""
    tokens = list(_flatten(_markdown_tokens((ROOT / "README.md").read_text())))
    tables = [i for i, token in enumerate(tokens) if token.type == "table_open"]
    commands = None
    for start in tables:
        end = next(i for i in range(start, len(tokens)) if tokens[i].type == "table_close")
        cells = [t.content for t in tokens[start:end] if t.type == "inline"]
        if cells[:3] == ["command", "what it does", "exit code"]:
            commands = [re.match(r"`symbackprop (\w+)", cell)[1] for cell in cells[3::3]]
    assert commands == ["derive", "check", "audit", "claims", "explain", "latex", "train", "diagram", "graph"]
    import argparse

    from symbackprop.cli import _parser

    subcommands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(commands) == sorted(subcommands.choices)
    head = (ROOT / "README.md").read_text().splitlines()[:8]
    # A newcomer is told how long the suite takes before starting it; the figure itself is prose.
    assert "Python 3.11 or newer" in " ".join(head)
    assert re.search(r"The whole suite takes about [a-z-]+ minutes", " ".join(head))
