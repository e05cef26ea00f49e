"""Every shipped example through every command, here and at another revision, compared byte for byte.

The proof of a redesign is that what users see did not change where nothing was meant to change:

    python scripts/compare_outputs.py            # this working tree against HEAD
    python scripts/compare_outputs.py edcc770    # ... against any revision
    python scripts/compare_outputs.py --diff     # and show the first lines of each difference

Each side runs in a process of its own, importing its own tree, and calls the command line's ``main``
for every case in turn (one start-up per side, not one per case). Compared: standard output, the exit
code, and standard error without its progress lines (which depend on timing). Exit 0 when every case is
identical, 1 otherwise.
"""
from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The commands each kind of example goes through (the file is appended after the command name).
NETWORK_COMMANDS = (
    ("derive",), ("derive", "--format", "json"), ("derive", "--format", "latex"), ("check",), ("explain",),
    ("explain", "--format", "latex"), ("latex",), ("diagram",), ("train", "--steps", "3"), ("claims",), ("graph",),
)
AUDIT_COMMANDS = (("audit",), ("audit", "--format", "json"), ("audit", "--format", "markdown"), ("graph",))
#: Extra forms asked of the files that have them (the matrix form needs a layered network).
EXTRA = {"examples/xor.toml": (("derive", "--form", "matrix"), ("explain", "--notation", "matrix"))}

DRIVER = r"""
import contextlib, io, json, re, sys
sys.path.insert(0, sys.argv[1])
from symbackprop.cli import main
PROGRESS = re.compile(r"^symbackprop: .*\(\d+(\.\d)? s\)$|^symbackprop: [\d,]+ \w+ in [\d.]+ s$")
results = {}
for case in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(case)
        except SystemExit as exit:
            code = exit.code
        except Exception as error:  # a crash is an output too: compared like any other
            code = f"crash: {type(error).__name__}: {error}"
    kept = "".join(line for line in err.getvalue().splitlines(True) if not PROGRESS.match(line.rstrip("\n")))
    results[" ".join(case)] = {"code": code, "stdout": out.getvalue(), "stderr": kept}
json.dump(results, sys.stdout)
"""


def cases(tree: Path) -> list[list[str]]:
    """Every (command, options, file) of the examples that ``tree`` ships, paths relative to it."""
    found = []
    for path in sorted((tree / "examples").rglob("*.toml")):
        file = str(path.relative_to(tree))
        commands = AUDIT_COMMANDS if path.parent.name == "audit" else NETWORK_COMMANDS + EXTRA.get(file, ())
        found += [[command[0], file, *command[1:]] for command in commands]
    return found


def run_side(tree: Path, work: list[list[str]]) -> dict:
    result = subprocess.run([sys.executable, "-c", DRIVER, str(tree), json.dumps(work)], cwd=tree,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the run in {tree} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)


def commands_of(tree: Path) -> set[str]:
    """The subcommands the command line of ``tree`` has."""
    probe = ("import argparse, sys; sys.path.insert(0, sys.argv[1]); from symbackprop.cli import _parser; "
             "print(' '.join(next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices))")
    result = subprocess.run([sys.executable, "-c", probe, str(tree)], cwd=tree, capture_output=True, text=True,
                            check=True)
    return set(result.stdout.split())


def checkout(revision: str, into: Path) -> Path:
    """The files of ``revision`` (its examples and package), unpacked into ``into``."""
    archive = subprocess.run(["git", "archive", revision, "symbackprop", "examples"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?", default="HEAD", help="the revision to compare with (default HEAD)")
    parser.add_argument("--diff", action="store_true", help="show the first lines of each difference")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = checkout(args.revision, Path(scratch))
        known = commands_of(base)  # a command added since that revision has nothing to compare with
        work = [case for case in cases(ROOT) if case in cases(base) and case[0] in known]
        before, after = run_side(base, work), run_side(ROOT, work)
    differing = 0
    for key in after:
        old, new = before[key], after[key]
        if old == new:
            continue
        differing += 1
        parts = [part for part in ("code", "stdout", "stderr") if old[part] != new[part]]
        print(f"DIFFERENT  symbackprop {key}  ({', '.join(parts)})")
        if args.diff:
            for part in parts:
                lines = difflib.unified_diff(str(old[part]).splitlines(), str(new[part]).splitlines(),
                                             f"{args.revision}:{part}", f"now:{part}", lineterm="", n=1)
                print("\n".join(list(lines)[:40]))
    print(f"{len(after) - differing} of {len(after)} outputs identical to {args.revision}"
          + (f"; {differing} differ" if differing else ""))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
