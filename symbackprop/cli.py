"""The command line: the only module that reads argv, writes stdout/stderr and returns exit codes.

Exit codes: 0 success, 1 a check or audit found a problem (or digits that could not be proved), 2 bad
input, 3 the output could not be written, 130 interrupted.
Heavy modules (SymPy) are imported inside the commands, so ``--help`` is instant.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Optional, Sequence

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2
#: Exit codes of a run cut short: interrupted (Ctrl-C, as a shell reports SIGINT), or its output not written.
EXIT_INTERRUPTED, EXIT_FAILED = 130, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, like every other bad input
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help that keeps the epilog's lines and shows every default there is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in help_text:
            help_text += " (default: %(default)s)"
        return help_text


_EXITS = "exit codes: 0 done{found}, 2 bad input (one line on stderr: the file, the place, the problem)"
_FILE_HELP = "the network file (TOML: docs/network-format.md); - reads it from standard input"
_FORMAT_HELP = "what to print: {}"


def _command(commands, name: str, summary: str, found: str = "", file_help: str = _FILE_HELP) -> argparse.ArgumentParser:
    """A subcommand with its file argument, a help that shows defaults, and its exit codes."""
    command = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                                  epilog=_EXITS.format(found=f", 1 {found}" if found else ""),
                                  formatter_class=_Formatter)
    command.add_argument("file", help=file_help)
    return command


def _renamed(option: str, instead: str, why: str):
    """An argparse type for an option this command does not have, pointing to the one it has."""

    def refuse(_: str):
        raise argparse.ArgumentTypeError(f"here {why}: use {instead}")

    return dict(type=refuse, help=argparse.SUPPRESS, dest=f"_{option.strip('-')}_refused")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbackprop", description="Exact symbolic gradients of small neural networks, proved.",
                     epilog="exit codes: 0 done, 1 a check, audit or training found a problem, 2 bad input. "
                            "Every --digits is significant digits shown. `symbackprop COMMAND --help` for each.",
                     formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    derive = _command(commands, "derive", "print ∂E/∂p for the parameters of a network file")
    derive.add_argument("--wrt", action="append", metavar="NAME",
                        help="a parameter or a node such as out(h1) (repeatable; default: every parameter)")
    derive.add_argument("--form", choices=("chain", "compact", "closed", "simplified", "matrix"), default="chain",
                        help="chain: the chain rule, factor by factor, then the compact form; compact: in node "
                             "symbols (net, out, δ); closed: in inputs, parameters and targets only; simplified: "
                             "tidied (softmax + cross-entropy → out − t); matrix: the layer-wise vectorised "
                             "backward pass (dZ, dW, db, dA) with every matrix's numbers")
    derive.add_argument("--format", choices=("text", "latex", "json"), default="text",
                        help=_FORMAT_HELP.format("text, LaTeX (a line per derivative) or JSON"))
    derive.add_argument("--digits", type=_digits, default=40, metavar="5..1000",
                        help="significant digits of every value")
    derive.add_argument("--sample", type=_whole_number_between(0, 10_000, "sample"), default=None, metavar="S",
                        help="one sample's terms: ∂E[S]/∂p, the gradient of sample S's loss (0-based), "
                             "for a file with several samples")

    check = _command(commands, "check", "compare every exact gradient with finite differences",
                     found="a gradient disagrees")
    check.add_argument("--precision", type=_digits, default=50, metavar="5..1000",
                       help="working precision of the finite differences, in significant digits; the check "
                            "demands agreement to all but two of them")
    check.add_argument("--digits", **_renamed("--digits", "--precision P", "the number that matters is the finite "
                                              "differences' working precision"))
    check.add_argument("--float64", action="store_true", help="finite differences in float64 instead")
    check.add_argument("--format", choices=("text", "json"), default="text", help=_FORMAT_HELP.format("a table or JSON"))

    audit = _command(commands, "audit", "a verdict for every number of a hand-worked example",
                     found="a number is wrong or inherits an error",
                     file_help="a worked-example file: a network and its [[claims]] (docs/audit.md); - reads it "
                               "from standard input")
    audit.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                       help=_FORMAT_HELP.format("a table, a corrected tutorial in Markdown, or JSON"))
    audit.add_argument("-o", "--output", metavar="OUT", help="write the report to OUT instead of standard output")

    claims = _command(commands, "claims", "print a [[claims]] skeleton to transcribe a tutorial into, exact values "
                      "as comments")
    claims.add_argument("-o", "--output", metavar="OUT", help="write the skeleton to OUT instead of standard output")

    explain = _command(commands, "explain", "write the whole worked example: forward, backward, update")
    explain.add_argument("--format", choices=("markdown", "latex"), default="markdown",
                         help=_FORMAT_HELP.format("Markdown (GitHub and Jupyter render it) or a LaTeX document"))
    explain.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of standard output")
    explain.add_argument("--decimals", type=_places, default=4, metavar="1..30",
                         help="decimals shown, as tutorials round; every value stays exact underneath")
    explain.add_argument("--digits", **_renamed("--digits", "--decimals N", "numbers are rounded to decimals"))
    explain.add_argument("--fragment", action="store_true",
                         help="with --format latex: the body alone, without the preamble, to \\input into a document")
    explain.add_argument("--steps", type=_whole_number_between(1, 50, "steps"), default=None, metavar="N",
                         help="write N training steps in turn, each from the parameters the last one reached")
    explain.add_argument("--notation", choices=("scalar", "matrix"), default="scalar",
                         help="scalar: unit by unit, path by path; matrix: Z, A, dZ, dW, db as matrices, "
                              "W[l] with a row per unit and a column per sample")

    latex = _command(commands, "latex", "print the gradient formulas as LaTeX")
    latex.add_argument("--wrt", action="append", metavar="NAME",
                       help="a parameter or a node such as out(h1) (repeatable; default: every parameter)")
    latex.add_argument("--form", choices=("chain", "compact", "closed", "simplified"), default="compact",
                       help="chain: every factor named, then the compact form; compact: in node symbols; "
                            "closed: in inputs, parameters and targets; simplified: tidied")

    train = _command(commands, "train", "train for several steps: the loss and every parameter after each",
                     found="the digits cannot be certified")
    train.add_argument("--steps", type=_whole_number_between(0, 100_000, "steps"), default=None, metavar="0..100000",
                       help="steps to take (default: the file's [training] steps, else 1)")
    train.add_argument("--format", choices=("text", "json"), default="text", help=_FORMAT_HELP.format("a table or JSON"))
    train.add_argument("--digits", type=_digits, default=30, metavar="5..1000",
                       help="significant digits printed, every one certified (JSON has at least 30)")
    train.add_argument("--plot", metavar="LOSS.svg", help="also draw the loss per step as an SVG chart")

    diagram = _command(commands, "diagram", "draw the network (DOT; SVG or PNG through Graphviz)")
    diagram.add_argument("-o", "--output", metavar="OUT", help="net.dot, net.svg or net.png (default: DOT on "
                                                               "standard output)")
    diagram.add_argument("--digits", type=_places, default=4, metavar="1..30", help="significant digits of values")
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
    from .errors import InputError, UncertifiedDigits, printable

    _speak_utf8()

    try:
        _refuse_overwriting_the_input(args)
        args.source = _source(args.file)
        commands = {"derive": _derive, "check": _check, "audit": _audit, "explain": _explain, "latex": _latex,
                    "diagram": _diagram, "train": _train, "claims": _claims}
        with _HEARTBEAT.running(args.command):
            return commands[args.command](args)
    except InputError as error:
        print(f"symbackprop: {error.located(_name(args.file))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UncertifiedDigits as error:  # the numbers exist, but no digit of them could be proved: refuse
        print(f"symbackprop: {printable(_name(args.file))}: {error}", file=sys.stderr)
        return EXIT_FOUND
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:  # standard output on a full disk, or closed
        if getattr(error, "filename", None) is not None:
            raise
        print(f"symbackprop: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED


def _speak_utf8() -> None:
    """Mathematics (∂, σ, ·) is written in UTF-8 whatever the locale says (LC_ALL=C, PYTHONIOENCODING=ascii),
    as the files are; a stream that cannot be reconfigured escapes what it cannot encode."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(encoding="utf-8", errors="backslashreplace")
            except (ValueError, OSError):  # already written to, or not a text stream of ours
                stream.reconfigure(errors="backslashreplace")


