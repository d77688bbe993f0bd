"""Atlas's typedef API (TypesREST) over the catalog: reads, writes, errors, persistence, both Atlas clients.

Flask's test client covers every answer and error; both public Atlas clients
(``apache-atlas`` and ``pyatlasclient``) run against the app served on loopback, and
the client defects met on the way are pinned by tests of their own. Typedefs live in
the store: a new ``Catalog`` over it (another process, a restart) sees them, on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalog import store
from catalog.canonical import canonical_json
from catalog.config import Settings
from catalog.errors import EntityValidationError, UnknownTypeError
from catalog.model import Classification, Entity, EntityRef, SourceBatch, guid_for
from catalog.service import Catalog
from catalog.store.schema import TypeDefRow
from catalog.types import TypeRegistry
from catalog.users import add_user
from tests.conftest import reference
from tests.web_fixtures import base_url, catalog_app, client  # noqa: F401 - fixtures

API = "/api/atlas/v2/types"
ADMIN = ("root", "rootpassword")
STEWARD = ("sam", "stewardpass")
SECTIONS = ["enumDefs", "structDefs", "classificationDefs", "entityDefs", "relationshipDefs", "businessMetadataDefs"]


def auth(user: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(":".join(user).encode()).decode()}


def attr(name: str, type_name: str, optional: bool = True) -> dict[str, Any]:
    return {"name": name, "typeName": type_name, "cardinality": "SINGLE", "isOptional": optional}


def entity_def(name: str, *attrs: dict[str, Any], supers: tuple[str, ...] = ("DataSet",)) -> dict[str, Any]:
    return {"name": name, "superTypes": list(supers), "attributeDefs": list(attrs)}


def add_users(catalog: Catalog) -> None:
    with catalog.write_session() as session, session.begin():
        add_user(session, *ADMIN, "admin")
        add_user(session, *STEWARD, "steward")


def write(catalog: Catalog, *entities: Entity) -> None:
    with catalog.write_session() as session, session.begin():
        store.upsert_batch(session, SourceBatch("test", list(entities)), catalog.registry, user="tester")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("atlas-types")
    return Settings(database_url=f"sqlite:///{root / 'catalog.db'}", user="tester", read_access="open")


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Any]:
    with catalog_app(settings) as app:
        add_users(app.extensions["catalog"])
        yield app


@pytest.fixture
def admin(client: Any) -> Any:  # noqa: F811
    """Requests as the admin: ``admin("post", "/typedefs", json=...)``."""
    def call(method: str, path: str, **kwargs: Any) -> Any:
        return getattr(client, method)(API + path, headers=auth(ADMIN), **kwargs)
    return call


def error(response: Any) -> tuple[int, str, str]:
    body = response.get_json()
    return response.status_code, body["errorCode"], body["errorMessage"]


# ---------------------------------------------------------------- reads


def test_every_typedef_has_bookkeeping_and_built_in_ones_a_stable_guid(client: Any) -> None:  # noqa: F811
    body = client.get(f"{API}/typedefs").get_json()
    assert sorted(body) == sorted(SECTIONS)
    hive_table = next(d for d in body["entityDefs"] if d["name"] == "hive_table")
    assert hive_table["guid"] == guid_for("typedef", "hive_table")
    assert (hive_table["category"], hive_table["version"], hive_table["createdBy"]) == ("ENTITY", 1, "tester")
    assert hive_table["createTime"] == hive_table["updateTime"] > 0
    data_set = next(d for d in body["entityDefs"] if d["name"] == "DataSet")
    assert {"hive_table", "fs_path", "ml_dataset"} <= set(data_set["subTypes"])
    assert all(d["guid"] and d["version"] >= 1 for s in SECTIONS for d in body[s])


def test_typedef_by_name_and_by_guid_are_the_same_def(client: Any) -> None:  # noqa: F811
    by_name = client.get(f"{API}/typedef/name/hive_table").get_json()
    by_guid = client.get(f"{API}/typedef/guid/{guid_for('typedef', 'hive_table')}").get_json()
    assert by_name == by_guid
    assert by_name["superTypes"] == ["DataSet"] and by_name["serviceType"] == "hive"
    assert client.get(f"{API}/entitydef/name/hive_table").get_json() == by_name
    assert client.get(f"{API}/classificationdef/name/PII").get_json()["category"] == "CLASSIFICATION"
    assert client.get(f"{API}/enumdef/name/ml_deployment_mode").get_json()["elementDefs"][0]["value"]
    assert client.get(f"{API}/relationshipdef/name/hive_table_db").get_json()["endDef1"]["type"] == "hive_table"
    assert client.get(f"{API}/structdef/name/fs_permissions").get_json()["category"] == "STRUCT"


@pytest.mark.parametrize(("path", "status", "code", "message"), [
    ("/typedef/name/hive_tabel", 404, "ATLAS-404-00-001", "Given typename hive_tabel was invalid"),
    ("/typedef/guid/00000000-0000-0000-0000-000000000000", 404, "ATLAS-404-00-002",
     "Given type guid 00000000-0000-0000-0000-000000000000 was invalid"),
    ("/entitydef/name/PII", 404, "ATLAS-404-00-001", "Given typename PII was invalid"),
    ("/classificationdef/name/hive_table", 404, "ATLAS-404-00-001", "Given typename hive_table was invalid"),
    (f"/enumdef/guid/{guid_for('typedef', 'hive_table')}", 404, "ATLAS-404-00-002",
     f"Given type guid {guid_for('typedef', 'hive_table')} was invalid"),
    ("/entitydef/guid/not-a-guid", 404, "ATLAS-404-00-002", "Given type guid not-a-guid was invalid"),
    ("/typedefs?type=tables", 400, "ATLAS-400-00-029",
     "query parameter type='tables' names no typedef category: expects one of entity, classification, "
     "relationship, enum, struct, business_metadata"),
    ("/typedefs/headers?type=entities", 400, "ATLAS-400-00-029",
     "query parameter type='entities' names no typedef category: expects one of entity, classification, "
     "relationship, enum, struct, business_metadata; did you mean 'entity'?"),
])
def test_unknown_names_guids_and_categories_answer_atlas_errors(
    client: Any, path: str, status: int, code: str, message: str  # noqa: F811
) -> None:
    assert error(client.get(API + path)) == (status, code, message)


def test_a_path_of_no_category_is_a_json_404(client: Any) -> None:  # noqa: F811
    response = client.get(f"{API}/tabledef/name/hive_table")
    assert response.status_code == 404 and response.get_json()["errorCode"] == "ATLAS-404-00-000"


def test_search_filter_by_category_service_type_super_type_and_name(client: Any) -> None:  # noqa: F811
    def names(query: str) -> dict[str, set[str]]:
        body = client.get(f"{API}/typedefs?{query}").get_json()
        return {s: {d["name"] for d in body[s]} for s in SECTIONS if body[s]}

    entities = names("type=entity")
    assert set(entities) == {"entityDefs"} and {"hive_table", "DataSet"} <= entities["entityDefs"]
    assert names("type=TRAIT") == names("type=classification") == {
        "classificationDefs": {"PII", "SENSITIVE", "CONFIDENTIAL", "RESTRICTED"}}
    hive: dict[str, set[str]] = {}
    for section, d in TypeRegistry.default().iter_defs():
        if d.get("serviceType") == "hive":
            hive.setdefault(section, set()).add(d["name"])
    assert {"hive_table", "hive_db"} <= hive["entityDefs"]
    assert names("servicetype=hive") == names("serviceType=hive") == hive
    under = names("supertype=DataSet")["entityDefs"]
    assert {"hive_table", "fs_path"} <= under and not {"DataSet", "Process", "ml_training_run"} & under
    assert names("name=hive_table") == {"entityDefs": {"hive_table"}}
    assert "hive_table" not in names("type=entity&notsupertype=DataSet")["entityDefs"]
    others = hive["entityDefs"] - {"hive_table"}
    assert names("type=entity&notname=hive_table&servicetype=hive") == {"entityDefs": others}


def test_headers_name_guid_category_and_service_type(client: Any) -> None:  # noqa: F811
    headers = client.get(f"{API}/typedefs/headers?type=enum").get_json()
    assert {"guid": guid_for("typedef", "hive_principal_type"), "name": "hive_principal_type", "category": "ENUM",
            "serviceType": "hive"} in headers
    assert {h["category"] for h in headers} == {"ENUM"}
    every = client.get(f"{API}/typedefs/headers").get_json()
    body = client.get(f"{API}/typedefs").get_json()
    assert len(every) == sum(len(body[s]) for s in SECTIONS)


# ---------------------------------------------------------------- writes


def test_create_answers_the_new_defs_and_entities_of_the_type_validate(app: Any, admin: Any) -> None:
    response = admin("post", "/typedefs", json={"entityDefs": [entity_def("t_sensor", attr("unit", "string"),
                                                                         attr("samples", "array<int>"))]})
    assert response.status_code == 200
    created = response.get_json()["entityDefs"][0]
    assert (created["name"], created["category"], created["version"], created["createdBy"]) == (
        "t_sensor", "ENTITY", 1, "root")
    assert created["updatedBy"] == "root" and created["createTime"] == created["updateTime"]
    catalog = app.extensions["catalog"]
    assert catalog.registry.entity_def("t_sensor")["guid"] == created["guid"]
    catalog.registry.validate(Entity("t_sensor", "s1@cm", {"name": "s1", "unit": "C", "samples": [1, 2]}))
    with pytest.raises(EntityValidationError, match="attribute 'samples' expects array<int>"):
        catalog.registry.validate(Entity("t_sensor", "s2@cm", {"name": "s2", "samples": "many"}))
    assert admin("get", f"/typedef/guid/{created['guid']}").get_json() == created


def test_the_atlas_sample_app_typedefs_create_in_one_request(admin: Any) -> None:
    body = json.loads(reference("atlas/samples/python-sample-app_typedef_create.json").read_text())
    response = admin("post", "/typedefs", json=body)
    assert response.status_code == 200
    created = response.get_json()
    assert {s: [d["name"] for d in created[s]] for s in SECTIONS} == {
        s: [d["name"] for d in body.get(s, [])] for s in SECTIONS}
    table = admin("get", "/entitydef/name/sample_table").get_json()
    assert [a["name"] for a in table["attributeDefs"]] == ["createTime", "tableType", "temporary", "serde1", "serde2"]


def test_an_existing_name_is_409_and_the_whole_request_is_refused(admin: Any) -> None:
    response = admin("post", "/typedefs", json={"enumDefs": [{"name": "t_fresh", "elementDefs": [{"value": "A"}]}],
                                                 "entityDefs": [entity_def("hive_table")]})
    assert error(response) == (409, "ATLAS-409-00-001", "Given type hive_table already exists")
    assert admin("get", "/typedef/name/t_fresh").status_code == 404


@pytest.mark.parametrize(("body", "code", "message"), [
    ({"entityDefs": [entity_def("t_bad", attr("size", "strng"))]}, "ATLAS-400-00-001",
     "Unknown type strng for t_bad.size; did you mean 'string'?"),
    ({"entityDefs": [entity_def("t_bad", attr("sizes", "map<string,lnog>"))]}, "ATLAS-400-00-001",
     "Unknown type lnog for t_bad.sizes (typeName map<string,lnog>); did you mean 'long'?"),
    ({"entityDefs": [entity_def("t_bad", attr("tag", "PII"))]}, "ATLAS-400-00-081",
     "t_bad.tag: invalid attribute type. Attribute cannot be of type classification (PII)"),
    ({"entityDefs": [entity_def("t_bad", supers=("DataSte",))]}, "ATLAS-400-00-001",
     "Unknown type DataSte for t_bad.superTypes; did you mean 'DataSet'?"),
    ({"entityDefs": [entity_def("t_bad", supers=("PII",))]}, "ATLAS-400-00-003",
     "t_bad: incompatible supertype PII (a classificationDef, expects a entityDef)"),
    ({"entityDefs": [entity_def("t_bad", attr("name", "string"))]}, "ATLAS-400-00-011",
     "Invalid type definition entityDef 't_bad': attribute 'name' already exists in parent type 'DataSet'"),
    ({"entityDefs": [entity_def("t_bad", attr("x", "int"), attr("x", "int"))]}, "ATLAS-400-00-011",
     "Invalid type definition entityDef 't_bad': attribute 'x' is defined twice"),
    ({"entityDefs": [entity_def("t_bad", {"name": "x", "cardinality": "SINGLE"})]}, "ATLAS-400-00-02B",
     "Mandatory field t_bad.typeName has empty/null value (attribute 'x', got nothing)"),
    ({"entityDefs": [entity_def("2fast")]}, "ATLAS-400-00-019",
     "2fast: invalid name for ENTITY.  Names must consist of a letter followed by a sequence of letter, number, "
     "space, or '_' characters"),
    ({"enumDefs": [{"name": "t_bad_enum", "elementDefs": []}]}, "ATLAS-400-00-02B",
     "Mandatory field t_bad_enum.values has empty/null value (elementDefs expects a non-empty list, got list [])"),
    ({"enumDefs": [{"name": "t_bad_enum", "elementDefs": [{"value": "A"}, {"value": "A"}]}]}, "ATLAS-400-00-011",
     "Invalid type definition enumDef 't_bad_enum': elementDefs repeat a value"),
    ({"relationshipDefs": [{"name": "t_bad_rel", "endDef1": {"type": "hive_table", "name": "owner"},
                            "endDef2": {"type": "hive_tabel", "name": "owned"}}]}, "ATLAS-400-00-035",
     "relationshipDef t_bad_rel has invalid end type hive_tabel (endDef2, expects an entity type); "
     "did you mean 'hive_table'?"),
    ({"classificationDefs": [{"name": "t_bad_tag", "entityTypes": ["hive_tabel"]}]}, "ATLAS-400-00-052",
     "ClassificationDef 't_bad_tag' has invalid 'hive_tabel' in entityTypes; did you mean 'hive_table'?"),
    ({"entityDefs": [{**entity_def("t_bad"), "category": "CLASSIFICATION"}]}, "ATLAS-400-00-010",
     "Given type t_bad doesn't match ENTITY: it is in entityDefs, its category says 'CLASSIFICATION'"),
    ({"entityDef": [entity_def("t_bad")]}, "ATLAS-400-00-029",
     "unknown AtlasTypesDef key 'entityDef'; did you mean 'entityDefs'? (expects enumDefs, structDefs, "
     "classificationDefs, entityDefs, relationshipDefs, businessMetadataDefs)"),
])
def test_an_invalid_def_is_400_naming_the_def_and_attribute_and_writes_nothing(
    app: Any, admin: Any, body: dict[str, Any], code: str, message: str
) -> None:
    before = admin("get", "/typedefs/headers").get_json()
    with_a_good_one = {**body, "structDefs": [{"name": "t_good_struct", "attributeDefs": [attr("a", "int")]}]}
    assert error(admin("post", "/typedefs", json=with_a_good_one)) == (400, code, message)
    assert admin("get", "/typedefs/headers").get_json() == before
    with app.extensions["catalog"].session() as session:
        assert session.get(TypeDefRow, "t_good_struct") is None


def test_a_body_that_is_no_typesdef_is_400(admin: Any) -> None:
    assert error(admin("post", "/typedefs", json=[])) == (
        400, "ATLAS-400-00-029", "request body must be an object, not list")
    assert error(admin("post", "/typedefs", json={"entityDefs": {"name": "x"}})) == (
        400, "ATLAS-400-00-029", "entityDefs expects a list of typedefs, got dict {'name': 'x'}")


def test_update_changes_an_api_typedef_and_bumps_its_version(app: Any, admin: Any) -> None:
    created = admin("post", "/typedefs", json={"entityDefs": [entity_def("t_upd", attr("a", "string"))]})
    old = created.get_json()["entityDefs"][0]
    response = admin("put", "/typedefs", json={"entityDefs": [
        {**entity_def("t_upd", attr("a", "string"), attr("b", "int")), "description": "now with b"}]})
    assert response.status_code == 200
    new = response.get_json()["entityDefs"][0]
    assert (new["guid"], new["createTime"], new["createdBy"]) == (old["guid"], old["createTime"], "root")
    assert new["version"] == 2 and new["updateTime"] > old["updateTime"] and new["description"] == "now with b"
    app.extensions["catalog"].registry.validate(Entity("t_upd", "u@cm", {"name": "u", "b": 3}))


@pytest.mark.parametrize(("change", "status", "code", "message"), [
    ({"entityDefs": [entity_def("t_rules", attr("b", "int"))]}, 400, "ATLAS-400-00-00D",
     "t_rules.a : attribute delete not supported"),
    ({"entityDefs": [entity_def("t_rules", attr("a", "string"), attr("c", "int", optional=False))]}, 400,
     "ATLAS-400-00-00C", "t_rules.c : can not add mandatory attribute"),
    ({"entityDefs": [entity_def("t_rules", attr("a", "int"))]}, 400, "ATLAS-400-00-029",
     "Data type update for attribute is not supported: t_rules.a is string, the update says int"),
    ({"entityDefs": [entity_def("t_rules", attr("a", "string"), supers=("Asset",))]}, 400, "ATLAS-400-00-00E",
     "superType remove not supported: t_rules would no longer extend DataSet"),
    ({"classificationDefs": [{"name": "t_rules"}]}, 400, "ATLAS-400-00-010",
     "Given type t_rules doesn't match CLASSIFICATION: it is a entityDef"),
    ({"entityDefs": [entity_def("t_nowhere")]}, 404, "ATLAS-404-00-001", "Given typename t_nowhere was invalid"),
    ({"entityDefs": [entity_def("hive_table")]}, 403, "ATLAS-403-00-001",
     "root is not authorized to perform update of type hive_table: hive_table is a built-in type of the catalog "
     "(read-only); only typedefs created through the API can be changed"),
])
def test_what_an_update_may_not_do(admin: Any, change: dict, status: int, code: str, message: str) -> None:
    if admin("get", "/typedef/name/t_rules").status_code == 404:
        created = admin("post", "/typedefs", json={"entityDefs": [entity_def("t_rules", attr("a", "string"))]})
        assert created.status_code == 200
    before = admin("get", "/typedef/name/t_rules").get_json()
    assert error(admin("put", "/typedefs", json=change)) == (status, code, message)
    assert admin("get", "/typedef/name/t_rules").get_json() == before


def test_built_in_typedefs_cannot_be_deleted(admin: Any) -> None:
    assert error(admin("delete", "/typedef/name/DataSet")) == (
        403, "ATLAS-403-00-001", "root is not authorized to perform delete of type DataSet: DataSet is a built-in "
                                 "type of the catalog (read-only); only typedefs created through the API can be "
                                 "changed")
    assert admin("get", "/typedef/name/DataSet").status_code == 200


def test_delete_by_name_and_by_body_answer_204_and_the_type_is_gone(app: Any, admin: Any) -> None:
    body = {"entityDefs": [entity_def("t_gone1"), entity_def("t_gone2")]}
    assert admin("post", "/typedefs", json=body).status_code == 200
    response = admin("delete", "/typedef/name/t_gone1")
    assert (response.status_code, response.data) == (204, b"")
    assert admin("delete", "/typedefs", json={"entityDefs": [{"name": "t_gone2"}]}).status_code == 204
    for name in ("t_gone1", "t_gone2"):
        assert error(admin("get", f"/typedef/name/{name}"))[:2] == (404, "ATLAS-404-00-001")
        assert not app.extensions["catalog"].registry.has_entity_type(name)
    assert error(admin("delete", "/typedef/name/t_gone1")) == (404, "ATLAS-404-00-001",
                                                              "Given typename t_gone1 was invalid")


def test_delete_names_the_section_it_looks_in(admin: Any) -> None:
    assert admin("post", "/typedefs", json={"entityDefs": [entity_def("t_section")]}).status_code == 200
    assert error(admin("delete", "/typedefs", json={"classificationDefs": [{"name": "t_section"}]})) == (
        404, "ATLAS-404-00-001", "Given typename t_section was invalid")
    assert admin("get", "/typedef/name/t_section").status_code == 200


def test_delete_is_blocked_by_an_entity_of_the_type(app: Any, admin: Any) -> None:
    assert admin("post", "/typedefs", json={"entityDefs": [entity_def("t_used")]}).status_code == 200
    write(app.extensions["catalog"], Entity("t_used", "used@cm", {"name": "used"}))
    assert error(admin("delete", "/typedefs", json={"entityDefs": [{"name": "t_used"}]})) == (
        409, "ATLAS-409-00-002", "Given type t_used has references: 1 entity of type t_used (e.g. 'used@cm')")
    assert admin("get", "/entitydef/name/t_used").status_code == 200


def test_delete_is_blocked_by_a_subtype_unless_both_go(admin: Any) -> None:
    body = {"entityDefs": [entity_def("t_parent"), entity_def("t_child", supers=("t_parent",))]}
    assert admin("post", "/typedefs", json=body).status_code == 200
    assert admin("get", "/typedef/name/t_parent").get_json()["subTypes"] == ["t_child"]
    assert error(admin("delete", "/typedef/name/t_parent")) == (
        409, "ATLAS-409-00-002", "Given type t_parent has references: subtype t_child")
    assert admin("delete", "/typedefs", json=body).status_code == 204
    assert admin("get", "/typedef/name/t_child").status_code == 404


def test_delete_is_blocked_by_a_relationship_def_and_by_its_instances(app: Any, admin: Any) -> None:
    rel = {"name": "t_a_b", "relationshipCategory": "ASSOCIATION",
           "endDef1": {"type": "t_a", "name": "b", "cardinality": "SINGLE"},
           "endDef2": {"type": "t_b", "name": "a", "cardinality": "SET"}}
    assert admin("post", "/typedefs", json={"entityDefs": [entity_def("t_a"), entity_def("t_b")],
                                            "relationshipDefs": [rel]}).status_code == 200
    assert error(admin("delete", "/typedef/name/t_a")) == (
        409, "ATLAS-409-00-005", "Given type t_a has associated relationshipDefs: relationshipDef t_a_b (endDef1 b)")
    write(app.extensions["catalog"], Entity("t_b", "b1@cm", {"name": "b1"}),
          Entity("t_a", "a1@cm", {"name": "a1"}, relationship_attributes={"b": EntityRef("t_b", "b1@cm")}))
    assert error(admin("delete", "/typedef/name/t_a_b")) == (
        409, "ATLAS-409-00-002", "Given type t_a_b has references: entity 'a1@cm' (t_a.b is set)")


def test_delete_is_blocked_by_a_classification_instance(app: Any, admin: Any) -> None:
    assert admin("post", "/typedefs", json={"classificationDefs": [{"name": "t_tag"}]}).status_code == 200
    write(app.extensions["catalog"], Entity("hive_table", "default.tagged@cm", {"name": "tagged"},
                                            classifications=[Classification("t_tag")]))
    assert error(admin("delete", "/typedef/name/t_tag")) == (
        409, "ATLAS-409-00-002", "Given type t_tag has references: 1 entity classified t_tag")


def test_delete_is_blocked_by_an_attribute_of_another_type(admin: Any) -> None:
    assert admin("post", "/typedefs", json={
        "enumDefs": [{"name": "t_color", "elementDefs": [{"value": "RED"}]}],
        "entityDefs": [entity_def("t_paint", attr("colors", "array<t_color>"))]}).status_code == 200
    assert error(admin("delete", "/typedef/name/t_color")) == (
        409, "ATLAS-409-00-002", "Given type t_color has references: attribute t_paint.colors (array<t_color>)")


# ---------------------------------------------------------------- who may write


def test_an_anonymous_write_is_401(client: Any) -> None:  # noqa: F811
    response = client.post(f"{API}/typedefs", json={"entityDefs": [entity_def("t_anon")]})
    assert error(response) == (401, "ATLAS-401-00-001", "authentication required: POST /api/atlas/v2/types/typedefs "
                                                        "needs a user with role admin (basic auth or an API token)")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert client.delete(f"{API}/typedef/name/hive_table").status_code == 401
    assert client.get(f"{API}/typedef/name/t_anon").status_code == 404


def test_a_steward_may_not_write_typedefs(client: Any) -> None:  # noqa: F811
    response = client.post(f"{API}/typedefs", json={"entityDefs": [entity_def("t_steward")]}, headers=auth(STEWARD))
    assert error(response) == (403, "ATLAS-403-00-001", "user 'sam' (role steward) may not POST "
                                                        "/api/atlas/v2/types/typedefs: needs admin")
    assert client.put(f"{API}/typedefs", json={}, headers=auth(STEWARD)).status_code == 403
    assert client.delete(f"{API}/typedefs", json={}, headers=auth(STEWARD)).status_code == 403
    assert client.get(f"{API}/typedef/name/t_steward").status_code == 404


# ---------------------------------------------------------------- typedefs live in the store


def test_typedefs_survive_a_restart_and_reach_every_catalog_over_the_store(database_url: str) -> None:
    settings = Settings(database_url=database_url, user="tester", read_access="open")
    with Catalog(settings) as other_worker, catalog_app(settings) as app:
        add_users(app.extensions["catalog"])
        before = other_worker.registry  # opened before the type exists
        assert not before.has_entity_type("t_kept")
        client = app.test_client()
        response = client.post(f"{API}/typedefs", headers=auth(ADMIN), json={
            "enumDefs": [{"name": "t_level", "elementDefs": [{"value": "LOW"}, {"value": "HIGH"}]}],
            "entityDefs": [entity_def("t_kept", attr("level", "t_level"))]})
        assert response.status_code == 200
        guid = response.get_json()["entityDefs"][0]["guid"]
        assert app.extensions["catalog"].registry.entity_def("t_kept")["guid"] == guid
        assert other_worker.registry is before and before.entity_def("t_kept")["guid"] == guid
        write(other_worker, Entity("t_kept", "kept@cm", {"name": "kept", "level": "HIGH"}))
        client.put(f"{API}/typedefs", headers=auth(ADMIN), json={
            "entityDefs": [entity_def("t_kept", attr("level", "t_level"), attr("note", "string"))]})
        assert other_worker.registry.entity_def("t_kept")["version"] == 2
        assert client.post(f"{API}/typedefs", headers=auth(ADMIN), json={"entityDefs": [entity_def("t_brief")]}
                           ).status_code == 200
        assert other_worker.registry.has_entity_type("t_brief")
        assert client.delete(f"{API}/typedef/name/t_brief", headers=auth(ADMIN)).status_code == 204
        assert not other_worker.registry.has_entity_type("t_brief")
    with Catalog(settings) as restarted:
        kept = restarted.registry.entity_def("t_kept")
        assert (kept["guid"], kept["version"], kept["createdBy"]) == (guid, 2, "root")
        restarted.registry.validate(Entity("t_kept", "k2@cm", {"name": "k2", "level": "LOW", "note": "n"}))
        with pytest.raises(EntityValidationError, match=r"attribute 'level' expects t_level \(one of LOW, HIGH\)"):
            restarted.registry.validate(Entity("t_kept", "k3@cm", {"name": "k3", "level": "MID"}))
        assert restarted.resolve("kept@cm").type_name == "t_kept"
        assert not restarted.registry.has_entity_type("t_brief")


def test_built_in_rows_are_written_once_on_first_open(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", user="opener")
    packaged = list(TypeRegistry.default().iter_defs())
    with Catalog(settings) as catalog, catalog.session() as session:
        rows = {r.name: r for r in session.scalars(select(TypeDefRow))}
    assert set(rows) == {d["name"] for _s, d in packaged}
    for section, d in packaged:
        row = rows[d["name"]]
        assert (row.builtin, row.version, row.guid, row.created_by) == (True, 1, guid_for("typedef", d["name"]),
                                                                         "opener")
        assert row.body == canonical_json(d) and row.category == TypeRegistry.default().typedef(d["name"])["category"]
    with Catalog(settings) as again, again.session() as session:
        assert {r.name: (r.version, r.updated_at) for r in session.scalars(select(TypeDefRow))} == {
            n: (r.version, r.updated_at) for n, r in rows.items()}


def test_a_changed_built_in_typedef_updates_its_row_and_keeps_its_guid(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", user="t")
    with Catalog(settings) as catalog:
        first = catalog.typedefs.get(name="hive_table")  # opens the new store: its rows are written
    release = TypeRegistry.default()
    newer = {k: v for k, v in release.typedef("hive_table").items() if k != "category"}
    release.load({"entityDefs": [{**newer, "description": "a newer release"}]}, replace=True)
    with Catalog(settings, registry=release) as upgraded:
        now = upgraded.registry.entity_def("hive_table")
    assert (now["guid"], now["version"], now["description"]) == (first["guid"], 2, "a newer release")
    assert now["updateTime"] > first["updateTime"] and now["createTime"] == first["createTime"]


def test_the_registry_works_before_a_store_exists_and_creates_none(tmp_path: Path) -> None:
    catalog = Catalog(Settings(database_url=f"sqlite:///{tmp_path / 'none.db'}", user="t"))
    assert catalog.registry.entity_def("hive_table")["superTypes"] == ["DataSet"]
    assert "guid" not in catalog.registry.entity_def("hive_table")  # the store's bookkeeping is not read yet
    assert list(tmp_path.iterdir()) == []


def test_an_ingest_in_a_new_process_knows_the_classifications_the_api_created(app: Any, admin: Any,
                                                                             settings: Settings,
                                                                             tmp_path: Path) -> None:
    assert admin("post", "/typedefs", json={"classificationDefs": [{"name": "t_gdpr"}]}).status_code == 200
    lineage = tmp_path / "lineage.yml"
    lineage.write_text("version: 1\ndatasets:\n  default.gdpr@cm:\n    classifications: [t_gdpr]\n")
    with Catalog(settings) as fresh:
        fresh.ingest(lineage_path=lineage)
        assert [c.type_name for c in fresh.resolve("default.gdpr@cm").classifications] == ["t_gdpr"]
    assert error(admin("delete", "/typedef/name/t_gdpr")) == (
        409, "ATLAS-409-00-002", "Given type t_gdpr has references: 1 entity classified t_gdpr")


def test_an_entity_of_a_deleted_type_is_unknown_again(app: Any, admin: Any) -> None:
    assert admin("post", "/typedefs", json={"entityDefs": [entity_def("t_short")]}).status_code == 200
    registry = app.extensions["catalog"].registry
    registry.validate(Entity("t_short", "s@cm", {"name": "s"}))
    assert admin("delete", "/typedef/name/t_short").status_code == 204
    with pytest.raises(UnknownTypeError, match="unknown entity type 't_short'"):
        registry.validate(Entity("t_short", "s@cm", {"name": "s"}))


# ---------------------------------------------------------------- the public Atlas clients, over HTTP


def sample_typedefs(prefix: str) -> dict[str, Any]:
    """Atlas's sample-app typedef request, its names ``sample_*`` renamed ``{prefix}_*``."""
    text = reference("atlas/samples/python-sample-app_typedef_create.json").read_text()
    return json.loads(text.replace('"sample_', f'"{prefix}_').replace('\\"sample_', f'\\"{prefix}_'))


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_apache_atlas_client_round_trip(base_url: str) -> None:  # noqa: F811
    from apache_atlas.client.base_client import AtlasClient
    from apache_atlas.exceptions import AtlasServiceException
    from apache_atlas.model.misc import SearchFilter
    from apache_atlas.model.typedef import AtlasAttributeDef, AtlasTypesDef

    atlas = AtlasClient(base_url, ADMIN)
    created = atlas.typedef.create_atlas_typedefs(AtlasTypesDef(sample_typedefs("aa")))
    assert [d.name for d in created.entityDefs] == ["aa_db", "aa_table", "aa_column", "aa_process"]
    table = atlas.typedef.get_entitydef_by_name("aa_table")
    assert table.guid == created.entityDefs[1].guid and (table.version, table.createdBy) == (1, "root")
    assert [a.name for a in table.attributeDefs] == ["createTime", "tableType", "temporary", "serde1", "serde2"]
    assert atlas.typedef.get_relationshipdef_by_name("aa_db_tables").endDef2.name == "tables"
    assert atlas.typedef.get_classificationdef_by_name("aa_pii").category == "CLASSIFICATION"
    assert atlas.typedef.get_businessmetadatadef_by_name("aa_bm").attributeDefs[0].name == "attr1"
    assert [e.value for e in atlas.typedef.get_enumdef_by_name("aa_tableType").elementDefs] == ["MANAGED", "EXTERNAL"]
    assert atlas.typedef.type_with_guid_exists(table.guid) and atlas.typedef.type_with_name_exists("aa_db")
    only = SearchFilter()
    only.params = {"type": "classification"}
    kept = atlas.typedef.get_all_typedefs(only)
    assert kept.entityDefs == [] and {"aa_pii", "aa_finance", "aa_metric"} <= {d.name for d in kept.classificationDefs}
    headers = atlas.typedef.get_all_typedef_headers(SearchFilter())
    assert {"guid": table.guid, "name": "aa_table", "category": "ENTITY"} in headers
    table.attributeDefs.append(AtlasAttributeDef({"name": "curator", "typeName": "string", "isOptional": True}))
    updated = atlas.typedef.update_atlas_typedefs(AtlasTypesDef({"entityDefs": [table]}))
    assert (updated.entityDefs[0].version, updated.entityDefs[0].attributeDefs[-1].name) == (2, "curator")
    assert atlas.typedef.delete_type_by_name("aa_bm_mv") is None
    assert not atlas.typedef.type_with_name_exists("aa_bm_mv")
    with pytest.raises(AtlasServiceException, match="status 409.*ATLAS-409-00-001.*Given type aa_tableType already"):
        atlas.typedef.create_atlas_typedefs(AtlasTypesDef(sample_typedefs("aa")))


