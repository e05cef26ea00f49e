"""The package's layout as docs/engine.md draws it: a folder per stage, imports only from the same stage or an
earlier one, no cycle, no module over about 500 lines.

Imports are read from the source (every ``from . import`` at any depth, at module level or in a function),
so an import hidden in a function body counts like any other.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symbackprop"
#: The stages in the order data flows; a module may import from its own stage or an earlier one.
STAGES = ["errors", "quantity", "notebook", "callable_module", "numbers", "functions", "layout", "graph", "frontends",
          "engine", "oracle", "training", "audit", "reports", "cli", "__main__"]
RANK = {**dict.fromkeys(["errors", "quantity", "notebook", "callable_module", "numbers"], 0),
        **{stage: rank for rank, stage in enumerate(STAGES[5:], start=1)}}
#: Imports that cross a stage backwards, each with its reason in the code (none today).
EXCEPTIONS: set[tuple[str, str]] = set()
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    found: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                for target in [base] + [f"{base}.{alias.name}" for alias in node.names]:
                    if target in modules and target != name:
                        found[name].add(target)
    return found


def _stage(module: str) -> int:
    parts = module.split(".")
    return RANK[parts[1]] if len(parts) > 1 else len(STAGES)


def test_every_module_belongs_to_a_stage():
    stages = {_module_name(path).split(".")[1] for path in PACKAGE.rglob("*.py") if path != PACKAGE / "__init__.py"}
    assert stages <= set(RANK), stages - set(RANK)


def test_no_module_imports_a_later_stage():
    backwards = {(module, target) for module, targets in _imports().items() for target in targets
                 if _stage(target) > _stage(module)}
    assert backwards == EXCEPTIONS


def test_no_import_cycle():
    imports = _imports()
    state: dict[str, int] = {}

    def visit(module: str, trail: tuple[str, ...]) -> None:
        state[module] = 1
        for target in sorted(imports[module]):
            assert state.get(target) != 1, " → ".join(trail + (module, target))
            if target not in state:
                visit(target, trail + (module,))
        state[module] = 2

    for module in sorted(imports):
        if module not in state:
            visit(module, ())


def test_no_module_is_over_500_lines():
    long = {str(path.relative_to(PACKAGE)): count for path in PACKAGE.rglob("*.py")
            if (count := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long
