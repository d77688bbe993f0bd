"""Atlas hook messages posted to ``notification/topic/ATLAS_HOOK``: Atlas's own sample messages, V1 and V2.

The real bodies in the reference samples are read in place: the webapp's enveloped
notifications (their ``--name--``-style placeholders filled with realistic values), the
Hive bridge's messages and payloads, and the sample app's REST bodies (which need types
only its typedef request defines). Every POST is all or nothing; errors name the message
and the field.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import store, users
from catalog.config import Settings
from catalog.model import guid_for
from catalog.types.registry import TYPEDEFS_DIR, TypeRegistry
from tests.conftest import reference
from tests.web_fixtures import basic_auth, catalog_app, client, served  # noqa: F401 - fixtures

STEWARD = ("steward", "steward-password")
VIEWER = ("viewer", "viewer-password")
V2 = "/api/atlas/v2"
HOOK = f"{V2}/notification/topic/ATLAS_HOOK"
V1 = "org.apache.atlas.typesystem.json.InstanceSerialization$_"
SAMPLES = "atlas/samples"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("hook-messages") / "catalog.db"
    with catalog_app(Settings(database_url=f"sqlite:///{path}")) as app:
        with app.extensions["catalog"].write_session() as session, session.begin():
            users.add_user(session, *STEWARD, "steward")
            users.add_user(session, *VIEWER, "viewer")
        yield app


def _post(client: Any, body: Any, who: tuple[str, str] | None = STEWARD, path: str = HOOK) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", headers=basic_auth(who) if who else {})


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _sample(file: str, values: dict[str, Any] | None = None) -> Any:
    """A reference sample, its ``--key--`` placeholders replaced (numbers unquoted, text in place)."""
    text = reference(f"{SAMPLES}/{file}").read_text(encoding="utf-8")
    for key, value in (values or {}).items():
        if not isinstance(value, str):
            text = text.replace(f'"--{key}--"', json.dumps(value))
        text = text.replace(f"--{key}--", str(value))
    assert re.search(r"--[A-Za-z]+--", text) is None, f"placeholder left in {file}"
    return json.loads(text)


def _entity(client: Any, type_name: str, qualified_name: str) -> dict[str, Any]:
    response = client.get(f"{V2}/entity/guid/{guid_for(type_name, qualified_name)}")
    assert response.status_code == 200, (type_name, qualified_name, response.get_json())
    return response.get_json()["entity"]


def _counts(app: Any) -> tuple[int, int]:
    with app.extensions["catalog"].session() as session:
        return session.query(store.EntityRow).count(), session.query(store.AuditRow).count()


def _headers(answer: dict[str, Any], op: str) -> set[tuple[str, str]]:
    return {(h["typeName"], h["attributes"]["qualifiedName"]) for h in answer["mutatedEntities"].get(op, [])}


def _create(*entities: dict[str, Any], user: str = "hive") -> dict[str, Any]:
    return {"type": "ENTITY_CREATE_V2", "user": user, "entities": {"entities": list(entities)}}


def _v2(type_name: str, qualified_name: str, **attributes: Any) -> dict[str, Any]:
    return {"typeName": type_name, "attributes": {"qualifiedName": qualified_name, **attributes}}


def _ref(type_name: str, qualified_name: str) -> dict[str, Any]:
    return {"typeName": type_name, "uniqueAttributes": {"qualifiedName": qualified_name}}


# -- Atlas's own sample messages ------------------------------------------------------------


def test_webapp_envelopes_create_a_database_its_ddl_then_delete_it(app: Any, client: Any) -> None:
    names = {"name": "sales", "clName": "cm", "ts": 1714557600000, "execTime": 1714557601000}
    created = _ok(_post(client, _sample("webapp_test_notifications/create-db.json", names)))
    db = guid_for("hive_db", "sales@cm")
    assert _headers(created, "CREATE") == {("hive_db", "sales@cm")}
    assert created["guidAssignments"] == {"-72583599150177287": db}
    assert created["messages"] == [{
        "index": 0, "type": "ENTITY_CREATE_V2", "user": "hive via steward", "created": 1, "updated": 0,
        "deleted": 0, "guidAssignments": {"-72583599150177287": db}, "ignoredAttributes": ["hive_db.managedLocation"]}]
    stored = _entity(client, "hive_db", "sales@cm")
    assert stored["attributes"]["ownerType"] == "USER" and stored["attributes"]["location"] == "some_location"
    assert stored["createdBy"] == "hive via steward"

    ddl = _ok(_post(client, _sample("webapp_test_notifications/create-db-ddl.json", names)))
    assert _headers(ddl, "CREATE") == {("hive_db_ddl", "sales@cm:1714557601000")}
    assert ddl["messages"][0]["user"] == "root via steward"
    assert ddl["messages"][0]["ignoredAttributes"] == ["hive_db_ddl.name"]  # Atlas's ddl has no name either
    statement = _entity(client, "hive_db_ddl", "sales@cm:1714557601000")
    assert statement["attributes"]["execTime"] == 1714557601000
    assert statement["relationshipAttributes"]["db"]["guid"] == db
    with app.extensions["catalog"].session() as session:
        events = store.audit_events(session, statement["guid"])
    assert [(e.action, e.user, e.source) for e in events] == [("ENTITY_CREATE", "root via steward", "atlas-hook")]

    deleted = _ok(_post(client, _sample("webapp_test_notifications/delete-db.json", names)))
    assert _headers(deleted, "DELETE") == {("hive_db", "sales@cm")}
    assert _entity(client, "hive_db", "sales@cm")["status"] == "DELETED"
    again = _ok(_post(client, _sample("webapp_test_notifications/delete-db.json", names)))
    assert again["mutatedEntities"] == {} and again["messages"][0]["deleted"] == 0  # already deleted: skipped


def _hive_setup() -> dict[str, Any]:
    """The databases, tables and columns the Hive bridge's messages refer to (earlier hook messages)."""
    dbs = [_v2("hive_db", qn, name=qn.split("@")[0], clusterName=qn.split("@")[1])
           for qn in ("cadb02@cm", "cadb202@primary", "default@primary")]
    tables = [_v2("hive_table", qn, name=qn.split("@")[0].split(".")[1])
              for qn in ("cadb02.hh6@cm", "cadb02.hh6_renamed@cm", "cadb202.hh202@primary",
                         "cadb202.vw202@primary", "default.table_nrx8uoggc0@primary")]
    columns = [{**_v2("hive_column", f"cadb202.{t}.col202@primary", name="col202", type="int"),
                "relationshipAttributes": {"table": _ref("hive_table", f"cadb202.{t}@primary")}}
               for t in ("hh202", "vw202")]
    return _create(*dbs, *tables, *columns)


