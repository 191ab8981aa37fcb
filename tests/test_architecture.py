"""Layering rules that keep the deployed code path honest (STYLE.md: where code lives)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_SHARED = ("azure.functions", "azure.durable_functions", "activities", "orchestrators", "local_host",
                       "c360_cli")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "shared").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_shared_imports_nothing_from_the_functions_layers(path: Path) -> None:
    bad = {name for name in _imports(path) if name.startswith(FORBIDDEN_IN_SHARED)}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_orchestrator_module_does_no_io() -> None:
    imports = _imports(ROOT / "orchestrators" / "unify_customers.py")
    io_modules = {"os", "time", "uuid", "random", "pandas", "pyarrow", "duckdb", "shared.steps", "shared.runtime",
                  "shared.lakeio", "logging"}
    assert not imports & io_modules, imports & io_modules
    source = (ROOT / "orchestrators" / "unify_customers.py").read_text(encoding="utf-8")
    for call in ("datetime.now(", "datetime.utcnow(", "uuid4(", "os.environ"):
        assert call not in source


def test_activities_are_thin_adapters() -> None:
    tree = ast.parse((ROOT / "activities" / "functions.py").read_text(encoding="utf-8"))
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions
    for function in functions:
        body = [n for n in function.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        assert len(body) == 1 and isinstance(body[0], ast.Return), f"{function.name} is more than one return"
        assert not any(isinstance(n, ast.If) for n in ast.walk(function)), f"{function.name} has business logic"


def test_function_app_only_registers() -> None:
    tree = ast.parse((ROOT / "function_app.py").read_text(encoding="utf-8"))
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
