"""The eight commands, one function each: read the file, ask the engine, print the report, return the exit code.

Heavy modules (SymPy, the engine) are imported inside each command, so that ``--help`` loads none of them.
"""
from __future__ import annotations

import sys
from typing import Optional

from .streams import _HEARTBEAT, EXIT_FOUND, EXIT_OK, _name, _Progress


#: Above this many parameters, ``derive`` gives gradients in δ symbols with the program.
LARGE_NETWORK = 1000


def _delta_form_names(engine, wrt, form: Optional[str], default_form: str) -> Optional[list[str]]:
    """The parameters to write in δ form when this network needs it (None when it does not); a
    --form or a --wrt that the δ form cannot give is refused, naming why."""
    from ..errors import InputError

    too_long = _program_form_reason(engine)
    if not too_long:
        return None
    if form not in (None, default_form):
        raise InputError(f"{too_long}, so gradients are written in δ form; --form {form} is not available",
                         place="--form")
    for quantity in wrt:
        if quantity.kind != "param":
            raise InputError(f"{too_long}: derived for parameters only, not {quantity}", place="--wrt")
    return [quantity.name for quantity in wrt]


def _program_form_reason(engine) -> str:
    """Why this network's gradients must be written in δ form (the straight-line program), or ""."""
    count = len(engine.graph.parameters())
    if count > LARGE_NETWORK:
        return f"the network has {count:,} parameters (more than {LARGE_NETWORK:,})"
    from ..engine.chain import MAX_WRITTEN_PATHS

    paths = engine.most_paths()
    if paths > MAX_WRITTEN_PATHS:
        return f"a gradient sums {paths:,} paths (more than {MAX_WRITTEN_PATHS})"
    return ""


def derive(args) -> int:
    from ..engine.chain import Engine
    from ..errors import InputError
    from ..reports.results import derive_json, derive_latex, derive_text

    engine = Engine(_graph(args.source))
    if args.form == "matrix":
        return _derive_matrix(engine, args)
    names = args.wrt or engine.graph.parameters()
    wrt = [engine.quantity(name, place=f"--wrt {name}") for name in names]
    of = _loss_of(engine, args.sample)
    program_names = _delta_form_names(engine, wrt, args.form, "chain")
    if program_names is not None:
        if args.sample is not None:
            raise InputError("gradients are written in δ form here, for E only; --sample is not available",
                             place="--sample")
        return _derive_program(engine, program_names, args.digits, args.format)
    form = args.form
    derivations = [engine.derivative(of, quantity) for quantity in wrt]
    with_value = not engine.graph.missing
    if with_value:
        engine.point.numeric(args.digits + 12)  # fail early (exit 2) if the loss is undefined here
    if args.format == "json":
        print(derive_json(derivations, form, args.digits, with_value))
    elif args.format == "latex":
        print(derive_latex(derivations, form))
    else:
        print(derive_text(derivations, form, args.digits, with_value))
    return EXIT_OK


def _derive_matrix(engine, args) -> int:
    from ..errors import InputError
    from ..reports.matrix_results import matrix_json, matrix_latex, matrix_text
    from ..training.matrix import matrix_form, refuse_unless_layered

    refuse_unless_layered(engine.graph)
    for option, given in (("--wrt", args.wrt), ("--sample", args.sample is not None)):
        if given:
            raise InputError("the matrix form gives every layer at once, for E", place=option)
    form = matrix_form(engine, digits=None if engine.graph.missing else args.digits)
    writer = {"json": matrix_json, "latex": matrix_latex, "text": matrix_text}[args.format]
    print(writer(form, args.digits))
    return EXIT_OK


def _loss_of(engine, sample: Optional[int]):
    """E, or the loss of one sample (``--sample``) of a file with several."""
    from ..errors import InputError
    from ..quantity import Quantity

    if sample is None:
        return Quantity.loss()
    count = len(engine.graph.samples)
    if sample >= count:
        raise InputError(f"sample {sample} does not exist: this file gives "
                         + (f"{count} samples (0 to {count - 1})" if count else "one sample (no --sample needed)"),
                         place="--sample")
    return Quantity.loss(sample)


