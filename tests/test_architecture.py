"""The layers and dependency rules of docs/architecture.md, checked on the source.

Every import counts: at the top of a module or inside a function, absolute or relative. Import strings
(`importlib.import_module`, `__import__`) are refused outright, because they hide a dependency from these checks.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest layer first. A module may import its own layer and the layers below it, never one above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("solvers", ("solvers",)),
    ("base", ("planner", "planner.errors", "planner.files", "planner.locks")),
    ("facts", ("planner.modelarts.objects", "planner.spec")),
    ("inventory", ("planner.snapshot", "planner.snapshot_pools", "planner.inventory")),
    ("plan file", ("planner.planfile",)),
    ("verifier", ("planner.verify",)),
    ("planning core", ("planner.planning",)),
    ("api", ("planner.modelarts",)),
    ("consumers", ("planner.review", "planner.apply", "planner.auto")),
    ("cli", ("planner.cli",)),
]
# The planning core's modules; everything above the core uses only what `planner.planning` exports.
CORE_INTERNALS = ("planner.planning.",)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports (see imports_in)."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), is_package=path.name == "__init__.py")


def imports_in(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module `source` imports, with relative imports resolved and `from x import y` counted as x and x.y."""
    tree = ast.parse(source)
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def import_strings(source: str) -> list[str]:
    """Calls that load a module by name at run time."""
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in ("import_module", "__import__"):
                out.append(f"line {node.lineno}: {name}")
    return out


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def uses(names: set[str], top: str) -> bool:
    return any(n == top or n.startswith(top + ".") for n in names)


def layer_of(module: str) -> int:
    """Index in LAYERS of the most specific prefix that names `module` (-1: outside the project)."""
    best, best_len = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    return best


def test_the_layers_are_respected() -> None:
    problems = []
    for path in modules("planner", "solvers"):
        own = layer_of(module_name(path))
        assert own >= 0, f"{path} is in no layer of LAYERS"
        for name in imports_of(path):
            other = layer_of(name)
            if other > own:
                problems.append(f"{module_name(path)} ({LAYERS[own][0]}) imports {name} ({LAYERS[other][0]})")
    assert problems == []


def core_internals(module: str, names: set[str]) -> list[str]:
    """The planning core's modules that `module` imports although it sits above the core."""
    if layer_of(module) <= layer_of("planner.planning"):
        return []
    exported = {f"planner.planning.{name}" for name in ("make_plan", "PlanOptions", "Plan", "gc_paused")}
    return sorted(n for n in names if n.startswith(CORE_INTERNALS) and n not in exported)


def test_nothing_above_the_core_reaches_into_it() -> None:
    problems = {module_name(p): hits for p in modules("planner") if (hits := core_internals(module_name(p),
                                                                                         imports_of(p)))}
    assert problems == {}


def test_no_module_is_loaded_by_an_import_string() -> None:
    found = {module_name(p): hits for p in modules("planner", "solvers")
             if (hits := import_strings(p.read_text(encoding="utf-8")))}
    assert found == {}


def test_solvers_import_no_planner_pandas_httpx_or_click() -> None:
    for path in modules("solvers"):
        names = imports_of(path)
        for banned in ("planner", "pandas", "httpx", "click"):
            assert not uses(names, banned), f"{path.relative_to(ROOT)} imports {banned}"


def test_verifier_shares_no_code_with_the_model() -> None:
    paths = modules("planner/verify")
    assert len(paths) >= 2, "the verifier package is where this test looks"
    for path in paths:
        names = imports_of(path)
        for banned in ("solvers", "planner.planning", "planner.inventory", "planner.snapshot", "planner.snapshot_pools",
                       "planner.modelarts"):
            assert not uses(names, banned), f"{path.relative_to(ROOT)} imports {banned}"


def test_only_modelarts_imports_httpx_and_only_cli_imports_click() -> None:
    for path in modules("planner"):
        rel = path.relative_to(ROOT).as_posix()
        names = imports_of(path)
        if not rel.startswith("planner/modelarts/"):
            assert not uses(names, "httpx"), f"{rel} imports httpx"
        if not rel.startswith("planner/cli/"):
            assert not uses(names, "click"), f"{rel} imports click"


def test_pandas_stays_in_the_data_modules() -> None:
    allowed = ("planner/inventory.py", "planner/review/")
    for path in modules("planner"):
        rel = path.relative_to(ROOT).as_posix()
        if uses(imports_of(path), "pandas"):
            assert rel.startswith(allowed), f"{rel} imports pandas"


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# The verifier's replay is one long rule list on purpose: it is read against PRODUCT §4 line by line.
LONG_FUNCTIONS_ALLOWED: set[str] = set()


@pytest.mark.parametrize("folder", ["planner", "solvers"])
def test_modules_and_functions_stay_small(folder: str) -> None:
    too_long = []
    for path in modules(folder):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{module_name(path)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                name = f"{module_name(path)}.{node.name}"
                if length > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS_ALLOWED:
                    too_long.append(f"{name}: {length} lines")
    assert too_long == []


def test_the_layer_checks_see_relative_imports_and_import_strings() -> None:
    """The checks above would miss a dependency written as a relative import or an import string."""
    source = "from ..planning import order\nfrom . import tables\nimport importlib\nimportlib.import_module('a')\n"
    names = imports_in(source, "planner.review.x")
    assert {"planner.planning.order", "planner.review.tables"} <= names
    assert core_internals("planner.review.x", names) == ["planner.planning.order"]
    assert import_strings(source) == ["line 4: import_module"]


# What `poolshift plan` must never import: the API client and httpx, apply, auto, the emulator, the other commands'
# modules, the report modules (it prints `planner.review.summary`'s lines only), and the data-frame and terminal
# libraries it does not use (each costs start-up on every plan).
PLAN_MUST_NOT_IMPORT = ("httpx", "pandas", "numpy", "rich", "fastapi", "uvicorn", "planner.apply", "planner.auto",
                        "planner.modelarts.client", "planner.modelarts.emulator", "planner.cli.api_cmds",
                        "planner.cli.apply_cmds", "planner.cli.auto_cmds", "planner.cli.emulator_cmds",
                        "planner.cli.review_cmds", "planner.cli.validate_cmds", "planner.review.show",
                        "planner.review.report_data", "planner.review.tables")
_LIST_MODULES = """
import atexit, os, sys
def _dump():
    with open(os.environ["POOLSHIFT_TEST_MODULES"], "w", encoding="utf-8") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(_dump)
from planner.cli import main
main(prog_name="poolshift")  # called, not the console script: it ends through atexit, which lists the modules
"""


def modules_loaded_by(args: list[str], tmp_path: Path) -> set[str]:
    """Every module a `poolshift` process with `args` had imported when it ended (this checkout's planner)."""
    listing = tmp_path / "modules.txt"
    env = {**os.environ, "POOLSHIFT_TEST_MODULES": str(listing),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _LIST_MODULES, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(listing.read_text(encoding="utf-8").split("\n"))


def test_plan_imports_only_what_planning_needs(tmp_path: Path) -> None:
    loaded = modules_loaded_by(["plan", "--inventory", str(ROOT / "examples" / "inventory.json"), "--spec",
                                str(ROOT / "examples" / "spec.yaml"), "-o", str(tmp_path / "plan.json")], tmp_path)
    assert {"planner.planning", "planner.cli.core_cmds", "solvers.flow"} <= loaded  # the listing is the plan's
    assert sorted(n for n in loaded if any(uses({n}, banned) for banned in PLAN_MUST_NOT_IMPORT)) == []
