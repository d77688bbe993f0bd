"""Layers (docs/architecture.md): the library never imports the web layer, heavy engines only lazily.

Checked on the source with ``ast``, so an import hidden inside a function, a
``try`` block or an ``if TYPE_CHECKING`` branch is found as well, and by importing
the entry modules in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CATALOG = REPO / "catalog"
MODULES = sorted(CATALOG.rglob("*.py"))

WEB_LAYER = ("web", "flask")
LAZY_ONLY = ("mlflow", "pyspark", "sklearn", "pandas")


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _imports(tree: ast.AST, path: Path) -> Iterator[tuple[str, int, str]]:
    """``(top-level package, line, where)`` of every import in ``tree``.

    ``where`` is ``module`` for statements run on import (outside any function body,
    including those under ``if``/``try``/``with`` at the top), ``function`` inside a
    function or lambda, ``type-checking`` under ``if TYPE_CHECKING:`` (never run).
    Relative imports stay inside ``catalog`` and are skipped.
    """

    def visit(node: ast.AST, where: str) -> Iterator[tuple[str, int, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name.split(".")[0], child.lineno, where
            elif isinstance(child, ast.ImportFrom):
                if child.level == 0 and child.module:
                    yield child.module.split(".")[0], child.lineno, where
            elif isinstance(child, ast.Call) and _is_dynamic_import(child):
                name = child.args[0].value if isinstance(child.args[0], ast.Constant) else ""
                if isinstance(name, str) and name:
                    yield name.split(".")[0], child.lineno, where
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = "function"
            elif isinstance(child, ast.If) and where == "module" and _is_type_checking(child.test):
                yield from visit(ast.Module(body=child.body, type_ignores=[]), "type-checking")
                yield from visit(ast.Module(body=child.orelse, type_ignores=[]), where)
                continue
            yield from visit(child, inner)

    yield from visit(tree, "module")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _is_dynamic_import(call: ast.Call) -> bool:
    """``importlib.import_module("x")`` or ``__import__("x")`` with a literal name."""
    func = call.func
    named = (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    return named and bool(call.args)


def _parsed() -> Iterator[tuple[Path, ast.AST]]:
    for path in MODULES:
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_catalog_package_has_modules_to_check() -> None:
    names = {_rel(p) for p in MODULES}
    assert {"catalog/cli.py", "catalog/service.py", "catalog/store/writes.py", "catalog/mlflow_source/reader.py", "catalog/mlflow_source/entities.py"} <= names


def test_catalog_never_imports_the_web_layer() -> None:
    offences = [
        f"{_rel(path)}:{line}: imports {name!r}"
        for path, tree in _parsed()
        for name, line, _where in _imports(tree, path)
        if name in WEB_LAYER
    ]
    assert not offences, "catalog/ must not import web or flask (docs/architecture.md, Layers):\n" + "\n".join(offences)


def test_heavy_engines_are_imported_only_inside_functions() -> None:
    offences = [
        f"{_rel(path)}:{line}: imports {name!r} at module level"
        for path, tree in _parsed()
        for name, line, where in _imports(tree, path)
        if name in LAZY_ONLY and where == "module"
    ]
    assert not offences, "import these inside the function that needs them:\n" + "\n".join(offences)


def test_the_checker_sees_imports_inside_functions_and_blocks() -> None:
    source = (
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import pandas as pd\nelse:\n    import json\n"
        "try:\n    import sklearn\nexcept ImportError:\n    pass\n"
        "def f():\n    from flask import Flask\n    import mlflow.sklearn\n"
        "class C:\n    def m(self):\n        importlib.import_module('web.api')\n"
    )
    found = sorted(_imports(ast.parse(source), Path("x.py")), key=lambda t: t[1])
    assert found == [
        ("os", 1, "module"),
        ("typing", 2, "module"),
        ("pandas", 4, "type-checking"),
        ("json", 6, "module"),
        ("sklearn", 8, "module"),
        ("flask", 12, "function"),
        ("mlflow", 13, "function"),
        ("web", 16, "function"),
    ]


ENTRY_MODULES = ("catalog.cli", "catalog.service", "catalog.store")


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_importing_an_entry_module_loads_neither_mlflow_nor_flask(module: str) -> None:
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mlflow', 'flask', 'web', 'pyspark', 'sklearn', 'pandas'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == [], f"importing {module} loaded {loaded}"


def test_catalog_help_loads_neither_mlflow_nor_flask() -> None:
    """``catalog --help`` loads the ``serve`` plugin from ``web``, but not Flask itself."""
    probe = (
        "import json, sys\n"
        "from catalog.cli import main\n"
        "sys.argv = ['catalog', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'flask'))), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert json.loads(result.stderr.strip().splitlines()[-1]) == []
