"""The dependency rules of docs/architecture.md, checked on the source (imports anywhere in a module)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def uses(names: set[str], top: str) -> bool:
    return any(n == top or n.startswith(top + ".") for n in names)


def test_solvers_import_no_planner_pandas_httpx_or_click() -> None:
    for path in modules("solvers"):
        names = imports_of(path)
        for banned in ("planner", "pandas", "httpx", "click"):
            assert not uses(names, banned), f"{path.relative_to(ROOT)} imports {banned}"


def test_verifier_shares_no_code_with_the_model() -> None:
    names = imports_of(ROOT / "planner" / "verify.py")
    for banned in ("solvers", "planner.planning", "planner.inventory", "planner.snapshot", "planner.modelarts"):
        assert not uses(names, banned), f"verify.py imports {banned}"


def test_only_modelarts_imports_httpx_and_only_cli_imports_click() -> None:
    for path in modules("planner"):
        rel = path.relative_to(ROOT).as_posix()
        names = imports_of(path)
        if not rel.startswith("planner/modelarts/"):
            assert not uses(names, "httpx"), f"{rel} imports httpx"
        if not rel.startswith("planner/cli/"):
            assert not uses(names, "click"), f"{rel} imports click"


def test_pandas_stays_in_the_data_modules() -> None:
    allowed = ("planner/inventory.py", "planner/problem.py", "planner/render.py", "planner/review/")
    for path in modules("planner"):
        rel = path.relative_to(ROOT).as_posix()
        if uses(imports_of(path), "pandas"):
            assert rel.startswith(allowed), f"{rel} imports pandas"
