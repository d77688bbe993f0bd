"""Bad input: a message naming the place, exit code 2, and a store exactly as it was.

Each case starts from a store that already holds the demo's lineage.yml (so "unchanged"
means something), on SQLite and on PostgreSQL, runs one bad ``catalog`` command and
compares the row count of every table (and every entity's version) before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from catalog.cli import cli
from catalog.config import Settings
from catalog.service import Catalog
from catalog.store import Base

REPO = Path(__file__).resolve().parents[1]
CATALOG = Path(sys.executable).parent / "catalog"
BILLION_LAUGHS = REPO / "tests/fixtures/lineage/billion-laughs.yml"

Snapshot = tuple[dict[str, int], dict[str, int]]


def snapshot(url: str) -> Snapshot:
    """Row count of every table of the store, and each entity's version."""
    with Catalog(Settings(database_url=url)) as catalog, catalog.engine.connect() as conn:
        counts = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in Base.metadata.sorted_tables
        }
        entity = Base.metadata.tables["entity"]
        versions = {guid: version for guid, version in conn.execute(select(entity.c.guid, entity.c.version))}
    return counts, versions


@dataclass
class Store:
    url: str
    root: Path
    before: Snapshot

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "CATALOG_DATABASE_URL": self.url,
            "CATALOG_MLFLOW_URI": f"sqlite:///{self.root / 'mlflow.db'}",
            "CATALOG_LINEAGE_FILE": str(self.root / "lineage.yml"),
            **extra,
        }

    def invoke(self, *args: str, **env: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env(**env), catch_exceptions=False)

    def assert_unchanged(self) -> None:
        assert snapshot(self.url) == self.before


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Store:
    """A store holding the demo's lineage.yml, on each backend."""
    with Catalog(Settings(database_url=database_url, user="tester")) as catalog:
        catalog.ingest(lineage_path=REPO / "lineage.yml")
    before = snapshot(database_url)
    assert before[0]["entity"] > 0 and before[0]["audit_event"] > 0
    return Store(database_url, tmp_path, before)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- malformed lineage.yml

# (file text, expected lines of the message); {path} is the file's absolute path.
LINEAGE_CASES: dict[str, tuple[str, list[str]]] = {
    "yaml-syntax-error": (
        "version: 1\ndatasets:\n  a.b@cm: {type: hive_table\nmodels: {}\n",
        ["error: {path}:4: YAML syntax error: ", "while parsing a flow mapping started at line 3"],
    ),
    "wrong-types": (
        "version: 1\ndatasets:\n  a.b@cm:\n    classifications: PII\nmodels:\n  m:\n    training: {datasets: 3}\n",
        [
            "error: {path}: 2 problems",
            "{path}:4: datasets['a.b@cm'].classifications: expected a list, got a string 'PII'",
            "{path}:7: models.m.training.datasets: expected a list, got an integer 3",
        ],
    ),
    "unknown-key": (
        "version: 1\ndatasets:\n  a.b@cm:\n    descripton: wine\n",
        ["error: {path}:4: datasets['a.b@cm'].descripton: unknown key 'descripton'; did you mean 'description'?"],
    ),
    "duplicate-key": (
        "version: 1\ndatasets:\n  a.b@cm: {}\n  a.b@cm: {}\n",
        ["error: {path}:4: datasets['a.b@cm']: duplicate key 'a.b@cm' (lines 3 and 4)"],
    ),
    "undeclared-dataset": (
        "version: 1\ndatasets:\n  a.b@cm: {}\nmodels:\n  m:\n    training:\n      datasets: [a.c@cm]\n",
        [("error: {path}:7: models.m.training.datasets[0]: training dataset 'a.c@cm' is not declared under "
          "'datasets'; did you mean 'a.b@cm'?")],
    ),
    "model-is-its-own-input": (
        "version: 1\ndatasets:\n  a.b@cm: {}\nmodels:\n  m:\n    training:\n      datasets: [a.b@cm, m]\n",
        ["error: {path}:7: models.m.training.datasets[1]: model 'm' lists itself as a training input"],
    ),
    "unknown-dataset-type": (
        "version: 1\ndatasets:\n  a.b@cm:\n    type: hive_tabel\n",
        [
            "error: {path}:4: datasets['a.b@cm'].type: expected one of ",
            "got a string 'hive_tabel'; did you mean 'hive_table'?",
        ],
    ),
}


@pytest.mark.parametrize("case", list(LINEAGE_CASES))
def test_malformed_lineage_file_is_named_with_line_and_key_path(store: Store, case: str) -> None:
    text, expected = LINEAGE_CASES[case]
    path = store.root / "lineage.yml"
    path.write_text(text)
    result = store.invoke("ingest", "--no-mlflow")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    for fragment in expected:
        assert fragment.format(path=path) in result.stderr
    store.assert_unchanged()


def test_oversized_lineage_file_names_the_limit(store: Store) -> None:
    path = store.root / "big.yml"
    path.write_text("version: 1\n" + "#" * 4989 + "\n")
    result = store.invoke("ingest", "--lineage", str(path), "--no-mlflow", CATALOG_MAX_LINEAGE_FILE_BYTES="4096")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}: the file is 5001 bytes, over the limit of 4096 bytes "
        "(CATALOG_MAX_LINEAGE_FILE_BYTES); it was not parsed\n"
    )
    store.assert_unchanged()


