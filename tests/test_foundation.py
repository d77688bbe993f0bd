"""The foundation: diff-then-apply writes, incoming digests, references, reactivation, one source name.

Each test pins a behaviour the later capabilities (Atlas API, push, hook, check, score)
stand on; the defects among them failed before their fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from catalog import refs, store
from catalog.atlas.json import entities_from_atlas, entity_from_atlas, entity_to_atlas, incoming_digest
from catalog.config import Settings
from catalog.errors import AmbiguousReference, EntityValidationError, NotFound, UnknownTypeError
from catalog.model import Classification, Entity, EntityRef, SourceBatch
from catalog.service import Catalog
from catalog.types.registry import TypeRegistry
from tests.mlflow_fixtures import copy_store, mlflow_store  # noqa: F401 - fixture
from tests.test_store import DEPLOYMENT, RUN, T1, VERSION, chain, count, ingest, tags_of


def _changes(catalog: Catalog) -> dict[str, int]:
    with catalog.session() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in store.Base.metadata.sorted_tables}


# -- diff, then apply ---------------------------------------------------------------------


def test_plan_writes_nothing_and_apply_writes_exactly_the_plan(catalog):
    before = _changes(catalog)
    with catalog.write_session() as session, session.begin():
        plan = store.plan_upsert(session, chain(tag=Classification("PII")), catalog.registry, user="tester")
        assert _changes(catalog) == before  # planning read, wrote nothing
        assert sorted(plan.created) == sorted(e.guid for e in chain().entities)
        assert [c.action for c in plan.changes] == ["ENTITY_CREATE"] * 6
        assert len(plan.edges) == 5 and [t["type_name"] for t in plan.tag_inserts] == ["PII"]
        result = store.apply_plan(session, plan)
    assert sorted(result.created) == sorted(plan.created)
    assert count(catalog, store.EntityRow) == 6 and count(catalog, store.EdgeRow) == 5
    assert count(catalog, store.AuditRow) == 6 + result.propagated_added


def test_plan_of_an_update_names_what_changes(catalog):
    ingest(catalog, chain())
    batch = chain()
    batch.entities[0].attributes["description"] = "the wine table"
    with catalog.write_session() as session, session.begin():
        plan = store.plan_upsert(session, batch, catalog.registry, user="tester")
    assert plan.updated == [T1.guid] and plan.created == []
    assert plan.changes[0].detail["changed"] == {"description": [None, "the wine table"]}
    assert len(plan.unchanged) == 5


def test_unchanged_entities_are_skipped_by_their_incoming_digest_before_validation(catalog):
    ingest(catalog, chain())
    strict = TypeRegistry.default()
    # A registry that knows none of the chain's types: validating anything would fail.
    empty = TypeRegistry()
    with catalog.write_session() as session, session.begin():
        plan = store.plan_upsert(session, chain(), empty, user="tester")
    assert sorted(plan.unchanged) == sorted(e.guid for e in chain().entities) and plan.empty
    with pytest.raises(UnknownTypeError, match="unknown entity type 'hive_table'"):
        batch = chain()
        batch.entities[0].attributes["description"] = "changed"
        with catalog.write_session() as session, session.begin():
            store.plan_upsert(session, batch, empty, user="tester")
    assert strict.has_entity_type("hive_table")


def test_a_stale_incoming_digest_is_refreshed_once_without_audit(catalog):
    ingest(catalog, chain())
    with catalog.write_session() as session, session.begin():
        session.execute(update(store.EntityRow).values(incoming_hash=""))  # as a store written before 0002
    audits = count(catalog, store.AuditRow)
    with catalog.write_session() as session, session.begin():
        plan = store.plan_upsert(session, chain(), catalog.registry, user="tester")
        assert len(plan.digest_refresh) == 6 and plan.changes == []
        store.apply_plan(session, plan)
    assert count(catalog, store.AuditRow) == audits
    with catalog.write_session() as session, session.begin():
        again = store.plan_upsert(session, chain(), catalog.registry, user="tester")
    assert again.digest_refresh == [] and len(again.unchanged) == 6


def test_incoming_digest_sees_every_part_of_the_entity():
    base = Entity("hive_table", "db.t@cm", {"name": "t", "owner": "a"}, classifications=[Classification("PII")])
    variants = [
        Entity("hive_table", "db.t@cm", {"name": "t", "owner": "b"}, classifications=[Classification("PII")]),
        Entity("hive_table", "db.t@cm", {"name": "t", "owner": "a"}),
        Entity("hive_table", "db.t@cm", {"name": "t", "owner": "a"}, classifications=[Classification("PII", {}, False)]),
        Entity("hive_table", "db.t@cm", {"name": "t", "owner": "a"}, status="DELETED",
               classifications=[Classification("PII")]),
        Entity("hive_table", "db.u@cm", {"name": "t", "owner": "a"}, classifications=[Classification("PII")]),
        Entity("hive_table", "db.t@cm", {"name": "t", "owner": 1}, classifications=[Classification("PII")]),
    ]
    digests = {incoming_digest(v) for v in variants}
    assert len(digests) == len(variants) and incoming_digest(base) not in digests
    same = Entity("hive_table", "db.t@cm", {"name": "t", "owner": "a"}, classifications=[Classification("PII")])
    assert incoming_digest(same) == incoming_digest(base)


class _Text(str):
    pass


def test_incoming_digest_never_confuses_values_json_writes_alike():
    """The digest is orjson's text where that is unambiguous, the repr where JSON would merge two values.

    Each pair stores differently (or one of them is refused by validation), but for the str
    subclass, which stores alike and is told apart because orjson hands subclasses to the
    repr form: equal digests would skip the second emission as unchanged.
    """
    ref = EntityRef("hive_table", "db.t@cm")
    pairs = [
        (None, float("nan")),  # JSON writes null for both
        (float("inf"), None),
        (ref, ("hive_table", "db.t@cm")),  # a reference against a plain pair ...
        (ref, ["hive_table", "db.t@cm"]),
        (ref, {"type_name": "hive_table", "qualified_name": "db.t@cm"}),  # ... or its dataclass fields
        ([ref], [["hive_table", "db.t@cm"]]),
        ("@[\"hive_table\",\"db.t@cm\"]", ref),  # the reference's own text as a string
        ("2026-01-01T00:00:00", __import__("datetime").datetime(2026, 1, 1)),
        (1, 1.0), (1, True), (0, False), (0.0, -0.0),
        (2**70, float(2**70)),  # a big int (orjson refuses it) against its float
        ("x", _Text("x")),  # a str subclass takes the repr path; equal text, still told apart
        ("\ud800", "\ufffd"),  # a lone surrogate (orjson refuses it) against the replacement character
    ]
    for left, right in pairs:
        a = Entity("hive_table", "db.t@cm", {"name": "t", "v": left})
        b = Entity("hive_table", "db.t@cm", {"name": "t", "v": right})
        assert incoming_digest(a) != incoming_digest(b), (left, right)
        again = Entity("hive_table", "db.t@cm", {"name": "t", "v": left})
        assert incoming_digest(a) == incoming_digest(again), left  # stable for equal input
    moved = Entity("hive_table", "db.t@cm", {"name": "t"}, {"v": ref})  # a relationship, not an attribute
    assert incoming_digest(moved) != incoming_digest(Entity("hive_table", "db.t@cm", {"name": "t", "v": ref}))


def test_incoming_digest_limit_values_orjson_writes_as_plain_ones_digest_alike():
    """The documented limit (``incoming_digest``): an Enum member, a UUID and a Fragment are
    written by orjson as their plain values. Pinned so that a change to it is deliberate."""
    import enum
    import uuid

    import orjson

    class Colour(enum.Enum):
        RED = "red"

    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    for odd, plain in [(Colour.RED, "red"), (key, str(key)), ([key], [str(key)]),
                       (orjson.Fragment(b'"x"'), "x")]:
        assert incoming_digest(Entity("hive_table", "db.t@cm", {"v": odd})) == \
            incoming_digest(Entity("hive_table", "db.t@cm", {"v": plain})), odd


def test_guid_for_is_uuid5_of_type_and_qualified_name():
    import uuid

    from catalog.model import _GUID_NAMESPACE, guid_for

    names = [("hive_table", "db.t@cm"), ("ml_model_version", "wine/1@mlflow"), ("x", ""),
             ("hive_table", "données.crème@cm"), ("t", "日本語@cm"), ("t", "\U0001f600")]
    for type_name, name in names + [("t", f"n{i}") for i in range(256)]:
        assert guid_for.__wrapped__(type_name, name) == str(uuid.uuid5(_GUID_NAMESPACE, f"{type_name}\x00{name}"))


# -- defects: reactivation, first-ingest counts, unresolved deployments, no store on failure ----------


def test_a_reactivated_table_propagates_its_classification_again(catalog):
    ingest(catalog, chain(tag=Classification("PII")))
    assert ("PII", True) in tags_of(catalog, DEPLOYMENT)
    catalog.delete(T1.qualified_name)
    assert ("PII", True) not in tags_of(catalog, DEPLOYMENT)
    result = ingest(catalog, chain(tag=Classification("PII")))
    assert T1.guid in result.updated
    with catalog.session() as session:
        assert store.get_entity(session, T1.guid).status == "ACTIVE"
    assert ("PII", True) in tags_of(catalog, DEPLOYMENT)
    assert ("PII", True) in tags_of(catalog, VERSION) and ("PII", True) in tags_of(catalog, RUN)


GHOST = """\
version: 1
deployments:
  d:
    model: "models:/ghost@champion"
    mode: batch
