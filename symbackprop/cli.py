"""The command line: the only module that reads argv, writes stdout/stderr and returns exit codes.

Exit codes: 0 success, 1 a check or audit found a problem, 2 bad input.
Heavy modules (SymPy) are imported inside the commands, so ``--help`` is instant.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other bad input
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbackprop", description="Exact symbolic gradients of small neural networks, proved.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    derive = commands.add_parser("derive", help="print ∂E/∂p for the parameters of a network file")
    derive.add_argument("file")
    derive.add_argument("--wrt", action="append", metavar="NAME", help="a parameter (repeatable; default all)")
    derive.add_argument("--form", choices=("chain", "compact", "closed", "simplified", "matrix"), default=None,
                        help="chain (default), compact, closed, simplified, or matrix: the layer-wise vectorised "
                             "backward pass (dZ, dW, db, dA) with every matrix's numbers")
    derive.add_argument("--format", choices=("text", "latex", "json"), default="text")
    derive.add_argument("--digits", type=_digits, default=40, help="significant digits of values (default 40)")
    derive.add_argument("--sample", type=_whole_number_between(0, 10_000, "sample"), default=None, metavar="S",
                        help="one sample's terms: ∂E[S]/∂p, the gradient of sample S's loss (0-based), "
                             "for a file with several samples")

    check = commands.add_parser("check", help="compare every exact gradient with finite differences")
    check.add_argument("file")
    check.add_argument("--digits", type=_digits, default=50, help="precision in digits (default 50)")
    check.add_argument("--float64", action="store_true", help="finite differences in float64 instead")
    check.add_argument("--format", choices=("text", "json"), default="text")

    audit = commands.add_parser("audit", help="a verdict for every number of a hand-worked example")
    audit.add_argument("file")
    audit.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    audit.add_argument("-o", "--output", metavar="OUT", help="write the report to OUT instead of stdout")

    explain = commands.add_parser("explain", help="write the whole worked example: forward, backward, update")
    explain.add_argument("file")
    explain.add_argument("--format", choices=("markdown", "latex"), default="markdown")
    explain.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    explain.add_argument("--digits", type=_places, default=4, help="decimals shown (default 4); values stay exact")
    explain.add_argument("--fragment", action="store_true", help="LaTeX body only, without the preamble")
    explain.add_argument("--steps", type=_whole_number_between(1, 50, "steps"), default=None, metavar="N",
                         help="write N training steps in turn, each from the parameters the last one reached")
    explain.add_argument("--notation", choices=("scalar", "matrix"), default="scalar",
                         help="scalar (default): unit by unit, path by path; matrix: Z, A, dZ, dW, db as matrices, "
                              "W[l] with a row per unit and a column per sample")

    latex = commands.add_parser("latex", help="print the gradient formulas as LaTeX")
    latex.add_argument("file")
    latex.add_argument("--wrt", action="append", metavar="NAME", help="a parameter (repeatable; default all)")
    latex.add_argument("--form", choices=("chain", "compact", "closed", "simplified"), default=None,
                       help="compact (default), chain, closed or simplified")

    train = commands.add_parser("train", help="train for several steps: the loss and every parameter after each")
    train.add_argument("file")
    train.add_argument("--steps", type=_whole_number_between(0, 100_000, "steps"), default=None,
                       help="steps to take (default: the file's [training] steps, else 1)")
    train.add_argument("--format", choices=("text", "json"), default="text")
    train.add_argument("--digits", type=_digits, default=30,
                       help="significant digits printed, every one certified (default 30; JSON has at least 30)")
    train.add_argument("--plot", metavar="LOSS.svg", help="also draw the loss per step as an SVG chart")

    diagram = commands.add_parser("diagram", help="draw the network (DOT; SVG or PNG through Graphviz)")
    diagram.add_argument("file")
    diagram.add_argument("-o", "--output", metavar="OUT", help="net.dot, net.svg or net.png (default: DOT on stdout)")
    diagram.add_argument("--digits", type=_places, default=4, help="significant digits of values (default 4)")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("symbackprop")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _whole_number_between(low: int, high: int, what: str = "digits"):
    """An argparse type: a whole number in [low, high], else a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be between {low:,} and {high:,}")
        return value

    return parse