def _derive_program(engine, names, digits: int, form: str) -> int:
    """Stream a large network's gradients in program form; progress on stderr once it takes over 2 s."""
    import time

    from ..engine.program import evaluate, straight_line_program
    from ..engine.values import point_of
    from ..reports.results import program_json_chunks, program_latex_chunks, program_text_chunks

    started = time.monotonic()
    beats = _HEARTBEAT.beats
    with _HEARTBEAT.doing("building the δ program") as beat:
        program = straight_line_program(engine.graph)
        values = None
        if not engine.graph.missing and form != "latex":  # the LaTeX lines carry no values
            beat.what = "computing the values"
            _, values = evaluate(program, point_of(engine.graph).leaves, digits + 10)
            _require_finite(values)
        out = sys.stdout
        writer = {"json": program_json_chunks, "latex": program_latex_chunks, "text": program_text_chunks}[form]
        lines = len(program.backward) + len(names)
        for count, chunk in enumerate(writer(program, values, digits, names)):
            out.write(chunk)
            beat.what = f"{count:,}/{lines:,} lines written (the δs, then the gradients)"
        out.write("\n")
        out.flush()
    if beat.beats > beats:
        _HEARTBEAT.say(f"{len(names):,} gradient{'s' * (len(names) != 1)} in {time.monotonic() - started:.1f} s")
    return EXIT_OK


def _require_finite(values) -> None:
    import mpmath

    from ..errors import InputError

    for name, value in values.items():
        if not mpmath.isfinite(value):
            raise InputError(f"∂E/∂{name} is undefined at these numbers ({value})", place="loss.kind")


def _read(source):
    """The file's model (a large formula graph takes seconds to read and differentiate: a line on stderr
    every two seconds after the first two says so)."""
    from ..frontends.loader import load_model

    with _HEARTBEAT.doing("reading the file"):
        return load_model(source)


def _graph(source):
    """The file's graph (building a large one's local derivatives takes seconds: the heartbeat says so)."""
    from ..frontends.coerce import as_graph

    model = _read(source)
    with _HEARTBEAT.doing("building the graph"):
        return as_graph(model)


def check(args) -> int:
    import time

    from ..oracle.check import check_gradients
    from ..reports.results import check_json, check_text

    model = _read(args.source)
    count = len(model.parameters())
    progress = _Progress(time.monotonic(), count, "parameters", "checked")
    report = check_gradients(model, digits=args.precision, float64=args.float64,
                             progress=lambda done: progress.tick(done, every=1))
    progress.done()
    print(check_json(report) if args.format == "json" else check_text(report))
    return EXIT_OK if report.passed else EXIT_FOUND


