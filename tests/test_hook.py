"""The MLflow hook end to end: a real ``mlflow server`` posting its webhooks to the catalog served on loopback.

One server per module (tests/mlflow_server.py, with the two webhook guards opened for
loopback over HTTP); each test registers its own model on it, serves its own catalog
(the web app over HTTP plus the hook's worker thread, as ``catalog serve`` runs them)
and installs its own webhook with ``catalog hook install``. Nothing is faked: MLflow
signs and delivers, the catalog verifies, queues in SQLite, ingests from the server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from catalog import intake
from catalog.cli import cli
from catalog.config import Settings
from catalog.intake import queue
from catalog.service import Catalog
from tests.mlflow_server import Model, Server, free_port, mlflow_server  # noqa: F401 - module-scoped fixture
from tests.web_fixtures import catalog_app

SECRET = "hook-secret-" + "x" * 24
ATLAS = "/api/atlas/v2/entity/uniqueAttribute/type"


def lineage(path: Path, m: Model, *, on_fail: str = "record") -> Path:
    path.write_text(
        "version: 1\ncluster: cm\n"
        f"datasets:\n  {m.table}@cm:\n    description: what the model trains on\n"
        f"models:\n  {m.name}:\n    owner: ml-team@example.com\n    purpose: predicts wine quality\n"
        f"    training:\n      datasets: [{m.table}@cm]\n    policy:\n      metrics:\n        rmse: \"<= 0.8\"\n"
        f"deployments:\n  {m.name}-batch:\n    model: models:/{m.name}@champion\n    mode: batch\n    target: prod\n"
        f"policy:\n  targets:\n    prod:\n      on_fail: {on_fail}\n",
        encoding="utf-8",
    )
    return path


@dataclass
class Served:
    """The catalog served on a fixed loopback port with its hook worker; ``stop()`` and ``start()`` again."""

    settings: Settings
    port: int
    app: Any = None
    _server: Any = None
    _thread: threading.Thread | None = None
    _stop_worker: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Served:
        from web.cli import make_http_server
        from web.hooks import start_background

        self._app_cm = catalog_app(self.settings)
        self.app = self._app_cm.__enter__()
        self._server = make_http_server("127.0.0.1", self.port, self.app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="hook-test", daemon=True)
        self._thread.start()
        self._stop_worker = start_background(self.app)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        assert self._stop_worker is not None and self._thread is not None
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        self._stop_worker()
        self._app_cm.__exit__(None, None, None)
        self._server = None

    def entity(self, type_name: str, qualified_name: str) -> dict | None:
        answer = requests.get(f"{self.url}{ATLAS}/{type_name}", params={"attr:qualifiedName": qualified_name},
                              timeout=10)
        return answer.json()["entity"] if answer.status_code == 200 else None


@pytest.fixture
def serve(tmp_path: Path, mlflow_server: Server) -> Iterator[Callable[..., Served]]:  # noqa: F811
    started: list[Served] = []

    def make(lineage_file: Path, **overrides: Any) -> Served:
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow_server.url,
                            lineage_file=str(lineage_file), user="tester", hook_secret=SECRET,
                            **{"reconcile_interval_seconds": 0, **overrides})
        served = Served(settings, free_port()).start()
        started.append(served)
        return served

    yield make
    for served in started:
        served.stop()


def install(mlflow_server: Server, url: str, name: str) -> str:  # noqa: F811
    result = CliRunner().invoke(cli, ["hook", "install", "--mlflow", mlflow_server.url, "--url", f"{url}/hooks/mlflow",
                                      "--name", name], env={"CATALOG_HOOK_SECRET": SECRET}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@contextmanager
def down(port: int) -> Iterator[list[str]]:
    """A catalog that is down, as a proxy in front of it shows it: every delivery to ``port`` gets a 503.

    Yields the events (``entity.action`` of each body) refused so far.
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    refused: list[str] = []

    class Refuse(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            refused.append(f"{body.get('entity')}.{body.get('action')}")
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Refuse)
    thread = threading.Thread(target=server.serve_forever, name="catalog-down", daemon=True)
    thread.start()
    try:
        yield refused
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def ref(entity: dict | None, attribute: str) -> Any:
    if entity is None:
        return None
    value = entity["attributes"].get(attribute, entity.get("relationshipAttributes", {}).get(attribute))
    if isinstance(value, list):
        return sorted(v["uniqueAttributes"]["qualifiedName"] for v in value)
    return value["uniqueAttributes"]["qualifiedName"] if isinstance(value, dict) else value


