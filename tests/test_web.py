"""The web app: health, the catalog's JSON API and Atlas's v2 REST API, errors in Atlas's shape.

Each request is made twice where it matters: through Flask's test client and over
real HTTP on loopback (werkzeug's server in a thread), on a store holding the demo
chain (lineage.yml + the MLflow fixture store) on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from catalog.config import Settings
from catalog.service import Catalog
from tests.conftest import store_url
from tests.mlflow_fixtures import MlflowStore, copy_store, mlflow_store  # noqa: F401 - module-scoped fixture
from tests.web_fixtures import base_url, catalog_app, client  # noqa: F401 - fixtures
from web import create_app

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Chain:
    settings: Settings
    run_id: str
    guids: dict[str, str]  # qualifiedName -> guid


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chain(
    request: pytest.FixtureRequest, mlflow_store: MlflowStore, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
) -> Chain:
    """The demo chain ingested once per backend: tables -> run -> version -> deploy -> deployment."""
    root = tmp_path_factory.mktemp(f"web-{request.param}")
    url = store_url(request, root)
    store = copy_store(mlflow_store, root)
    settings = Settings(database_url=url, mlflow_uri=store.uri, user="tester")
    run_qn = f"run:{store.train_run_id}@mlflow"
    names = [
        "default.wineds_ext@cm",
        run_qn,
        "wine-quality/1@mlflow",
        "deploy:wine-quality-stream:prod@cm",
        "wine-quality-stream:prod@cm",
        "wine-quality-batch:prod@cm",
        "wine-quality@mlflow",
    ]
    with Catalog(settings) as catalog:
        catalog.ingest(lineage_path=REPO / "lineage.yml", mlflow_uri=store.uri)
        guids = {qn: catalog.resolve(qn).guid for qn in names}
    return Chain(settings, store.train_run_id, guids)


@pytest.fixture(scope="module")
def app(chain: Chain) -> Iterator[Any]:
    with catalog_app(chain.settings) as app:
        yield app


def http_get(url: str) -> tuple[int, str, Any]:
    """``(status, content type, JSON body)`` of a GET over real HTTP; error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["Content-Type"], json.loads(exc.read())


def edges_by_name(info: dict) -> set[tuple[str, str]]:
    """The relations of an AtlasLineageInfo as (from qualifiedName, to qualifiedName)."""
    qn = {guid: header["attributes"]["qualifiedName"] for guid, header in info["guidEntityMap"].items()}
    return {(qn[r["fromEntityId"]], qn[r["toEntityId"]]) for r in info["relations"]}


def assert_lineage_info(info: dict, base_guid: str, direction: str, depth: int) -> None:
    assert set(info) >= {"baseEntityGuid", "lineageDirection", "lineageDepth", "guidEntityMap", "relations"}
    assert info["baseEntityGuid"] == base_guid
    assert info["lineageDirection"] == direction
    assert info["lineageDepth"] == depth
    assert base_guid in info["guidEntityMap"]
    for guid, header in info["guidEntityMap"].items():
        assert header["guid"] == guid
        assert {"typeName", "attributes", "status", "displayText", "classificationNames"} <= set(header)
    assert info["relations"]
    for relation in info["relations"]:
        assert set(relation) >= {"fromEntityId", "toEntityId", "relationshipId"}
        assert relation["fromEntityId"] in info["guidEntityMap"]
        assert relation["toEntityId"] in info["guidEntityMap"]
        assert relation["relationshipId"]


# ---------------------------------------------------------------- health