_digits = _whole_number_between(5, 1000)  # significant digits of values
_places = _whole_number_between(1, 30)  # decimals shown in a worked example, digits on a diagram


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; return its exit code."""
    args = _parser().parse_args(argv)
    from .errors import InputError

    try:
        commands = {"derive": _derive, "check": _check, "audit": _audit, "explain": _explain, "latex": _latex,
                    "diagram": _diagram, "train": _train}
        return commands[args.command](args)
    except InputError as error:
        print(f"symbackprop: {error.located(args.file)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


#: Above this many parameters, ``derive`` gives gradients in δ symbols with the program.
LARGE_NETWORK = 1000


def _delta_form_names(engine, wrt, form: Optional[str], default_form: str) -> Optional[list[str]]:
    """The parameters to write in δ form when this network needs it (None when it does not); a
    --form or a --wrt that the δ form cannot give is refused, naming why."""
    from .errors import InputError

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
    from .chain import MAX_WRITTEN_PATHS

    paths = engine.most_paths()
    if paths > MAX_WRITTEN_PATHS:
        return f"a gradient sums {paths:,} paths (more than {MAX_WRITTEN_PATHS})"
    return ""


def _derive(args) -> int:
    from .chain import Engine
    from .errors import InputError
    from .loader import load_model
    from .report import derivation_text, derive_json, derive_latex

    engine = Engine(load_model(args.file))
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
    form = args.form or "chain"
    derivations = [engine.derivative(of, quantity) for quantity in wrt]
    with_value = not engine.graph.missing
    if with_value:
        engine.point.numeric(args.digits + 12)  # fail early (exit 2) if the loss is undefined here
    if args.format == "json":
        print(derive_json(derivations, form, args.digits, with_value))
    elif args.format == "latex":
        print(derive_latex(derivations, form if form != "chain" else "compact"))
    else:
        print("\n\n".join(derivation_text(d, form, args.digits, with_value) for d in derivations))
    return EXIT_OK


def _derive_matrix(engine, args) -> int:
    from .errors import InputError
    from .matrix import matrix_form, refuse_unless_layered
    from .report import matrix_json, matrix_latex, matrix_text

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
    from .errors import InputError
    from .quantity import Quantity

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

    from .program import evaluate, straight_line_program
    from .report import program_json_chunks, program_latex_chunks, program_text_chunks
    from .values import point_of

    started = time.monotonic()
    progress = _Progress(started, len(names))
    program = straight_line_program(engine.graph)
    progress.say("program built")
    values = None
    if not engine.graph.missing and form != "latex":  # the LaTeX lines carry no values
        _, values = evaluate(program, point_of(engine.graph).leaves, digits + 10)
        _require_finite(values)
        progress.say("values computed")
    out = sys.stdout
    writer = {"json": program_json_chunks, "latex": program_latex_chunks, "text": program_text_chunks}[form]
    for count, chunk in enumerate(writer(program, values, digits, names)):
        out.write(chunk)
        progress.tick(count - 2)  # the first chunks are the program
    out.write("\n")
    out.flush()
    progress.done()
    return EXIT_OK


def _require_finite(values) -> None:
    import mpmath

    from .errors import InputError

    for name, value in values.items():
        if not mpmath.isfinite(value):
            raise InputError(f"∂E/∂{name} is undefined at these numbers ({value})", place="loss.kind")


class _Progress:
    """Progress lines on stderr, only for work that has already taken more than two seconds."""

    AFTER_SECONDS, EVERY_SECONDS = 2.0, 1.0

    def __init__(self, started: float, total: int, noun: str = "gradients", verb: str = "written") -> None:
        self.started, self.total, self.last = started, total, started
        self.noun, self.verb = noun, verb
        self.shown = False

    def _due(self) -> bool:
        import time

        now = time.monotonic()
        if now - self.started < self.AFTER_SECONDS or now - self.last < self.EVERY_SECONDS:
            return False
        self.last = now
        return True

    def say(self, what: str) -> None:
        if self._due():
            self.shown = True
            print(f"symbackprop: {what} ({self.last - self.started:.1f} s)", file=sys.stderr, flush=True)

    def tick(self, done: int, every: int = 256) -> None:
        if done > 0 and done % every == 0:
            self.say(f"{done:,}/{self.total:,} {self.noun} {self.verb}")

    def done(self) -> None:
        if self.shown:
            import time

            print(f"symbackprop: {self.total:,} {self.noun} in {time.monotonic() - self.started:.1f} s",
                  file=sys.stderr, flush=True)


def _check(args) -> int:
    from .check import check_gradients
    from .loader import load_model
    from .report import check_json, check_text

    import time

    model = load_model(args.file)
    count = len(model.parameters())
    progress = _Progress(time.monotonic(), count, "parameters", "checked")
    report = check_gradients(model, digits=args.digits, float64=args.float64,
                             progress=lambda done: progress.tick(done, every=1))
    progress.done()
    print(check_json(report) if args.format == "json" else check_text(report))
    return EXIT_OK if report.passed else EXIT_FOUND


def _train(args) -> int:
    import time

    from .errors import InputError
    from .graph import training_graph
    from .loader import load_model
    from .network import Network
    from .report import loss_svg, training_json, training_text
    from .training import UncertifiedDigits, train

    if args.plot is not None and not args.plot.lower().endswith(".svg"):
        raise InputError("--plot writes SVG: give a file name ending in .svg", place="--plot")
    model = load_model(args.file)
    graph = training_graph(model) if isinstance(model, Network) else model
    digits = max(args.digits, 30) if args.format == "json" else args.digits
    steps = graph.training.steps if args.steps is None else args.steps
    progress = _Progress(time.monotonic(), 2 * (steps + 1), "steps", "computed (two runs, to certify the digits)")
    try:
        result = train(graph, args.steps, digits, progress=lambda done: progress.tick(done, every=max(1, steps // 10)))
    except UncertifiedDigits as error:
        print(f"symbackprop: {args.file}: {error}", file=sys.stderr)
        return EXIT_FOUND
    progress.done()
    print(training_json(result, digits) if args.format == "json" else training_text(result, digits))
    if args.plot is not None:
        try:
            with open(args.plot, "w", encoding="utf-8") as handle:
                handle.write(loss_svg(result, graph.title))
        except OSError as error:
            raise InputError(f"cannot write {args.plot!r}: {error.strerror or error}", place="--plot") from None
    return EXIT_OK


def _audit(args) -> int:
    from .audit import audit, load_claims
    from .audit.report import audit_json, audit_markdown, audit_text

    import time

    graph, claims = load_claims(args.file)
    progress = _Progress(time.monotonic(), len(claims), "claims", "judged")
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
        from .errors import InputError

        raise InputError(f"cannot write {output}: {error.strerror or error}", place="-o") from None


def _explain(args) -> int:
    from .chain import Engine
    from .check import check_gradients
    from .document import to_latex, to_markdown
    from .errors import InputError
    from .explain import explain, explain_matrix, explain_steps, require_explainable
    from .loader import load_model

    model = load_model(args.file)
    engine = Engine(model)
    require_explainable(engine)  # at once, before the check below
    check = check_gradients(model, analytic=None, digits=30) if not engine.graph.missing else None
    if args.steps is not None:
        if args.notation == "matrix":
            raise InputError("--steps writes the scalar notation; give one of --steps and --notation matrix",
                             place="--steps")
        graph = engine.graph
        document = explain_steps(graph, args.steps, places=args.digits)
        text = to_latex(document, fragment=args.fragment) if args.format == "latex" else to_markdown(document)
        _emit(text, args.output)
        return EXIT_OK
    writer = explain_matrix if args.notation == "matrix" else explain
    if args.notation == "matrix":
        from .matrix import refuse_unless_layered

        refuse_unless_layered(engine.graph)
    document = writer(engine, places=args.digits, check=check)
    text = to_latex(document, fragment=args.fragment) if args.format == "latex" else to_markdown(document)
    _emit(text, args.output)
    return EXIT_OK


def _latex(args) -> int:
    from .chain import Engine
    from .loader import load_model
    from .report import derive_latex

    engine = Engine(load_model(args.file))
    names = args.wrt or engine.graph.parameters()
    wrt = [engine.quantity(name, place=f"--wrt {name}") for name in names]
    program_names = _delta_form_names(engine, wrt, args.form, "compact")
    if program_names is not None:
        return _derive_program(engine, program_names, 0, "latex")
    derivations = [engine.derivative("E", quantity) for quantity in wrt]
    print(derive_latex(derivations, args.form or "compact"))
    return EXIT_OK


def _diagram(args) -> int:
    import subprocess
    from pathlib import Path

    from .chain import Engine
    from .diagram import RENDERED, GraphvizMissing, graph_dot, network_dot, render
    from .errors import InputError
    from .loader import load_model

    engine = Engine(load_model(args.file))
    graph = engine.graph
    with_numbers = engine if not graph.missing else None
    suffix = Path(args.output).suffix.lower() if args.output else ".dot"
    if suffix not in (".dot", ".gv", *RENDERED):
        raise InputError(f"cannot draw {args.output}: name it .dot, .gv, .svg or .png", place="-o")
    if graph.is_formula_graph():
        dot_text = graph_dot(graph, with_numbers, digits=args.digits)
    else:
        dot_text = network_dot(graph.network, with_numbers, digits=args.digits)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
