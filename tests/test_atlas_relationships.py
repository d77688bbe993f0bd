"""The v2 relationship API (``relationship``, ``relationship/guid/{guid}``) over real HTTP and the test client.

A relationship is a reference one end holds: creating a lineage input adds the data set
to the process's ``inputs`` (GET entity and lineage show it with the same guid), a
declared end (``hive_table_db``, ``hive_table_columns``) is written on the entity that
keeps it. Every refusal answers Atlas's code and message, with nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from catalog import store, users
from catalog.atlas.relations import relationship_guid
from catalog.config import Settings
from catalog.model import guid_for
from tests.web_fixtures import basic_auth, catalog_app, client, served  # noqa: F401 - fixtures

STEWARD = ("steward", "steward-password")
VIEWER = ("viewer", "viewer-password")
V2 = "/api/atlas/v2"


@contextmanager
def _app_with_users(path: Any) -> Iterator[Any]:
    with catalog_app(Settings(database_url=f"sqlite:///{path}")) as app:
        with app.extensions["catalog"].write_session() as session, session.begin():
            for (name, password), role in ((STEWARD, "steward"), (VIEWER, "viewer")):
                users.add_user(session, name, password, role)
        yield app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with _app_with_users(tmp_path_factory.mktemp("atlas-relationships") / "catalog.db") as app:
        yield app


@pytest.fixture(scope="module")
def base_url(app: Any) -> Iterator[str]:
    with served(app, "atlas-relationships") as url:
        yield url


def _send(client: Any, method: str, path: str, body: Any = None, who: tuple[str, str] | None = STEWARD) -> Any:
    headers = basic_auth(who) if who else {}
    data = json.dumps(body) if body is not None else None
    return client.open(V2 + path, method=method, data=data, content_type="application/json", headers=headers)


def _table(qn: str, **relationships: Any) -> dict[str, Any]:
    return {"typeName": "hive_table", "attributes": {"qualifiedName": qn, "name": qn.split("@")[0]},
            "relationshipAttributes": relationships}


def _chain(tag: str) -> dict[str, Any]:
    """A db with a table (and its column) that a training process reads; its own names per test."""
    db, table, column = f"{tag}@cm", f"{tag}.wine@cm", f"{tag}.wine.ph@cm"
    return {"entities": [
        {"typeName": "hive_db", "attributes": {"qualifiedName": db, "name": tag, "clusterName": "cm"}},
        _table(table, db={"typeName": "hive_db", "uniqueAttributes": {"qualifiedName": db}},
               columns=[{"typeName": "hive_column", "uniqueAttributes": {"qualifiedName": column}}]),
        {"typeName": "hive_column", "attributes": {"qualifiedName": column, "name": "ph", "type": "double"},
         "relationshipAttributes": {"table": {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": table}}}},
        {"typeName": "ml_model_train_build_process",
         "attributes": {"qualifiedName": f"train:{tag}@cm", "name": "train", "userName": "ana",
                        "inputs": [{"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": table}}]}},
        _table(f"{tag}.red@cm"),
    ]}


def _guids(tag: str) -> dict[str, str]:
    return {"db": guid_for("hive_db", f"{tag}@cm"), "table": guid_for("hive_table", f"{tag}.wine@cm"),
            "column": guid_for("hive_column", f"{tag}.wine.ph@cm"), "red": guid_for("hive_table", f"{tag}.red@cm"),
            "process": guid_for("ml_model_train_build_process", f"train:{tag}@cm")}


def _load(client: Any, tag: str) -> dict[str, str]:
    response = _send(client, "POST", "/entity/bulk", _chain(tag))
    assert response.status_code == 200, response.get_json()
    return _guids(tag)


def _rel_attrs(client: Any, guid: str) -> dict[str, Any]:
    return client.get(f"{V2}/entity/guid/{guid}").get_json()["entity"]["relationshipAttributes"]


def _counts(app: Any) -> tuple[int, int, int]:
    with app.extensions["catalog"].session() as session:
        return (session.query(store.EntityRow).count(), session.query(store.AuditRow).count(),
                session.query(store.EdgeRow).count())


# -- the official client --------------------------------------------------------------------------


def test_official_client_creates_reads_updates_and_deletes_a_lineage_input(app: Any, base_url: str) -> None:
    from apache_atlas.client.base_client import AtlasClient
    from apache_atlas.client.relationship import RelationshipClient
    from apache_atlas.exceptions import AtlasServiceException
    from apache_atlas.model.instance import AtlasObjectId
    from apache_atlas.model.relationship import AtlasRelationship

    atlas = AtlasClient(base_url, STEWARD)
    atlas.entity.create_entities(_chain("cli"))
    g = _guids("cli")
    # the ends the other way round (data set first): Atlas accepts that; the answer is in the def's order
    created = atlas.relationship.create_relationship(AtlasRelationship({
        "typeName": "dataset_process_inputs",
        "end1": AtlasObjectId({"guid": g["red"], "typeName": "hive_table"}),
        "end2": AtlasObjectId({"typeName": "ml_model_train_build_process",
                               "uniqueAttributes": {"qualifiedName": "train:cli@cm"}}),
    }))
    rel = relationship_guid("dataset_process_inputs", g["red"], g["process"])
    assert created.guid == rel
    assert (created.end1.guid, created.end2.guid) == (g["process"], g["red"])
    assert (created.label, created.propagateTags, created.status) == ("__Process.inputs", "TWO_TO_ONE", "ACTIVE")
    assert (created.createdBy, created.version, created.end2.uniqueAttributes) == (
        "steward", 0, {"qualifiedName": "cli.red@cm"})

    inputs = {o["guid"]: o["relationshipGuid"] for o in atlas.entity.get_entity_by_guid(g["process"])
              .entity.relationshipAttributes["inputs"]}
    assert inputs == {g["table"]: relationship_guid("dataset_process_inputs", g["table"], g["process"]), g["red"]: rel}
    lineage = atlas.lineage.get_lineage_info(g["process"], "INPUT", 1)
    assert {"fromEntityId": g["red"], "toEntityId": g["process"], "relationshipId": rel} in lineage.relations

    # apache-atlas 0.0.16 cannot read its own answer (AtlasRelationshipWithExtInfo.type_coerce_attrs
    # calls a method dict lacks): the server's 200 is reported as a failure ...
    with pytest.raises(AtlasServiceException, match="failed with status 200"):
        atlas.relationship.get_relationship_by_guid(rel)
    # ... so the read goes through the client's own API definition, as a dict
    api = RelationshipClient.GET_RELATIONSHIP_BY_GUID.format_path_with_params(rel)
    read = atlas.call_api(api, dict, {"extendedInfo": "true"})
    assert read["relationship"]["guid"] == rel and read["relationship"]["end1"]["guid"] == g["process"]
    assert set(read["referredEntities"]) == {g["process"], g["red"]}
    assert read["referredEntities"][g["red"]]["typeName"] == "hive_table"

    # update_relationship sends the relationship as query parameters; nothing changes
    updated = atlas.relationship.update_relationship(AtlasRelationship(
        {"guid": rel, "typeName": "dataset_process_inputs", "status": "ACTIVE", "propagateTags": "TWO_TO_ONE"}))
    assert (updated.guid, updated.status) == (rel, "ACTIVE")

    assert atlas.relationship.delete_relationship_by_guid(rel) is None
    inputs = [o["guid"] for o in atlas.entity.get_entity_by_guid(g["process"]).entity.relationshipAttributes["inputs"]]
    assert inputs == [g["table"]]
    assert g["red"] not in atlas.lineage.get_lineage_info(g["process"], "INPUT", 1).guidEntityMap
    with pytest.raises(AtlasServiceException, match="ATLAS-404-00-00C"):
        atlas.relationship.delete_relationship_by_guid(rel)
    events = atlas.entity.get_audit_events(g["process"], None, None, 10)
    assert [(e["action"], e["user"]) for e in events[:2]] == [("ENTITY_UPDATE", "steward")] * 2


# -- declared ends ---------------------------------------------------------------------------------


def test_a_single_valued_end_is_set_on_the_entity_that_declares_it(app: Any, client: Any) -> None:
    g = _load(client, "db")
    body = {"typeName": "hive_table_db", "end1": {"guid": g["red"]},
            "end2": {"typeName": "hive_db", "uniqueAttributes": {"qualifiedName": "db@cm"}}}
    response = _send(client, "POST", "/relationship", body)
    assert response.status_code == 200, response.get_json()
    created = response.get_json()
    rel = relationship_guid("hive_table_db", g["red"], g["db"])
    assert (created["guid"], created["label"], created["propagateTags"]) == (rel, "__hive_table.db", "NONE")
    db = _rel_attrs(client, g["red"])["db"]
    assert (db["guid"], db["relationshipGuid"], db["relationshipType"]) == (g["db"], rel, "hive_table_db")

    again = _send(client, "POST", "/relationship", body)
    assert again.status_code == 409 and again.get_json() == {
        "errorCode": "ATLAS-409-00-004",
        "errorMessage": f"relationship hive_table_db already exists between entities {g['red']} and {g['db']} "
                        f"(relationship {rel})"}
    other = _send(client, "POST", "/entity", {"entity": {"typeName": "hive_db", "attributes": {
        "qualifiedName": "db2@cm", "name": "db2", "clusterName": "cm"}}})
    assert other.status_code == 200
    second = _send(client, "POST", "/relationship", {**body, "end2": {"guid": guid_for("hive_db", "db2@cm")}})
    assert second.status_code == 400 and second.get_json()["errorCode"] == "ATLAS-400-00-01A"
    assert f"db of hive_table {g['red']} is single-valued and already refers to {g['db']} (relationship {rel})" in (
        second.get_json()["errorMessage"])

    read = client.get(f"{V2}/relationship/guid/{rel}").get_json()
    assert set(read) == {"relationship"} and read["relationship"] == created
    assert _send(client, "DELETE", f"/relationship/guid/{rel}").status_code == 204
    assert _rel_attrs(client, g["red"])["db"] is None
    assert client.get(f"{V2}/relationship/guid/{rel}").status_code == 404


def test_a_set_end_is_appended_and_a_relationship_held_by_both_ends_is_deleted_from_both(
    app: Any, client: Any
) -> None:
    g = _load(client, "cols")
    column = {"typeName": "hive_column", "attributes": {"qualifiedName": "cols.wine.abv@cm", "name": "abv",
                                                        "type": "double"}}
    assert _send(client, "POST", "/entity", {"entity": column}).status_code == 200
    abv = guid_for("hive_column", "cols.wine.abv@cm")
    response = _send(client, "POST", "/relationship",
                     {"typeName": "hive_table_columns", "end1": {"guid": abv}, "end2": {"guid": g["table"]}})
    assert response.status_code == 200, response.get_json()
    new_rel = relationship_guid("hive_table_columns", g["table"], abv)
    assert response.get_json()["guid"] == new_rel
    columns = {c["guid"]: c["relationshipGuid"] for c in _rel_attrs(client, g["table"])["columns"]}
    old_rel = relationship_guid("hive_table_columns", g["table"], g["column"])
    assert columns == {g["column"]: old_rel, abv: new_rel}  # appended where the table keeps its columns
    assert _rel_attrs(client, abv)["table"] is None

    # the chain's own column relationship is held by the table (columns) and the column (table)
    assert _rel_attrs(client, g["column"])["table"]["relationshipGuid"] == old_rel
    read = client.get(f"{V2}/relationship/guid/{old_rel}").get_json()["relationship"]
    assert (read["end1"]["guid"], read["end2"]["guid"], read["label"]) == (g["table"], g["column"],
                                                                          "__hive_table.columns")
    assert _send(client, "DELETE", f"/relationship/guid/{old_rel}").status_code == 204
    assert [c["guid"] for c in _rel_attrs(client, g["table"])["columns"]] == [abv]
    assert _rel_attrs(client, g["column"])["table"] is None


def test_propagated_tags_deleted_ends_and_extended_info(app: Any, client: Any) -> None:
    g = _load(client, "tags")
    rel = relationship_guid("dataset_process_inputs", g["table"], g["process"])
    assert _send(client, "POST", f"/entity/guid/{g['table']}/classifications",
                 [{"typeName": "PII", "propagate": True}]).status_code == 204
    read = client.get(f"{V2}/relationship/guid/{rel}?extendedInfo=true").get_json()
    assert read["relationship"]["propagatedClassifications"] == [
        {"typeName": "PII", "attributes": {}, "entityGuid": g["table"], "entityStatus": "ACTIVE",
         "propagate": True, "removePropagationsOnEntityDelete": True}]
    assert read["referredEntities"][g["table"]]["classificationNames"] == ["PII"]

    assert _send(client, "DELETE", f"/entity/guid/{g['process']}").status_code == 200
    assert client.get(f"{V2}/relationship/guid/{rel}").get_json()["relationship"]["status"] == "DELETED"
    gone = _send(client, "DELETE", f"/relationship/guid/{rel}")
    assert gone.status_code == 404 and gone.get_json() == {
        "errorCode": "ATLAS-404-00-00F",
        "errorMessage": f"Attempting to delete a relationship which is already deleted : {rel}"}
    refused = _send(client, "POST", "/relationship", {"typeName": "dataset_process_inputs",
                                                      "end1": {"guid": g["process"]}, "end2": {"guid": g["red"]}})
    assert refused.status_code == 400
    assert f"ml_model_train_build_process {g['process']} is DELETED" in refused.get_json()["errorMessage"]


# -- refusals ----------------------------------------------------------------------------------------

_G = _guids("bad")


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"typeName": "no_such_rel", "end1": {"guid": _G["red"]}, "end2": {"guid": _G["db"]}}, 400,
         "ATLAS-400-00-028", "invalid value: unknown relationship type'no_such_rel'"),
        ({"typeName": "hive_table", "end1": {"guid": _G["red"]}, "end2": {"guid": _G["db"]}}, 400,
         "ATLAS-400-00-028", "invalid value: unknown relationship type'hive_table'"),
        ({"typeName": "dataset_process_inputs", "end1": {"guid": _G["red"]}, "end2": {"guid": _G["table"]}}, 400,
         "ATLAS-400-00-036", "invalid relationshipDef: dataset_process_inputs: actual: [end type 1: hive_table, "
                             "end type 2: hive_table]. expected: [end type 1: Process, end type 2: DataSet]"),
        ({"typeName": "dataset_process_inputs", "end1": {"guid": _G["process"]},
          "end2": {"guid": guid_for("hive_table", "nowhere@cm")}}, 400, "ATLAS-400-00-07D",
         "Relationship end is invalid. Expected DataSet but is NULL (end2: no entity with guid "
         f"{guid_for('hive_table', 'nowhere@cm')})"),
        ({"typeName": "hive_table_db", "end1": {"typeName": "hive_table", "uniqueAttributes": {"qualifiedName": "x"}},
          "end2": {"guid": _G["db"]}}, 400, "ATLAS-400-00-07D",
         'Relationship end is invalid. Expected hive_table but is NULL (end1: no entity hive_table with unique '
         'attributes {"qualifiedName": "x"})'),
        ({"typeName": "hive_table_db", "end1": {"guid": _G["red"]}}, 400, "ATLAS-400-00-01A",
         "invalid parameters: end1/end2 is null"),
        ({"typeName": "hive_table_db", "end1": {"guid": _G["red"], "typeName": "hive_db"}, "end2": {"guid": _G["db"]}},
         400, "ATLAS-400-00-045", f"Invalid entity-type for relationship attribute ‘db’: entity specified "
                                  f"(guid={_G['red']}) is of type ‘hive_table’, but expected type is ‘hive_db’"),
        ({"typeName": "dataset_process_inputs", "propagateTags": "ONE_TO_TWO", "end1": {"guid": _G["process"]},
          "end2": {"guid": _G["red"]}}, 400, "ATLAS-400-00-091",
         "Invalid propagation ONE_TO_TWO for relationship-type=dataset_process_inputs. Default value is TWO_TO_ONE"),
        ({"typeName": "hive_table_db", "attributes": {"colour": "red"}, "end1": {"guid": _G["red"]},
          "end2": {"guid": _G["db"]}}, 400, "ATLAS-400-00-023", "Attribute colour not found for type hive_table_db"),
        ({"typeName": "hive_table_db", "guid": guid_for("x", "y"), "end1": {"guid": _G["red"]},
          "end2": {"guid": _G["db"]}}, 400, "ATLAS-400-00-01A",
         f"invalid parameters: guid {guid_for('x', 'y')}: the catalog's relationship guids follow"),
        ({"typeName": "hive_table_db", "status": "PURGED", "end1": {"guid": _G["red"]}, "end2": {"guid": _G["db"]}},
         400, "ATLAS-400-00-01A", "invalid parameters: status: expected one of ACTIVE, DELETED, got 'PURGED'"),
        ({"typeName": "hive_table_db", "end1": "red", "end2": {"guid": _G["db"]}}, 400, "ATLAS-400-00-01A",
         "invalid parameters: end1: expected an AtlasObjectId object, got str"),
    ],
)
def test_bad_relationships_get_atlas_errors_and_nothing_is_written(
    app: Any, client: Any, body: dict[str, Any], status: int, code: str, message: str
) -> None:
    _load(client, "bad")
    before = _counts(app)
    response = _send(client, "POST", "/relationship", body)
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert answer["errorCode"] == code and message in answer["errorMessage"], answer
    assert _counts(app) == before


def test_updates_are_checked_as_atlas_checks_them(app: Any, client: Any) -> None:
    g = _load(client, "upd")
    rel = relationship_guid("dataset_process_inputs", g["table"], g["process"])
    same = {"guid": rel, "typeName": "dataset_process_inputs", "end1": {"guid": g["process"]},
            "end2": {"guid": g["table"]}, "status": "ACTIVE", "propagateTags": "TWO_TO_ONE", "attributes": {}}
    ok = _send(client, "PUT", "/relationship", same)
    assert ok.status_code == 200 and ok.get_json() == client.get(f"{V2}/relationship/guid/{rel}").get_json()[
        "relationship"]
    cases = [
        ({"typeName": "process_dataset_outputs"}, 404, "ATLAS-400-00-06A",
         f"change of relationship type is not permitted. relationship-guid={rel}, "
         "current-type=dataset_process_inputs, new-type=process_dataset_outputs"),
        ({"end2": {"guid": g["red"]}}, 404, "ATLAS-400-00-069",
         f"change of relationship end is not permitted. relationship-type=dataset_process_inputs, "
         f"relationship-guid={rel}, end-guid={g['table']}, updated-end-guid={g['red']}"),
        ({"propagateTags": "NONE"}, 400, "ATLAS-400-00-01A",
         "invalid parameters: propagateTags NONE: the catalog propagates tags as relationship type "
         "dataset_process_inputs says (TWO_TO_ONE) and cannot change it per relationship"),
        ({"status": "DELETED"}, 400, "ATLAS-400-00-01A",
         f"invalid parameters: status DELETED: an update does not change a relationship's status (relationship "
         f"{rel} is ACTIVE); DELETE relationship/guid/{rel} deletes it"),
        ({"attributes": {"note": "x"}}, 400, "ATLAS-400-00-023", "Attribute note not found for type "
                                                                  "dataset_process_inputs"),
        ({"guid": guid_for("nothing", "here")}, 404, "ATLAS-404-00-00C",
         f"Given relationship guid {guid_for('nothing', 'here')} is invalid/not found"),
        ({"guid": None}, 404, "ATLAS-404-00-00C", "Given relationship guid null is invalid/not found"),
    ]
    before = _counts(app)
    for change, status, code, message in cases:
        response = _send(client, "PUT", "/relationship", {**same, **change})
        assert (response.status_code, response.get_json()) == (status, {"errorCode": code, "errorMessage": message})
    assert _counts(app) == before


def test_unknown_guids_are_atlas_404s(client: Any) -> None:
    unknown = guid_for("nothing", "at all")
    for path in (f"/relationship/guid/{unknown}", "/relationship/guid/not-a-guid"):
        response = _send(client, "GET", path, who=None)
        guid = path.rsplit("/", 1)[1]
        assert response.status_code == 404 and response.get_json() == {
            "errorCode": "ATLAS-404-00-00C", "errorMessage": f"Given relationship guid {guid} is invalid/not found"}
    deleted = _send(client, "DELETE", f"/relationship/guid/{unknown}")
    assert deleted.status_code == 404 and deleted.get_json()["errorCode"] == "ATLAS-404-00-00C"
    not_json = client.post(f"{V2}/relationship", data="{nope", content_type="application/json",
                           headers=basic_auth(STEWARD))
    assert not_json.status_code == 400 and not_json.get_json()["errorCode"] == "ATLAS-400-00-029"


def test_writes_need_a_steward(app: Any, client: Any) -> None:
    g = _load(client, "auth")
    rel = relationship_guid("dataset_process_inputs", g["table"], g["process"])
    body = {"typeName": "dataset_process_inputs", "end1": {"guid": g["process"]}, "end2": {"guid": g["red"]}}
    before = _counts(app)
    for method, path, payload in (("POST", "/relationship", body), ("PUT", "/relationship", {"guid": rel}),
                                  ("DELETE", f"/relationship/guid/{rel}", None)):
        anonymous = _send(client, method, path, payload, who=None)
        assert anonymous.status_code == 401 and anonymous.get_json()["errorCode"] == "ATLAS-401-00-001"
        viewer = _send(client, method, path, payload, who=VIEWER)
        assert viewer.status_code == 403 and viewer.get_json() == {
            "errorCode": "ATLAS-403-00-001",
            "errorMessage": f"user 'viewer' (role viewer) may not {method} {V2}{path}: needs steward"}
    assert _counts(app) == before
    assert _send(client, "GET", f"/relationship/guid/{rel}", who=VIEWER).status_code == 200


def test_relationship_attributes_are_refused_not_dropped(tmp_path: Any) -> None:
    with _app_with_users(tmp_path / "catalog.db") as app:
        app.extensions["catalog"].registry.load({"relationshipDefs": [
            {"name": "hive_db_noted_tables", "relationshipCategory": "ASSOCIATION", "propagateTags": "NONE",
             "endDef1": {"type": "hive_db", "name": "notedTables", "cardinality": "SET"},
             "endDef2": {"type": "hive_table", "name": "notedIn", "cardinality": "SET"},
             "attributeDefs": [{"name": "note", "typeName": "string", "isOptional": True}]},
            {"name": "hive_db_owned_tables", "relationshipCategory": "ASSOCIATION",
             "endDef1": {"type": "hive_db", "name": "ownedTables", "cardinality": "SET"},
             "endDef2": {"type": "hive_table", "name": "ownedBy", "cardinality": "SINGLE"},
             "attributeDefs": [{"name": "since", "typeName": "date", "isOptional": False}]},
        ]}, "test")
        test_client = app.test_client()
        g = _load(test_client, "attrs")
        body = {"typeName": "hive_db_noted_tables", "end1": {"guid": g["db"]}, "end2": {"guid": g["red"]}}
        valued = _send(test_client, "POST", "/relationship", {**body, "attributes": {"note": "checked"}})
        assert valued.status_code == 400 and valued.get_json()["errorMessage"] == (
            "invalid parameters: attribute note of relationship type hive_db_noted_tables: the catalog does not "
            "store relationship attribute values (a relationship is a reference held by one of its ends)")
        mandatory = _send(test_client, "POST", "/relationship", {**body, "typeName": "hive_db_owned_tables"})
        assert mandatory.status_code == 404 and mandatory.get_json() == {
            "errorCode": "ATLAS-404-00-00D",
            "errorMessage": "Invalid relationship creation/updation parameters passed : "
                            "[hive_db_owned_tables.since: mandatory attribute value missing in type "
                            "hive_db_owned_tables]"}
        created = _send(test_client, "POST", "/relationship", {**body, "attributes": {"note": None}})
        assert created.status_code == 200, created.get_json()
        assert created.get_json()["attributes"] == {"note": None} and created.get_json()["label"] == (
            "r:hive_db_noted_tables")
        noted = _rel_attrs(test_client, g["db"])["notedTables"]
        assert [(n["guid"], n["relationshipGuid"]) for n in noted] == [(g["red"], created.get_json()["guid"])]
