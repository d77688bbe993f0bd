"""The ``catalog`` command: the installed console script in subprocesses, and click's runner in-process.

Subprocesses check what a person or a CI job sees (exit codes, stdout, stderr, the
``serve`` plugin, progress bars on a terminal); the in-process runner covers the
many cheap cases. The demo store (lineage.yml + the MLflow fixture store) is
ingested once per module by the real script and only read afterwards.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import pty
import re
import shutil
import socket
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from catalog.cli import cli
from catalog.config import Settings
from catalog.service import Catalog
from tests.conftest import REFERENCE, reference
from tests.mlflow_fixtures import MlflowStore, copy_store, mlflow_store  # noqa: F401 - module-scoped fixture

CATALOG = Path(sys.executable).parent / "catalog"
REPO = Path(__file__).resolve().parents[1]
DEMO_LINEAGE = REPO / "lineage.yml"
CML_REFERENCE = REFERENCE / "wine/cml-lineage.yml"


def catalog_env(root: Path) -> dict[str, str]:
    """The settings of a catalog living in ``root`` (store, MLflow, lineage.yml), as CATALOG_* variables."""
    return {
        "CATALOG_DATABASE_URL": f"sqlite:///{root / 'catalog.db'}",
        "CATALOG_MLFLOW_URI": f"sqlite:///{root / 'mlflow.db'}",
        "CATALOG_LINEAGE_FILE": str(root / "lineage.yml"),
    }


def process_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_")}
    env.update(catalog_env(root), PYTHONUNBUFFERED="1", COLUMNS="80")  # help wraps as in docs/cli.md
    return env


def run(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``catalog ARGS`` through the installed console script, in ``root``."""
    return subprocess.run(
        [str(CATALOG), *args], cwd=root, env=process_env(root), capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def invoke(root: Path, *args: str) -> Result:
    """``catalog ARGS`` in-process (click's runner), on the catalog in ``root``."""
    return CliRunner().invoke(cli, list(args), env=catalog_env(root), catch_exceptions=False)


@dataclass(frozen=True)
class Demo:
    root: Path
    run_id: str
    first_ingest: subprocess.CompletedProcess[str]
    first_ingest_tty: str  # what the first ingest drew on its terminal (stderr)

    def guid(self, qualified_name: str) -> str:
        with Catalog(Settings(database_url=catalog_env(self.root)["CATALOG_DATABASE_URL"])) as catalog:
            return catalog.resolve(qualified_name).guid


def _run_with_tty_stderr(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``catalog ARGS`` with stdout piped and stderr on a pseudo-terminal, as at a shell prompt."""
    master, slave = pty.openpty()
    # A fresh pseudo-terminal is 0 columns wide, and tqdm draws nothing into 0 columns.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen(
            [str(CATALOG), *args], cwd=root, env=process_env(root), stdout=subprocess.PIPE, stderr=slave, text=True
        )
        os.close(slave)
        slave = -1
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not data:
                break
            chunks.append(data)
        stdout = proc.stdout.read() if proc.stdout else ""
        proc.wait(timeout=120)
        if proc.stdout:
            proc.stdout.close()
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    tty = b"".join(chunks).decode(errors="replace")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, ""), tty


@pytest.fixture(scope="module")
def demo(mlflow_store: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> Demo:  # noqa: F811
    """The demo's lineage.yml and MLflow store, ingested once by ``catalog ingest`` on a terminal."""
    root = tmp_path_factory.mktemp("cli-demo")
    shutil.copyfile(DEMO_LINEAGE, root / "lineage.yml")
    copy_store(mlflow_store, root)
    first, tty = _run_with_tty_stderr(root, "ingest")
    assert first.returncode in (0, 1), tty
    return Demo(root, mlflow_store.train_run_id, first, tty)


# ---------------------------------------------------------------- help


COMMANDS = {
    "ingest": "Read lineage.yml and MLflow and register what they describe.",
    "lineage": "Lineage around REF.",
    "show": "Show one entity: attributes, classifications and its latest audit events.",
    "search": "Find entities whose qualifiedName or name contains TEXT (case-insensitive).",
    "findings": "List the findings of the latest ingests; exits 1 when there are any.",
    "serve": "Serve the JSON API and Atlas's v2 REST API",
    "check": "Check a deployment (of lineage.yml) or a model version before it is deployed.",
    "evidence": "Verify the evidence chain; export a model card for auditors.",
    "expectations": "Draft Great Expectations suites.",
    "hook": "The MLflow hook: register the catalog's webhook in MLflow, test it, reconcile.",
}


DOCS = (REPO / "docs/cli.md").read_text(encoding="utf-8")


def assert_documented_verbatim(help_text: str) -> None:
    block = "```text\n" + help_text.rstrip("\n") + "\n```"
    assert block in DOCS, f"docs/cli.md does not show this --help verbatim:\n{help_text}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_every_command_says_what_it_does(tmp_path: Path, command: str) -> None:
    result = run(tmp_path, command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: catalog {command} [OPTIONS]")
    assert COMMANDS[command] in " ".join(result.stdout.split())
    assert result.stderr == ""
    assert_documented_verbatim(result.stdout)


def test_top_level_help_lists_commands_settings_and_exit_codes(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"^  {command}\s", result.stdout, re.MULTILINE), command
    assert "CATALOG_DATABASE_URL" in result.stdout
    assert "Exit codes: 0 ok, 1 findings, 2 error." in result.stdout
    assert_documented_verbatim(result.stdout)


def test_docs_list_every_setting_with_its_default() -> None:
    rows = {line.split("|")[1].strip(): line for line in DOCS.splitlines() if line.startswith("| `CATALOG_")}
    for field in dataclasses.fields(Settings):
        variable = f"`CATALOG_{field.name.upper()}`"
        assert variable in rows, f"docs/cli.md lists no {variable}"
        if field.default not in ("", None):
            assert f"`{field.default}`" in rows[variable], f"docs/cli.md gives another default for {variable}"
    assert len(rows) == len(dataclasses.fields(Settings))


def test_version_names_the_program(tmp_path: Path) -> None:
    result = invoke(tmp_path, "--version")
    assert result.exit_code == 0
    assert result.output.startswith("catalog, version ")


# ---------------------------------------------------------------- ingest


def test_cml_reference_file_ingests_unchanged_and_twice_writes_nothing(tmp_path: Path) -> None:
    reference("wine/cml-lineage.yml")
    first = run(tmp_path, "ingest", "--lineage", str(CML_REFERENCE))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == f"ingested lineage.yml:{CML_REFERENCE.resolve()}"
    assert re.search(r"^[1-9]\d* created, 0 updated, 0 unchanged, .*, 0 findings$", first.stdout, re.MULTILINE)
    assert first.stderr == ""  # no progress bars when stderr is not a terminal

    second = run(tmp_path, "ingest", "--lineage", str(CML_REFERENCE), "--json")
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert (report["created"], report["updated"], report["findings"]) == (0, 0, [])
    assert report["unchanged"] > 0

    tables = invoke(tmp_path, "search", "--type", "hive_table")
    assert tables.stdout.split() == [
        "hive_table", "default.wineds_ext@cm", "hive_table", "default.wineds_ext_nolabel@cm",
    ]


def test_ingest_with_findings_exits_1_and_prints_them(demo: Demo) -> None:
    result = demo.first_ingest
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ingested lineage.yml:") and ", mlflow:mlflow (sqlite:///" in lines[0]
    # a first ingest into an empty store creates; nothing existed to update or leave unchanged
    summary = r"^[1-9]\d* created, 0 updated, 0 unchanged, \d+ classifications propagated, [1-9]\d* findings$"
    assert re.match(summary, lines[1])
    assert f"finding [logged-not-declared] run:{demo.run_id}@mlflow: run {demo.run_id} logged " in result.stdout


def test_ingest_draws_progress_bars_on_a_terminal(demo: Demo) -> None:
    assert "reading experiments" in demo.first_ingest_tty
    assert "reading runs" in demo.first_ingest_tty


def test_ingest_with_nothing_to_ingest_exits_2_and_says_how(tmp_path: Path) -> None:
    result = run(tmp_path, "ingest")
    assert result.returncode == 2
    assert "Error: nothing to ingest: no " + str(tmp_path / "lineage.yml") + " here" in result.stderr
    assert "pass --lineage FILE and/or --mlflow URI" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "catalog.db").exists()


def test_ingest_without_both_sources_by_flag_exits_2(tmp_path: Path) -> None:
    shutil.copyfile(DEMO_LINEAGE, tmp_path / "lineage.yml")
    result = invoke(tmp_path, "ingest", "--no-lineage", "--no-mlflow")
    assert result.exit_code == 2
    assert "nothing to ingest" in result.stderr


def test_reingest_of_unchanged_lineage_and_mlflow_writes_nothing(
    tmp_path: Path, mlflow_store: MlflowStore  # noqa: F811
) -> None:
    shutil.copyfile(DEMO_LINEAGE, tmp_path / "lineage.yml")
    copy_store(mlflow_store, tmp_path)
    assert invoke(tmp_path, "ingest").exit_code == 1
    second = invoke(tmp_path, "ingest", "--json")
    report = json.loads(second.stdout)
    assert (report["created"], report["updated"]) == (0, 0)


def test_findings_keeps_every_finding_of_an_ingest(demo: Demo) -> None:
    reported = [line for line in demo.first_ingest.stdout.splitlines() if line.startswith("finding [")]
    stored = json.loads(invoke(demo.root, "findings", "--json").stdout)
    assert len(stored) == len(reported) == 3


# ---------------------------------------------------------------- findings


def test_findings_lists_them_and_exits_1(demo: Demo) -> None:
    result = invoke(demo.root, "findings")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"[logged-not-declared] run:{demo.run_id}@mlflow: run {demo.run_id} logged ")
    as_json = invoke(demo.root, "findings", "--json")
    assert as_json.exit_code == 1
    found = json.loads(as_json.stdout)
    assert found and set(found[0]) == {"kind", "subject", "message"}


def test_findings_exits_0_when_there_are_none(tmp_path: Path) -> None:
    (tmp_path / "lineage.yml").write_text('{"m": {"hive_table_qualified_names": ["db.t@cm"]}}\n')
    assert invoke(tmp_path, "ingest", "--no-mlflow").exit_code == 0
    result = invoke(tmp_path, "findings")
    assert (result.exit_code, result.stdout) == (0, "")
    assert json.loads(invoke(tmp_path, "findings", "--json").stdout) == []


# ---------------------------------------------------------------- lineage


def edges_by_name(info: dict) -> set[tuple[str, str]]:
    qn = {guid: header["attributes"]["qualifiedName"] for guid, header in info["guidEntityMap"].items()}
    return {(qn[r["fromEntityId"]], qn[r["toEntityId"]]) for r in info["relations"]}


def test_lineage_json_is_atlas_lineage_info_along_the_data_flow(demo: Demo) -> None:
    result = run(demo.root, "lineage", "models:/wine-quality@champion", "--format", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["baseEntityGuid"] == demo.guid("wine-quality/1@mlflow")
    assert (info["lineageDirection"], info["lineageDepth"]) == ("BOTH", 3)
    assert info["baseEntityGuid"] in info["guidEntityMap"]
    for relation in info["relations"]:
        assert {"fromEntityId", "toEntityId", "relationshipId"} <= set(relation)
        assert relation["fromEntityId"] in info["guidEntityMap"] and relation["toEntityId"] in info["guidEntityMap"]
    run_qn = f"run:{demo.run_id}@mlflow"
    edges = edges_by_name(info)
    assert {
        ("default.wineds_ext@cm", run_qn),
        (run_qn, "wine-quality/1@mlflow"),
        ("wine-quality/1@mlflow", "deploy:wine-quality-stream:prod@cm"),
        ("deploy:wine-quality-stream:prod@cm", "wine-quality-stream:prod@cm"),
        ("wine-quality/1@mlflow", "deploy:wine-quality-batch:prod@cm"),
    } <= edges
    assert not {(b, a) for a, b in edges} & edges  # nothing points against the flow


def test_lineage_direction_input_stops_at_the_base(demo: Demo) -> None:
    result = invoke(demo.root, "lineage", "models:/wine-quality/1", "--direction", "input", "--format", "json")
    info = json.loads(result.stdout)
    assert info["lineageDirection"] == "INPUT"
    types = {h["typeName"] for h in info["guidEntityMap"].values()}
    assert "ml_training_run" in types and "hive_table" in types
    assert not types & {"ml_model_deploy_process", "ml_deployment"}


NODE = re.compile(r'^  "(?P<id>(?:[^"\\]|\\.)*)" \[label="(?:[^"\\]|\\.)*", shape=(?:box|ellipse)(?:, style=bold)?\];$')
EDGE = re.compile(r'^  "(?P<src>(?:[^"\\]|\\.)*)" -> "(?P<dst>(?:[^"\\]|\\.)*)";$')


def test_lineage_dot_is_graphviz(demo: Demo) -> None:
    result = run(demo.root, "lineage", "models:/wine-quality@champion", "--format", "dot")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "digraph lineage {" and lines[-1] == "}"
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for line in lines[1:-1]:
        if line == "  rankdir=LR;":
            continue
        if m := NODE.match(line):
            nodes.add(m["id"])
        elif m := EDGE.match(line):
            edges.add((m["src"], m["dst"]))
        else:
            pytest.fail(f"not a DOT statement: {line!r}")
    info = json.loads(invoke(demo.root, "lineage", "models:/wine-quality@champion", "--format", "json").stdout)
    assert nodes == set(info["guidEntityMap"])
    assert edges == {(r["fromEntityId"], r["toEntityId"]) for r in info["relations"]}
    assert '[label="ml_model_version\\nwine-quality/1@mlflow", shape=ellipse, style=bold];' in result.stdout


def test_lineage_text_prints_one_line_per_path(demo: Demo) -> None:
    result = invoke(demo.root, "lineage", "models:/wine-quality@champion")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "lineage of ml_model_version wine-quality/1@mlflow (both, depth 3)"
    assert (
        "  default.wineds_ext@cm → train-elasticnet [ml_training_run] → wine-quality v1 [ml_model_version]"
        " → deploy wine-quality-stream to prod [ml_model_deploy_process]"
        " → wine-quality-stream (prod) [ml_deployment]"
    ) in lines


def test_lineage_text_of_an_entity_without_lineage(tmp_path: Path) -> None:
    (tmp_path / "lineage.yml").write_text("version: 1\ndatasets:\n  db.alone@cm: {}\n")
    assert invoke(tmp_path, "ingest", "--no-mlflow").exit_code == 0
    result = invoke(tmp_path, "lineage", "db.alone@cm", "--depth", "0")
    assert result.stdout.splitlines() == ["lineage of hive_table db.alone@cm (both, depth unlimited, capped at 50 by CATALOG_LINEAGE_MAX_DEPTH)", "  (no lineage)"]


REF_FORMS = {
    "qualifiedName": ("default.wineds_ext@cm", "default.wineds_ext@cm"),
    "type:qualifiedName": ("hive_table:default.wineds_ext@cm", "default.wineds_ext@cm"),
    "guid": ("{guid}", "default.wineds_ext@cm"),
    "models:/name/version": ("models:/wine-quality/2", "wine-quality/2@mlflow"),
    "models:/name@alias": ("models:/wine-quality@champion", "wine-quality/1@mlflow"),
    "runs:/id": ("runs:/{run_id}", "run:{run_id}@mlflow"),
    "runs:/id/path": ("runs:/{run_id}/model", "run:{run_id}@mlflow"),
}


@pytest.mark.parametrize("form", list(REF_FORMS))
def test_every_ref_form_resolves(demo: Demo, form: str) -> None:
    ref, expected = REF_FORMS[form]
    ref = ref.format(guid=demo.guid("default.wineds_ext@cm"), run_id=demo.run_id)
    expected = expected.format(run_id=demo.run_id)
    shown = invoke(demo.root, "show", ref, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["entity"]["attributes"]["qualifiedName"] == expected
    lineage = invoke(demo.root, "lineage", ref, "--format", "json")
    assert json.loads(lineage.stdout)["baseEntityGuid"] == demo.guid(expected)


# ---------------------------------------------------------------- show


def test_show_prints_attributes_classifications_and_audit(demo: Demo) -> None:
    result = invoke(demo.root, "show", "default.wineds_ext@cm")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "hive_table default.wineds_ext@cm"
    assert lines[1] == f"  guid      {demo.guid('default.wineds_ext@cm')}"
    assert lines[2].startswith("  status    ACTIVE (version ")
    assert "  classification PII (direct)" in lines
    assert "  audit:" in lines
    assert any(re.fullmatch(r"    #\d+ ENTITY_CREATE by \S+ from lineage\.yml:.*", line) for line in lines)


def test_show_of_a_propagated_classification(demo: Demo) -> None:
    result = invoke(demo.root, "show", "models:/wine-quality/1")
    assert "  classification PII (propagated)" in result.stdout.splitlines()
    assert '  aliases          ["champion"]' in result.stdout.splitlines()


def test_show_json_is_an_atlas_entity(demo: Demo) -> None:
    result = run(demo.root, "show", "models:/wine-quality/1", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["referredEntities"] == {}
    entity = body["entity"]
    assert entity["typeName"] == "ml_model_version"
    assert entity["guid"] == demo.guid("wine-quality/1@mlflow")
    assert entity["attributes"]["qualifiedName"] == "wine-quality/1@mlflow"
    assert entity["attributes"]["version"] == 1
    assert entity["attributes"]["aliases"] == ["champion"]
    [pii] = entity["classifications"]
    assert pii["typeName"] == "PII"
    assert pii["entityGuid"] == demo.guid("default.wineds_ext@cm")  # where it propagated from


# ---------------------------------------------------------------- search


def _listed(result: Result) -> dict[str, str]:
    """qualifiedName -> typeName of a text search result."""
    return {line.split()[1]: line.split()[0] for line in result.stdout.splitlines()}


def test_search_by_supertype_lists_data_sets_only(demo: Demo) -> None:
    result = invoke(demo.root, "search", "--type", "DataSet")
    assert result.exit_code == 0
    listed = _listed(result)
    assert listed["default.wineds_ext@cm"] == "hive_table"
    assert listed["wine-quality/1@mlflow"] == "ml_model_version"
    assert listed["wine-quality-stream:prod@cm"] == "ml_deployment"
    assert not {"ml_training_run", "ml_model_deploy_process", "ml_model_train_build_process"} & set(listed.values())


def test_search_by_classification_follows_propagation(demo: Demo) -> None:
    result = invoke(demo.root, "search", "--classification", "PII")
    listed = _listed(result)
    assert {"default.wineds_ext@cm", "wine-quality/1@mlflow", "wine-quality-stream:prod@cm"} <= set(listed)
    assert "default.wineds_ext_nolabel@cm" not in listed
    assert all(line.endswith("  [PII]") for line in result.stdout.splitlines())


def test_search_json_is_atlas_entity_headers(demo: Demo) -> None:
    result = run(demo.root, "search", "WINEDS", "--type", "hive_table", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    names = sorted(e["attributes"]["qualifiedName"] for e in body["entities"])
    assert names == ["default.wineds_ext@cm", "default.wineds_ext_nolabel@cm"]
    assert body["approximateCount"] == 2
    assert {e["typeName"] for e in body["entities"]} == {"hive_table"}
    assert all(e["guid"] and "classificationNames" in e for e in body["entities"])


def test_search_limit(demo: Demo) -> None:
    assert len(invoke(demo.root, "search", "--limit", "2").stdout.splitlines()) == 2


def test_search_without_match_says_so_and_exits_0(demo: Demo) -> None:
    result = invoke(demo.root, "search", "no-such-thing-anywhere")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "no entities found\n")


# ---------------------------------------------------------------- serve


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(demo: Demo, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(CATALOG), "serve", "--port", str(port)],
            cwd=demo.root, env=process_env(demo.root), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_serve_answers_healthz_on_loopback(served: tuple[int, Path]) -> None:
    port, log = served
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                assert response.status == 200
                assert json.loads(response.read()) == {"status": "ok"}
                break
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"catalog serve did not answer on port {port}:\n{log.read_text()}")
            time.sleep(0.1)
    assert f"on http://127.0.0.1:{port}/" in log.read_text()


def test_serve_on_a_port_in_use_exits_2(demo: Demo) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(demo.root, "serve", "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert result.stderr.rstrip().endswith(f"error: cannot listen on 127.0.0.1:{port}")


# ---------------------------------------------------------------- no store until an ingest succeeds


def test_a_failed_ingest_creates_no_catalog(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("version: 1\ndatasets:\n  default.t@cm:\n    descripton: x\n")
    result = run(tmp_path, "ingest", "--lineage", "bad.yml", "--no-mlflow")
    assert result.returncode == 2
    assert "bad.yml:4: datasets['default.t@cm'].descripton: unknown key 'descripton'" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yml"]


@pytest.mark.parametrize("args", [("lineage", "db.t@cm"), ("show", "db.t@cm"), ("search", "t"), ("findings",)])
def test_read_commands_refuse_to_create_a_catalog(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    assert "error: no catalog at sqlite:///" in result.stderr and "run `catalog ingest` first" in result.stderr
    assert list(tmp_path.iterdir()) == []