def test_hive_bridge_messages_and_payloads_apply_in_one_post(app: Any, client: Any) -> None:
    messages = [_hive_setup()]
    for name in ("hive-bridge_test_hs2-create-db-v2.json", "hive-bridge_test_hs2-create-table-v2.json",
                 "hive-bridge_test_hs2-create-process-v2.json"):  # AtlasEntitiesWithExtInfo payloads
        messages.append({"type": "ENTITY_CREATE_V2", "user": "hive", "entities": _sample(name)})
    for name in ("hive-bridge_test_hs2-load-inpath-v2.json", "hive-bridge_test_hs2-table-rename-v2.json"):
        messages.extend(_sample(name))  # lists of bare HookNotifications
    answer = _ok(_post(client, messages))
    assert len(answer["messages"]) == 6 and [m["index"] for m in answer["messages"]] == list(range(6))
    created = {t for t, _ in _headers(answer, "CREATE")}
    assert created == {"hive_db", "hive_table", "hive_column", "hive_db_ddl", "hdfs_path", "hive_process",
                       "hive_process_execution", "hive_table_ddl", "hive_column_lineage"}

    ctas = "cadb202.vw202@primary:1616604471000"
    process = _entity(client, "hive_process", ctas)
    assert process["attributes"]["operationType"] == "CREATETABLE_AS_SELECT"
    lineage = client.get(f"{V2}/lineage/{guid_for('hive_table', 'cadb202.vw202@primary')}?direction=INPUT").get_json()
    pairs = {(r["fromEntityId"], r["toEntityId"]) for r in lineage["relations"]}
    assert pairs == {(guid_for("hive_table", "cadb202.hh202@primary"), process["guid"]),
                     (process["guid"], guid_for("hive_table", "cadb202.vw202@primary"))}
    column_lineage = _entity(client, "hive_column_lineage", f"{ctas}:col202")
    assert column_lineage["relationshipAttributes"]["query"]["guid"] == process["guid"]
    assert [i["guid"] for i in column_lineage["attributes"]["inputs"]] == [
        guid_for("hive_column", "cadb202.hh202.col202@primary")]
    execution = _entity(client, "hive_process_execution", f"{ctas}:1616604468798:1616604475518")
    assert execution["relationshipAttributes"]["process"]["guid"] == process["guid"]
    path = _entity(client, "hdfs_path",
                   "hdfs://ve0126.halxg.cloudera.com:8020/warehouse/tablespace/external/hive/cadb02.db@cm")
    assert path["relationshipAttributes"]["hiveDb"]["guid"] == guid_for("hive_db", "cadb02@cm")
    load = _entity(client, "hive_process", "LOAD->:default.table_nrx8uoggc0@primary:1622738598000")
    assert [i["typeName"] for i in load["attributes"]["inputs"]] == ["hdfs_path"]
    renamed = _entity(client, "hive_table_ddl", "cadb02.hh6_renamed@cm:1616450674247")
    assert renamed["attributes"]["queryText"] == "ALTER TABLE hh6 RENAME TO hh6_renamed"


