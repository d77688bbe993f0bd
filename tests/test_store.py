"""Store behaviour on SQLite and on a real PostgreSQL server: upserts, audit, lineage, tags."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from catalog import store
from catalog.atlas import lineage_to_atlas
from catalog.errors import EntityValidationError, ReferenceNotFound, UnknownTypeError
from catalog.model import Classification, Entity, EntityRef, Finding, SourceBatch

T1 = EntityRef("hive_table", "default.wine@cm")
T2 = EntityRef("hive_table", "default.wine_nolabel@cm")
RUN = EntityRef("ml_training_run", "run:abc@mlflow")
VERSION = EntityRef("ml_model_version", "wine/1@mlflow")
DEPLOY = EntityRef("ml_model_deploy_process", "deploy:wine:prod@cm")
DEPLOYMENT = EntityRef("ml_deployment", "wine:prod@cm")


def chain(*, tag: Classification | None = None, run_inputs: list[EntityRef] | None = None) -> SourceBatch:
    """tables -> run -> version -> deploy process -> deployment."""
    return SourceBatch(
        "test",
        [
            Entity(T1.type_name, T1.qualified_name, {"name": "wine"}, classifications=[tag] if tag else []),
            Entity(T2.type_name, T2.qualified_name, {"name": "wine_nolabel"}),
            Entity(
                RUN.type_name,
                RUN.qualified_name,
                {"name": "run abc", "userName": "ann", "inputs": run_inputs or [T1, T2], "outputs": [VERSION]},
            ),
            Entity(VERSION.type_name, VERSION.qualified_name, {"name": "wine v1", "version": 1, "modelName": "wine"}),
            Entity(
                DEPLOY.type_name,
                DEPLOY.qualified_name,
                {"name": "deploy", "userName": "ann", "inputs": [VERSION], "outputs": [DEPLOYMENT]},
            ),
            Entity(
                DEPLOYMENT.type_name,
                DEPLOYMENT.qualified_name,
                {
                    "name": "wine prod",
                    "createTime": 0,
                    "deployedTime": 0,
                    "status": "deployed",
                    "cpuMillicores": 0,
                    "mode": "batch",
                },
            ),
        ],
    )


def ingest(catalog, batch: SourceBatch) -> store.IngestResult:
    with catalog.write_session() as session, session.begin():
        return store.upsert_batch(session, batch, catalog.registry, user="tester")


def count(catalog, row) -> int:
    with catalog.session() as session:
        return session.scalar(select(func.count()).select_from(row))


def tags_of(catalog, ref: EntityRef) -> set[tuple[str, bool]]:
    with catalog.session() as session:
        entity = store.get_entity(session, ref.guid)
    return {(c.type_name, c.propagated) for c in entity.classifications}


def test_first_ingest_creates_every_entity_with_an_audit_event(catalog):
    result = ingest(catalog, chain())
    assert len(result.created) == 6
    assert count(catalog, store.EntityRow) == 6
    assert count(catalog, store.EdgeRow) == 5
    events = catalog.audit()
    assert {e.action for e in events} == {"ENTITY_CREATE"}
    assert {e.user for e in events} == {"tester"}
    assert {e.source for e in events} == {"test"}


def test_reingesting_unchanged_sources_writes_nothing(catalog):
    ingest(catalog, chain())
    audits = count(catalog, store.AuditRow)
    result = ingest(catalog, chain())
    assert result.created == [] and result.updated == [] and result.unchanged == 6
    assert not result.changed
    assert count(catalog, store.AuditRow) == audits


def test_changed_attribute_bumps_version_and_audits_old_and_new_value(catalog):
    ingest(catalog, chain())
    batch = chain()
    batch.entities[0].attributes["description"] = "wine quality training table"
    result = ingest(catalog, batch)
    assert result.updated == [T1.guid]
    entity = catalog.resolve(T1.qualified_name)
    assert entity.version == 2
    assert entity.attributes["description"] == "wine quality training table"
    event = catalog.audit(T1.qualified_name)[0]
    assert event.action == "ENTITY_UPDATE"
    assert event.detail["changed"] == {"description": [None, "wine quality training table"]}


def test_absent_attributes_keep_their_stored_value_like_atlas_updates(catalog):
    ingest(catalog, chain())
    ingest(catalog, SourceBatch("other", [Entity(T1.type_name, T1.qualified_name, {"name": "wine", "owner": "ann"})]))
    ingest(catalog, SourceBatch("third", [Entity(T1.type_name, T1.qualified_name, {"name": "wine", "description": "d"})]))
    attributes = catalog.resolve(T1.qualified_name).attributes
    assert attributes["owner"] == "ann" and attributes["description"] == "d"


def test_entity_guid_is_stable_across_reingest_and_stores(catalog):
    ingest(catalog, chain())
    assert catalog.resolve(VERSION.qualified_name).guid == VERSION.guid


def test_invalid_entity_writes_nothing_and_names_entity_and_attribute(catalog):
    batch = chain()
    batch.entities[3].attributes["version"] = "one"
    with pytest.raises(EntityValidationError, match=r"ml_model_version 'wine/1@mlflow'.*'version'"):
        ingest(catalog, batch)
    assert count(catalog, store.EntityRow) == 0
    assert count(catalog, store.AuditRow) == 0


def test_unknown_type_writes_nothing_and_suggests_the_known_one(catalog):
    batch = chain()
    batch.entities.append(Entity("hive_tabel", "x@cm", {"name": "x"}))
    with pytest.raises(UnknownTypeError, match="hive_tabel.*did you mean 'hive_table'"):
        ingest(catalog, batch)
    assert count(catalog, store.EntityRow) == 0


def test_several_invalid_entities_are_reported_together(catalog):
    batch = chain()
    batch.entities.append(Entity("hive_tabel", "x@cm", {"name": "x"}))
    batch.entities[3].attributes["version"] = "one"
    with pytest.raises(EntityValidationError, match=r"2 invalid entities:\n.*\n.*") as info:
        ingest(catalog, batch)
    assert "hive_tabel" in str(info.value) and "'version'" in str(info.value)


def test_reference_to_an_unknown_entity_names_it_and_writes_nothing(catalog):
    batch = chain()
    del batch.entities[1]  # T2 is still an input of the run
    with pytest.raises(ReferenceNotFound, match=r"ml_training_run 'run:abc@mlflow': attribute 'inputs' refers to "
                       r"hive_table:default.wine_nolabel@cm"):
        ingest(catalog, batch)
    assert count(catalog, store.EntityRow) == 0


def test_duplicate_emissions_in_one_batch_are_merged(catalog):
    batch = chain()
    batch.entities.append(Entity(T1.type_name, T1.qualified_name, {"name": "wine", "owner": "bob"}))
    ingest(catalog, batch)
    assert count(catalog, store.EntityRow) == 6
    assert catalog.resolve(T1.qualified_name).attributes["owner"] == "bob"


# ------------------------------------------------------------------ lineage


def test_lineage_input_from_deployment_walks_back_to_the_tables(catalog):
    ingest(catalog, chain())
    graph = catalog.lineage(DEPLOYMENT.qualified_name, direction="INPUT", depth=3)
    assert set(graph.entities) == {r.guid for r in (T1, T2, RUN, VERSION, DEPLOY, DEPLOYMENT)}
    flows = {(graph.entities[r.from_guid].qualified_name, graph.entities[r.to_guid].qualified_name) for r in graph.relations}
    assert flows == {
        (T1.qualified_name, RUN.qualified_name),
        (T2.qualified_name, RUN.qualified_name),
        (RUN.qualified_name, VERSION.qualified_name),
        (VERSION.qualified_name, DEPLOY.qualified_name),
        (DEPLOY.qualified_name, DEPLOYMENT.qualified_name),
    }


def test_lineage_depth_counts_data_set_hops(catalog):
    ingest(catalog, chain())
    one = catalog.lineage(DEPLOYMENT.qualified_name, direction="INPUT", depth=1)
    assert set(one.entities) == {DEPLOYMENT.guid, DEPLOY.guid, VERSION.guid}
    two = catalog.lineage(DEPLOYMENT.qualified_name, direction="INPUT", depth=2)
    assert T1.guid in two.entities
    unlimited = catalog.lineage(DEPLOYMENT.qualified_name, direction="INPUT", depth=0)
    assert set(unlimited.entities) == set(two.entities)


def test_lineage_output_from_a_table_reaches_the_deployment(catalog):
    ingest(catalog, chain())
    graph = catalog.lineage(T1.qualified_name, direction="OUTPUT", depth=2)
    assert set(graph.entities) == {T1.guid, RUN.guid, VERSION.guid, DEPLOY.guid, DEPLOYMENT.guid}
    assert T2.guid not in graph.entities


def test_lineage_both_from_a_process_covers_inputs_and_outputs(catalog):
    ingest(catalog, chain())
    graph = catalog.lineage(RUN.qualified_name, direction="BOTH", depth=1)
    assert set(graph.entities) == {T1.guid, T2.guid, RUN.guid, VERSION.guid}


def test_lineage_json_has_atlas_lineage_info_shape(catalog):
    ingest(catalog, chain())
    body = lineage_to_atlas(catalog.lineage(VERSION.qualified_name, direction="INPUT", depth=3))
    assert body["baseEntityGuid"] == VERSION.guid
    assert body["lineageDirection"] == "INPUT" and body["lineageDepth"] == 3
    header = body["guidEntityMap"][T1.guid]
    assert header["typeName"] == "hive_table" and header["attributes"]["qualifiedName"] == T1.qualified_name
    relation = next(r for r in body["relations"] if r["fromEntityId"] == T1.guid)
    assert relation["toEntityId"] == RUN.guid and len(relation["relationshipId"]) == 36


def test_lineage_rejects_a_bad_direction(catalog):
    ingest(catalog, chain())
    with pytest.raises(ValueError, match="direction must be INPUT, OUTPUT or BOTH, got 'UP'"):
        catalog.lineage(T1.qualified_name, direction="up")


def test_changed_process_inputs_replace_its_edges(catalog):
    ingest(catalog, chain())
    ingest(catalog, chain(run_inputs=[T1]))
    graph = catalog.lineage(VERSION.qualified_name, direction="INPUT", depth=1)
    assert T2.guid not in graph.entities and T1.guid in graph.entities


# ------------------------------------------------------------------ classifications


def test_classification_propagates_along_lineage_to_the_deployment(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    assert tags_of(catalog, T1) == {("PII", False)}
    for ref in (RUN, VERSION, DEPLOY, DEPLOYMENT):
        assert tags_of(catalog, ref) == {("PII", True)}, ref
    assert tags_of(catalog, T2) == set()


def test_classification_with_propagate_off_stays_put(catalog):
    ingest(catalog, chain(tag=Classification("PII", propagate=False)))
    assert tags_of(catalog, T1) == {("PII", False)}
    assert tags_of(catalog, DEPLOYMENT) == set()


def test_removing_the_source_tag_removes_propagated_tags(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    result = ingest(catalog, chain())
    assert result.propagated_removed == 4
    assert tags_of(catalog, DEPLOYMENT) == set()
    actions = [e.action for e in catalog.audit(DEPLOYMENT.qualified_name)]
    assert actions[:2] == ["CLASSIFICATION_PROPAGATED_REMOVE", "CLASSIFICATION_PROPAGATED_ADD"]


def test_deleting_the_source_entity_removes_its_propagated_tags(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    assert catalog.delete(T1.qualified_name) is True
    assert catalog.resolve(T1.qualified_name).status == "DELETED"
    assert tags_of(catalog, VERSION) == set()
    assert catalog.audit(T1.qualified_name)[0].action == "ENTITY_DELETE"


def test_cutting_the_lineage_edge_stops_propagation(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    ingest(catalog, chain(tag=Classification("PII"), run_inputs=[T2]))
    assert tags_of(catalog, RUN) == set()
    assert tags_of(catalog, T1) == {("PII", False)}


def test_another_source_cannot_remove_a_tag_it_did_not_set(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    ingest(catalog, SourceBatch("mlflow", [Entity(T1.type_name, T1.qualified_name, {"name": "wine"})]))
    assert tags_of(catalog, T1) == {("PII", False)}


def test_search_by_text_type_and_classification(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    assert [e.qualified_name for e in catalog.search("NOLABEL")] == [T2.qualified_name]
    assert {e.type_name for e in catalog.search("", type_name="DataSet")} == {
        "hive_table",
        "ml_model_version",
        "ml_deployment",
    }
    tagged = {e.qualified_name for e in catalog.search("", classification="PII")}
    assert tagged == {T1.qualified_name, RUN.qualified_name, VERSION.qualified_name, DEPLOY.qualified_name,
                      DEPLOYMENT.qualified_name}


def test_search_treats_like_wildcards_literally(catalog):
    ingest(catalog, chain())
    assert catalog.search("%") == []
    assert catalog.search("wine_nolabel")[0].qualified_name == T2.qualified_name
    assert [e.qualified_name for e in catalog.search("wine_")] == [T2.qualified_name]


# ------------------------------------------------------------------ findings, cursors, concurrency


def test_findings_are_replaced_only_within_scope(catalog):
    with catalog.write_session() as s, s.begin():
        store.replace_findings(s, "ingest", [Finding("a", "x", "m1"), Finding("b", "y", "m2")])
    with catalog.write_session() as s, s.begin():
        writes = store.replace_findings(s, "ingest", [], scope={"x"})
    assert writes == 1
    assert [(f.kind, f.subject) for f in catalog.findings()] == [("b", "y")]
    with catalog.write_session() as s, s.begin():
        assert store.replace_findings(s, "ingest", [Finding("b", "y", "m2")], scope={"y"}) == 0


def test_cursor_round_trips_and_unchanged_cursor_is_not_rewritten(catalog):
    with catalog.write_session() as s, s.begin():
        assert store.set_cursor(s, "mlflow:x", {"runs": 5}) is True
    with catalog.write_session() as s, s.begin():
        assert store.set_cursor(s, "mlflow:x", {"runs": 5}) is False
        assert store.get_cursor(s, "mlflow:x") == {"runs": 5}


def test_concurrent_ingests_of_overlapping_sources_never_duplicate(settings):
    from catalog.service import Catalog

    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=60)

    def worker(tag: str) -> None:
        try:
            with Catalog(settings) as cat:
                barrier.wait()
                batch = chain()
                batch.entities.append(Entity("hive_table", f"default.only_{tag}@cm", {"name": tag}))
                for _ in range(3):
                    ingest(cat, batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with Catalog(settings) as cat, cat.session() as s:
        assert s.scalar(select(func.count()).select_from(store.EntityRow)) == 8
        assert s.scalar(select(func.count()).select_from(store.EdgeRow)) == 5
        dupes = s.execute(
            select(store.EntityRow.type_name, store.EntityRow.qualified_name, func.count())
            .group_by(store.EntityRow.type_name, store.EntityRow.qualified_name)
            .having(func.count() > 1)
        ).all()
        assert dupes == []
        creates = s.scalar(
            select(func.count()).select_from(store.AuditRow).where(store.AuditRow.action == "ENTITY_CREATE")
        )
        assert creates == 8  # one true creation per entity: the second writer saw the first's rows


def test_migrations_match_the_table_models(catalog):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with catalog.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), store.Base.metadata)
    assert diff == []


def test_several_findings_about_one_subject_are_all_kept(catalog):
    found = [Finding("logged-not-declared", "run:x@mlflow", f"logged table {t}") for t in ("a", "b", "c")]
    with catalog.write_session() as s, s.begin():
        assert store.replace_findings(s, "ingest", found) == 3
    assert sorted(f.message for f in catalog.findings()) == ["logged table a", "logged table b", "logged table c"]
    with catalog.write_session() as s, s.begin():
        assert store.replace_findings(s, "ingest", found[:2], scope={"run:x@mlflow"}) == 1


def test_switching_propagate_off_on_an_existing_tag_withdraws_its_propagation(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    result = ingest(catalog, chain(tag=Classification("PII", propagate=False)))
    assert result.updated == [T1.guid] and result.propagated_removed == 4
    assert tags_of(catalog, T1) == {("PII", False)}
    assert tags_of(catalog, DEPLOYMENT) == set()
