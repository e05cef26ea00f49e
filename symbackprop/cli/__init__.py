"""The command line: the only module that reads argv, writes stdout/stderr and returns exit codes.

Exit codes: 0 success, 1 a check or audit found a problem (or digits that could not be proved), 2 bad
input, 3 the output could not be written, 130 interrupted.
Heavy modules (SymPy) are imported inside the commands, so ``--help`` is instant.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from . import commands
from .streams import _HEARTBEAT, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_FOUND, EXIT_INTERRUPTED, EXIT_OK, STDIN_NAME, _name


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
                        help="chain: the chain rule, factor by factor (each summed factor, a δ, written once and "
                             "named after), then the compact form; compact: in node "
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

    graph = _command(commands, "graph", "write the network as a [graph] file of formulas, one node per line, with "
                     "its data, loss, training and claims: the same gradients by the second route")
    graph.add_argument("-o", "--output", metavar="OUT", help="write the file to OUT instead of standard output")

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
    from ..errors import InputError, UncertifiedDigits, printable

    _speak_utf8()

    try:
        _refuse_overwriting_the_input(args)
        args.source = _source(args.file)
        with _HEARTBEAT.running(args.command):
            return getattr(commands, args.command)(args)
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

    from ..errors import InputError

    if args.file == "-":
        return
    for option, target in (("-o", getattr(args, "output", None)), ("--plot", getattr(args, "plot", None))):
        if target and os.path.exists(target) and os.path.exists(args.file) and os.path.samefile(target, args.file):
            raise InputError("names the input file itself, which would be overwritten: choose another name",
                             place=option)


def _source(file: str):
    """The file to read: a path, or for ``-`` what standard input holds (read once, at most the
    loader's size limit plus one byte, so that a larger input is refused rather than read whole)."""
    if file != "-":
        return file
    from ..frontends.toml import MAX_FILE_BYTES, InMemoryFile

    return InMemoryFile(STDIN_NAME, sys.stdin.buffer.read(MAX_FILE_BYTES + 1))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