"""


def test_a_deployment_of_a_model_registered_nowhere_is_a_finding(tmp_path: Path):
    lineage = tmp_path / "lineage.yml"
    lineage.write_text(GHOST)
    db = tmp_path / "catalog.db"
    with Catalog(Settings(database_url=f"sqlite:///{db}", user="t")) as catalog:
        report = catalog.ingest(lineage_path=lineage)
        deployment = catalog.resolve("ml_deployment:d:prod@cm")
        process = catalog.resolve("ml_model_deploy_process:deploy:d:prod@cm")
    assert [(f.kind, f.subject) for f in report.findings] == [("deployment-model-unresolved", "d:prod@cm")]
    assert report.findings[0].message == (
        "deployment d: models:/ghost@champion matches no model version in MLflow or the catalog; the registered "
        "model ghost is not in MLflow or the catalog either, so the deployment has no upstream until it is registered"
    )
    assert deployment.attributes["modelRef"] == "models:/ghost@champion"
    assert process.attributes["inputs"] == []
    assert report.created == 2 and report.updated == 0


def test_a_failed_first_ingest_leaves_no_catalog_file(tmp_path: Path):
    lineage = tmp_path / "lineage.yml"
    lineage.write_text("version: 1\ndatasets:\n  default.t@cm: {}\n")
    db = tmp_path / "catalog.db"
    # A registry without the lineage types makes the write fail after the store was opened.
    with Catalog(Settings(database_url=f"sqlite:///{db}", user="t"), registry=TypeRegistry()) as catalog:
        with pytest.raises(UnknownTypeError, match="unknown entity type 'hive_table'"):
            catalog.ingest(lineage_path=lineage)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lineage.yml"]


def test_a_failed_ingest_into_an_existing_catalog_keeps_it(tmp_path: Path):
    lineage = tmp_path / "lineage.yml"
    lineage.write_text("version: 1\ndatasets:\n  default.t@cm: {}\n")
    db = tmp_path / "catalog.db"
    with Catalog(Settings(database_url=f"sqlite:///{db}", user="t")) as catalog:
        catalog.ingest(lineage_path=lineage)
    lineage.write_text("version: 1\ndatasets:\n  default.t@cm: {owner: ann}\n")  # a change: validated
    with Catalog(Settings(database_url=f"sqlite:///{db}", user="t"), registry=TypeRegistry()) as catalog:
        with pytest.raises(UnknownTypeError):
            catalog.ingest(lineage_path=lineage)
    with Catalog(Settings(database_url=f"sqlite:///{db}", user="t"), create=False) as catalog:
        assert catalog.resolve("default.t@cm").type_name == "hive_table"


def test_first_ingest_counts_each_entity_once(tmp_path: Path, mlflow_store):  # noqa: F811
    """lineage.yml and MLflow both describe the registered model: it is created once, not also updated."""
    (tmp_path / "m").mkdir()
    copy = copy_store(mlflow_store, tmp_path / "m")
    lineage = tmp_path / "lineage.yml"
    lineage.write_text("version: 1\nmodels:\n  wine-quality:\n    owner: ml-team@example.com\n")
    with Catalog(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", user="t")) as catalog:
        report = catalog.ingest(lineage_path=lineage, mlflow_uri=copy.uri)
        with catalog.session() as session:
            stored = session.scalar(select(func.count()).select_from(store.EntityRow))
        again = catalog.ingest(lineage_path=lineage, mlflow_uri=copy.uri)
    assert (report.created, report.updated, report.unchanged) == (stored, 0, 0)
    assert again.created == 0 and again.updated == 0


def test_one_name_per_mlflow_source_in_audits_findings_report_and_cursor(tmp_path: Path, mlflow_store):  # noqa: F811
    (tmp_path / "m").mkdir()
    copy = copy_store(mlflow_store, tmp_path / "m")
    with Catalog(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", user="t")) as catalog:
        report = catalog.ingest(mlflow_uri=copy.uri)
        with catalog.session() as session:
            sources = set(session.scalars(select(store.AuditRow.source).distinct()))
            entity_sources = set(session.scalars(select(store.EntityRow.source).distinct()))
            cursors = set(session.scalars(select(store.CursorRow.name)))
    assert report.sources == ["mlflow:mlflow"]
    assert report.describe_sources() == f"mlflow:mlflow ({copy.uri})"
    assert sources == {"mlflow:mlflow"}
    assert entity_sources == {"mlflow:mlflow"} and cursors == {"mlflow:mlflow"}


# -- references -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "key", "selector"),
    [
        ("6f1c3c5e-5d0a-4b7e-9a55-0c1a7a6c0a11", "guid", "6f1c3c5e-5d0a-4b7e-9a55-0c1a7a6c0a11", None),
        ("models:/wine-quality/3", "model_version", "wine-quality", 3),
        ("models:/wine-quality@champion", "model_alias", "wine-quality", "champion"),
        ("models:/Predict w/ Monitoring & Lineage/12", "model_version", "Predict w/ Monitoring & Lineage", 12),
        ("runs:/4e2ef049a7c7/model", "run", "4e2ef049a7c7", None),
        ("hive_table:default.t@cm", "typed", "default.t@cm", None),
        ("default.t@cm", "qualified_name", "default.t@cm", None),
        ("models:/m/٣", "qualified_name", "models:/m/٣", None),  # an Arabic-Indic digit is no version
        ("nosuchtype:x", "qualified_name", "nosuchtype:x", None),
    ],
)
def test_every_reference_form_parses_in_one_place(text, kind, key, selector):
    ref = refs.parse(text, entity_types={"hive_table"})
    assert (ref.kind, ref.key, ref.selector) == (kind, key, selector)


def test_a_model_version_beyond_an_atlas_int_is_refused():
    with pytest.raises(ValueError, match=r"expected a model version of at most 2147483647 .*got 99999999999"):
        refs.parse_model_ref("models:/m/99999999999")


def test_resolve_names_what_was_tried(catalog):
    ingest(catalog, chain())
    with catalog.session() as session:
        assert refs.resolve(session, "models:/wine/1", catalog.registry, "mlflow").guid == VERSION.guid
        with pytest.raises(NotFound, match=r"^no entity matches 'models:/wine/2'"):
            refs.resolve(session, "models:/wine/2", catalog.registry, "mlflow")
        with pytest.raises(NotFound, match=r"^models:/wine@champion: no version of model 'wine' carries alias"):
            refs.resolve(session, "models:/wine@champion", catalog.registry, "mlflow")


def test_an_ambiguous_reference_lists_the_candidates(catalog):
    batch = SourceBatch("t", [Entity("hive_table", "x@cm", {"name": "x"}), Entity("fs_path", "x@cm",
                                                                                 {"name": "x", "path": "x"})])
    ingest(catalog, batch)
    with pytest.raises(AmbiguousReference, match=r"x@cm matches 2 entities: fs_path:x@cm, hive_table:x@cm"):
        catalog.resolve("x@cm")
    assert catalog.resolve("fs_path:x@cm").type_name == "fs_path"


# -- the Atlas JSON serialiser, both directions -----------------------------------------------


def test_atlas_entity_json_round_trips():
    entity = Entity(
        "ml_training_run", "run:1@mlflow",
        {"name": "r", "userName": "u", "inputs": [T1], "outputs": [VERSION], "params": {"a": "1"}},
        {"project": EntityRef("ml_project", "experiment:1@mlflow")},
        [Classification("PII", {"level": "high"}, False)],
    )
    body = entity_to_atlas(entity)
    assert body["attributes"]["inputs"] == [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": T1.qualified_name}}]
    back = entity_from_atlas(body)
    assert (back.type_name, back.qualified_name, back.attributes, back.relationship_attributes) == (
        entity.type_name, entity.qualified_name, entity.attributes, entity.relationship_attributes)
    assert back.classifications == entity.classifications
    assert incoming_digest(back) == incoming_digest(entity)


def test_atlas_json_in_resolves_guid_references_and_names_bad_fields():
    by_guid = {T1.guid: T1}.get
    body = {"entity": {"typeName": "ml_training_run", "attributes": {"qualifiedName": "run:2@mlflow", "name": "r",
                                                                     "inputs": [{"guid": T1.guid}]}},
            "referredEntities": {T1.guid: {"typeName": "hive_table", "attributes": {"qualifiedName": T1.qualified_name}}}}
    entities = entities_from_atlas(body, by_guid)
    assert [e.qualified_name for e in entities] == [T1.qualified_name, "run:2@mlflow"]
    assert entities[1].attributes["inputs"] == [T1]
    with pytest.raises(EntityValidationError, match=r"^hive_table entity.attributes.qualifiedName: expected a non-empty"):
        entity_from_atlas({"typeName": "hive_table", "attributes": {"name": "t"}})
    with pytest.raises(EntityValidationError, match=r"classifications\[0\].propagate: expected true or false, got 'yes'"):
        entity_from_atlas({"typeName": "hive_table", "attributes": {"qualifiedName": "t"},
                           "classifications": [{"typeName": "PII", "propagate": "yes"}]})


def test_no_lone_surrogate_reaches_the_store_through_a_qualified_name(catalog):
    with pytest.raises(EntityValidationError, match=r"attribute 'qualifiedName' .*lone surrogate U\+D800"):
        ingest(catalog, SourceBatch("t", [Entity("hive_table", "db.t\ud800@cm", {"name": "t"})]))
    assert count(catalog, store.EntityRow) == 0


def test_the_assembled_audit_text_of_a_create_is_the_canonical_json_of_its_detail(catalog):
    from catalog.canonical import canonical_json

    with catalog.write_session() as session, session.begin():
        plan = store.plan_upsert(session, chain(tag=Classification("PII")), catalog.registry, user="tester")
    assert all(c.detail_json == canonical_json(c.detail) for c in plan.changes)
    assert any("classifications" in c.detail for c in plan.changes)