@pytest.mark.parametrize(("name", "missing"), [
    ("python-sample-app_entity_create_db.json", "sample_db"),
    ("python-sample-app_entity_create_table_us.json", "sample_column"),
    ("python-sample-app_entity_create_table_canada.json", "sample_column"),
    ("python-sample-app_entity_create_process.json", "sample_process"),
])
def test_sample_app_bodies_need_the_sample_types(app: Any, client: Any, name: str, missing: str) -> None:
    before = _counts(app)
    response = _post(client, [_create(_v2("hive_db", "kept@cm", name="kept", clusterName="cm")),
                              {"type": "ENTITY_CREATE_V2", "entities": _sample(name)}])
    assert response.status_code == 400
    assert response.get_json() == {"errorCode": "ATLAS-400-00-014", "errorMessage":
                                   f"messages[1] (ENTITY_CREATE_V2): Type ENTITY with name {missing} does not exist"}
    assert _counts(app) == before  # the first message is not written either


def test_sample_app_bodies_are_accepted_once_its_types_are_created(tmp_path: Any) -> None:
    with catalog_app(Settings(database_url=f"sqlite:///{tmp_path / 'sample.db'}")) as sample_app:
        with sample_app.extensions["catalog"].write_session() as session, session.begin():
            users.add_user(session, *STEWARD, "steward")
            users.add_user(session, "admin", "admin-password", "admin")
        test_client = sample_app.test_client()
        typedefs = reference(f"{SAMPLES}/python-sample-app_typedef_create.json").read_text(encoding="utf-8")
        created = _post(test_client, typedefs, who=("admin", "admin-password"), path=f"{V2}/types/typedefs")
        assert created.status_code == 200, created.get_json()
        bodies = [_sample(f"python-sample-app_entity_create_{n}.json") for n in ("db", "table_us", "table_canada",
                                                                                   "process")]
        answer = _ok(_post(test_client, [{"type": "ENTITY_CREATE_V2", "entities": b} for b in bodies]))
        us, canada = (guid_for("sample_table", f"employee_db.employees_{c}@cl1") for c in ("us", "canada"))
        assert answer["messages"][1]["guidAssignments"]["-1"] == us  # temporary guids are per message
        assert answer["messages"][2]["guidAssignments"]["-1"] == canada
        assert len(_headers(answer, "CREATE")) == 10 and answer["messages"][0]["user"] == "steward"
        table = test_client.get(f"{V2}/entity/guid/{us}").get_json()["entity"]
        assert table["attributes"]["tableType"] == "MANAGED"  # sent as "Managed": Atlas matches enums in any case
        lineage = test_client.get(f"{V2}/lineage/{us}?direction=OUTPUT").get_json()
        assert canada in lineage["guidEntityMap"]


