"""The JSON API under /api/v1: its OpenAPI document matches the routes, pages, errors, and a schemathesis fuzz.

The fuzz generates requests from the document itself (schemathesis, through the WSGI app)
and requires that no answer is a 5xx and every 4xx has the one error shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.mlflow_fixtures import MlflowStore, demo_catalog, mlflow_store  # noqa: F401 - module-scoped fixture
from tests.test_push import ingest, pipeline
from tests.web_fixtures import catalog_app
from web.openapi import document

STEWARD = ("stella", "steward-pass-1")



@pytest.fixture(scope="module")
def app(mlflow_store: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # noqa: F811
    catalog, _store = demo_catalog(mlflow_store, tmp_path_factory.mktemp("api-v1"))
    from catalog import users

    with catalog:
        settings = catalog.settings
        ingest(catalog, pipeline(30, prefix="api"))
        with catalog.write_session() as session, session.begin():
            users.add_user(session, *STEWARD, "steward")
    with catalog_app(settings) as app:
        yield app


def _routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule).rstrip("/") or "/"
        found.update((path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_the_openapi_document_matches_the_routes(app: Any) -> None:
    served = app.test_client().get("/api/v1/openapi.json").get_json()
    assert served == document() and served["openapi"] == "3.1.0"
    documented = {(path, method) for path, ops in served["paths"].items() for method in ops}
    assert documented == _routes(app)


def test_lists_are_pages_with_a_cursor(app: Any) -> None:
    client = app.test_client()
    first = client.get("/api/v1/entities?q=api-d&limit=10").get_json()
    assert len(first["items"]) == 10 and first["next"]
    second = client.get(f"/api/v1/entities?q=api-d&limit=10&cursor={first['next']}").get_json()
    names = [e["qualifiedName"] for e in first["items"] + second["items"]]
    assert len(names) == len(set(names)) == 20
    rest = client.get(f"/api/v1/entities?q=api-d&limit=100&cursor={second['next']}").get_json()
    assert rest["next"] is None and len(names) + len(rest["items"]) == 32
    bad = client.get("/api/v1/entities?cursor=zzz")
    assert bad.status_code == 400 and bad.get_json()["errorMessage"] == "cursor 'zzz' is not one this API handed out"


def test_entities_impact_audit_and_scoring_runs(app: Any) -> None:
    client = app.test_client()
    one = client.get("/api/v1/entities/hive_table/default.wineds_ext@cm").get_json()
    assert one["typeName"] == "hive_table" and one["attributes"]["qualifiedName"] == "default.wineds_ext@cm"
    missing = client.get("/api/v1/entities/hive_table/nope@cm")
    assert missing.status_code == 404 and set(missing.get_json()) == {"errorCode", "errorMessage"}
    impact = client.get("/api/v1/impact?ref=default.wineds_ext@cm").get_json()
    assert {"wine-quality/1@mlflow", "wine-quality-stream:prod@cm"} <= {r["qualified_name"] for r in impact["items"]}
    events = client.get("/api/v1/audit?ref=wine-quality-stream:prod@cm").get_json()["items"]
    assert "ENTITY_CREATE" in {e["action"] for e in events} and events[0]["id"] > events[-1]["id"]  # newest first
    runs = client.get("/api/v1/scoring-runs?ref=wine-quality-stream:prod@cm").get_json()
    assert runs == {"items": [], "next": None}
    wrong = client.get("/api/v1/scoring-runs?ref=default.wineds_ext@cm")
    assert wrong.status_code == 400 and "is a hive_table, not an ml_deployment" in wrong.get_json()["errorMessage"]
    assert client.get("/api/v1/entities?type=hive_tabel").get_json()["errorMessage"] == \
        "unknown entity type 'hive_tabel'; did you mean 'hive_table'?"


def test_a_lineage_deeper_than_allowed_is_capped_and_says_so(app: Any) -> None:
    client = app.test_client()
    most = app.extensions["catalog"].settings.lineage_max_depth
    plain = client.get("/api/v1/lineage?ref=default.wineds_ext@cm&depth=3").get_json()
    assert "depthCapped" not in plain and plain["lineageDepth"] == 3
    for depth in (9999, 0):
        deep = client.get(f"/api/v1/lineage?ref=default.wineds_ext@cm&depth={depth}").get_json()
        assert deep["depthCapped"] == {"requested": depth, "drawn": most,
                                       "message": f"depth {depth} was capped at {most} (CATALOG_LINEAGE_MAX_DEPTH)"}
        assert deep["guidEntityMap"].keys() >= plain["guidEntityMap"].keys()


@pytest.fixture(scope="module")
def schema(app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _bound(check: Any, headers: dict[str, str]) -> Any:
    """``check(case, headers)`` as a one-argument function, as ``@given`` wants it."""
    def run(case: Any) -> None:
        check(case, headers)
    return run


def test_fuzzed_requests_never_get_a_server_error(schema: Any) -> None:
    import base64

    from hypothesis import given

    seen = {"calls": 0, "writes": 0}
    steward = {"Authorization": "Basic " + base64.b64encode(":".join(STEWARD).encode()).decode()}

    def check(case: Any, headers: dict[str, str]) -> None:
        response = case.call(headers=headers)
        seen["calls"] += 1
        seen["writes"] += bool(headers)
        assert response.status_code < 500, (case.method, case.path, case.query, response.text[:300])
        if response.status_code >= 400:
            assert set(response.json()) == {"errorCode", "errorMessage"}, response.text[:300]

    for operation in schema.get_all_operations():
        op = operation.ok()
        headers = steward if op.method.upper() != "GET" else {}  # writes as a steward, so they reach the handler
        fuzz = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        fuzz(given(op.as_strategy())(_bound(check, headers)))()
    assert seen["calls"] >= 100 and seen["writes"] >= 10