def _refuse_overwriting_the_input(args) -> None:
    """-o (or --plot) naming the file being read would destroy it: refused before any work."""
    import os

    from .errors import InputError

    if args.file == "-":
        return
    for option, target in (("-o", getattr(args, "output", None)), ("--plot", getattr(args, "plot", None))):
        if target and os.path.exists(target) and os.path.exists(args.file) and os.path.samefile(target, args.file):
            raise InputError("names the input file itself, which would be overwritten: choose another name",
                             place=option)


#: How standard input is named in messages.
STDIN_NAME = "<stdin>"


def _name(file: str) -> str:
    return STDIN_NAME if file == "-" else file


def _source(file: str):
    """The file to read: a path, or for ``-`` what standard input holds (read once, at most the
    loader's size limit plus one byte, so that a larger input is refused rather than read whole)."""
    if file != "-":
        return file
    from .frontends.toml import MAX_FILE_BYTES, InMemoryFile

    return InMemoryFile(STDIN_NAME, sys.stdin.buffer.read(MAX_FILE_BYTES + 1))


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
    from .engine.chain import MAX_WRITTEN_PATHS

    paths = engine.most_paths()
    if paths > MAX_WRITTEN_PATHS:
        return f"a gradient sums {paths:,} paths (more than {MAX_WRITTEN_PATHS})"
    return ""