def test_a_registered_version_appears_with_its_lineage_and_a_missed_one_is_reconciled(
        tmp_path, mlflow_server, serve):  # noqa: F811
    m = Model(mlflow_server, "hook-e2e")
    served = serve(lineage(tmp_path / "lineage.yml", m), reconcile_interval_seconds=3600)
    out = install(mlflow_server, served.url, "hook-e2e")
    assert out.startswith("created webhook 'hook-e2e' (")
    assert out.rstrip().endswith(
        "model_version.created, model_version_alias.created, model_version_alias.deleted, model_version_tag.deleted, "
        f"model_version_tag.set, registered_model.created -> {served.url}/hooks/mlflow")  # as MLflow lists them

    v1 = m.version(0.5)
    m.set_alias(v1)
    version = until("version 1 with its alias", lambda: (e := served.entity("ml_model_version", "hook-e2e/1@mlflow"))
                    and e["attributes"]["aliases"] == ["champion"] and e)
    run_qn = f"run:{version['attributes']['runId']}@mlflow"
    run = served.entity("ml_training_run", run_qn)
    assert run is not None and "hook-e2e/1@mlflow" in ref(run, "outputs")
    assert f"{m.table}@cm" in ref(run, "inputs")  # the training table, logged and declared
    table = served.entity("hive_table", f"{m.table}@cm")
    assert table is not None and table["attributes"]["description"] == "what the model trains on"
    deployment = until("the deployment on version 1", lambda: (d := served.entity(
        "ml_deployment", "hook-e2e-batch:prod@cm")) and ref(d, "build") == "hook-e2e/1@mlflow" and d)
    assert deployment["attributes"]["modelRef"] == "models:/hook-e2e@champion"
    with Catalog(served.settings) as catalog:
        gate = until("the gate's job done", lambda: next((j for j in queue.jobs(catalog) if j.status == queue.DONE
                                                          and j.event.event == "model_version_alias.created"), None))
        assert (gate.origin, gate.event.alias, gate.event.version) == ("hook", "champion", "1")
        created = next(j for j in queue.jobs(catalog) if j.event.event == "model_version.created")
        assert (created.origin, created.event.version, created.status) == ("hook", "1", queue.DONE)
        assert gate.message == "models:/hook-e2e@champion -> version 1: hook-e2e-batch pass"

    # catalog serve is down: the deliveries of version 2 are lost (MLflow does not retry here). MLflow
    # delivers from a thread pool, so the catalog stays down until both deliveries were answered 503.
    with Catalog(served.settings) as catalog:
        last = max(j.id for j in queue.jobs(catalog))
    served.stop()
    with down(served.port) as refused:
        v2 = m.version(0.6)
        m.set_alias(v2)
        until("both deliveries of version 2 refused", lambda: sorted(refused) == [
            "model_version.created", "model_version_alias.created"])
    with Catalog(served.settings) as catalog:
        assert catalog.search("hook-e2e/2@mlflow", type_name="ml_model_version") == []
    served.start()  # the reconciler runs at start
    until("version 2 reconciled", lambda: (e := served.entity("ml_model_version", "hook-e2e/2@mlflow"))
          and e["attributes"]["aliases"] == ["champion"])
    until("the deployment on version 2", lambda: ref(served.entity("ml_deployment", "hook-e2e-batch:prod@cm"),
                                                      "build") == "hook-e2e/2@mlflow")
    with Catalog(served.settings) as catalog:
        reconciled = until("the reconcile jobs done", lambda: [
            j for j in queue.jobs(catalog) if j.origin == "reconcile" and j.status == queue.DONE and j.id > last
            and j.event.model == m.name])
        assert sorted((j.event.event, j.event.version) for j in reconciled) == [
            ("model_version.created", "2"), ("model_version_alias.created", "2")]
        gate = next(j for j in reconciled if j.event.event == "model_version_alias.created")
        assert gate.result["previous"] == "1" and gate.result["reverted"] is False


