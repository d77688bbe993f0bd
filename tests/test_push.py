"""The push to a real Atlas: typedef bootstrap, the transactional outbox, faults, kill -9, hook messages out.

No Apache Atlas cluster can run here (HBase, Solr, Kafka), so the Atlas pushed to is a
second instance of the catalog, served over real HTTP on loopback: it speaks the same v2
API (the embedded-Atlas tests hold it to Atlas's semantics). Faults come from a real TCP
proxy between the two (``tests/fault_proxy.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select

from catalog import store, users
from catalog.atlas.client import AtlasClient, AtlasError, AtlasRejected, AtlasUnavailable, Retry, api_root, make_auth
from catalog.cli import cli
from catalog.config import Settings
from catalog.errors import EntityValidationError
from catalog.model import Classification, Entity, EntityRef, SourceBatch
from catalog.push import PushLoop, TypedefConflict, client_for, status, sync
from catalog.push.bodies import outgoing, send_order
from catalog.push.typedefs import plan_bootstrap
from catalog.service import Catalog
from catalog.store import outbox
from catalog.store.schema import AuditRow, EntityRow, OutboxRow
from tests.fault_proxy import FaultProxy, wait_for
from tests.web_fixtures import basic_auth, catalog_app, served

PUSHER = ("pusher", "pusher-password")
REPO = Path(__file__).resolve().parents[1]
FAST = Retry(attempts=8, base=0.05, cap=0.5)


@dataclass
class Target:
    """The Atlas pushed to: a catalog served on loopback, with an admin the pusher logs in as."""

    url: str
    catalog: Catalog

    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(f"{self.url}/api/atlas/v2/{path}", json=body, headers=basic_auth(PUSHER), timeout=30)

    def snapshot(self) -> dict[str, Any]:
        return snapshot(self.catalog)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    with catalog_app(Settings(database_url=f"sqlite:///{tmp_path / 'atlas.db'}", user="atlas")) as app:
        catalog = app.extensions["catalog"]
        with catalog.write_session() as session, session.begin():
            users.add_user(session, *PUSHER, "admin")
        with served(app, "push-target") as url:
            yield Target(url, catalog)


def source(tmp_path: Path, url: str, **overrides: Any) -> Catalog:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'source.db'}", atlas_url=url, atlas_user=PUSHER[0],
                        atlas_password=PUSHER[1], atlas_connect_timeout_seconds=2, atlas_read_timeout_seconds=2,
                        user="tester", **overrides)
    return Catalog(settings)


def ingest(catalog: Catalog, entities: list[Entity], source_name: str = "test") -> store.IngestResult:
    with catalog.write_session() as session, session.begin():
        registry = catalog.typedefs.current(session)
        return store.upsert_batch(session, SourceBatch(source_name, entities), registry, user="tester")


def pipeline(runs: int, *, prefix: str = "p", hive: bool = False) -> list[Entity]:
    """Data sets and the runs between them (run i reads d_i and d_i+1, writes d_i+2); PII on d_0 propagates."""
    datasets = [Entity("ml_dataset", f"{prefix}-d{i}@cm", {"name": f"{prefix}-d{i}", "owner": "data-team"})
                for i in range(runs + 2)]
    datasets[0].classifications.append(Classification("PII", {}, True))
    out: list[Entity] = list(datasets)
    for i in range(runs):
        inputs = [datasets[i].ref, datasets[i + 1].ref]
        if hive and i == 0:
            inputs.append(EntityRef("hive_table", "default.raw@cm"))
        out.append(Entity("ml_training_run", f"{prefix}-run{i}@mlflow", {
            "name": f"{prefix}-run{i}", "runId": f"{prefix}{i:030d}", "status": "FINISHED", "userName": "ann",
            "params": {"alpha": str(i)}, "metrics": {"rmse": 0.5 + i / 100},
            "inputs": inputs, "outputs": [datasets[i + 2].ref]}))
    if hive:
        out.insert(0, Entity("hive_table", "default.raw@cm", {"name": "raw", "owner": "etl"}))
    return out


def snapshot(catalog: Catalog, *, skip_types: tuple[str, ...] = ()) -> dict[str, Any]:
    """Active entities by (type, qualifiedName): attributes, direct tags, every tag (propagated too), lineage."""
    with catalog.session() as session:
        guids = list(session.scalars(select(EntityRow.guid).where(EntityRow.status == "ACTIVE")))
        found = store.get_entities(session, guids)
    shot = {}
    for e in found.values():
        if e.type_name in skip_types:
            continue
        shot[(e.type_name, e.qualified_name)] = {
            "attributes": json.loads(json.dumps(e.attributes, sort_keys=True)),
            "direct": sorted((c.type_name, c.propagate) for c in e.classifications if c.source_guid == e.guid),
            "tags": sorted({c.type_name for c in e.classifications}),
        }
    return shot


def creates_per_entity(catalog: Catalog) -> dict[str, int]:
    with catalog.session() as session:
        rows = session.execute(select(AuditRow.qualified_name, func.count()).where(AuditRow.action == "ENTITY_CREATE")
                               .group_by(AuditRow.entity_guid, AuditRow.qualified_name)).all()
    return {qn: n for qn, n in rows}


def pending(catalog: Catalog, sink: str = "atlas") -> int:
    with catalog.session() as session:
        state = outbox.sink_state(session, sink)
    return 0 if state is None else state.pending


# -- the push ----------------------------------------------------------------------------------


def test_a_first_sync_pushes_everything_and_a_resync_sends_nothing(tmp_path: Path, target: Target) -> None:
    proxy = FaultProxy(int(target.url.rsplit(":", 1)[1]))
    try:
        catalog = source(tmp_path, proxy.url, atlas_batch_size=10)
        ingest(catalog, pipeline(20))
        report = sync(catalog, client_for(catalog.settings))
        (summary,) = report.summaries
        assert (summary.sent, summary.parked, summary.error, summary.waiting) == (42, [], "", 0)
        posts = [r for r in proxy.writes() if r[2].endswith("/entity/bulk")]
        assert len(posts) == 5  # 42 entities, 10 per request: dependencies first, so no request waits for another
        assert target.snapshot() == snapshot(catalog)
        assert target.snapshot()[("ml_dataset", "p-d21@cm")]["tags"] == ["PII"]  # propagated by the target itself
        assert set(creates_per_entity(target.catalog).values()) == {1}
        assert pending(catalog) == 0

        seen = len(proxy.requests)
        again = sync(catalog, client_for(catalog.settings))
        assert again.summaries[0].requests == 0 and again.summaries[0].sent == 0
        assert [r[1] for r in proxy.requests[seen:]] == ["GET"]  # the typedefs compared, nothing written
        ingest(catalog, pipeline(20))  # the same content again: nothing new to push either
        assert pending(catalog) == 0
    finally:
        proxy.close()


def test_changes_and_deletes_are_pushed_incrementally(tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url)
    entities = pipeline(3)
    ingest(catalog, entities)
    sync(catalog, client_for(catalog.settings))
    changed = pipeline(3)
    changed[0].classifications.clear()  # PII removed at the source: gone from d0 and from everything downstream
    changed[1].attributes["owner"] = "new-owner"
    ingest(catalog, changed)
    assert pending(catalog) == 2
    with catalog.write_session() as session, session.begin():
        assert store.delete_entity(session, EntityRef("ml_training_run", "p-run2@mlflow").guid, user="tester",
                                   source="test")
    client = client_for(catalog.settings)
    report = sync(catalog, client)
    (summary,) = report.summaries
    assert (summary.sent, summary.deleted) == (2, 1)
    assert summary.requests == 2  # one entity/bulk POST, one DELETE (the typedefs' GET is the bootstrap's)
    shot = target.snapshot()
    assert shot == snapshot(catalog)
    assert ("ml_training_run", "p-run2@mlflow") not in shot
    assert shot[("ml_dataset", "p-d1@cm")]["attributes"]["owner"] == "new-owner"
    assert all(v["tags"] == [] for v in shot.values())
    assert sync(catalog, client).summaries[0].requests == 0


def test_tables_of_the_hive_hook_are_linked_never_overwritten_and_missing_ones_reported(
        tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url)
    ingest(catalog, pipeline(2, hive=True))
    report = sync(catalog, client_for(catalog.settings))
    (summary,) = report.summaries
    assert summary.missing == ["hive_table:default.raw@cm"]
    assert summary.waiting == 1  # run 0 reads the table: it waits; everything else went
    assert ("ml_training_run", "p-run0@mlflow") not in target.snapshot()
    assert not report.complete
    with catalog.session() as session:
        messages = set(session.scalars(select(OutboxRow.message).where(OutboxRow.status == "pending")))
    assert messages == {"not in Atlas: its Hive hook has not created it (CATALOG_ATLAS_CREATE_TABLES=true creates it)",
                        "waits for hive_table:default.raw@cm, which is not in Atlas yet"}

    # Atlas's Hive hook creates the table, with what it knows: the catalog links it and never overwrites it
    answer = target.post("entity", {"entity": {"typeName": "hive_table", "attributes": {
        "qualifiedName": "default.raw@cm", "name": "raw", "owner": "hive"}}})
    assert answer.status_code == 200, answer.text
    report = sync(catalog, client_for(catalog.settings))
    (summary,) = report.summaries
    assert (summary.linked, summary.sent, summary.missing, summary.waiting) == (1, 1, [], 0)
    shot = target.snapshot()
    assert shot[("hive_table", "default.raw@cm")]["attributes"]["owner"] == "hive"
    run = shot[("ml_training_run", "p-run0@mlflow")]["attributes"]
    assert {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": "default.raw@cm"}} in run["inputs"]
    assert report.complete


def test_create_tables_pushes_the_tables_atlas_lacks(tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url, atlas_create_tables="true")
    ingest(catalog, pipeline(2, hive=True))
    report = sync(catalog, client_for(catalog.settings))
    assert report.complete and report.summaries[0].sent == 7
    assert target.snapshot() == snapshot(catalog)


def test_an_entity_atlas_rejects_is_parked_with_its_answer_and_the_others_go_on(tmp_path: Path, target: Target) -> None:
    # Atlas's copy of a shared type has an attribute it insists on; the catalog's copy does not
    shared = {"name": "team_asset", "serviceType": "team", "superTypes": ["DataSet"], "typeVersion": "1.0",
              "attributeDefs": [{"name": "steward", "typeName": "string", "isOptional": True,
                                 "cardinality": "SINGLE"}]}
    strict = json.loads(json.dumps(shared))
    strict["attributeDefs"].append({"name": "costCentre", "typeName": "string", "isOptional": False,
                                    "cardinality": "SINGLE"})
    assert target.post("types/typedefs", {"entityDefs": [strict]}).status_code == 200
    catalog = source(tmp_path, target.url, atlas_batch_size=100)
    catalog.typedefs.create({"entityDefs": [shared]}, user="tester")
    entities = pipeline(4)
    entities.insert(0, Entity("team_asset", "asset-1@cm", {"name": "asset-1", "steward": "ann"}))
    ingest(catalog, entities)
    report = sync(catalog, client_for(catalog.settings))
    (summary,) = report.summaries
    assert summary.sent == 10 and len(summary.parked) == 1
    assert summary.parked[0].startswith("team_asset:asset-1@cm: HTTP 404 ATLAS-404-00-007: Invalid instance ")
    assert "costCentre" in summary.parked[0]
    assert ("ml_training_run", "p-run3@mlflow") in target.snapshot()
    answer = status(catalog, client_for(catalog.settings))
    (sink,) = answer["sinks"]
    assert (sink["pending"], sink["parked"]) == (0, 1)
    assert sink["parked_examples"][0]["entity"] == "team_asset:asset-1@cm"
    assert "costCentre" in sink["parked_examples"][0]["error"]
    # a later change of the entity tries it again (and a fixed one goes through)
    ingest(catalog, [Entity("team_asset", "asset-1@cm", {"name": "asset-1", "steward": "bob"})])
    assert pending(catalog) == 1


def test_the_push_survives_dropped_connections_503s_and_stalls(tmp_path: Path, target: Target) -> None:
    proxy = FaultProxy(int(target.url.rsplit(":", 1)[1]), stall_seconds=10)
    try:
        catalog = source(tmp_path, proxy.url, atlas_batch_size=15)
        ingest(catalog, pipeline(60))
        client = client_for(catalog.settings, retry=FAST)
        proxy.script(["pass", "drop", "503", "pass", "stall", "drop", "503", "503", "pass", "stall", "pass", "drop"])
        first = sync(catalog, client)
        faults = [r[0] for r in proxy.requests]
        assert faults.count("stall") == 2 and faults.count("drop") == 3 and faults.count("503") == 3
        assert first.summaries[0].error == ""  # every fault was ridden out by the retries
        # Atlas away for longer than the retries last: the drain stops, the rest stays queued
        proxy.script(["pass"] + ["503"] * 40)  # the typedefs compared, then every request refused
        ingest(catalog, pipeline(5, prefix="q"))
        stopped = sync(catalog, client)
        assert "unavailable" in stopped.summaries[0].error and "HTTP 503" in stopped.summaries[0].error
        assert pending(catalog) == 12
        answer = status(catalog, client_for(catalog.settings, retry=Retry(attempts=1)))
        assert "HTTP 503" in answer["sinks"][0]["last_error"]
        proxy.clear()
        last = sync(catalog, client)
        assert last.complete
        assert status(catalog, client)["sinks"][0]["last_error"] is None  # the error is over once a push got through
        assert target.snapshot() == snapshot(catalog)
        assert set(creates_per_entity(target.catalog).values()) == {1}
    finally:
        proxy.close()


def test_a_pusher_killed_mid_request_loses_and_duplicates_nothing(tmp_path: Path, target: Target) -> None:
    proxy = FaultProxy(int(target.url.rsplit(":", 1)[1]), stall_seconds=60)
    try:
        catalog = source(tmp_path, proxy.url, atlas_batch_size=20)
        ingest(catalog, pipeline(60))
        catalog.close()
        # typedefs (GET), two requests through, then one the target takes but whose answer never comes back
        proxy.script(["pass", "pass", "pass", "hold"])
        env = {**os.environ, "CATALOG_DATABASE_URL": catalog.settings.database_url, "CATALOG_ATLAS_URL": proxy.url,
               "CATALOG_ATLAS_USER": PUSHER[0], "CATALOG_ATLAS_PASSWORD": PUSHER[1],
               "CATALOG_ATLAS_BATCH_SIZE": "20", "CATALOG_ATLAS_READ_TIMEOUT_SECONDS": "60"}
        child = subprocess.Popen([sys.executable, "-m", "catalog.cli", "sync"], env=env, cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert proxy.held.wait(60), "the pusher never reached its third request"
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(30) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
            child.communicate()
        in_target = len(target.snapshot())
        assert in_target == 60, "the held request was applied by the target: 3 requests of 20"
        again = Catalog(catalog.settings)
        assert pending(again) == 122 - 40  # the two acknowledged requests are off the outbox, the held one is not
        proxy.clear()
        report = sync(again, client_for(again.settings))
        assert report.complete
        assert report.summaries[0].sent == 82
        assert target.snapshot() == snapshot(again)
        assert len(target.snapshot()) == 122
        assert set(creates_per_entity(target.catalog).values()) == {1}  # the re-sent request updated, not duplicated
    finally:
        proxy.close()


def test_typedef_bootstrap_creates_updates_and_refuses_conflicts(tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url)
    mine = {"name": "feature_view", "superTypes": ["DataSet"], "serviceType": "ml_catalog", "typeVersion": "1.0",
            "attributeDefs": [{"name": "entities", "typeName": "string", "isOptional": True, "cardinality": "SINGLE"}]}
    catalog.typedefs.create({"entityDefs": [mine]}, user="tester")
    ingest(catalog, [Entity("feature_view", "fv-1@cm", {"name": "fv-1", "entities": "customer"})])
    report = sync(catalog, client_for(catalog.settings))
    assert report.typedefs.created == ["feature_view"] and report.typedefs.updated == []
    assert target.catalog.typedefs.get(name="feature_view")["serviceType"] == "ml_catalog"
    assert ("feature_view", "fv-1@cm") in target.snapshot()

    changed = {**mine, "typeVersion": "1.1", "attributeDefs": [*mine["attributeDefs"], {
        "name": "ttlDays", "typeName": "int", "isOptional": True, "cardinality": "SINGLE"}]}
    catalog.typedefs.update({"entityDefs": [changed]}, user="tester")
    report = sync(catalog, client_for(catalog.settings))
    assert report.typedefs.updated == ["feature_view"] and report.typedefs.created == []
    remote = target.catalog.typedefs.get(name="feature_view")
    assert [a["name"] for a in remote["attributeDefs"]] == ["entities", "ttlDays"]
    assert sync(catalog, client_for(catalog.settings)).typedefs.in_sync

    # a type of ours that Atlas has under another owner: refused, nothing written anywhere
    other = {"name": "scorecard", "superTypes": ["DataSet"], "serviceType": "finance", "typeVersion": "1.0",
             "attributeDefs": []}
    assert target.post("types/typedefs", {"entityDefs": [other]}).status_code == 200
    catalog.typedefs.create({"entityDefs": [{**other, "serviceType": "ml_catalog",
                                             "attributeDefs": [{"name": "grade", "typeName": "string",
                                                                "isOptional": True, "cardinality": "SINGLE"}]}]},
                            user="tester")
    ingest(catalog, [Entity("ml_dataset", "after-conflict@cm", {"name": "after-conflict"})])
    before = target.snapshot()
    with pytest.raises(TypedefConflict) as caught:
        sync(catalog, client_for(catalog.settings))
    assert "scorecard: Atlas has a type of this name owned by service type 'finance'; the catalog's is 'ml_catalog'" \
        in str(caught.value)
    assert target.snapshot() == before and pending(catalog) == 1


def test_atlas_own_types_are_never_modified_and_incompatible_ones_refused() -> None:
    ours = {"entityDefs": [{"name": "hive_table", "serviceType": "hive", "superTypes": ["DataSet"],
                            "attributeDefs": [{"name": "owner", "typeName": "string"},
                                              {"name": "retention", "typeName": "int"}]}]}
    richer = {"entityDefs": [{"name": "hive_table", "serviceType": "hive", "superTypes": ["DataSet"],
                              "attributeDefs": [{"name": "owner", "typeName": "string"},
                                                {"name": "retention", "typeName": "int"},
                                                {"name": "aliases", "typeName": "array<string>"}]}]}
    plan = plan_bootstrap(ours, richer)
    assert (plan.created, plan.updated, plan.conflicts, plan.unchanged) == ([], [], [], 1)
    poorer = {"entityDefs": [{"name": "hive_table", "serviceType": "hive", "superTypes": ["Asset"],
                              "attributeDefs": [{"name": "owner", "typeName": "int"}]}]}
    assert plan_bootstrap(ours, poorer).conflicts == [
        "hive_table: Atlas's type lacks super type(s) DataSet",
        "hive_table.owner: Atlas types it int, the catalog writes string",
        "hive_table.retention: Atlas's type has no such attribute (the catalog writes it)",
    ]


def test_hook_messages_out_reach_the_notification_endpoint(tmp_path: Path, target: Target) -> None:
    proxy = FaultProxy(int(target.url.rsplit(":", 1)[1]))
    try:
        catalog = source(tmp_path, proxy.url, atlas_push="messages", atlas_batch_size=10)
        ingest(catalog, pipeline(8))
        report = sync(catalog, client_for(catalog.settings))
        (summary,) = report.summaries
        assert summary.sink == "atlas-messages" and summary.sent == 18 and report.complete
        posts = [r[2] for r in proxy.writes()]
        assert posts == ["/api/atlas/v2/notification/topic/ATLAS_HOOK"] * 2
        assert target.snapshot() == snapshot(catalog)
        with target.catalog.session() as session:
            sources = set(session.scalars(select(EntityRow.source)))
        assert sources == {"atlas-hook"}

        changed = pipeline(8)
        changed[2].attributes["owner"] = "someone-else"
        ingest(catalog, changed)
        with catalog.write_session() as session, session.begin():
            store.delete_entity(session, EntityRef("ml_training_run", "p-run7@mlflow").guid, user="tester", source="t")
        report = sync(catalog, client_for(catalog.settings))
        assert (report.summaries[0].sent, report.summaries[0].deleted) == (1, 1)
        assert target.snapshot() == snapshot(catalog)
    finally:
        proxy.close()


def test_both_sinks_take_every_change(tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url, atlas_push="both")
    ingest(catalog, pipeline(2))
    report = sync(catalog, client_for(catalog.settings))
    assert [(s.sink, s.sent) for s in report.summaries] == [("atlas", 6), ("atlas-messages", 6)]
    assert pending(catalog, "atlas") == pending(catalog, "atlas-messages") == 0


# -- the outbox --------------------------------------------------------------------------------


def test_outbox_rows_are_written_with_the_change_and_only_while_a_sink_exists(tmp_path: Path) -> None:
    catalog = source(tmp_path, "http://127.0.0.1:9")
    ingest(catalog, pipeline(2))
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(OutboxRow)) == 0
    with catalog.write_session() as session, session.begin():
        assert outbox.register_sink(session, "atlas", "entities", "x") is True
        assert outbox.register_sink(session, "atlas", "entities", "x") is False
    assert pending(catalog) == 6  # a new sink: every entity is queued
    bad = [Entity("ml_dataset", "new@cm", {"name": "new"}), Entity("ml_dataset", "", {"name": "no name"})]
    with pytest.raises(EntityValidationError):
        ingest(catalog, bad)
    assert pending(catalog) == 6  # the failed write wrote no outbox row either
    ingest(catalog, pipeline(2))
    assert pending(catalog) == 6  # unchanged: no new row
    ingest(catalog, [Entity("ml_dataset", "new@cm", {"name": "new"})])
    assert pending(catalog) == 7


def test_send_order_puts_every_entity_after_what_it_refers_to() -> None:
    from catalog.model import StoredEntity

    def stored(type_name: str, qn: str, **attributes: Any) -> StoredEntity:
        return StoredEntity(EntityRef(type_name, qn).guid, type_name, qn, "ACTIVE", attributes, {}, (), 1, 0, 0,
                            "t", "t", "t")

    def ref(type_name: str, qn: str) -> dict[str, Any]:
        return {"typeName": type_name, "uniqueAttributes": {"qualifiedName": qn}}

    items = [outgoing(e) for e in (
        stored("ml_training_run", "r", inputs=[ref("ml_dataset", "a")], outputs=[ref("ml_dataset", "b")]),
        stored("ml_dataset", "b"),
        stored("ml_model_version", "v", a=ref("ml_registered_model", "m")),
        stored("ml_registered_model", "m", b=ref("ml_model_version", "v")),
        stored("ml_dataset", "a"),
    )]
    groups = [[o.key.qualified_name for o in g] for g in send_order(items)]
    position = {qn: i for i, g in enumerate(groups) for qn in g}
    assert position["a"] < position["r"] and position["b"] < position["r"]
    assert sorted(next(g for g in groups if "v" in g)) == ["m", "v"]  # a cycle stays in one request


# -- the client --------------------------------------------------------------------------------


def test_the_client_names_what_atlas_refused_and_gives_up_on_what_stays_away(target: Target) -> None:
    client = AtlasClient(api_root(target.url), auth=make_auth("basic", *PUSHER), retry=FAST)
    with pytest.raises(AtlasRejected) as caught:
        client.upsert_entities({"entities": [{"typeName": "no_such_type", "attributes": {"qualifiedName": "x"}}]})
    assert caught.value.status == 400 and caught.value.code == "ATLAS-400-00-014"
    assert "POST v2/entity/bulk: HTTP 400 ATLAS-400-00-014: Type ENTITY with name no_such_type does not exist" \
        in str(caught.value)
    away = AtlasClient("http://127.0.0.1:9/api/atlas", retry=Retry(attempts=3, base=0.01), connect_timeout=1)
    with pytest.raises(AtlasUnavailable, match=r"connection failed \(connection refused\) \(after 3 attempts\)"):
        away.version()
    assert away.requests_sent == 3
    anonymous = AtlasClient(api_root(target.url), retry=FAST)
    with pytest.raises(AtlasRejected, match="HTTP 401"):
        anonymous.upsert_entities({"entities": []})


def test_client_settings_are_checked() -> None:
    assert api_root("http://u:p@atlas:21000/") == "http://atlas:21000/api/atlas"
    assert api_root("https://atlas.example/api/atlas/v2") == "https://atlas.example/api/atlas"
    with pytest.raises(AtlasError, match=r"CATALOG_ATLAS_URL='atlas:21000': expected http\(s\)://host\[:port\]"):
        api_root("atlas:21000")
    delays = [Retry(base=0.5, cap=4).delay(n, rand=lambda: 1.0) for n in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert Retry(base=0.5).delay(2, rand=lambda: 0.0) == 1.0  # jitter keeps at least half the delay
    assert make_auth("basic", "", "") is None and make_auth("none", "u", "p") is None
    try:
        import requests_kerberos  # noqa: F401
    except ImportError:
        with pytest.raises(AtlasError, match=r"pip install 'ml-lineage-catalog\[kerberos\]'"):
            make_auth("kerberos", "", "")
    with pytest.raises(Exception, match="CATALOG_ATLAS_URL"):
        client_for(Settings())


# -- the commands and catalog serve -------------------------------------------------------------


def _env(catalog: Catalog, url: str, **extra: str) -> dict[str, str]:
    return {"CATALOG_DATABASE_URL": catalog.settings.database_url, "CATALOG_ATLAS_URL": url,
            "CATALOG_ATLAS_USER": PUSHER[0], "CATALOG_ATLAS_PASSWORD": PUSHER[1], **extra}


def test_catalog_sync_and_atlas_status(tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url)
    ingest(catalog, pipeline(3, hive=True))
    runner = CliRunner()
    dry = runner.invoke(cli, ["sync", "--dry-run"], env=_env(catalog, target.url))
    assert dry.exit_code == 0, dry.output
    assert "atlas: would send 8, deleted 0, unchanged 0, linked 1 tables" in dry.output  # 8 entities, the table linked
    assert target.snapshot() == {}
    done = runner.invoke(cli, ["sync"], env=_env(catalog, target.url))
    assert done.exit_code == 1, done.output  # a table Atlas lacks: reported, its reader waits
    assert "atlas: sent 7, deleted 0, unchanged 0, linked 0 tables, 1 tables not in Atlas, 1 waiting, 0 parked" \
        in done.output
    assert "  not in Atlas: hive_table:default.raw@cm" in done.output
    shown = runner.invoke(cli, ["atlas", "status"], env=_env(catalog, target.url))
    assert shown.exit_code == 0, shown.output
    assert f"Atlas {target.url}: reachable, version 2.3.0" in shown.output
    assert "typedefs: in sync" in shown.output and "outbox atlas (entities): 2 pending, oldest " in shown.output
    as_json = json.loads(runner.invoke(cli, ["atlas", "status", "--json"], env=_env(catalog, target.url)).output)
    assert as_json["sinks"][0]["pending"] == 2 and "pusher-password" not in json.dumps(as_json)
    away = runner.invoke(cli, ["atlas", "status"], env=_env(catalog, "http://127.0.0.1:9"))
    assert away.exit_code == 1 and "Atlas http://127.0.0.1:9: unreachable: Atlas at" in away.output
    missing = runner.invoke(cli, ["sync"], env={"CATALOG_DATABASE_URL": catalog.settings.database_url})
    assert missing.exit_code == 2 and "no Atlas to push to: set CATALOG_ATLAS_URL" in missing.output


def test_catalog_serve_pushes_what_is_committed(tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url, atlas_push_interval_seconds=1)
    loop = PushLoop(catalog).start()
    try:
        ingest(catalog, pipeline(2))
        assert wait_for(lambda: ("ml_training_run", "p-run1@mlflow") in target.snapshot(), timeout=30)
        ingest(catalog, [Entity("ml_dataset", "late@cm", {"name": "late"})])
        assert wait_for(lambda: ("ml_dataset", "late@cm") in target.snapshot(), timeout=30)
    finally:
        loop.stop()
    assert loop.last_error == "" and pending(catalog) == 0
    assert target.snapshot() == snapshot(catalog)


def test_a_secret_never_reaches_the_settings_repr() -> None:
    settings = Settings(atlas_url="http://a:1", atlas_user="u", atlas_password="s3cret-value")
    assert "s3cret-value" not in repr(settings) and "s3cret-value" not in repr(replace(settings))


# -- what a review of the push found (each failed before its fix) ------------------------------------


def test_a_deleted_table_of_the_hive_hook_is_never_deleted_in_atlas(tmp_path: Path, target: Target) -> None:
    assert target.post("entity", {"entity": {"typeName": "hive_table", "attributes": {
        "qualifiedName": "default.raw@cm", "name": "raw", "owner": "hive"}}}).status_code == 200
    for push in ("entities", "messages"):
        (tmp_path / push).mkdir()
        catalog = source(tmp_path / push, target.url, atlas_push=push)
        ingest(catalog, pipeline(1, hive=True))
        assert sync(catalog, client_for(catalog.settings)).complete
        with catalog.write_session() as session, session.begin():
            store.delete_entity(session, EntityRef("hive_table", "default.raw@cm").guid, user="t", source="t")
        report = sync(catalog, client_for(catalog.settings))
        assert report.summaries[0].deleted == 0 and report.summaries[0].requests == 0
        assert ("hive_table", "default.raw@cm") in target.snapshot(), push


def test_entities_waiting_at_the_front_of_the_outbox_do_not_hold_back_the_rest(tmp_path: Path, target: Target) -> None:
    from catalog.push import external_types, open_sinks

    catalog = source(tmp_path, target.url)
    ingest(catalog, pipeline(1, hive=True))  # the table and its reader wait: Atlas lacks the table
    ingest(catalog, [Entity("ml_dataset", f"later-{i}@cm", {"name": f"later-{i}"}) for i in range(12)])
    client = client_for(catalog.settings)
    (pusher,) = open_sinks(catalog, client)
    pusher.window = 3
    assert external_types(catalog.registry) >= {"hive_table", "hive_db", "hive_column"}
    summary = pusher.drain(now=True)
    assert summary.missing == ["hive_table:default.raw@cm"] and summary.waiting == 1
    assert summary.sent == 15  # 3 data sets of the pipeline, 12 later ones
    assert all(("ml_dataset", f"later-{i}@cm") in target.snapshot() for i in range(12))


def test_another_atlas_gets_everything_and_a_dropped_sink_stops_queueing(tmp_path: Path, target: Target) -> None:
    catalog = source(tmp_path, target.url)
    ingest(catalog, pipeline(2))
    assert sync(catalog, client_for(catalog.settings)).summaries[0].sent == 6
    with catalog_app(Settings(database_url=f"sqlite:///{tmp_path / 'second.db'}")) as app:
        with app.extensions["catalog"].write_session() as session, session.begin():
            users.add_user(session, *PUSHER, "admin")
        with served(app, "second-atlas") as url:
            moved = Catalog(replace(catalog.settings, atlas_url=url))
            report = sync(moved, client_for(moved.settings))
            assert report.summaries[0].sent == 6  # the new Atlas has nothing of what the old one took
            assert len(snapshot(app.extensions["catalog"])) == 6
    messages_only = Catalog(replace(catalog.settings, atlas_push="messages"))
    sync(messages_only, client_for(messages_only.settings))
    with messages_only.session() as session:
        assert outbox.sinks(session) == ["atlas-messages"]
    ingest(messages_only, [Entity("ml_dataset", "one-more@cm", {"name": "one-more"})])
    assert pending(messages_only, "atlas") == 0 and pending(messages_only, "atlas-messages") == 1


def test_one_pusher_per_sink_at_a_time(tmp_path: Path, target: Target) -> None:
    from catalog.push import open_sinks

    catalog = source(tmp_path, target.url)
    ingest(catalog, pipeline(2))
    (first,) = open_sinks(catalog, client_for(catalog.settings))
    (second,) = open_sinks(catalog, client_for(catalog.settings))
    with catalog.write_session() as session, session.begin():
        assert outbox.lease(session, "atlas", first.owner, seconds=60)
    busy = second.drain(now=True)
    assert busy.error.startswith("another pusher is draining atlas") and busy.sent == 0
    with catalog.write_session() as session, session.begin():
        outbox.release(session, "atlas", first.owner)
    assert second.drain(now=True).sent == 6


def test_a_500_that_persists_is_an_entity_refused_not_an_atlas_away(tmp_path: Path, target: Target) -> None:
    proxy = FaultProxy(int(target.url.rsplit(":", 1)[1]))
    try:
        catalog = source(tmp_path, proxy.url, atlas_batch_size=100)
        ingest(catalog, pipeline(4))
        proxy.script(["pass"] + ["500"] * FAST.attempts)  # the typedefs, then every try of the first request
        report = sync(catalog, client_for(catalog.settings, retry=FAST))
        (summary,) = report.summaries
        assert summary.error == "" and summary.parked == [] and summary.sent == 10  # split, and both halves taken
        assert target.snapshot() == snapshot(catalog)
    finally:
        proxy.close()


def test_the_atlas_url_and_password_stay_out_of_reprs() -> None:
    settings = Settings(atlas_url="https://svc:url-secret@atlas:21443", atlas_password="pw-secret")
    assert "url-secret" not in repr(settings) and "pw-secret" not in repr(settings)