def test_hive_hook_typedefs_match_atlas_attribute_for_attribute() -> None:
    models = reference("atlas/models")
    theirs = TypeRegistry()
    for name in ("0000-Area0/0010-base_model.json", "1000-Hadoop/1020-fs_model.json",
                 "1000-Hadoop/1030-hive_model.json"):
        theirs.load_file(models / name)
    ours = TypeRegistry.default()
    typedefs = json.loads((TYPEDEFS_DIR / "1031-hive-hook.json").read_text(encoding="utf-8"))
    for d in typedefs["entityDefs"]:
        mine = {n: (a["typeName"], a["isOptional"]) for n, a in ours.all_attributes(d["name"]).items()}
        atlas = {n: (a["typeName"], a.get("isOptional", False)) for n, a in theirs.all_attributes(d["name"]).items()}
        assert mine == atlas, d["name"]
    for d in typedefs["relationshipDefs"]:
        atlas = theirs.relationship_def(d["name"])
        for end in ("endDef1", "endDef2"):
            assert [d[end][k] for k in ("type", "name", "cardinality")] == [
                atlas[end][k] for k in ("type", "name", "cardinality")], d["name"]


# -- V1 messages ------------------------------------------------------------------------------


def _v1_id(guid: str, type_name: str) -> dict[str, Any]:
    return {"jsonClass": V1 + "Id", "id": guid, "version": 0, "typeName": type_name, "state": "ACTIVE"}


def _v1(guid: str, type_name: str, values: dict[str, Any], traits: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"jsonClass": V1 + "Reference", "id": _v1_id(guid, type_name), "typeName": type_name, "values": values,
            "traitNames": list(traits),
            "traits": {t: {"jsonClass": V1 + "Struct", "typeName": t, "values": {}} for t in traits}}


def test_v1_create_partial_update_full_update_and_delete(app: Any, client: Any) -> None:
    db = _v1("-100", "hive_db", {"qualifiedName": "v1@cm", "name": "v1", "clusterName": "cm"})
    serde = {"jsonClass": V1 + "Struct", "typeName": "hive_serde", "values": {"name": "csv", "parameters": {}}}
    storage = _v1("-102", "hive_storagedesc", {"qualifiedName": "v1.t@cm_storage", "compressed": False,
                                                "serdeInfo": serde, "table": _v1_id("-101", "hive_table")})
    column = _v1("-103", "hive_column", {"qualifiedName": "v1.t.c@cm", "name": "c", "type": "int",
                                         "table": _v1_id("-101", "hive_table")})
    table = _v1("-101", "hive_table", {"qualifiedName": "v1.t@cm", "name": "t", "db": _v1_id("-100", "hive_db"),
                                       "sd": storage, "columns": [column], "comment": "first"}, traits=("PII",))
    created = _ok(_post(client, {"type": "ENTITY_CREATE", "user": "storm", "entities": [db, table]}))
    assert _headers(created, "CREATE") == {("hive_db", "v1@cm"), ("hive_table", "v1.t@cm"),
                                           ("hive_storagedesc", "v1.t@cm_storage"), ("hive_column", "v1.t.c@cm")}
    assert created["guidAssignments"]["-101"] == guid_for("hive_table", "v1.t@cm")
    stored = _entity(client, "hive_table", "v1.t@cm")
    assert [c["typeName"] for c in stored["classifications"]] == ["PII"]
    assert stored["relationshipAttributes"]["db"]["guid"] == guid_for("hive_db", "v1@cm")
    assert [c["guid"] for c in stored["relationshipAttributes"]["columns"]] == [guid_for("hive_column", "v1.t.c@cm")]
    sd = _entity(client, "hive_storagedesc", "v1.t@cm_storage")["attributes"]["serdeInfo"]
    assert sd in ({"typeName": "hive_serde", "attributes": {"name": "csv", "parameters": {}}},
                  {"name": "csv", "parameters": {}})

    partial = {"type": "ENTITY_PARTIAL_UPDATE", "typeName": "hive_table", "attribute": "qualifiedName",
               "attributeValue": "v1.t@cm", "entity": _v1("-7", "hive_table", {"comment": "second"})}
    answer = _ok(_post(client, partial))
    assert _headers(answer, "PARTIAL_UPDATE") == {("hive_table", "v1.t@cm")}
    assert answer["messages"][0]["user"] == "steward"  # no user in the message: the caller
    stored = _entity(client, "hive_table", "v1.t@cm")
    assert stored["attributes"]["comment"] == "second" and stored["attributes"]["name"] == "t"  # the rest is kept

    full = {"type": "ENTITY_FULL_UPDATE", "user": "storm", "entities": [
        _v1("-9", "hive_db", {"qualifiedName": "v1@cm", "name": "v1", "clusterName": "cm", "location": "/v1"})]}
    assert _headers(_ok(_post(client, full)), "UPDATE") == {("hive_db", "v1@cm")}
    delete = {"type": "ENTITY_DELETE", "user": "storm", "typeName": "hive_table", "attribute": "qualifiedName",
              "attributeValue": "v1.t@cm"}
    assert _headers(_ok(_post(client, delete)), "DELETE") == {("hive_table", "v1.t@cm")}
    assert _entity(client, "hive_table", "v1.t@cm")["updatedBy"] == "storm via steward"


