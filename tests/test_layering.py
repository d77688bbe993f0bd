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


# The layers inside catalog/, bottom first (docs/architecture.md). A module may import
# modules of its own layer's group and of lower layers; never a higher layer, never a
# peer group of its own layer (lineage_file and mlflow_source do not know each other).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("catalog.errors", "catalog.canonical", "catalog.model", "catalog.naming", "catalog.config"),
    ("catalog.types",),
    ("catalog.atlas",),  # catalog.atlas.json, Atlas's JSON; catalog.atlas.client, its HTTP client
    ("catalog.db", "catalog.migrations", "catalog.store"),
    ("catalog.refs", "catalog.users"),
    ("catalog.lineage_file", "catalog.mlflow_source"),
    ("catalog.ingest",),
    ("catalog.embedded",),  # Atlas's v2 semantics: entities, typedefs, search, hook messages, OpenLineage
    ("catalog.compliance",),
    ("catalog.scoring",),  # governed Spark scoring: schema gate, row checks, sinks, drift, the run's record
    ("catalog.intake",),  # the MLflow hook: verification, queue, worker (calls the gate and the ingest), reconciler
    ("catalog.push",),  # the push to a real Atlas: typedef bootstrap, outbox drain, hook messages out
    ("catalog.service",),
    ("catalog.cli",),
)
#: Groups of one layer do not import each other, except where listed here.
PEER_IMPORTS = {"catalog.config": {"catalog.errors"}, "catalog.migrations": {"catalog.store"}}
#: Heavy or optional libraries, and the only packages of catalog/ that may import them.
HEAVY = {
    "mlflow": ("catalog.mlflow_source", "catalog.compliance", "catalog.scoring", "catalog.intake"),
    "pyspark": ("catalog.scoring",),
    "great_expectations": ("catalog.compliance", "catalog.scoring"),
    "deltalake": ("catalog.scoring",),
    "requests": ("catalog.mlflow_source", "catalog.atlas"),  # MLflow's HTTP client; the Atlas push's (docs/atlas.md)
    "httpx": (),
    "urllib3": (),
    "sklearn": (),
    "pandas": ("catalog.compliance", "catalog.scoring"),
    "flask": (),
    "werkzeug": ("catalog.users",),  # werkzeug.security's password hashes (Flask's own dependency)
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _group(module: str) -> tuple[int, str] | None:
    """(layer, group) of a catalog module: the longest listed prefix that names it."""
    best: tuple[int, str] | None = None
    for layer, groups in enumerate(LAYERS):
        for group in groups:
            if (module == group or module.startswith(group + ".")) and (best is None or len(group) > len(best[1])):
                best = (layer, group)
    return best


def _catalog_imports(tree: ast.AST) -> Iterator[tuple[str, int, str]]:
    """(imported module, line, where) for every ``catalog...`` import, names of from-imports included."""
    def visit(node: ast.AST, where: str) -> Iterator[tuple[str, int, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, where
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                yield child.module, child.lineno, where
                for alias in child.names:  # ``from catalog import store`` imports catalog.store
                    yield f"{child.module}.{alias.name}", child.lineno, where
            inner = "function" if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else where
            if isinstance(child, ast.If) and where == "module" and _is_type_checking(child.test):
                yield from visit(ast.Module(body=child.orelse, type_ignores=[]), where)
                continue
            yield from visit(child, inner)

    yield from visit(tree, "module")


def layer_offences(modules: Iterator[tuple[str, ast.AST]]) -> list[str]:
    """Every import of a higher layer or a peer group, as ``module:line: imports x (layer ...)``."""
    offences = []
    for module, tree in modules:
        own = _group(module)
        if own is None:
            offences.append(f"{module}: not in any layer of tests/test_layering.py LAYERS")
            continue
        for name, line, _where in _catalog_imports(tree):
            if not name.startswith("catalog.") and name != "catalog":
                continue
            other = _group(name)
            if other is None or other[1] == own[1]:
                continue
            allowed = PEER_IMPORTS.get(own[1], set())
            if other[0] > own[0] or (other[0] == own[0] and other[1] not in allowed):
                offences.append(f"{module}:{line}: imports {name} ({other[1]}, layer {other[0]}) "
                                f"from layer {own[0]} ({own[1]})")
    return offences


def _catalog_modules() -> Iterator[tuple[str, ast.AST]]:
    for path, tree in _parsed():
        name = _module_name(path)
        if name != "catalog" and not name.startswith("catalog.migrations.versions"):
            yield name, tree


def test_each_layer_imports_only_lower_layers() -> None:
    offences = sorted(set(layer_offences(_catalog_modules())))
    assert not offences, "layering inside catalog/ (docs/architecture.md, Layers):\n" + "\n".join(offences)


def test_the_layer_check_catches_an_upward_import() -> None:
    store_importing_ingest = ast.parse("def f():\n    from catalog.ingest import run_ingest\n")
    model_importing_store = ast.parse("from catalog import store\n")
    peers = ast.parse("from catalog.mlflow_source import read_mlflow\n")
    found = layer_offences(iter([
        ("catalog.store.plan", store_importing_ingest),
        ("catalog.model", model_importing_store),
        ("catalog.lineage_file.spec", peers),
        ("catalog.ingest.funnel", ast.parse("from catalog.store import plan_upsert\n")),
    ]))
    assert found == [
        "catalog.store.plan:2: imports catalog.ingest (catalog.ingest, layer 6) from layer 3 (catalog.store)",
        "catalog.store.plan:2: imports catalog.ingest.run_ingest (catalog.ingest, layer 6) from layer 3 (catalog.store)",
        "catalog.model:1: imports catalog.store (catalog.store, layer 3) from layer 0 (catalog.model)",
        "catalog.lineage_file.spec:1: imports catalog.mlflow_source (catalog.mlflow_source, layer 5) "
        "from layer 5 (catalog.lineage_file)",
        "catalog.lineage_file.spec:1: imports catalog.mlflow_source.read_mlflow (catalog.mlflow_source, layer 5) "
        "from layer 5 (catalog.lineage_file)",
    ]


def test_heavy_libraries_are_imported_only_where_they_are_used() -> None:
    offences = []
    for module, tree in _catalog_modules():
        for name, line, _where in _imports(tree, Path(module)):
            if name in HEAVY and not any(module == p or module.startswith(p + ".") for p in HEAVY[name]):
                offences.append(f"{module}:{line}: imports {name!r} (allowed only in {HEAVY[name] or 'none yet'})")
    assert not offences, "\n".join(offences)


def test_catalog_package_has_modules_to_check() -> None:
    names = {_rel(p) for p in MODULES}
    assert {"catalog/cli/__init__.py", "catalog/service.py", "catalog/store/writes.py", "catalog/mlflow_source/reader.py", "catalog/mlflow_source/entities.py"} <= names


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
