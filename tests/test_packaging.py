"""Our own packaging builds a wheel with no warnings, and the wheel carries the data files.

The wheel is built by pip from a copy of the working tree (so no ``build/`` or
``*.egg-info`` lands in the repository), with the virtualenv's setuptools and no build
isolation: nothing is downloaded, and the setuptools the test extra installs is the
one checked. Setuptools warns on stderr (``SetuptoolsDeprecationWarning``, shown by
pip's ``-v`` as ``BuildBackendWarning``), so both streams are read.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# What .gitignore leaves out, plus the repository's own bookkeeping: never part of a build.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache",
    "catalog.db*", "mlflow.db*", "mlruns", "mlartifacts", "data", "demo-out",
)

WARNING_LINE = re.compile(r"warning|deprecat", re.IGNORECASE)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``(wheel, pip's output)`` of building the working tree."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=IGNORED)
    out = root / "wheels"
    # With PYTHONDONTWRITEBYTECODE set, distutils says "byte-compiling is disabled" at every
    # step: a note about the environment, not our configuration (the wheel has no byte code
    # either way).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
         "--disable-pip-version-check", "-v", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=240, cwd=root, env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    wheels = sorted(out.glob("*.whl"))
    assert [w.name for w in wheels] == [f"ml_lineage_catalog-{_version()}-py3-none-any.whl"], output[-2000:]
    return wheels[0], output


def _version() -> str:
    text = (REPO / "catalog" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    assert match, "catalog/__init__.py sets no __version__"
    return match.group(1)


def test_wheel_builds_without_warnings_from_our_configuration(built: tuple[Path, str]) -> None:
    _, output = built
    warnings = [line.strip() for line in output.splitlines() if WARNING_LINE.search(line)]
    assert warnings == [], "\n".join(warnings)
    assert "SetuptoolsDeprecationWarning" not in output and "BuildBackendWarning" not in output
    assert "absent from the `packages` configuration" not in output


def test_wheel_carries_the_data_files(built: tuple[Path, str]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    typedefs = {p.relative_to(REPO).as_posix() for p in (REPO / "catalog/types/typedefs").glob("*.json")}
    versions = {p.relative_to(REPO).as_posix() for p in (REPO / "catalog/migrations/versions").glob("*.py")}
    templates = {p.relative_to(REPO).as_posix() for p in (REPO / "web/templates").glob("*.html")}
    assert {"catalog/types/typedefs/0010-base.json", "catalog/types/typedefs/4010-ml.json"} <= typedefs
    assert "catalog/migrations/versions/0001_initial.py" in versions
    assert "web/templates/index.html" in templates
    expected = typedefs | versions | templates | {"catalog/migrations/script.py.mako", "catalog/migrations/env.py"}
    assert expected <= names, sorted(expected - names)
    # No byte code, no tests, no demo outputs in the wheel.
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", "data/"))]


def test_wheel_metadata_names_the_license_as_an_spdx_expression(built: tuple[Path, str]) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        metadata = email.message_from_bytes(archive.read(f"ml_lineage_catalog-{_version()}.dist-info/METADATA"))
    assert metadata["Name"] == "ml-lineage-catalog"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert not [c for c in metadata.get_all("Classifier", []) if c.startswith("License ::")]
    assert "Programming Language :: Python :: 3.11" in metadata.get_all("Classifier", [])
    assert metadata["Requires-Python"] == ">=3.11"


def test_editable_install_prints_no_warning(tmp_path: Path) -> None:
    """``make test`` installs with ``pip install -e``: setuptools' PEP 660 hook, run as pip runs it."""
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=IGNORED)
    probe = "import setuptools.build_meta as b, sys; print(b.build_editable(sys.argv[1]))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", probe, str(tmp_path / "out")],
        capture_output=True, text=True, timeout=240, cwd=source, env=env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for marker in ("Warning", "InformationOnly", "careful with folders"):
        assert marker not in result.stderr, result.stderr[-4000:]
    wheel = tmp_path / "out" / result.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        pth = [n for n in archive.namelist() if n.endswith(".pth")]
        assert pth == ["__editable__.ml_lineage_catalog-0.1.0.pth"]
        assert archive.read(pth[0]).decode().strip() == str(source.resolve())