def _derive(args) -> int:
    from .engine.chain import Engine
    from .errors import InputError
    from .reports.results import derivation_text, derive_json, derive_latex

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
        print("\n\n".join(derivation_text(d, form, args.digits, with_value) for d in derivations))
    return EXIT_OK


def _derive_matrix(engine, args) -> int:
    from .errors import InputError
    from .training.matrix import matrix_form, refuse_unless_layered
    from .reports.results import matrix_json, matrix_latex, matrix_text

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

    from .engine.program import evaluate, straight_line_program
    from .reports.results import program_json_chunks, program_latex_chunks, program_text_chunks
    from .engine.values import point_of

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

    from .errors import InputError

    for name, value in values.items():
        if not mpmath.isfinite(value):
            raise InputError(f"∂E/∂{name} is undefined at these numbers ({value})", place="loss.kind")


def _read(source):
    """The file's model (a large formula graph takes seconds to read and differentiate: a line on stderr
    every two seconds after the first two says so)."""
    from .frontends.loader import load_model

    with _HEARTBEAT.doing("reading the file"):
        return load_model(source)


def _graph(source):
    """The file's graph (building a large one's local derivatives takes seconds: the heartbeat says so)."""
    from .frontends.coerce import as_graph

    model = _read(source)
    with _HEARTBEAT.doing("building the graph"):
        return as_graph(model)