def test_apache_atlas_defect_search_filter_drops_what_it_is_built_with(base_url: str) -> None:  # noqa: F811
    """``SearchFilter({"type": ...})`` keeps nothing of its argument: the request carries no filter."""
    from apache_atlas.client.base_client import AtlasClient
    from apache_atlas.model.misc import SearchFilter

    atlas = AtlasClient(base_url, ADMIN)
    unfiltered = atlas.typedef.get_all_typedefs(SearchFilter({"type": "enum"}))
    assert "hive_table" in {d.name for d in unfiltered.entityDefs}
    workaround = SearchFilter()
    workaround.params = {"type": "enum"}
    assert atlas.typedef.get_all_typedefs(workaround).entityDefs == []


def test_apache_atlas_defect_struct_and_enum_guid_reads_ask_the_entitydef_path(base_url: str) -> None:  # noqa: F811
    """``get_structdef_by_name`` and ``get_enumdef_by_guid`` request ``types/entitydef/...``: Atlas's 404."""
    from apache_atlas.client.base_client import AtlasClient
    from apache_atlas.exceptions import AtlasServiceException

    atlas = AtlasClient(base_url, ADMIN)
    with pytest.raises(AtlasServiceException, match="types/entitydef/name/fs_permissions failed with status 404"):
        atlas.typedef.get_structdef_by_name("fs_permissions")
    guid = atlas.typedef.get_enumdef_by_name("hive_principal_type").guid
    with pytest.raises(AtlasServiceException, match=f"types/entitydef/guid/{guid} failed with status 404"):
        atlas.typedef.get_enumdef_by_guid(guid)