def test_billion_laughs_fails_fast(store: Store) -> None:
    path = store.root / "laughs.yml"
    path.write_bytes(BILLION_LAUGHS.read_bytes())
    started = time.monotonic()
    result = store.invoke("ingest", "--lineage", str(path), "--no-mlflow")
    assert time.monotonic() - started < 5
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:")
    assert "aliases are expanded" in result.stderr and "billion laughs" in result.stderr
    store.assert_unchanged()


def test_missing_lineage_file_is_named(store: Store) -> None:
    path = store.root / "no-such-lineage.yml"
    result = store.invoke("ingest", "--lineage", str(path), "--no-mlflow")
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: cannot read the file: No such file or directory\n"
    store.assert_unchanged()


# ---------------------------------------------------------------- MLflow that cannot be read


def test_unreachable_mlflow_names_the_uri_and_writes_nothing(store: Store) -> None:
    """lineage.yml is fine and declares something new; MLflow is down: neither is written."""
    lineage = store.root / "lineage.yml"
    lineage.write_text((REPO / "lineage.yml").read_text().replace("datasets:\n", "datasets:\n  default.brand_new@cm: {}\n", 1))
    uri = f"http://127.0.0.1:{closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")} | store.env()
    started = time.monotonic()
    result = subprocess.run(
        [str(CATALOG), "ingest", "--mlflow", uri],
        cwd=store.root, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: MLflow at {uri} could not be read: ")
    assert "Traceback" not in result.stderr
    assert elapsed < 10
    store.assert_unchanged()


def test_nonexistent_sqlite_mlflow_is_not_created(store: Store) -> None:
    missing = store.root / "nope" / "mlflow.db"
    uri = f"sqlite:///{missing}"
    result = store.invoke("ingest", "--no-lineage", "--mlflow", uri)
    assert result.exit_code == 2
    assert result.stderr == f"error: MLflow database {uri} does not exist ({missing})\n"
    assert not missing.parent.exists()
    store.assert_unchanged()


# ---------------------------------------------------------------- unknown names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "--type", "hive_tabel"), "error: unknown entity type 'hive_tabel'; did you mean 'hive_table'?\n"),
        (("search", "--classification", "PIi"), "error: unknown classification 'PIi'; did you mean 'PII'?\n"),
        (("lineage", "no.such@cm"), "error: no entity matches 'no.such@cm'"),
        (("show", "models:/wine-quality@champion"), ("error: models:/wine-quality@champion: no version of model "
                                                     "'wine-quality' carries alias 'champion' in the catalog\n")),
        (("lineage", "00000000-0000-0000-0000-000000000000"),
         "error: no entity with guid 00000000-0000-0000-0000-000000000000\n"),
    ],
    ids=["type", "classification", "ref", "alias", "guid"],
)
def test_unknown_name_exits_2_with_the_name(store: Store, args: tuple[str, ...], message: str) -> None:
    result = store.invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    store.assert_unchanged()


def test_unknown_ref_suggests_similar_names(store: Store) -> None:
    result = store.invoke("lineage", "default.wineds_ex@cm")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no entity matches 'default.wineds_ex@cm'; similar: default.wineds_ext")


# ---------------------------------------------------------------- settings and store


def test_store_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'catalog.db'}"
    lineage = tmp_path / "lineage.yml"
    lineage.write_text('{"m": {"hive_table_qualified_names": ["db.t@cm"]}}\n')
    result = CliRunner().invoke(
        cli, ["ingest", "--lineage", str(lineage), "--no-mlflow"], env={"CATALOG_DATABASE_URL": url},
        catch_exceptions=False,
    )
    assert result.exit_code == 2
    assert result.stderr == f"error: catalog store {url}: OperationalError: unable to open database file\n"


def test_reading_a_store_that_is_not_there_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'catalog.db'}"
    result = CliRunner().invoke(cli, ["search"], env={"CATALOG_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == f"error: no catalog at {url} yet: run `catalog ingest` first (or set CATALOG_DATABASE_URL)\n"
    assert not (tmp_path / "no").exists()


def test_store_password_is_not_printed(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://catalog:s3cret@127.0.0.1:{closed_port()}/catalog"
    result = CliRunner().invoke(cli, ["search"], env={"CATALOG_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: catalog store postgresql+psycopg://***@127.0.0.1:")
    assert "s3cret" not in result.output


def test_malformed_setting_is_named(tmp_path: Path) -> None:
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}", "CATALOG_LINEAGE_MAX_DEPTH": "deep"}
    result = CliRunner().invoke(cli, ["search"], env=env, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr == "error: CATALOG_LINEAGE_MAX_DEPTH='deep': expected int\n"
    assert not (tmp_path / "catalog.db").exists()


def test_bad_option_value_is_a_usage_error(tmp_path: Path) -> None:
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}"}
    result = CliRunner().invoke(cli, ["lineage", "x", "--depth", "-1"], env=env)
    assert result.exit_code == 2
    assert "Invalid value for '--depth': -1 is not in the range x>=0." in result.stderr
