"""Engines and migrations for the catalog store (SQLite by default, PostgreSQL at scale).

SQLite runs in WAL mode with a busy timeout, and write transactions begin with
``BEGIN IMMEDIATE`` so two concurrent ingests queue for the write lock instead of
failing half-way; PostgreSQL relies on the unique keys and ``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["make_engine", "writer", "upgrade", "MIGRATIONS"]

MIGRATIONS = Path(__file__).with_name("migrations")
_IMMEDIATE = "catalog_immediate"
# Keys of PostgreSQL advisory locks (any constants; they name what the lock guards).
_PG_WRITE_LOCK = 0x6361_7461_6C6F_77


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, WAL + busy timeout + immediate write transactions."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)

        @event.listens_for(engine, "begin")
        def _begin_pg(conn):  # type: ignore[no-untyped-def]
            # Writers queue on one transaction-scoped lock, as SQLite's BEGIN IMMEDIATE
            # makes them: each ingest sees the previous one's rows, so its audit and
            # versions are true. Readers take no lock.
            if conn.get_execution_options().get(_IMMEDIATE, False):
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_WRITE_LOCK})")

        return engine
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        if parsed.database and parsed.database != ":memory:":
            _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(cursor) -> None:  # type: ignore[no-untyped-def]
    """Switch a SQLite file to WAL (persistent, so usually already done).

    The switch needs an exclusive lock and fails at once, without the busy handler,
    when two connections make a new file at the same moment: retry briefly.
    """
    import sqlite3
    import time

    for attempt in range(100):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock up front."""
    return engine.execution_options(**{_IMMEDIATE: True})


_MIGRATION_LOCK = threading.Lock()
# Any constant works; it names the lock PostgreSQL holds while one process migrates.
_PG_LOCK_KEY = 0x6361_7461_6C6F_67


def upgrade(engine: Engine) -> None:
    """Bring the store's schema to the newest Alembic revision (idempotent, concurrency-safe).

    Alembic's ``context`` is process-global, so migrations in one process are
    serialised by a lock; across processes, PostgreSQL's advisory lock and SQLite's
    immediate transaction make a second migrator wait and then find nothing to do.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
    with _MIGRATION_LOCK, writer(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        if MigrationContext.configure(connection).get_current_revision() == head:
            return
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