def test_apache_atlas_defect_delete_typedefs_sends_the_body_as_query_parameters(base_url: str) -> None:  # noqa: F811
    """``delete_atlas_typedefs`` passes the AtlasTypesDef as ``query_params``: no body, Atlas's 400."""
    from apache_atlas.client.base_client import AtlasClient
    from apache_atlas.exceptions import AtlasServiceException
    from apache_atlas.model.typedef import AtlasTypesDef

    atlas = AtlasClient(base_url, ADMIN)
    atlas.typedef.create_atlas_typedefs(AtlasTypesDef({"entityDefs": [entity_def("aa_doomed")]}))
    with pytest.raises(AtlasServiceException, match="status 400.*request body is not valid JSON"):
        atlas.typedef.delete_atlas_typedefs(AtlasTypesDef({"entityDefs": [{"name": "aa_doomed"}]}))
    assert atlas.typedef.type_with_name_exists("aa_doomed")
    atlas.typedef.delete_type_by_name("aa_doomed")  # the workaround
    assert not atlas.typedef.type_with_name_exists("aa_doomed")


def test_apache_atlas_defect_requests_carry_no_timeout(base_url: str) -> None:  # noqa: F811
    """Every call is ``session.request(...)`` without ``timeout``: a server that stops answering hangs it."""
    from apache_atlas.client.base_client import AtlasClient

    atlas = AtlasClient(base_url, ADMIN)
    assert "timeout" not in atlas.request_params and atlas.session.adapters["http://"].max_retries.total == 0


