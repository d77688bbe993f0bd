"""Generated bodies against the v2 entity and classification endpoints: never a 5xx.

Bodies mix well-formed Atlas JSON (known and unknown types, attributes of every JSON
kind, references by guid and by unique attribute, temporary guids) with arbitrary
JSON; every answer must be a 2xx or an Atlas-style 4xx ``{errorCode, errorMessage}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import users
from catalog.config import Settings
from tests.web_fixtures import catalog_app

AUTH = {"Authorization": "Basic " + base64.b64encode(b"fuzz:fuzz-password").decode()}
TYPES = ["hive_table", "hive_db", "hive_column", "ml_model_build", "ml_model_train_build_process", "DataSet",
         "no_such_type", ""]
ATTRIBUTES = ["qualifiedName", "name", "owner", "createTime", "retention", "inputs", "outputs", "db", "columns",
              "clusterName", "version", "x"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
object_ids = st.one_of(
    st.fixed_dictionaries({"guid": st.sampled_from(["-1", "-2", "-9", "not-a-guid"])}),
    st.fixed_dictionaries({"typeName": st.sampled_from(TYPES),
                           "uniqueAttributes": st.fixed_dictionaries({"qualifiedName": st.text(max_size=10)})}),
)
entities = st.fixed_dictionaries(
    {"typeName": st.sampled_from(TYPES),
     "attributes": st.dictionaries(st.sampled_from(ATTRIBUTES), json_values | object_ids | st.lists(object_ids),
                                   max_size=5)},
    optional={"guid": st.sampled_from(["-1", "-2", "-3"]),
              "relationshipAttributes": st.dictionaries(st.sampled_from(ATTRIBUTES),
                                                        object_ids | st.lists(object_ids, max_size=2), max_size=2),
              "classifications": st.lists(st.fixed_dictionaries({"typeName": st.sampled_from(["PII", "NOPE", ""])}),
                                          max_size=2),
              "status": st.sampled_from(["ACTIVE", "DELETED", "GONE", None])},
)
bodies = st.one_of(
    st.fixed_dictionaries({"entities": st.lists(entities, max_size=4)},
                          optional={"referredEntities": st.dictionaries(st.sampled_from(["-1", "-2"]), entities,
                                                                         max_size=2)}),
    st.fixed_dictionaries({"entity": entities}),
    json_values,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("atlas-fuzz") / "catalog.db"
    with catalog_app(Settings(database_url=f"sqlite:///{path}")) as app:
        with app.extensions["catalog"].write_session() as session, session.begin():
            users.add_user(session, "fuzz", "fuzz-password", "admin")
        yield app.test_client()


def _check(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        body = response.get_json()
        assert set(body) == {"errorCode", "errorMessage"} and body["errorCode"].startswith("ATLAS-"), body


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, path=st.sampled_from(["/entity", "/entity/bulk"]))
def test_entity_writes_never_answer_5xx(client: Any, body: Any, path: str) -> None:
    _check(client.post("/api/atlas/v2" + path, data=json.dumps(body), content_type="application/json",
                       headers=AUTH))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values | st.lists(st.fixed_dictionaries({"typeName": st.text(max_size=8)},
                                                         optional={"attributes": json_values,
                                                                   "propagate": json_values})),
       method=st.sampled_from(["post", "put"]))
def test_classification_writes_never_answer_5xx(client: Any, body: Any, method: str) -> None:
    setup = {"entities": [{"typeName": "hive_db", "attributes": {"qualifiedName": "fuzz@cm", "name": "fuzz",
                                                                 "clusterName": "cm"}}]}
    created = client.post("/api/atlas/v2/entity/bulk", json=setup, headers=AUTH).get_json()
    guid = (created["mutatedEntities"].get("CREATE") or created["mutatedEntities"].get("UPDATE") or [{}])[0].get(
        "guid") or "1b5f3f6e-0000-5000-8000-000000000000"
    response = getattr(client, method)(f"/api/atlas/v2/entity/guid/{guid}/classifications", data=json.dumps(body),
                                       content_type="application/json", headers=AUTH)
    _check(response)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=10), value=json_values,
       query=st.dictionaries(st.sampled_from(["minExtInfo", "ignoreRelationships", "attr:qualifiedName", "guid",
                                              "count", "attr:name"]), st.text(max_size=10), max_size=3))
def test_reads_and_partial_updates_never_answer_5xx(client: Any, name: str, value: Any, query: dict) -> None:
    guid = "1b5f3f6e-0000-5000-8000-000000000000"
    _check(client.get("/api/atlas/v2/entity/uniqueAttribute/type/hive_db", query_string=query))
    _check(client.get("/api/atlas/v2/entity/bulk", query_string=query))
    _check(client.get(f"/api/atlas/v2/entity/guid/{guid}", query_string=query))
    _check(client.put(f"/api/atlas/v2/entity/guid/{guid}", query_string={"name": name}, data=json.dumps(value),
                      content_type="application/json", headers=AUTH))