def test_v2_partial_update_by_unique_attribute_and_by_guid(app: Any, client: Any) -> None:
    _ok(_post(client, _create(_v2("hive_db", "part@cm", name="part", clusterName="cm", location="/a"))))
    by_name = {"type": "ENTITY_PARTIAL_UPDATE_V2", "user": "hive", "entityId": _ref("hive_db", "part@cm"),
               "entity": {"entity": {"typeName": "hive_db", "attributes": {"location": "/b"}}}}
    assert _headers(_ok(_post(client, by_name)), "PARTIAL_UPDATE") == {("hive_db", "part@cm")}
    by_guid = {"type": "ENTITY_PARTIAL_UPDATE_V2", "entityId": {"guid": guid_for("hive_db", "part@cm")},
               "entity": {"entity": {"attributes": {"description": "partial"}}}}
    _ok(_post(client, by_guid))
    stored = _entity(client, "hive_db", "part@cm")["attributes"]
    assert (stored["location"], stored["description"], stored["clusterName"]) == ("/b", "partial", "cm")
    rename = {**by_name, "entity": {"entity": {"typeName": "hive_db", "attributes": {"qualifiedName": "new@cm"}}}}
    response = _post(client, rename)
    assert response.status_code == 400 and response.get_json()["errorMessage"].startswith(
        "messages[0].entity.entity: names hive_db 'new@cm' but entityId is "
        "hive_db 'part@cm'")
    missing = _post(client, {**by_name, "entityId": _ref("hive_db", "absent@cm")})
    assert missing.status_code == 404 and missing.get_json() == {"errorCode": "ATLAS-404-00-009", "errorMessage": (
        "messages[0] (ENTITY_PARTIAL_UPDATE_V2): Instance hive_db with unique attribute "
        "{qualifiedName=absent@cm} does not exist")}


def test_atlas_rest_client_form_list_of_json_strings_answers_204(app: Any) -> None:
    message = _create(_v2("hive_db", "rest@cm", name="rest", clusterName="cm"))
    envelope = {"version": {"version": "1.0.0", "versionParts": [1]}, "msgCompressionKind": "NONE",
                "msgSplitIdx": 1, "msgSplitCount": 1, "msgCreationTime": 1714557600000, "message": message}
    with served(app, "hook-rest") as url:
        response = requests.post(url + HOOK, data=json.dumps([json.dumps(envelope)]), timeout=10,
                                 headers={"Content-Type": "application/json", **basic_auth(STEWARD)})
        assert (response.status_code, response.content) == (204, b"")
        assert requests.get(f"{url}{V2}/entity/guid/{guid_for('hive_db', 'rest@cm')}", timeout=10).status_code == 200