def test_pyatlasclient_round_trip(base_url: str) -> None:  # noqa: F811
    from atlasclient.client import Atlas
    from atlasclient.exceptions import Conflict

    atlas = Atlas("127.0.0.1", port=port_of(base_url), username=ADMIN[0], password=ADMIN[1])
    atlas.typedefs.create(data=sample_typedefs("py"))
    entity = atlas.entitydef_name("py_table")
    assert (entity.name, entity.version, entity.createdBy) == ("py_table", 1, "root")
    assert [a.name for a in entity.attributeDefs] == ["createTime", "tableType", "temporary", "serde1", "serde2"]
    assert atlas.typedef_guid(entity.guid).name == "py_table"
    enum = atlas.enumdef_name("py_tableType")
    assert enum.guid and [e.value for e in enum.elementDefs] == ["MANAGED", "EXTERNAL"]
    kept = [t for t in atlas.typedefs(type="entity", servicetype="hive")]
    assert len(kept) == 1 and {e.name for e in kept[0].enumDefs} == set() and "hive_table" in {
        e.name for e in kept[0].entityDefs}
    assert "py_db" in {h.name for h in atlas.typedefs_headers}
    grown = {**entity_def("py_table"), **{k: v for k, v in entity._data.items() if k != "attributeDefs"}}
    grown["attributeDefs"] = [*entity._data["attributeDefs"], attr("curator", "string")]
    atlas.typedefs.update(data={"entityDefs": [grown]})
    assert atlas.entitydef_name("py_table").version == 2
    with pytest.raises(Conflict) as conflict:
        atlas.typedefs.create(data={"classificationDefs": [{"name": "py_pii"}]})
    assert conflict.value.code == 409 and json.loads(conflict.value.details)["errorCode"] == "ATLAS-409-00-001"
    atlas.typedefs.delete(data={"businessMetadataDefs": [{"name": "py_bm"}, {"name": "py_bm_mv"}]})
    assert not {"py_bm", "py_bm_mv"} & {h.name for h in atlas.typedefs_headers}