class _Heartbeat:
    """While a command runs, a line on stderr every two seconds, from the second second on, whenever nothing
    else has been said for two seconds: no command is silent longer than that. ``doing`` says what the
    work is at the moment; every progress line goes through :meth:`say`."""

    SILENCE_SECONDS = 2.0

    def __init__(self) -> None:
        import threading

        self.what, self.beats, self.started, self.last_said = "working", 0, 0.0, 0.0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def say(self, text: str) -> None:
        import time

        with self.lock:
            print(f"symbackprop: {text}", file=sys.stderr, flush=True)
            self.last_said = time.monotonic()

    def _beat(self) -> None:
        import time

        while not self.stop.wait(0.25):
            now = time.monotonic()
            if now - self.last_said >= self.SILENCE_SECONDS:
                self.beats += 1
                self.say(f"{self.what} ({now - self.started:.0f} s)")

    @contextlib.contextmanager
    def running(self, command: str):
        import threading
        import time

        self.what, self.beats, self.started = f"{command}: working", 0, time.monotonic()
        self.last_said = self.started
        self.stop.clear()
        thread = threading.Thread(target=self._beat, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            thread.join()

    @contextlib.contextmanager
    def doing(self, what: str):
        before, self.what = self.what, what
        try:
            yield self
        finally:
            self.what = before


_HEARTBEAT = _Heartbeat()


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
            _HEARTBEAT.say(f"{what} ({self.last - self.started:.1f} s)")

    def maybe(self, describe) -> None:
        """Say ``describe()`` when a line is due (the text is made only then: this is called often)."""
        if self._due():
            self.shown = True
            _HEARTBEAT.say(f"{describe()} ({self.last - self.started:.1f} s)")

    def tick(self, done: int, every: int = 256) -> None:
        if done > 0 and done % every == 0:
            self.say(f"{done:,}/{self.total:,} {self.noun} {self.verb}")

    def done(self) -> None:
        if self.shown:
            import time

            _HEARTBEAT.say(f"{self.total:,} {self.noun} in {time.monotonic() - self.started:.1f} s")


def _check(args) -> int:
    from .oracle.check import check_gradients
    from .reports.results import check_json, check_text

    import time

    model = _read(args.source)
    count = len(model.parameters())
    progress = _Progress(time.monotonic(), count, "parameters", "checked")
    report = check_gradients(model, digits=args.precision, float64=args.float64,
                             progress=lambda done: progress.tick(done, every=1))
    progress.done()
    print(check_json(report) if args.format == "json" else check_text(report))
    return EXIT_OK if report.passed else EXIT_FOUND


def _train(args) -> int:
    import time

    from .errors import InputError
    from .frontends.dense import training_graph
    from .frontends.network import Network
    from .reports.results import loss_svg, training_json, training_text
    from .training.train import train

    if args.plot is not None and not args.plot.lower().endswith(".svg"):
        raise InputError("--plot writes SVG: give a file name ending in .svg", place="--plot")
    model = _read(args.source)
    graph = training_graph(model) if isinstance(model, Network) else model
    digits = max(args.digits, 30) if args.format == "json" else args.digits
    steps = graph.training.steps if args.steps is None else args.steps
    progress = _Progress(time.monotonic(), steps + 1, "steps", "certified (each computed at two precisions)")
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


def _audit(args) -> int:
    from .audit import audit, load_claims
    from .reports.audit import audit_json, audit_markdown, audit_text

    import time

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


def _claims(args) -> int:
    from .audit.skeleton import claims_skeleton

    _emit(claims_skeleton(_read(args.source), _name(args.file)), args.output)
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
        from .errors import InputError

        raise InputError(f"cannot write {output}: {error.strerror or error}", place="-o") from None


def _explain(args) -> int:
    import time

    from .engine.chain import Engine
    from .oracle.check import check_gradients
    from .reports.document import to_latex, to_markdown
    from .errors import InputError
    from .reports.explain import explain, require_explainable
    from .reports.explain_matrix import explain_matrix
    from .reports.steps import explain_steps

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
        from .training.matrix import refuse_unless_layered

        refuse_unless_layered(engine.graph)
    document = writer(engine, places=args.decimals, check=check)
    text = to_latex(document, fragment=args.fragment) if args.format == "latex" else to_markdown(document)
    _emit(text, args.output)
    return EXIT_OK


def _latex(args) -> int:
    from .engine.chain import Engine
    from .reports.results import derive_latex

    engine = Engine(_graph(args.source))
    names = args.wrt or engine.graph.parameters()
    wrt = [engine.quantity(name, place=f"--wrt {name}") for name in names]
    program_names = _delta_form_names(engine, wrt, args.form, "compact")
    if program_names is not None:
        return _derive_program(engine, program_names, 0, "latex")
    derivations = [engine.derivative("E", quantity) for quantity in wrt]
    print(derive_latex(derivations, args.form))
    return EXIT_OK


def _diagram(args) -> int:
    import subprocess
    from pathlib import Path

    from .engine.chain import Engine
    from .reports.diagram import RENDERED, GraphvizMissing, graph_dot, network_dot, render
    from .errors import InputError

    engine = Engine(_graph(args.source))
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