def test_gzip_encoded_body_is_read(app: Any, client: Any) -> None:
    body = gzip.compress(json.dumps(_create(_v2("hive_db", "gz@cm", name="gz", clusterName="cm"))).encode())
    response = client.post(HOOK, data=body, content_type="application/json",
                           headers={**basic_auth(STEWARD), "Content-Encoding": "gzip"})
    assert _headers(_ok(response), "CREATE") == {("hive_db", "gz@cm")}


# -- refusals -------------------------------------------------------------------------------


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def _envelope(**fields: Any) -> dict[str, Any]:
    return {"version": {"version": "1.0.0", "versionParts": [1]}, "msgCompressionKind": "NONE", "msgSplitIdx": 1,
            "msgSplitCount": 1, "message": _create(_v2("hive_db", "env@cm", name="env", clusterName="cm")), **fields}


@pytest.mark.parametrize(("body", "status", "code", "message"), [
    (b'{"type": "ENTITY_CREATE_V2",', 400, "ATLAS-400-00-029",
     "request body is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 29"),
    (b"", 400, "ATLAS-400-00-029", "request body is empty: expected JSON"),
    ([], 400, "ATLAS-400-00-029", "request body: an empty list: expected one or more hook messages"),
    ([{"type": "ENTITY_CREATE_V2", "entities": {"entities": []}}, {"type": "ENTITY_MOVE"}], 400, "ATLAS-400-00-029",
     "messages[1].type: unknown message type 'ENTITY_MOVE' (expected one of ENTITY_CREATE_V2, "
     "ENTITY_FULL_UPDATE_V2, ENTITY_PARTIAL_UPDATE_V2, ENTITY_DELETE_V2, ENTITY_CREATE, ENTITY_FULL_UPDATE, "
     "ENTITY_PARTIAL_UPDATE, ENTITY_DELETE)"),
    ({"user": "hive"}, 400, "ATLAS-400-00-029", "messages[0].type: required: the message type"),
    ({"type": "TYPE_CREATE", "typesDef": {}}, 400, "ATLAS-400-00-029",
     "messages[0].type: TYPE_CREATE is not accepted: type definitions are not read from hook messages"),
    ({"type": "ENTITY_CREATE_V2", "user": 7}, 400, "ATLAS-400-00-029",
     "messages[0].user: expected a user name (string), got int"),
    ({"type": "ENTITY_CREATE_V2", "user": "hive"}, 400, "ATLAS-400-00-029", 
     "messages[0].entities: expected an AtlasEntitiesWithExtInfo object ({\"entities\": [...]})"),
    ([_create(_v2("hive_db", "ok@cm", name="ok", clusterName="cm")),
      _create(_v2("no_such_type", "x@cm", name="x"))], 400, "ATLAS-400-00-014",
     "messages[1] (ENTITY_CREATE_V2): Type ENTITY with name no_such_type does not exist"),
    (_create(_v2("hive_table", "t@cm", name="t", retention="long")), 404, "ATLAS-404-00-007",
     "messages[0] (ENTITY_CREATE_V2): Invalid instance creation/updation parameters passed : hive_table 't@cm': "
     "attribute 'retention' expects int, got str 'long'"),
    ({"type": "ENTITY_DELETE", "typeName": "hive_db", "attribute": "name", "attributeValue": "x"}, 400,
     "ATLAS-400-00-029", "messages[0].attribute: only qualifiedName identifies "
     "entities here, got 'name'"),
    ({"type": "ENTITY_DELETE", "typeName": "hive_db", "attribute": "qualifiedName"}, 400, "ATLAS-400-00-029",
     "messages[0].attributeValue: required: the entity's qualifiedName (a string)"),
    ({"type": "ENTITY_DELETE_V2", "entities": [_ref("nope_type", "x")]}, 400, "ATLAS-400-00-014",
     "messages[0] (ENTITY_DELETE_V2): Type ENTITY with name nope_type does not exist"),
    ({"type": "ENTITY_CREATE", "entities": [{"id": {"id": "-1"}, "values": {}}]}, 400, "ATLAS-400-00-029",
     "messages[0].entities[0].typeName: required: the entity's type name"),
    ({"type": "ENTITY_CREATE", "entities": [{"typeName": "hive_db", "values": {
        "qualifiedName": "e@cm", "name": "e", "clusterName": "cm", "ownerType": ["USER"]}}]}, 404, "ATLAS-404-00-007",
     "messages[0] (ENTITY_CREATE): Invalid instance creation/updation parameters passed : hive_db 'e@cm': "
     "attribute 'ownerType' expects hive_principal_type (one of USER, ROLE, GROUP), got list ['USER']"),
    (_envelope(msgCompressionKind="GZIP"), 400, "ATLAS-400-00-029", "messages[0].msgCompressionKind: compressed "
     "messages (GZIP) are not accepted"),
    (_envelope(msgSplitIdx=0, msgSplitCount=3), 400, "ATLAS-400-00-029", "messages[0].msgSplitCount: split "
     "messages (3 parts) are not accepted: post the whole message in one request"),
    (_envelope(version={"version": "2.0.0"}), 400, "ATLAS-400-00-029",
     "messages[0].version: message version 2.0.0 is newer than the supported 1.0.0"),
    (_envelope(message="x"), 400, "ATLAS-400-00-029",
     "messages[0].message: expected the hook message object in the envelope"),
    ({"type": "ENTITY_CREATE_V2", "entities": {"entities": [{"a": _nested(70)}]}}, 400, "ATLAS-400-00-029",
     "messages[0]: JSON nested deeper than 64 levels"),
])
def test_bad_messages_are_refused_whole_and_name_the_message(
    app: Any, client: Any, body: Any, status: int, code: str, message: str
) -> None:
    before = _counts(app)
    response = _post(client, body)
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert answer["errorCode"] == code and answer["errorMessage"].startswith(message), answer
    assert _counts(app) == before


