"""The v2 entity and classification API over real HTTP, driven by both public Atlas clients.

Conformance: a hive_db -> hive_table chain and the ML chain are bulk-created with negative
guids; read by guid and unique attribute with relationship attributes; a training table
classified PII reaches the model build and the deployment; lineage both ways; a soft
delete reads back ``DELETED``. Error paths answer Atlas's codes with nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from catalog import store, users
from catalog.config import Settings
from catalog.model import guid_for
from tests.conftest import reference
from tests.web_fixtures import basic_auth, catalog_app, client, served  # noqa: F401 - fixtures

STEWARD = ("steward", "steward-password")
VIEWER = ("viewer", "viewer-password")
ADMIN = ("admin", "admin-password")
V2 = "/api/atlas/v2"
DEPLOYMENT_QN = "ml_model_deployment:Predict w/ Monitoring & Lineage:v1:prod@cm"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("atlas-entities") / "catalog.db"
    with catalog_app(Settings(database_url=f"sqlite:///{path}")) as app:
        catalog = app.extensions["catalog"]
        with catalog.write_session() as session, session.begin():
            for (name, password), role in ((STEWARD, "steward"), (VIEWER, "viewer"), (ADMIN, "admin")):
                users.add_user(session, name, password, role)
        yield app


@pytest.fixture(scope="module")
def base_url(app: Any) -> Iterator[str]:
    with served(app, "atlas-entities") as url:
        yield url


def _post(client: Any, path: str, body: Any, who: tuple[str, str] = STEWARD) -> Any:
    return client.post(V2 + path, data=json.dumps(body), content_type="application/json", headers=basic_auth(who))


def _chain() -> dict[str, Any]:
    """hive_db -> hive_table (db, columns) and the ML chain from those tables, with negative guids."""
    table = {"typeName": "hive_table", "guid": "-11",
             "attributes": {"qualifiedName": "default.wine@cm", "name": "wine", "owner": "hive"},
             "relationshipAttributes": {"db": {"guid": "-10"}, "columns": [{"guid": "-12"}]}}
    column = {"typeName": "hive_column", "guid": "-12",
              "attributes": {"qualifiedName": "default.wine.ph@cm", "name": "ph", "type": "double"},
              "relationshipAttributes": {"table": {"guid": "-11"}}}
    return {
        "entities": [
            {"typeName": "hive_db", "guid": "-10", "attributes": {"qualifiedName": "default@cm", "name": "default",
                                                                  "clusterName": "cm"}},
            table,
            {"typeName": "ml_model_train_build_process", "guid": "-2",
             "attributes": {"qualifiedName": "train:wine@cm", "name": "train wine", "userName": "ana"},
             "relationshipAttributes": {"inputs": [{"guid": "-11", "typeName": "hive_table"}],
                                        "outputs": [{"guid": "-3", "typeName": "ml_model_build"}]}},
            {"typeName": "ml_model_build", "guid": "-3",
             "attributes": {"qualifiedName": "build:wine@cm", "name": "wine model", "version": 1}},
            {"typeName": "ml_model_deploy_process", "guid": "-4",
             "attributes": {"qualifiedName": "deploy:wine@cm", "name": "deploy wine", "userName": "ana"},
             "relationshipAttributes": {"inputs": [{"guid": "-3"}], "outputs": [{"guid": "-5"}]}},
            {"typeName": "ml_model_deployment", "guid": "-5",
             "attributes": {"qualifiedName": "deployment:wine@cm", "name": "wine (prod)",
                            "createTime": 1764547200000, "deployedTime": 1764547200000,
                            "status": "deployed", "cpuMillicores": 500}},
        ],
        "referredEntities": {"-12": column},
    }


def test_official_client_bulk_creates_the_chain_and_reads_it_back(app: Any, base_url: str) -> None:
    from apache_atlas.client.base_client import AtlasClient

    client = AtlasClient(base_url, STEWARD)
    response = client.entity.create_entities(_chain())
    assignments = response.guidAssignments
    assert assignments["-11"] == guid_for("hive_table", "default.wine@cm")
    assert set(assignments) == {"-2", "-3", "-4", "-5", "-10", "-11", "-12"}
    created = {h.typeName for h in response.mutatedEntities["CREATE"]}
    assert created == {"hive_db", "hive_table", "hive_column", "ml_model_train_build_process", "ml_model_build",
                       "ml_model_deploy_process", "ml_model_deployment"}

    table = client.entity.get_entity_by_guid(assignments["-11"])
    rel = table.entity.relationshipAttributes
    assert rel["db"]["guid"] == assignments["-10"] and rel["db"]["relationshipType"] == "hive_table_db"
    assert rel["db"]["relationshipGuid"]
    assert [c["guid"] for c in rel["columns"]] == [assignments["-12"]]
    assert [p["guid"] for p in rel["inputToProcesses"]] == [assignments["-2"]]
    assert rel["inputToProcesses"][0]["relationshipType"] == "dataset_process_inputs"
    assert assignments["-12"] in table.referredEntities  # the column, not minExtInfo

    by_name = client.entity.get_entity_by_attribute("hive_table", {"qualifiedName": "default.wine@cm"})
    assert by_name.entity.guid == assignments["-11"]
    header = client.entity.get_entity_header_by_guid(assignments["-5"])
    assert header.typeName == "ml_model_deployment" and header.displayText == "wine (prod)"

    again = client.entity.create_entities(_chain())  # the same request again changes nothing
    assert again.mutatedEntities in (None, {}) and again.guidAssignments["-11"] == assignments["-11"]


def test_classifying_a_training_table_reaches_the_model_and_the_deployment(app: Any, base_url: str) -> None:
    from apache_atlas.client.base_client import AtlasClient
    from apache_atlas.model.instance import AtlasClassification

    client = AtlasClient(base_url, STEWARD)
    client.entity.create_entities(_chain())
    table = guid_for("hive_table", "default.wine@cm")
    client.entity.add_classifications_by_guid(table, [AtlasClassification({"typeName": "PII"})])
    deployment = client.entity.get_entity_by_attribute("ml_model_deployment", {"qualifiedName": "deployment:wine@cm"})
    tags = {(c["typeName"], c["entityGuid"]) for c in deployment.entity.classifications}
    assert tags == {("PII", table)}
    listed = client.entity.get_classifications(guid_for("ml_model_build", "build:wine@cm"))
    assert [(c.typeName, c.entityGuid) for c in listed.list] == [("PII", table)]

    lineage = client.lineage.get_lineage_info(guid_for("ml_model_deployment", "deployment:wine@cm"), "INPUT", 5)
    assert table in lineage.guidEntityMap
    downstream = client.lineage.get_lineage_info(table, "OUTPUT", 5)
    assert guid_for("ml_model_deployment", "deployment:wine@cm") in downstream.guidEntityMap

    client.entity.delete_classification(table, "PII")
    deployment = client.entity.get_entity_by_guid(guid_for("ml_model_deployment", "deployment:wine@cm"))
    assert not deployment.entity.classifications


def test_soft_delete_reads_back_deleted_and_audit_lists_it(app: Any, base_url: str) -> None:
    from apache_atlas.client.base_client import AtlasClient

    client = AtlasClient(base_url, STEWARD)
    client.entity.create_entities(_chain())
    guid = guid_for("ml_model_deployment", "deployment:wine@cm")
    response = client.entity.delete_entity_by_guid(guid)
    assert [h.guid for h in response.mutatedEntities["DELETE"]] == [guid]
    assert client.entity.get_entity_by_guid(guid).entity.status == "DELETED"
    events = client.entity.get_audit_events(guid, None, None, 10)
    assert [e["action"] for e in events][:1] == ["ENTITY_DELETE"] and events[0]["user"] == "steward"
    assert client.entity.delete_entity_by_guid(guid).mutatedEntities in (None, {})  # already deleted: no-op
    client.entity.create_entities(_chain())  # the same body again reactivates it
    assert client.entity.get_entity_by_guid(guid).entity.status == "ACTIVE"


def test_pyatlasclient_reads_and_writes(app: Any, base_url: str) -> None:
    from atlasclient.client import Atlas

    host, port = base_url.removeprefix("http://").split(":")
    client = Atlas(host, port=int(port), username=STEWARD[0], password=STEWARD[1])
    # pyatlasclient's entity_bulk.create drops the response (guidAssignments lost); entity_post keeps it
    assert client.entity_bulk.create(data=_chain()) is None
    body = {"entity": {"typeName": "hive_table", "guid": "-1",
                       "attributes": {"qualifiedName": "default.other@cm", "name": "other"}}}
    response = client.entity_post.create(data=body)
    assert response["guidAssignments"] == {"-1": guid_for("hive_table", "default.other@cm")}
    entity = client.entity_guid(guid_for("hive_table", "default.other@cm"))
    assert entity.entity["attributes"]["name"] == "other"
    bulk = client.entity_bulk(guid=[guid_for("hive_table", "default.wine@cm")])
    assert [e.guid for e in next(iter(bulk)).entities] == [guid_for("hive_table", "default.wine@cm")]


def test_partial_updates_by_guid_and_by_unique_attribute(app: Any, client: Any) -> None:
    _post(client, "/entity/bulk", _chain())
    guid = guid_for("hive_table", "default.wine@cm")
    response = client.put(f"{V2}/entity/guid/{guid}?name=comment", data=json.dumps("grapes"),
                          content_type="application/json", headers=basic_auth(STEWARD))
    assert response.status_code == 200, response.get_json()
    assert [h["guid"] for h in response.get_json()["mutatedEntities"]["PARTIAL_UPDATE"]] == [guid]
    body = {"entity": {"attributes": {"description": "red wines"}}}
    response = client.put(f"{V2}/entity/uniqueAttribute/type/hive_table?attr:qualifiedName=default.wine@cm",
                          data=json.dumps(body), content_type="application/json", headers=basic_auth(STEWARD))
    assert response.status_code == 200, response.get_json()
    stored = client.get(f"{V2}/entity/guid/{guid}").get_json()["entity"]
    assert stored["attributes"]["comment"] == "grapes" and stored["attributes"]["description"] == "red wines"
    assert stored["attributes"]["owner"] == "hive"  # kept: not in either body
    assert stored["relationshipAttributes"]["db"]["guid"] == guid_for("hive_db", "default@cm")
    bad = client.put(f"{V2}/entity/guid/{guid}?name=colour", data=json.dumps("red"),
                     content_type="application/json", headers=basic_auth(STEWARD))
    assert bad.status_code == 400
    assert bad.get_json() == {"errorCode": "ATLAS-400-00-074",
                              "errorMessage": "Invalid attribute colour for partial update of hive_table"}


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"entities": [{"typeName": "no_such_type", "attributes": {"qualifiedName": "x"}}]}, 400,
         "ATLAS-400-00-014", "Type ENTITY with name no_such_type does not exist"),
        ({"entities": [{"typeName": "ml_model_build", "attributes": {"qualifiedName": "b", "name": "b"}}]}, 404,
         "ATLAS-404-00-007", "attribute 'version' is mandatory"),
        ({"entities": [{"typeName": "hive_table", "attributes": {"qualifiedName": "t", "name": "t", "retention": "long"}}]}, 404,
         "ATLAS-404-00-007", "attribute 'retention'"),
        ({"entities": [{"typeName": "ml_model_train_build_process",
                        "attributes": {"qualifiedName": "p", "name": "p", "userName": "u"},
                        "relationshipAttributes": {"inputs": [{"typeName": "hive_table",
                                                               "uniqueAttributes": {"qualifiedName": "nope@cm"}}]}}]},
         404, "ATLAS-404-00-00A", "nope@cm"),
        ({"entities": [{"typeName": "ml_model_train_build_process",
                        "attributes": {"qualifiedName": "p", "name": "p", "userName": "u"},
                        "relationshipAttributes": {"inputs": [{"guid": "-99"}]}}]},
         404, "ATLAS-404-00-00A", "Referenced entity AtlasObjectId{guid='-99'} is not found"),
        ({"entities": [{"typeName": "hive_db", "guid": "-1", "attributes": {"qualifiedName": "a@cm"}},
                       {"typeName": "hive_db", "guid": "-1", "attributes": {"qualifiedName": "b@cm"}}]}, 404,
         "ATLAS-404-00-007", "guid -1 is used by two different entities"),
        ({"entities": [{"typeName": "hive_table", "attributes": {"qualifiedName": "t", "name": "t"},
                        "relationshipAttributes": {"colour": []}}]}, 404, "ATLAS-404-00-007",
         "relationship attribute 'colour' is not a relationship end of hive_table"),
        ({"entity": {"typeName": "hive_db", "attributes": {"qualifiedName": "bad \ud800 text", "name": "x",
                                                                    "clusterName": "cm"}}}, 404,
         "ATLAS-404-00-007", "qualifiedName"),
    ],
)
def test_bad_entities_get_atlas_errors_and_nothing_is_written(
    app: Any, client: Any, body: dict[str, Any], status: int, code: str, message: str
) -> None:
    catalog = app.extensions["catalog"]
    with catalog.session() as session:
        before = session.query(store.EntityRow).count(), session.query(store.AuditRow).count()
    path = "/entity" if "entity" in body else "/entity/bulk"
    response = _post(client, path, body)
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert answer["errorCode"] == code and message in answer["errorMessage"]
    with catalog.session() as session:
        assert (session.query(store.EntityRow).count(), session.query(store.AuditRow).count()) == before


def test_classification_errors(app: Any, client: Any) -> None:
    _post(client, "/entity/bulk", _chain())
    table = guid_for("hive_table", "default.wine@cm")
    build = guid_for("ml_model_build", "build:wine@cm")
    assert _post(client, f"/entity/guid/{table}/classifications", [{"typeName": "PII"}]).status_code == 204
    again = _post(client, f"/entity/guid/{table}/classifications", [{"typeName": "PII"}])
    assert again.status_code == 400 and again.get_json() == {
        "errorCode": "ATLAS-400-00-01A",
        "errorMessage": f"invalid parameters: entity: {table}, already associated with classification: PII"}
    unknown = _post(client, f"/entity/guid/{table}/classifications", [{"typeName": "SECRETISH"}])
    assert unknown.get_json() == {"errorCode": "ATLAS-400-00-046", "errorMessage": "SECRETISH: Unknown/invalid classification"}
    propagated = client.delete(f"{V2}/entity/guid/{build}/classification/PII", headers=basic_auth(STEWARD))
    assert propagated.status_code == 400 and propagated.get_json()["errorCode"] == "ATLAS-400-00-06C"
    absent = client.delete(f"{V2}/entity/guid/{table}/classification/SENSITIVE", headers=basic_auth(STEWARD))
    assert absent.get_json()["errorCode"] == "ATLAS-400-00-06D"
    assert client.delete(f"{V2}/entity/guid/{table}/classification/PII", headers=basic_auth(STEWARD)).status_code == 204
    bulk = _post(client, "/entity/bulk/classification",
                 {"classification": {"typeName": "SENSITIVE"}, "entityGuids": [table, build]})
    assert bulk.status_code == 204
    names = {c["typeName"] for c in client.get(f"{V2}/entity/guid/{build}").get_json()["entity"]["classifications"]}
    assert names == {"SENSITIVE"}


def test_writes_need_a_steward(app: Any, client: Any) -> None:
    anonymous = client.post(f"{V2}/entity/bulk", data=json.dumps(_chain()), content_type="application/json")
    assert anonymous.status_code == 401 and anonymous.get_json()["errorCode"] == "ATLAS-401-00-001"
    viewer = _post(client, "/entity/bulk", _chain(), VIEWER)
    assert viewer.status_code == 403 and "needs steward" in viewer.get_json()["errorMessage"]


def test_unknown_guids_and_unique_attributes_are_atlas_404s(client: Any) -> None:
    missing = client.get(f"{V2}/entity/bulk?guid={guid_for('hive_db', 'missing')}")
    assert missing.status_code == 404 and missing.get_json()["errorCode"] == "ATLAS-404-00-005"
    absent = client.get(f"{V2}/entity/uniqueAttribute/type/hive_table?attr:qualifiedName=x@cm")
    assert absent.get_json() == {"errorCode": "ATLAS-404-00-009",
                                 "errorMessage": "Instance hive_table with unique attribute {qualifiedName=x@cm} "
                                                 "does not exist"}
    malformed = client.post(f"{V2}/entity/bulk", data="{not json", content_type="application/json",
                            headers=basic_auth(STEWARD))
    assert malformed.status_code == 400 and malformed.get_json()["errorCode"] == "ATLAS-400-00-029"


def test_the_synthesized_cml_bulk_request_is_accepted(app: Any, client: Any) -> None:
    tables = {"entities": [{"typeName": "hive_table", "attributes": {"qualifiedName": qn, "name": qn.split(".")[1]}}
                           for qn in ("default.wineds_ext@cm", "default.wineds_ext_nolabel@cm")]}
    assert _post(client, "/entity/bulk", tables).status_code == 200
    body = json.loads(Path(reference("atlas/samples/synthesized/entity-bulk-request_cml-ml-lineage.json")).read_text())
    body.pop("_comment")
    response = _post(client, "/entity/bulk", body)
    assert response.status_code == 200, response.get_json()
    assert sorted(response.get_json()["guidAssignments"]) == ["-1", "-2", "-3", "-4", "-5"]
    lineage = client.get(f"{V2}/lineage/{guid_for('ml_model_deployment', DEPLOYMENT_QN)}?direction=INPUT&depth=6")
    assert guid_for("hive_table", "default.wineds_ext@cm") in lineage.get_json()["guidEntityMap"]


def test_purge_needs_an_admin_and_a_deleted_entity(app: Any, base_url: str) -> None:
    from apache_atlas.client.base_client import AtlasClient
    from apache_atlas.exceptions import AtlasServiceException

    body = {"entities": [{"typeName": "hive_db", "guid": "-1",
                          "attributes": {"qualifiedName": "scratch@cm", "name": "scratch", "clusterName": "cm"}}]}
    steward, admin = AtlasClient(base_url, STEWARD), AtlasClient(base_url, ADMIN)
    guid = steward.entity.create_entities(body).guidAssignments["-1"]
    with pytest.raises(AtlasServiceException, match="403"):
        steward.entity.purge_entities_by_guids([guid])
    assert admin.entity.purge_entities_by_guids([guid]).mutatedEntities in (None, {})  # still ACTIVE: kept
    steward.entity.delete_entity_by_guid(guid)
    purged = admin.entity.purge_entities_by_guids([guid])
    assert [h.guid for h in purged.mutatedEntities["PURGE"]] == [guid]
    with pytest.raises(AtlasServiceException, match="ATLAS-404-00-005"):
        steward.entity.get_entity_by_guid(guid)
    events = app.extensions["catalog"].audit(None, limit=5)
    assert (events[0].action, events[0].entity_guid, events[0].user) == ("ENTITY_PURGE", guid, "admin")


def test_lineage_by_unique_attribute(app: Any, client: Any) -> None:
    _post(client, "/entity/bulk", _chain())
    response = client.get(f"{V2}/lineage/uniqueAttribute/type/hive_table?attr:qualifiedName=default.wine@cm"
                          "&direction=OUTPUT&depth=4")
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["baseEntityGuid"] == guid_for("hive_table", "default.wine@cm")
    assert guid_for("ml_model_deployment", "deployment:wine@cm") in answer["guidEntityMap"]
    assert answer["lineageDirection"] == "OUTPUT"


def test_mutation_headers_are_the_headers_get_answers(app: Any, client: Any) -> None:
    _post(client, "/entity/bulk", _chain())
    table = guid_for("hive_table", "default.wine@cm")
    assert _post(client, f"/entity/guid/{table}/classifications", [{"typeName": "CONFIDENTIAL"}]).status_code == 204
    body = _chain()
    body["entities"][1]["attributes"]["description"] = "a new description"  # the table changes: UPDATE
    body["entities"][5]["attributes"]["name"] = "wine (production)"  # the deployment changes too
    answer = _post(client, "/entity/bulk", body).get_json()
    updated = {h["guid"]: h for h in answer["mutatedEntities"]["UPDATE"]}
    assert set(updated) == {table, guid_for("ml_model_deployment", "deployment:wine@cm")}
    for guid, header in updated.items():
        assert header == client.get(f"{V2}/entity/guid/{guid}/header").get_json()
    assert "CONFIDENTIAL" in updated[guid_for("ml_model_deployment", "deployment:wine@cm")]["classificationNames"]
    client.delete(f"{V2}/entity/guid/{table}/classification/CONFIDENTIAL", headers=basic_auth(STEWARD))


#: Request bodies the app's JSON provider must parse exactly as the stdlib does (or refuse as it does).
_JSON_TEXTS = [
    b'{"a": 1, "a": 2, "b": [1, 2.5, -0.0, -0, 1e400, -1e400, 1e-400, NaN, Infinity, -Infinity]}',
    b'[123456789012345678901234567890, -99999999999999999999999, 9007199254740993, 5e-324, 1.7976931348623157e308]',
    b'[0.1, 0.30000000000000004, 2.2250738585072014e-308, 1.00000000000000011102230246251565404236316680908203125]',
    b'{"s": "\\u00e9\\ud83d\\ude00\\/\\u0000", "": null, "t": true}', '{"é": "ü"}'.encode(),
    b'"\\ud800"', b'["\\udc00x"]', b'\xef\xbb\xbf{"bom": 1}', '{"utf16": 1}'.encode("utf-16"),
    b'[1,]', b'{"a":1,}', b'01', b'[1] x', b'"a\nb"', b'"\xff"', b'', b'[.5]', b'[+1]', b'NaNx', b'[' * 5000 + b']' * 5000,
]


def _same(a: Any, b: Any) -> bool:
    import math

    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("text", _JSON_TEXTS, ids=range(len(_JSON_TEXTS)))
def test_request_json_parses_as_the_stdlib_does(app: Any, text: bytes) -> None:
    """pydantic-core's parser reads the bodies; what it accepts must be the stdlib's values, the rest the stdlib's."""
    def parse(loads: Any) -> tuple[str, Any]:
        try:
            return "ok", loads(text)
        except (ValueError, RecursionError) as exc:
            return "error", type(exc)
    with app.app_context():
        mine, stdlib = parse(app.json.loads), parse(json.loads)
    assert mine[0] == stdlib[0] and (_same(mine[1], stdlib[1]) if mine[0] == "ok" else mine[1] is stdlib[1])


def test_bulk_bodies_with_nan_and_big_numbers_are_stored_as_sent(app: Any, client: Any) -> None:  # noqa: F811
    qn = "run:numbers@mlflow"
    body = {"entities": [{"typeName": "ml_training_run", "guid": "-1", "attributes": {
        "qualifiedName": qn, "name": "numbers", "runId": "numbers", "userName": "ana", "startTime": 9007199254740993,
        "metrics": {"ratio": 0.30000000000000004, "gap": float("nan"), "big": 1e308}}}]}
    answer = _post(client, "/entity/bulk", body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    attributes = client.get(f"{V2}/entity/guid/{guid_for('ml_training_run', qn)}").get_json()["entity"]["attributes"]
    assert attributes["startTime"] == 9007199254740993  # > 2**53: read as an int, not through a float
    metrics = attributes["metrics"]
    assert metrics["ratio"] == 0.30000000000000004 and metrics["big"] == 1e308
    assert metrics["gap"] != metrics["gap"]  # NaN
