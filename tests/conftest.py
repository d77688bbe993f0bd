"""Shared fixtures: a real PostgreSQL server, store URLs over both backends, catalogs.

The PostgreSQL server is a throwaway cluster made with initdb and started with
pg_ctl on a free loopback port, once per test session; each test gets its own
database. As root (CI, containers), the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.config import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"


def reference(relative: str) -> Path:
    """A file or folder of the shared reference material (Atlas models, CML's lineage file).

    CI always has ``shared/`` beside the clone, so there a missing reference fails the
    test. Elsewhere (a clone on its own) the test is skipped, naming what is missing.
    """
    path = REFERENCE / relative
    if path.exists():
        return path
    message = f"reference material not found at {path}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run with shared/ beside the clone)")
    pytest.skip(message)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"PostgreSQL's {name} is not on PATH nor under /usr/lib/postgresql/*/bin")
    return candidates[-1]


def _server_user() -> str:
    """PostgreSQL refuses to run as root: use the ``postgres`` system user, made if missing."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return "postgres"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A PostgreSQL cluster of our own on 127.0.0.1, for the duration of the test session."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="catalog-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = _server_user()
            self.as_user = ["runuser", "-u", user, "--"]
            shutil.chown(self.root, user)
            self.root.chmod(0o700)
        self._counter = itertools.count()

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "catalog", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://catalog@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=catalog dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
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