def test_a_failing_alias_move_is_moved_back_by_the_gate(tmp_path, mlflow_server, serve):  # noqa: F811
    m = Model(mlflow_server, "hook-revert")
    served = serve(lineage(tmp_path / "lineage.yml", m, on_fail="revert"))
    install(mlflow_server, served.url, "hook-revert")
    good = m.version(0.5)
    m.set_alias(good)
    until("version 1 champion", lambda: (e := served.entity("ml_model_version", "hook-revert/1@mlflow"))
          and e["attributes"]["aliases"] == ["champion"])
    bad = m.version(0.95)
    m.set_alias(bad)

    until("champion back on version 1 in MLflow", lambda: m.alias() == good)
    with Catalog(served.settings) as catalog:
        gates = until("both gate jobs", lambda: [
            j for j in queue.jobs(catalog) if j.event.event == "model_version_alias.created" and j.status == "done"
            and j.event.version == bad])
        assert gates[0].message == (
            "models:/hook-revert@champion -> version 2: hook-revert-batch fail (metrics-threshold: rmse = 0.95, "
            "needs <= 0.8); 'champion' moved back to version 1 (on_fail: revert for target prod)")
        assert (gates[0].result["reverted"], gates[0].result["revertedTo"]) == (True, good)
        events = [e for e in catalog.audit(limit=1000) if e.action == "ALIAS_REVERTED"]
        assert [(e.user, e.qualified_name, e.detail["to"]) for e in events] == [
            ("mlflow-hook", "hook-revert/2@mlflow", "1")]
    until("the catalog shows champion on version 1", lambda: served.entity(
        "ml_model_version", "hook-revert/1@mlflow")["attributes"]["aliases"] == ["champion"])
    assert served.entity("ml_model_version", "hook-revert/2@mlflow")["attributes"]["aliases"] == []


def test_an_alias_deletion_updates_the_version_and_its_deployment(tmp_path, mlflow_server, serve):  # noqa: F811
    m = Model(mlflow_server, "hook-unalias")
    served = serve(lineage(tmp_path / "lineage.yml", m))
    install(mlflow_server, served.url, "hook-unalias")
    m.set_alias(m.version(0.5))
    until("the deployment on version 1", lambda: ref(served.entity("ml_deployment", "hook-unalias-batch:prod@cm"),
                                                      "build") == "hook-unalias/1@mlflow")
    m.client.delete_registered_model_alias(m.name, "champion")

    until("no alias on version 1", lambda: (served.entity("ml_model_version", "hook-unalias/1@mlflow")
                                            or {"attributes": {}})["attributes"].get("aliases") == [])
    deployment = until("the deployment unlinked", lambda: (d := served.entity(
        "ml_deployment", "hook-unalias-batch:prod@cm")) and ref(d, "build") is None and d)
    assert deployment["attributes"]["modelRef"] == "models:/hook-unalias@champion"
    with Catalog(served.settings) as catalog:
        finding = next(f for f in catalog.findings() if f.kind == "deployment-model-unresolved")
        assert finding.subject == "hook-unalias-batch:prod@cm"
        assert "models:/hook-unalias@champion matches no model version" in finding.message


