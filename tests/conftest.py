"""Shared fixtures: a real PostgreSQL server, store URLs over both backends, catalogs.

The PostgreSQL server is a throwaway cluster made with initdb and started with
pg_ctl on a free loopback port, once per test session; each test gets its own
database. As root (CI, containers), the server runs as the ``postgres`` system user.
The server itself is the benches' (``bench.postgres.Server``), so both start it alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.postgres import Server as PostgresServer
from catalog.config import Settings

REPO = Path(__file__).resolve().parents[1]
#: Atlas's own type models and CML's lineage file, test input read in place (never copied):
#: ``../shared/reference`` beside the clone, or wherever ``TEST_REFERENCE_DIR`` points.
REFERENCE = Path(os.environ.get("TEST_REFERENCE_DIR") or REPO.parent / "shared" / "reference")


def reference(relative: str) -> Path:
    """A file or folder of the reference material; a test that needs one fails without it."""
    path = REFERENCE / relative
    if not path.exists():
        pytest.fail(
            f"reference material not found at {path}: these tests read Atlas's own models and CML's "
            "lineage file from shared/reference beside the clone (or set TEST_REFERENCE_DIR)"
        )
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(prefix="catalog-pg-", timeout=120)
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store on each backend."""
    return store_url(request, tmp_path)


def store_url(request: pytest.FixtureRequest, root: Path) -> str:
    """A fresh store on the backend ``request.param`` names: a SQLite file under ``root``, or a new database."""
    if request.param == "sqlite":
        return f"sqlite:///{root / 'catalog.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        mlflow_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        user="tester",
    )


@pytest.fixture
def catalog(settings: Settings):
    from catalog.service import Catalog

    with Catalog(settings) as cat:
        yield cat