def test_healthz_answers_ok_as_json(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok"}


def test_healthz_answers_over_http(base_url: str) -> None:
    status, content_type, body = http_get(f"{base_url}/healthz")
    assert (status, content_type, body) == (200, "application/json", {"status": "ok"})


# ---------------------------------------------------------------- the catalog's JSON API


def stream_chain(run: str) -> set[tuple[str, str]]:
    """The demo's chain from the training table to the streaming deployment, as flow edges."""
    return {
        ("default.wineds_ext@cm", run),
        (run, "wine-quality/1@mlflow"),
        ("wine-quality/1@mlflow", "deploy:wine-quality-stream:prod@cm"),
        ("deploy:wine-quality-stream:prod@cm", "wine-quality-stream:prod@cm"),
    }


def test_api_lineage_by_alias_ref_follows_the_data_flow(client: Any, chain: Chain) -> None:
    response = client.get("/api/v1/lineage", query_string={"ref": "models:/wine-quality@champion"})
    assert response.status_code == 200
    info = response.get_json()
    assert_lineage_info(info, chain.guids["wine-quality/1@mlflow"], "BOTH", 3)
    run = f"run:{chain.run_id}@mlflow"
    assert stream_chain(run) <= edges_by_name(info)
    assert ("wine-quality/1@mlflow", run) not in edges_by_name(info)


def test_api_lineage_takes_direction_and_depth(client: Any, chain: Chain) -> None:
    response = client.get("/api/v1/lineage?ref=default.wineds_ext@cm&direction=output&depth=1")
    info = response.get_json()
    assert_lineage_info(info, chain.guids["default.wineds_ext@cm"], "OUTPUT", 1)
    run = f"run:{chain.run_id}@mlflow"
    # One data set hop downstream: through the training run to the model versions, no further.
    assert ("default.wineds_ext@cm", run) in edges_by_name(info)
    assert (run, "wine-quality/1@mlflow") in edges_by_name(info)
    assert chain.guids["wine-quality-stream:prod@cm"] not in info["guidEntityMap"]


def test_api_lineage_is_the_same_over_http(client: Any, base_url: str) -> None:
    status, content_type, body = http_get(f"{base_url}/api/v1/lineage?ref=models:/wine-quality/1")
    assert (status, content_type) == (200, "application/json")
    assert body == client.get("/api/v1/lineage?ref=models:/wine-quality/1").get_json()


# ---------------------------------------------------------------- Atlas v2


def test_atlas_lineage_input_of_a_deployment_reaches_the_training_tables(client: Any, chain: Chain) -> None:
    guid = chain.guids["wine-quality-stream:prod@cm"]
    response = client.get(f"/api/atlas/v2/lineage/{guid}?direction=INPUT&depth=3")
    assert response.status_code == 200
    info = response.get_json()
    assert_lineage_info(info, guid, "INPUT", 3)
    run = f"run:{chain.run_id}@mlflow"
    assert stream_chain(run) <= edges_by_name(info)
    # Upstream only: the sibling deployment of the same version is not an input.
    assert chain.guids["wine-quality-batch:prod@cm"] not in info["guidEntityMap"]


def test_atlas_lineage_over_http(base_url: str, chain: Chain) -> None:
    guid = chain.guids["wine-quality-stream:prod@cm"]
    status, content_type, info = http_get(f"{base_url}/api/atlas/v2/lineage/{guid}?direction=INPUT&depth=3")
    assert (status, content_type) == (200, "application/json")
    assert_lineage_info(info, guid, "INPUT", 3)


def test_atlas_entity_by_guid(client: Any, chain: Chain) -> None:
    guid = chain.guids["default.wineds_ext@cm"]
    response = client.get(f"/api/atlas/v2/entity/guid/{guid}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["referredEntities"] == {}
    entity = body["entity"]
    assert (entity["typeName"], entity["guid"], entity["status"]) == ("hive_table", guid, "ACTIVE")
    assert entity["attributes"]["qualifiedName"] == "default.wineds_ext@cm"
    assert [c["typeName"] for c in entity["classifications"]] == ["PII"]


def test_atlas_entity_by_guid_over_http(base_url: str, chain: Chain) -> None:
    guid = chain.guids["wine-quality/1@mlflow"]
    status, _, body = http_get(f"{base_url}/api/atlas/v2/entity/guid/{guid}")
    assert status == 200
    assert body["entity"]["typeName"] == "ml_model_version"
    assert body["entity"]["attributes"]["aliases"] == ["champion"]


def test_atlas_typedefs_list_the_ml_types(client: Any) -> None:
    response = client.get("/api/atlas/v2/types/typedefs")
    assert response.status_code == 200
    typesdef = response.get_json()
    assert {"entityDefs", "classificationDefs", "relationshipDefs", "enumDefs", "structDefs"} <= set(typesdef)
    entity_defs = {d["name"]: d for d in typesdef["entityDefs"]}
    assert {"DataSet", "Process", "hive_table", "ml_model_build", "ml_model_deploy_process"} <= set(entity_defs)
    assert "ml_model_build" in entity_defs["ml_model_version"]["superTypes"]
    assert "PII" in {d["name"] for d in typesdef["classificationDefs"]}


# ---------------------------------------------------------------- errors, in Atlas's shape


ZERO_GUID = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "path",
    [f"/api/atlas/v2/entity/guid/{ZERO_GUID}", f"/api/atlas/v2/lineage/{ZERO_GUID}"],
    ids=["entity", "lineage"],
)
def test_unknown_guid_is_atlas_404(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json() == {
        "errorCode": "ATLAS-404-00-005",
        "errorMessage": f"Given instance guid {ZERO_GUID} is invalid/not found",
    }


@pytest.mark.parametrize("not_a_guid", ["default.wineds_ext@cm", "wine-quality@mlflow", "x"])
def test_atlas_takes_guids_only(client: Any, not_a_guid: str) -> None:
    for path in (f"/api/atlas/v2/entity/guid/{not_a_guid}", f"/api/atlas/v2/lineage/{not_a_guid}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["errorCode"] == "ATLAS-404-00-005"


def test_unknown_guid_over_http(base_url: str) -> None:
    status, content_type, body = http_get(f"{base_url}/api/atlas/v2/entity/guid/{ZERO_GUID}")
    assert (status, content_type, body["errorCode"]) == (404, "application/json", "ATLAS-404-00-005")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("direction=UP", "direction must be INPUT, OUTPUT or BOTH, got 'UP'"),
        ("direction=", "direction must be INPUT, OUTPUT or BOTH, got ''"),
        ("depth=-1", "depth must be a non-negative integer, got '-1'"),
        ("depth=three", "depth must be a non-negative integer, got 'three'"),
        ("depth=%C2%B2", "depth must be a non-negative integer, got '²'"),
    ],
)
def test_bad_lineage_parameters_are_atlas_400(client: Any, chain: Chain, query: str, message: str) -> None:
    guid = chain.guids["wine-quality/1@mlflow"]
    for path in (f"/api/atlas/v2/lineage/{guid}?{query}", f"/api/v1/lineage?ref={guid}&{query}"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.get_json() == {"errorCode": "ATLAS-400-00-026", "errorMessage": message}


def test_bad_direction_over_http(base_url: str, chain: Chain) -> None:
    guid = chain.guids["wine-quality/1@mlflow"]
    status, _, body = http_get(f"{base_url}/api/atlas/v2/lineage/{guid}?direction=sideways")
    assert status == 400
    assert body["errorMessage"] == "direction must be INPUT, OUTPUT or BOTH, got 'SIDEWAYS'"


def test_api_lineage_needs_a_ref(client: Any) -> None:
    response = client.get("/api/v1/lineage")
    assert response.status_code == 400
    assert response.get_json() == {"errorCode": "ATLAS-400-00-029", "errorMessage": "query parameter 'ref' is required"}


def test_api_lineage_of_an_unknown_ref_is_404(client: Any) -> None:
    response = client.get("/api/v1/lineage?ref=no.such@cm")
    assert response.status_code == 404
    body = response.get_json()
    assert body["errorCode"] == "ATLAS-404-00-005"
    assert body["errorMessage"].startswith("no entity matches 'no.such@cm'")


def test_unknown_api_route_and_wrong_method_are_json(client: Any) -> None:
    response = client.get("/api/atlas/v2/no-such-resource")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json()["errorCode"] == "ATLAS-404-00-000"
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.get_json()["errorCode"] == "ATLAS-405-00-000"


# ---------------------------------------------------------------- index page


def test_index_lists_registered_models_with_their_lineage_link(client: Any, chain: Chain) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<td><a href=\"/models/wine-quality\">wine-quality</a></td>" in page
    assert "ml-team@example.com" in page
    guid = chain.guids["wine-quality@mlflow"]
    assert f'href="/api/atlas/v2/lineage/{guid}?direction=BOTH&amp;depth=3"' in page


def test_index_escapes_what_sources_wrote(tmp_path: Any) -> None:
    from catalog.model import Entity, SourceBatch
    from catalog.store import upsert_batch
    from web import create_app

    app = create_app(settings=Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", read_access="open"))
    catalog = app.extensions["catalog"]
    evil = Entity("ml_registered_model", "x@mlflow", {"name": "<script>alert(1)</script>", "purpose": "a & b"})
    with catalog.write_session() as session, session.begin():
        upsert_batch(session, SourceBatch("t", [evil]), catalog.registry, user="t")
    page = app.test_client().get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a &amp; b" in page