def signed(body: dict, *, delivery_id: str | None = None, secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    """Headers and body exactly as MLflow makes them (its own signing function)."""
    from mlflow.webhooks.delivery import _generate_hmac_signature

    text = json.dumps(body)
    delivery_id = delivery_id or str(uuid.uuid4())
    stamp = str(int(time.time()))
    return ({"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": stamp,
             "X-MLflow-Signature": _generate_hmac_signature(secret, delivery_id, stamp, text)}, text.encode())


def event(entity: str, action: str, **data: Any) -> dict:
    return {"entity": entity, "action": action, "timestamp": "2026-12-01T12:00:00+00:00", "data": data}


def test_a_webhook_for_a_version_mlflow_no_longer_has_fails_and_writes_nothing(tmp_path, mlflow_server):  # noqa: F811
    m = Model(mlflow_server, "hook-gone")
    m.version(0.5)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow_server.url,
                        lineage_file=str(tmp_path / "none.yml"), hook_secret=SECRET)
    with Catalog(settings) as catalog:
        catalog.ingest(mlflow_uri=mlflow_server.url)
        before = len(catalog.audit(limit=100_000))
        headers, body = signed(event("model_version", "created", name="hook-gone", version="7", source="x",
                                     run_id=None, tags={}, description=None))
        received = intake.receive(catalog, headers, body)
        assert (received.job_id, received.new) == (1, True)

        worked = intake.work_once(catalog)

        assert [(w.job_id, w.status) for w in worked] == [(1, "failed")]
        assert worked[0].message == (f"model_version.created: model version hook-gone/7 is not in MLflow at "
                                     f"{mlflow_server.url} (deleted, or never registered): nothing ingested")
        assert len(catalog.audit(limit=100_000)) == before
        assert queue.jobs(catalog)[0].status == "failed"
        assert intake.work_once(catalog) == []  # never tried again


def test_a_pass_ingests_first_then_fails_only_the_job_whose_version_is_gone(tmp_path, mlflow_server):  # noqa: F811
    """The pass ingests before it asks MLflow about each job; a failing ingest still fails a gone version for good."""
    m = Model(mlflow_server, "hook-mixed")
    m.version(0.5)
    bad = tmp_path / "lineage.yml"
    bad.write_text("version: 1\nmodels: [not, a, mapping]\n", encoding="utf-8")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow_server.url,
                        lineage_file=str(bad), hook_secret=SECRET)
    with Catalog(settings) as catalog:
        def created(version: str) -> int | None:
            return intake.receive(catalog, *signed(event("model_version", "created", name="hook-mixed",
                                                         version=version, source="x", run_id=None, tags={},
                                                         description=None))).job_id
        live, gone = created("1"), created("9")

        failing = intake.work_once(catalog)  # the lineage.yml cannot be read: the ingest fails

        assert sorted((w.job_id, w.status) for w in failing) == [(live, "queued"), (gone, "failed")]
        assert [w.message for w in failing if w.job_id == gone] == [
            f"model_version.created: model version hook-mixed/9 is not in MLflow at {mlflow_server.url} "
            "(deleted, or never registered): nothing ingested"]
        assert catalog.search("hook-mixed/1@mlflow", type_name="ml_model_version") == []

        bad.unlink()  # no lineage.yml: the retry ingests MLflow alone
        again = intake.work_once(catalog, now=queue.jobs(catalog, status="queued")[0].next_attempt_at)
        assert [(w.job_id, w.status) for w in again] == [(live, "done")]
        assert catalog.resolve("models:/hook-mixed/1").attributes["runId"]
        assert catalog.search("hook-mixed/9@mlflow", type_name="ml_model_version") == []
        assert {j.id: j.status for j in queue.jobs(catalog)} == {live: "done", gone: "failed"}