def test_topic_size_and_roles(app: Any, client: Any) -> None:
    message = _create(_v2("hive_db", "roles@cm", name="roles", clusterName="cm"))
    other = _post(client, message, path=f"{V2}/notification/topic/ATLAS_ENTITIES")
    assert other.status_code == 400 and other.get_json() == {
        "errorCode": "ATLAS-400-00-101", "errorMessage": "Unsupported topic name : ATLAS_ENTITIES (only ATLAS_HOOK is "
                                                         "consumed)"}
    big = json.dumps([message] * 20_000)
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    too_large = _post(client, big)
    assert too_large.status_code == 413 and too_large.get_json() == {
        "errorCode": "ATLAS-413-00-000", "errorMessage": "request body is larger than the limit of 1048576 bytes "
                                                         "(MAX_CONTENT_LENGTH): send fewer messages per request"}
    anonymous = _post(client, message, who=None)
    assert anonymous.status_code == 401 and anonymous.get_json()["errorCode"] == "ATLAS-401-00-001"
    viewer = _post(client, message, who=VIEWER)
    assert viewer.status_code == 403 and viewer.get_json()["errorMessage"] == (
        "user 'viewer' (role viewer) may not POST /api/atlas/v2/notification/topic/ATLAS_HOOK: needs steward")
    assert client.get(f"{V2}/entity/guid/{guid_for('hive_db', 'roles@cm')}").status_code == 404


# -- generated input ------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_TYPES = st.sampled_from(["hive_db", "hive_table", "hive_column", "hive_process", "hdfs_path", "nope", ""]) | st.text(
    max_size=6)
_ENTITY = st.fixed_dictionaries(
    {"typeName": _TYPES, "attributes": st.dictionaries(
        st.sampled_from(["qualifiedName", "name", "clusterName", "inputs", "db", "comment", "x"]),
        _JSON | st.text(min_size=1, max_size=10), max_size=4)},
    optional={"guid": st.sampled_from(["-1", "-2", "not-a-guid"]) | st.uuids().map(str),
              "relationshipAttributes": st.dictionaries(st.sampled_from(["db", "table", "inputs", "columns"]),
                                                        _JSON, max_size=2),
              "classifications": _JSON})