def train(args) -> int:
    import time

    from ..errors import InputError
    from ..frontends.coerce import as_training_graph
    from ..reports.results import loss_svg, training_json, training_text
    from ..training.train import train

    if args.plot is not None and not args.plot.lower().endswith(".svg"):
        raise InputError("--plot writes SVG: give a file name ending in .svg", place="--plot")
    model = _read(args.source)
    graph = as_training_graph(model)
    digits = max(args.digits, 30) if args.format == "json" else args.digits
    steps = graph.training.steps if args.steps is None else args.steps
    progress = _Progress(time.monotonic(), steps + 1, "steps", "certified (each digit proved by its ball)")
    result = train(graph, args.steps, digits, progress=lambda done: progress.tick(done, every=max(1, steps // 10)),
                   pulse=progress.maybe)
    progress.done()
    print(training_json(result, digits) if args.format == "json" else training_text(result, digits))
    if args.plot is not None:
        try:
            with open(args.plot, "w", encoding="utf-8") as handle:
                handle.write(loss_svg(result, graph.title))
        except OSError as error:
            raise InputError(f"cannot write {args.plot!r}: {error.strerror or error}", place="--plot") from None
    return EXIT_OK


def audit(args) -> int:
    import time

    from ..audit import audit, load_claims
    from ..reports.audit import audit_json, audit_markdown, audit_text

    with _HEARTBEAT.doing("reading the file"):
        graph, claims = load_claims(args.source)
    progress = _Progress(time.monotonic(), len(claims), "claims", "judged")
    with _HEARTBEAT.doing("judging the claims"):
        report = audit(graph, claims, progress=lambda done: progress.tick(done, every=1))
    progress.done()
    if args.format == "json":
        text = audit_json(report)
    elif args.format == "markdown":
        text = audit_markdown(report)
    else:
        text = audit_text(report)
    _emit(text, args.output)
    return EXIT_OK if report.clean else EXIT_FOUND


def claims(args) -> int:
    from ..audit.skeleton import claims_skeleton

    _emit(claims_skeleton(_read(args.source), _name(args.file)), args.output)
    return EXIT_OK


def graph(args) -> int:
    from ..audit.claims import read_worked_example
    from ..reports.formula_file import formula_file

    with _HEARTBEAT.doing("reading the file"):
        graph, _, document = read_worked_example(args.source)
    _emit(formula_file(graph, document.get("claims", ())), args.output)
    return EXIT_OK


def _emit(content: str | bytes, output: Optional[str]) -> None:
    """Print text, or write text or bytes to ``output``; a file that cannot be written is exit 2."""
    if output is None:
        print(content)
        return
    if isinstance(content, str):
        content = (content if content.endswith("\n") else content + "\n").encode("utf-8")
    try:
        with open(output, "wb") as handle:
            handle.write(content)
    except OSError as error:
        from ..errors import InputError

        raise InputError(f"cannot write {output}: {error.strerror or error}", place="-o") from None


def explain(args) -> int:
    import time

    from ..engine.chain import Engine
    from ..errors import InputError
    from ..oracle.check import check_gradients
    from ..reports.document import to_latex, to_markdown
    from ..reports.explain import explain, require_explainable
    from ..reports.explain_matrix import explain_matrix
    from ..reports.steps import explain_steps

    if args.fragment and args.format != "latex":
        raise InputError("--fragment leaves out the LaTeX preamble; it needs --format latex (Markdown has no "
                         "preamble)", place="--fragment")
    model = _read(args.source)
    engine = Engine(model)
    require_explainable(engine)  # at once, before the check below
    check = check_gradients(model, analytic=None, digits=30) if not engine.graph.missing else None
    if args.steps is not None:
        if args.notation == "matrix":
            raise InputError("--steps writes the scalar notation; give one of --steps and --notation matrix",
                             place="--steps")
        graph = engine.graph
        progress = _Progress(time.monotonic(), args.steps, "steps", "written")
        document = explain_steps(graph, args.steps, places=args.decimals,
                                 progress=lambda done: progress.tick(done, every=1))
        progress.done()
        text = to_latex(document, fragment=args.fragment) if args.format == "latex" else to_markdown(document)
        _emit(text, args.output)
        return EXIT_OK
    writer = explain_matrix if args.notation == "matrix" else explain
    if args.notation == "matrix":
        from ..training.matrix import refuse_unless_layered

        refuse_unless_layered(engine.graph)
    document = writer(engine, places=args.decimals, check=check)
    text = to_latex(document, fragment=args.fragment) if args.format == "latex" else to_markdown(document)
    _emit(text, args.output)
    return EXIT_OK


def latex(args) -> int:
    from ..engine.chain import Engine
    from ..reports.results import derive_latex

    engine = Engine(_graph(args.source))
    names = args.wrt or engine.graph.parameters()
    wrt = [engine.quantity(name, place=f"--wrt {name}") for name in names]
    program_names = _delta_form_names(engine, wrt, args.form, "compact")
    if program_names is not None:
        return _derive_program(engine, program_names, 0, "latex")
    derivations = [engine.derivative("E", quantity) for quantity in wrt]
    print(derive_latex(derivations, args.form))
    return EXIT_OK


def diagram(args) -> int:
    import subprocess
    from pathlib import Path

    from ..engine.chain import Engine
    from ..errors import InputError
    from ..reports.diagram import RENDERED, GraphvizMissing, graph_dot, network_dot, render

    engine = Engine(_graph(args.source))
    graph = engine.graph
    with_numbers = engine if not graph.missing else None
    suffix = Path(args.output).suffix.lower() if args.output else ".dot"
    if suffix not in (".dot", ".gv", *RENDERED):
        raise InputError(f"cannot draw {args.output}: name it .dot, .gv, .svg or .png", place="-o")
    if graph.is_formula_graph():
        dot_text = graph_dot(graph, with_numbers, digits=args.digits)
    else:
        dot_text = network_dot(graph.layout, with_numbers, digits=args.digits)
    if suffix in RENDERED:
        try:
            _emit(render(dot_text, RENDERED[suffix]), args.output)
        except GraphvizMissing:
            raise InputError(
                f"cannot write {args.output}: Graphviz's dot program is not installed (Debian: apt-get install "
                f"graphviz); -o {Path(args.output).with_suffix('.dot').name} writes the DOT text without it",
                place="-o") from None
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            raise InputError(f"cannot write {args.output}: {error}", place="-o") from None
    else:
        _emit(dot_text, args.output)
    return EXIT_OK