def test_an_mlflow_that_is_down_keeps_the_work_queued_until_it_answers(tmp_path, mlflow_server):  # noqa: F811
    m = Model(mlflow_server, "hook-down")
    m.version(0.5)
    down = f"http://127.0.0.1:{free_port()}"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=down,
                        lineage_file=str(tmp_path / "none.yml"), hook_secret=SECRET)
    with Catalog(settings) as catalog:
        headers, body = signed(event("model_version", "created", name="hook-down", version="1", source="x",
                                     run_id=None, tags={}, description=None))
        job = intake.receive(catalog, headers, body).job_id
        first = intake.work_once(catalog)
        assert [(w.job_id, w.status) for w in first] == [(job, "queued")]
        assert first[0].message.startswith(f"MLflow at {down} could not be read (model version hook-down/1): ")
        queued = queue.jobs(catalog)[0]
        assert (queued.status, queued.attempts, queued.message) == ("queued", 1, first[0].message)
        assert queued.next_attempt_at >= queued.updated_at + 1000
        assert intake.work_once(catalog) == []  # not due yet
        again = intake.work_once(catalog, now=queued.next_attempt_at)
        assert [(w.status, w.job_id) for w in again] == [("queued", job)]
        assert queue.jobs(catalog)[0].attempts == 2
        assert catalog.search("hook-down/1@mlflow", type_name="ml_model_version") == []

    # MLflow answers again (here: the catalog is pointed at it): the job is done on its next attempt.
    with Catalog(replace(settings, mlflow_uri=mlflow_server.url)) as catalog:
        later = intake.work_once(catalog, now=queue.jobs(catalog)[0].next_attempt_at)
        assert [(w.job_id, w.status) for w in later] == [(job, "done")]
        assert catalog.resolve("models:/hook-down/1").attributes["runId"]


def test_a_repeated_event_is_idempotent(tmp_path, mlflow_server):  # noqa: F811
    m = Model(mlflow_server, "hook-again")
    m.version(0.5)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow_server.url,
                        lineage_file=str(tmp_path / "none.yml"), hook_secret=SECRET)
    body = event("model_version", "created", name="hook-again", version="1", source="x", run_id=None, tags={},
                 description=None)
    with Catalog(settings) as catalog:
        first = intake.receive(catalog, *signed(body))
        second = intake.receive(catalog, *signed(body))  # another delivery of the same change, still queued
        assert (first.job_id, first.new, second.job_id, second.new) == (1, True, 1, False)
        assert [w.status for w in intake.work_once(catalog)] == ["done"]
        audit = len(catalog.audit(limit=100_000))

        third = intake.receive(catalog, *signed(body))
        assert (third.job_id, third.new) == (2, True)
        worked = intake.work_once(catalog)
        assert [w.status for w in worked] == ["done"]
        assert worked[0].message.endswith("0 created, 0 updated, 0 unchanged, 0 classifications propagated, "
                                          "0 findings")
        assert len(catalog.audit(limit=100_000)) == audit  # nothing written twice