def test_pyatlasclient_defect_a_missing_typedef_reads_as_empty(base_url: str) -> None:  # noqa: F811
    """``QueryableModel.inflate`` swallows the 404: an unknown name answers None for every field."""
    from atlasclient.client import Atlas

    atlas = Atlas("127.0.0.1", port=port_of(base_url), username=ADMIN[0], password=ADMIN[1])
    missing = atlas.entitydef_name("py_never_created")
    assert (missing.guid, missing.version) == (None, None)


def test_pyatlasclient_defect_a_collection_read_first_is_empty(base_url: str) -> None:  # noqa: F811
    """A relationship (``elementDefs``) read before any field does not load the model: it is empty."""
    from atlasclient.client import Atlas

    atlas = Atlas("127.0.0.1", port=port_of(base_url), username=ADMIN[0], password=ADMIN[1])
    assert [e.value for e in atlas.enumdef_name("hive_principal_type").elementDefs] == []
    loaded = atlas.enumdef_name("hive_principal_type")
    assert loaded.guid == guid_for("typedef", "hive_principal_type")
    assert [e.value for e in loaded.elementDefs] == [
        e["value"] for e in TypeRegistry.default().typedef("hive_principal_type")["elementDefs"]]


def test_pyatlasclient_defect_two_sections_are_unreachable(base_url: str) -> None:  # noqa: F811
    """``TypeDef.fields`` is the string ``'empty'`` and its relationships name four sections of six."""
    from atlasclient.client import Atlas

    atlas = Atlas("127.0.0.1", port=port_of(base_url), username=ADMIN[0], password=ADMIN[1])
    typesdef = next(iter(atlas.typedefs(type="relationship")))
    with pytest.raises(AttributeError, match="relationshipDefs"):
        typesdef.relationshipDefs  # noqa: B018
    assert "hive_table_db" in {d["name"] for d in typesdef._data["relationshipDefs"]}