_MESSAGE = st.fixed_dictionaries(
    {"type": st.sampled_from(["ENTITY_CREATE_V2", "ENTITY_FULL_UPDATE_V2", "ENTITY_PARTIAL_UPDATE_V2",
                              "ENTITY_DELETE_V2", "ENTITY_CREATE", "ENTITY_FULL_UPDATE", "ENTITY_PARTIAL_UPDATE",
                              "ENTITY_DELETE", "TYPE_CREATE", "OTHER"]) | _JSON},
    optional={"user": _JSON, "entities": st.fixed_dictionaries({"entities": st.lists(_ENTITY, max_size=3)},
                                                               optional={"referredEntities": _JSON}) | _JSON,
              "entityId": _JSON | _ENTITY, "entity": _JSON | st.fixed_dictionaries({"entity": _ENTITY}),
              "typeName": _TYPES, "attribute": st.sampled_from(["qualifiedName", "name"]) | _JSON,
              "attributeValue": _JSON})
_ENVELOPED = st.builds(lambda m, extra: {"version": {"version": "1.0.0"}, "message": m, **extra}, _MESSAGE,
                       st.dictionaries(st.sampled_from(["msgCompressionKind", "msgSplitCount", "msgSplitIdx",
                                                        "msgCreationTime", "version"]), _JSON, max_size=2))
_NAME = st.text(min_size=1, max_size=10)
_VALUE = _NAME | _JSON
#: Nearly valid: a hive_db / hive_table of real shape, some values and keys generated.
_HIVE = st.builds(
    lambda qn, db, extra, guid: [
        {"typeName": "hive_db", "guid": "-1", "attributes": {"qualifiedName": db, "name": db, "clusterName": "cm"}},
        {"typeName": "hive_table", "guid": guid, "attributes": {"qualifiedName": qn, "name": qn, **extra},
         "relationshipAttributes": {"db": {"guid": "-1"}}}],
    _NAME, _NAME, st.dictionaries(st.sampled_from(["comment", "retention", "temporary", "parameters", "aliases",
                                                   "createTime", "owner", "unknown"]), _VALUE, max_size=3),
    st.sampled_from(["-2", "-1"]) | _VALUE)
_NEAR = st.one_of(
    st.builds(lambda e, user: {"type": "ENTITY_CREATE_V2", "user": user, "entities": {"entities": e}}, _HIVE,
              st.none() | _NAME),
    st.builds(lambda e, qn: {"type": "ENTITY_PARTIAL_UPDATE_V2", "entityId": _ref("hive_table", qn),
                             "entity": {"entity": e[1]}}, _HIVE, _NAME),
    st.builds(lambda qn, kind: {"type": "ENTITY_DELETE_V2", "entities": [_ref(kind, qn)]}, _NAME, _TYPES),
    st.builds(lambda values, traits: {"type": "ENTITY_CREATE", "entities": [
        {"jsonClass": V1 + "Reference", "id": _v1_id("-5", "hive_db"), "typeName": "hive_db",
         "values": {"qualifiedName": "fz@cm", "name": "fz", "clusterName": "cm", **values}, "traitNames": traits}]},
        st.dictionaries(st.sampled_from(["location", "parameters", "ownerType", "x"]), _VALUE | st.fixed_dictionaries(
            {"jsonClass": st.sampled_from([V1 + "Id", V1 + "Struct", V1 + "Reference"]), "id": _VALUE,
             "typeName": _TYPES, "values": _JSON}), max_size=2),
        st.lists(st.sampled_from(["PII", "SENSITIVE", "NOPE"]) | _JSON, max_size=2)))
_BODY = _NEAR | _MESSAGE | _ENVELOPED | st.lists(_NEAR | _MESSAGE | _ENVELOPED | _JSON, max_size=3) | _JSON


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=_BODY)
def test_generated_messages_never_get_a_server_error(app: Any, body: Any) -> None:
    response = _post(app.test_client(), body)
    assert response.status_code < 500, (body, response.get_json())
    if response.status_code >= 400:
        answer = response.get_json()
        assert set(answer) == {"errorCode", "errorMessage"} and answer["errorMessage"], answer