def test_hook_test_sends_mlflows_test_event_through_the_catalog(tmp_path, mlflow_server, serve):  # noqa: F811
    m = Model(mlflow_server, "hook-test")
    served = serve(lineage(tmp_path / "lineage.yml", m))
    install(mlflow_server, served.url, "hook-test")
    result = CliRunner().invoke(cli, ["hook", "test", "--mlflow", mlflow_server.url, "--name", "hook-test",
                                      "--event", "model_version.created"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("webhook 'hook-test' (")
    assert ": delivered, HTTP 202: " in result.output and '"status":"queued"' in result.output
    with Catalog(served.settings) as catalog:
        job = until("the test event worked off", lambda: [j for j in queue.jobs(catalog) if j.status == "failed"])[0]
        assert (job.event.event, job.event.model, job.event.version) == ("model_version.created", "example_model", "1")
        assert job.message.startswith("model_version.created: model version example_model/1 is not in MLflow at ")


def test_hook_test_fails_with_the_catalogs_reason_when_the_secrets_differ(tmp_path, mlflow_server, serve):  # noqa: F811
    m = Model(mlflow_server, "hook-wrong")
    served = serve(lineage(tmp_path / "lineage.yml", m), hook_window_seconds=60)
    result = CliRunner().invoke(cli, ["hook", "install", "--mlflow", mlflow_server.url, "--url",
                                      f"{served.url}/hooks/mlflow", "--name", "hook-wrong", "--secret-env", "OTHER"],
                                env={"OTHER": "another-secret-of-some-length"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tested = CliRunner().invoke(cli, ["hook", "test", "--mlflow", mlflow_server.url, "--name", "hook-wrong"],
                                catch_exceptions=False)
    assert tested.exit_code == 1
    assert "delivery failed: HTTP 401: " in tested.output
    assert "bad X-MLflow-Signature: it is not the HMAC-SHA256 of this delivery" in tested.output
    with Catalog(served.settings) as catalog:
        assert queue.jobs(catalog) == []


def test_hook_install_needs_a_secret(mlflow_server):  # noqa: F811
    result = CliRunner().invoke(cli, ["hook", "install", "--mlflow", mlflow_server.url, "--url",
                                      "http://127.0.0.1:9/hooks/mlflow"], env={"CATALOG_HOOK_SECRET": ""})
    assert result.exit_code == 2
    assert ("Error: no secret: set CATALOG_HOOK_SECRET to the webhook's shared secret (see docs/hook.md)"
            in result.output)
    short = CliRunner().invoke(cli, ["hook", "install", "--mlflow", mlflow_server.url, "--url",
                                     "http://127.0.0.1:9/hooks/mlflow"], env={"CATALOG_HOOK_SECRET": "short"})
    assert short.exit_code == 2
    assert "error: the hook secret has 5 characters: expected at least 16" in short.output


def test_hook_reconcile_command_ingests_what_was_missed(tmp_path, mlflow_server):  # noqa: F811
    m = Model(mlflow_server, "hook-cli")
    path = lineage(tmp_path / "lineage.yml", m)
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}", "CATALOG_MLFLOW_URI": mlflow_server.url,
           "CATALOG_LINEAGE_FILE": str(path)}
    assert CliRunner().invoke(cli, ["ingest"], env=env).exit_code in (0, 1)
    m.set_alias(m.version(0.5))

    result = CliRunner().invoke(cli, ["hook", "reconcile"], env=env, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"reconciled MLflow at {mlflow_server.url}: 2 missed, 2 queued"
    assert lines[1] == "missed: model version hook-cli/1 is not in the catalog"
    assert lines[2] == ("missed: alias hook-cli@champion is on version 1 in MLflow, a version the catalog does not "
                        "have yet")
    # the gate first: it must see the catalog before the move; its ingest brings the version in
    assert lines[3] == "job 2 done: models:/hook-cli@champion -> version 1: hook-cli-batch pass"
    assert lines[4] == "job 1 done: ingested by the alias gate's ingest of this pass"
    again = CliRunner().invoke(cli, ["hook", "reconcile", "--json"], env=env, catch_exceptions=False)
    assert again.exit_code == 0
    assert json.loads(again.output) == {"missed": [], "jobs": []}


def test_the_gate_knows_the_previous_version_when_the_new_one_was_ingested_carrying_the_alias(
        tmp_path, mlflow_server):  # noqa: F811
    """The race the hook makes: version 2's own job ingests it after the alias already moved onto it."""
    m = Model(mlflow_server, "hook-race")
    path = lineage(tmp_path / "lineage.yml", m, on_fail="revert")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow_server.url,
                        lineage_file=str(path), hook_secret=SECRET)
    with Catalog(settings) as catalog:
        m.set_alias(m.version(0.5))
        catalog.ingest(mlflow_uri=mlflow_server.url, lineage_path=path)
        bad = m.version(0.95)
        m.set_alias(bad)
        created = event("model_version", "created", name=m.name, version=bad, source="x", run_id=None, tags={},
                        description=None)
        intake.receive(catalog, *signed(created))
        assert [w.status for w in intake.work_once(catalog)] == ["done"]  # version 2 arrives carrying champion
        assert catalog.resolve(f"models:/{m.name}/{bad}").attributes["aliases"] == ["champion"]

        intake.receive(catalog, *signed(event("model_version_alias", "created", name=m.name, alias="champion",
                                              version=bad)))
        [worked] = intake.work_once(catalog)

        assert worked.message == (
            "models:/hook-race@champion -> version 2: hook-race-batch fail (metrics-threshold: rmse = 0.95, "
            "needs <= 0.8); 'champion' moved back to version 1 (on_fail: revert for target prod)")
        assert m.alias() == "1"
        assert queue.jobs(catalog)[0].result["previous"] == "1"


def test_the_targeted_read_writes_what_a_full_ingest_would_for_the_models_it_reads(tmp_path, mlflow_server):  # noqa: F811
    """The hook's ingest reads only the named models; a full ingest after it must find nothing to change."""
    from catalog import store

    m = Model(mlflow_server, "hook-targeted")
    path = lineage(tmp_path / "lineage.yml", m)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", mlflow_uri=mlflow_server.url,
                        lineage_file=str(path), hook_secret=SECRET)
    source = "mlflow:mlflow"
    with Catalog(settings) as catalog:
        v1 = m.version(0.5)
        m.set_alias(v1)
        catalog.ingest(mlflow_uri=mlflow_server.url, lineage_path=path)  # the cursor the targeted read starts from
        with catalog.session() as session:
            before = store.get_cursor(session, source)

        def targeted_then_full() -> tuple[Any, Any]:
            targeted = catalog.ingest(mlflow_uri=mlflow_server.url, lineage_path=path, mlflow_models=[m.name])
            with catalog.session() as session:
                cursor = store.get_cursor(session, source)
            assert cursor["runs"] == before["runs"] and cursor["logged_models"] == before["logged_models"]
            with catalog.write_session() as session, session.begin():
                store.set_cursor(session, source, {})  # no usable cursor: the next ingest reads everything
            full = catalog.ingest(mlflow_uri=mlflow_server.url, lineage_path=path)
            return targeted, full

        # A new version from a new run, the alias moved onto it, a tag on the old one.
        v2 = m.version(0.6)
        m.set_alias(v2)
        m.client.set_model_version_tag(m.name, v1, "validated", "yes")
        targeted, full = targeted_then_full()

        created = sorted(catalog.resolve(g).type_name for r in targeted.results for g in r.created)
        assert created == ["ml_logged_model", "ml_model_version", "ml_training_run"]  # version 2, its model, its run
        assert (full.created, full.updated) == (0, 0), full.summary()
        new = catalog.resolve(f"models:/{m.name}/{v2}")
        assert new.attributes["aliases"] == ["champion"] and new.attributes.get("signature")
        assert catalog.resolve(f"models:/{m.name}/{v1}").attributes["aliases"] == []
        assert catalog.resolve(f"models:/{m.name}/{v1}").attributes["tags"] == {"validated": "yes"}
        run = catalog.resolve(f"runs:/{new.attributes['runId']}")
        assert f"{m.table}@cm" in {r["uniqueAttributes"]["qualifiedName"] for r in run.attributes["inputs"]}
        assert f"{m.name}/{v2}@mlflow" in {r["uniqueAttributes"]["qualifiedName"] for r in run.attributes["outputs"]}
        assert catalog.resolve(f"models:/{m.name}@champion").guid == new.guid
        lineage_of = catalog.lineage("hook-targeted-batch:prod@cm", direction="INPUT", depth=3)
        assert new.guid in lineage_of.entities

        # The alias deleted: the version loses it, the deployment that resolved through it is unlinked.
        with catalog.session() as session:
            before = store.get_cursor(session, source)
        m.client.delete_registered_model_alias(m.name, "champion")
        targeted, full = targeted_then_full()

        assert targeted.updated >= 2  # version 2 and the deployment
        assert (full.created, full.updated) == (0, 0), full.summary()
        assert catalog.resolve(f"models:/{m.name}/{v2}").attributes["aliases"] == []
        assert any(f.kind == "deployment-model-unresolved" and f.subject == "hook-targeted-batch:prod@cm"
                   for f in catalog.findings())
