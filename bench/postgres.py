"""A throwaway PostgreSQL server, and the benches' synthetic catalog built into it.

``Server`` is the one home of the server the benches and the test suite start
(``tests/conftest.py`` imports it; benches never import tests, and this module needs
nothing but the standard library until a database is made): ``initdb`` a cluster in a
temp dir, ``pg_ctl start`` it on a free 127.0.0.1 port with ``fsync=off``, run it as
the ``postgres`` system user when we are root (PostgreSQL refuses to run as root),
stop it and remove the dir at the end of the run. When ``initdb``/``pg_ctl`` are not
installed, ``available()`` is false and the benches skip PostgreSQL.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Context

__all__ = ["PostgresCatalog", "Server", "available", "build_catalog"]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available() -> bool:
    """``initdb`` and ``pg_ctl`` are installed (and psycopg, the catalog's PostgreSQL driver)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return _pg_bin("initdb") is not None and _pg_bin("pg_ctl") is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> str:
    """PostgreSQL refuses to run as root: use the ``postgres`` system user, made if missing."""
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return "postgres"


class Server:
    """A PostgreSQL cluster of our own on 127.0.0.1, for one bench run or one test session.

    ``prefix`` names its temp dir; ``timeout`` bounds each ``initdb``/``pg_ctl`` call.
    """

    def __init__(self, *, prefix: str = "catalog-bench-pg-", timeout: float = 300) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.root / "data"
        self.port = _free_port()
        self.timeout = timeout
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = _server_user()
            self.as_user = ["runuser", "-u", user, "--"]
            shutil.chown(self.root, user)
            self.root.chmod(0o700)
        self._counter = itertools.count()

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=self.timeout)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    @staticmethod
    def _bin(name: str) -> str:
        found = _pg_bin(name)
        if found is None:
            raise RuntimeError(f"PostgreSQL's {name} is not on PATH nor under /usr/lib/postgresql/*/bin")
        return found

    def start(self) -> Server:
        self._run(self._bin("initdb"), "-D", str(self.data), "-U", "catalog", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run(self._bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``pg_ctl -m fast``, or ``immediate``) and remove its dir."""
        try:
            pg_ctl = _pg_bin("pg_ctl")
            if pg_ctl and self.data.exists():
                self._run(pg_ctl, "-D", str(self.data), "-m", mode, "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://catalog@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str | None = None) -> str:
        """The URL of a new, empty database: ``name``, or a fresh ``t<pid>_<n>``."""
        import psycopg

        if name is None:
            name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=catalog dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def version(self) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=catalog dbname=postgres") as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])


@dataclass
class PostgresCatalog:
    """The synthetic catalog in a database of its own server; ``close`` stops the server."""

    server: Server
    catalog: Any
    layout: Any
    url: str

    def close(self) -> None:
        try:
            self.catalog.close()
        finally:
            self.server.stop()


def build_catalog(ctx: Context) -> PostgresCatalog:
    """The bench's synthetic batch (``bench.ingest.synthetic_batch``), ingested with ``store.upsert_batch``.

    The same path as the SQLite catalog's (``bench.ingest.build_catalog``): a ``Catalog``
    on the URL, one write session, one transaction. Then ``ANALYZE`` (what autovacuum
    does soon after a bulk load on a running server), so the planner knows the tables.
    """
    from bench.ingest import USER, synthetic_batch
    from catalog import store
    from catalog.config import Settings
    from catalog.service import Catalog

    sizes = ctx.sizes
    batch, layout = ctx.cached(("batch", sizes.entities, sizes.chain_every),
                               lambda: synthetic_batch(sizes.entities, sizes.chain_every))
    server = Server().start()
    try:
        url = server.new_database(f"bench_{sizes.name}")
        catalog = Catalog(Settings(database_url=url, user=USER))
        with catalog.write_session() as session, session.begin():
            result = store.upsert_batch(session, batch, catalog.registry, user=USER)
        if len(result.created) != layout.entities:
            raise AssertionError(f"ingest created {len(result.created)} of {layout.entities} entities")
        with catalog.write_session() as session:
            session.connection().exec_driver_sql("ANALYZE")
            session.commit()
    except BaseException:
        server.stop()
        raise
    return PostgresCatalog(server, catalog, layout, url)
