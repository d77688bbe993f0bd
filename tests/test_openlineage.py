"""OpenLineage RunEvents posted to ``/api/v1/lineage`` by the official client, as to Marquez.

A Spark-like job reads the CML lineage file's Hive table and writes a file data set: its
START and COMPLETE events make one ``ol_job`` between the data sets (the Hive table linked,
not duplicated) and one ``ol_run`` whose state and times follow the events. Malformed
events are refused with the field named and nothing written.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    datasource_dataset,
    documentation_dataset,
    error_message_run,
    job_type_job,
    schema_dataset,
    sql_job,
    symlinks_dataset,
)
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

from catalog import store, users
from catalog.config import Settings
from catalog.model import guid_for
from tests.conftest import reference
from tests.web_fixtures import basic_auth, catalog_app, client, served  # noqa: F401 - fixtures

STEWARD = ("steward", "steward-password")
VIEWER = ("viewer", "viewer-password")
V2 = "/api/atlas/v2"
LINEAGE = "/api/v1/lineage"
PRODUCER = "https://example.com/spark-lineage"
HIVE = "hive://metastore.example.com:9083"
T_START, T_END = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00.250+00:00"
MS_START, MS_END = 1714557600000, 1714557900250


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("openlineage") / "catalog.db"
    with catalog_app(Settings(database_url=f"sqlite:///{path}")) as app:
        catalog = app.extensions["catalog"]
        catalog.ingest(lineage_path=reference("wine/cml-lineage.yml"))  # the MLflow chain's Hive tables
        with catalog.write_session() as session, session.begin():
            users.add_user(session, *STEWARD, "steward")
            users.add_user(session, *VIEWER, "viewer")
            app.config["TEST_TOKEN"] = users.create_token(session, STEWARD[0], "openlineage")
        yield app


@pytest.fixture(scope="module")
def base_url(app: Any) -> Iterator[str]:
    with served(app, "openlineage") as url:
        yield url


def _transport(app: Any, base_url: str, **options: Any) -> HttpTransport:
    auth = ApiKeyTokenProvider({"apiKey": app.config["TEST_TOKEN"]})
    return HttpTransport(HttpConfig(url=base_url, auth=auth, **options))


def _post(client: Any, body: Any, who: tuple[str, str] | None = STEWARD) -> Any:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(LINEAGE, data=data, content_type="application/json", headers=basic_auth(who) if who else {})


def _entity(client: Any, type_name: str, qualified_name: str) -> dict[str, Any]:
    response = client.get(f"{V2}/entity/guid/{guid_for(type_name, qualified_name)}")
    assert response.status_code == 200, (type_name, qualified_name, response.get_json())
    return response.get_json()["entity"]


def _names(refs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["typeName"], r["uniqueAttributes"]["qualifiedName"]) for r in refs]


def _counts(app: Any) -> tuple[int, int]:
    with app.extensions["catalog"].session() as session:
        return session.query(store.EntityRow).count(), session.query(store.AuditRow).count()


def _event(state: RunState, time: str, run_id: str, inputs: list[Any], outputs: list[Any], **facets: Any) -> RunEvent:
    job = Job(namespace="spark-prod", name="score_wine", facets=facets.get("job", {}))
    return RunEvent(eventType=state, eventTime=time, run=Run(runId=run_id, facets=facets.get("run", {})), job=job,
                    inputs=inputs, outputs=outputs, producer=PRODUCER)


def _hive_input(name: str = "default.wineds_ext") -> InputDataset:
    """A Hive table as Spark names it, with the cluster the catalog knows it by as its data source."""
    return InputDataset(HIVE, name, facets={
        "dataSource": datasource_dataset.DatasourceDatasetFacet(name="cm", uri=HIVE),
        "schema": schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name="ph", type="double")])})


def _scored_output(with_facets: bool = True) -> OutputDataset:
    if not with_facets:
        return OutputDataset("s3://wine-bucket", "scored/wine")
    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(fields={"ph_scaled": column_lineage_dataset.Fields(
        inputFields=[column_lineage_dataset.InputField(HIVE, "default.wineds_ext", "ph", transformations=[
            column_lineage_dataset.Transformation(type="DIRECT", subtype="TRANSFORMATION")])],
        transformationDescription="ph / 14", transformationType="IDENTITY")})
    nested = schema_dataset.SchemaDatasetFacetFields(name="quality", type="struct", fields=[
        schema_dataset.SchemaDatasetFacetFields(name="score", type="double", description="predicted")])
    return OutputDataset("s3://wine-bucket", "scored/wine", facets={
        "schema": schema_dataset.SchemaDatasetFacet(fields=[
            schema_dataset.SchemaDatasetFacetFields(name="ph_scaled", type="double"), nested]),
        "columnLineage": lineage,
        "documentation": documentation_dataset.DocumentationDatasetFacet(description="scored wines")})


def _start_and_complete(app: Any, base_url: str) -> str:
    """A START with facets, then a COMPLETE without them, through the official client; the run id."""
    transport = _transport(app, base_url)
    run_id = str(uuid.uuid4())
    job_facets = {"jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="SPARK", jobType="JOB"),
                  "sql": sql_job.SQLJobFacet(query="SELECT ph / 14 AS ph_scaled FROM default.wineds_ext")}
    start = transport.emit(_event(RunState.START, T_START, run_id, [_hive_input()], [_scored_output()], job=job_facets))
    assert (start.status_code, start.content) == (201, b"")  # Marquez's answer
    complete = transport.emit(_event(RunState.COMPLETE, T_END, run_id, [], [_scored_output(with_facets=False)]))
    assert (complete.status_code, complete.content) == (201, b"")
    return run_id


def test_start_then_complete_makes_one_job_between_the_hive_table_and_the_output(
        app: Any, base_url: str, client: Any) -> None:
    run_id = _start_and_complete(app, base_url)

    job = _entity(client, "ol_job", "score_wine@spark-prod")
    assert _names(job["attributes"]["inputs"]) == [("hive_table", "default.wineds_ext@cm")]  # linked, not copied
    assert _names(job["attributes"]["outputs"]) == [("ol_dataset", "scored/wine@s3://wine-bucket")]
    assert {k: job["attributes"][k] for k in ("namespace", "processingType", "integration", "jobType", "sqlQuery")} == {
        "namespace": "spark-prod", "processingType": "BATCH", "integration": "SPARK", "jobType": "JOB",
        "sqlQuery": "SELECT ph / 14 AS ph_scaled FROM default.wineds_ext"}
    assert client.get(f"{V2}/entity/guid/{guid_for('ol_dataset', f'default.wineds_ext@{HIVE}')}").status_code == 404

    run = _entity(client, "ol_run", f"run:{run_id}@spark-prod")
    assert {k: run["attributes"][k] for k in ("runId", "state", "eventType", "startTime", "endTime", "producer")} == {
        "runId": run_id, "state": "COMPLETED", "eventType": "COMPLETE", "startTime": MS_START, "endTime": MS_END,
        "producer": PRODUCER}
    assert run["version"] == 2 and run["relationshipAttributes"]["job"]["guid"] == job["guid"]
    assert job["version"] == 1  # the COMPLETE event listed nothing new for the job

    lineage = client.get(f"{V2}/lineage/{job['guid']}").get_json()
    table = guid_for("hive_table", "default.wineds_ext@cm")
    output = guid_for("ol_dataset", "scored/wine@s3://wine-bucket")
    pairs = {(r["fromEntityId"], r["toEntityId"]) for r in lineage["relations"]}
    assert {(table, job["guid"]), (job["guid"], output)} <= pairs
    model = guid_for("ml_registered_model", "Predict w/ Monitoring & Lineage@mlflow")
    downstream = client.get(f"{V2}/lineage/{table}?direction=OUTPUT&depth=2").get_json()["guidEntityMap"]
    assert {job["guid"], output, model} <= set(downstream)  # the scoring job beside the MLflow chain's training
    with app.extensions["catalog"].session() as session:
        events = store.audit_events(session, run["guid"])
    assert [(e.action, e.user, e.source) for e in events] == [("ENTITY_UPDATE", "steward", "openlineage"),
                                                              ("ENTITY_CREATE", "steward", "openlineage")]


def test_facets_are_kept_as_attributes_and_survive_an_event_without_them(app: Any, base_url: str, client: Any) -> None:
    _start_and_complete(app, base_url)
    output = _entity(client, "ol_dataset", "scored/wine@s3://wine-bucket")["attributes"]
    assert output["schema"] == [{"name": "ph_scaled", "type": "double"}, {"name": "quality", "type": "struct"},
                                {"name": "quality.score", "type": "double", "description": "predicted"}]
    assert output["columnLineage"] == [{
        "field": "ph_scaled", "transformationType": "IDENTITY", "transformationDescription": "ph / 14",
        "inputFields": [{"namespace": HIVE, "name": "default.wineds_ext", "field": "ph",
                         "transformations": ["DIRECT/TRANSFORMATION"]}]}]
    assert (output["namespace"], output["name"], output["description"]) == ("s3://wine-bucket", "scored/wine",
                                                                           "scored wines")


def test_a_symlink_links_the_data_set_to_the_table_it_names(app: Any, base_url: str, client: Any) -> None:
    files = InputDataset("hdfs://namenode:8020", "/warehouse/wineds_ext_nolabel", facets={
        "symlinks": symlinks_dataset.SymlinksDatasetFacet(identifiers=[
            symlinks_dataset.Identifier(namespace="cm", name="default.wineds_ext_nolabel", type="TABLE")])})
    run_id = str(uuid.uuid4())
    event = _event(RunState.START, T_START, run_id, [files], [OutputDataset("s3://wine-bucket", "batch/nolabel")])
    event.job.name = "batch_score"
    OpenLineageClient(transport=_transport(app, base_url)).emit(event)
    job = _entity(client, "ol_job", "batch_score@spark-prod")
    assert _names(job["attributes"]["inputs"]) == [("hive_table", "default.wineds_ext_nolabel@cm")]


def test_runs_add_to_their_job_and_a_new_run_replaces_what_it_lists(app: Any, client: Any) -> None:
    def event(kind: str, run_id: str, time: str, inputs: list[str], outputs: list[str], **extra: Any) -> dict:
        return {"eventType": kind, "eventTime": time, "producer": PRODUCER, "run": {"runId": run_id, **extra},
                "job": {"namespace": "etl", "name": "merge"},
                "inputs": [{"namespace": "pg", "name": n} for n in inputs],
                "outputs": [{"namespace": "pg", "name": n} for n in outputs]}

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for body in (event("START", first, T_START, ["a"], []), event("RUNNING", first, T_START, ["b"], ["out"]),
                 event("COMPLETE", first, T_END, [], ["out"])):
        assert _post(client, body).status_code == 201
    job = _entity(client, "ol_job", "merge@etl")["attributes"]
    assert (_names(job["inputs"]), _names(job["outputs"])) == (
        [("ol_dataset", "a@pg"), ("ol_dataset", "b@pg")], [("ol_dataset", "out@pg")])
    failed = {"facets": {"errorMessage": {"_producer": PRODUCER, "_schemaURL": "https://example.com/s",
                                          "message": "disk full", "programmingLanguage": "python"}}}
    assert _post(client, event("FAIL", second, "2024-05-02T10:00:00Z", [], [], **failed)).status_code == 201
    assert _post(client, event("START", second, "2024-05-02T09:00:00Z", ["c"], [])).status_code == 201  # late
    job = _entity(client, "ol_job", "merge@etl")["attributes"]
    assert (_names(job["inputs"]), _names(job["outputs"])) == ([("ol_dataset", "c@pg")], [("ol_dataset", "out@pg")])
    run = _entity(client, "ol_run", f"run:{second}@etl")["attributes"]
    assert (run["state"], run["eventType"], run["errorMessage"]) == ("FAILED", "FAIL", "disk full")
    assert (run["startTime"], run["endTime"]) == (1714640400000, 1714644000000)


def test_gzip_compressed_events_from_the_client_are_read(app: Any, base_url: str, client: Any) -> None:
    transport = _transport(app, base_url, compression=HttpCompression.GZIP)
    run_id = str(uuid.uuid4())
    error = {"errorMessage": error_message_run.ErrorMessageRunFacet(message="boom", programmingLanguage="scala")}
    response = transport.emit(_event(RunState.ABORT, T_END, run_id, [], [], run=error))
    assert response.status_code == 201
    run = _entity(client, "ol_run", f"run:{run_id}@spark-prod")["attributes"]
    assert (run["state"], run["errorMessage"], run.get("startTime")) == ("ABORTED", "boom", None)


def _valid() -> dict[str, Any]:
    return {"eventType": "START", "eventTime": T_START, "producer": PRODUCER, "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "bad", "name": "job"}, "inputs": [{"namespace": "pg", "name": "in"}], "outputs": []}


@pytest.mark.parametrize(("change", "status", "code", "message"), [
    ({"run": {}}, 400, "ATLAS-400-00-029", "run.runId: required: a non-empty string"),
    ({"run": None}, 400, "ATLAS-400-00-029", "run: required: an object"),
    ({"job": {"namespace": "bad"}}, 400, "ATLAS-400-00-029", "job.name: required: a non-empty string"),
    ({"eventTime": "2024-05-01"}, 400, "ATLAS-400-00-029",
     "eventTime: expected an ISO-8601 date-time such as 2024-05-01T10:00:00Z, got '2024-05-01'"),
    ({"eventTime": None}, 400, "ATLAS-400-00-029", "eventTime: required: a non-empty string"),
    ({"eventType": "DONE"}, 400, "ATLAS-400-00-029",
     "eventType: expected one of START, RUNNING, COMPLETE, FAIL, ABORT, OTHER, got 'DONE'"),
    ({"producer": None}, 400, "ATLAS-400-00-029", "producer: required: a non-empty string"),
    ({"inputs": [{"namespace": "pg"}]}, 400, "ATLAS-400-00-029", "inputs[0].name: required: a non-empty string"),
    ({"outputs": {"namespace": "pg"}}, 400, "ATLAS-400-00-029", "outputs: expected a list, got dict"),
    ({"inputs": [{"namespace": "pg", "name": "in", "facets": {"schema": {"fields": [{"type": "int"}]}}}]}, 400,
     "ATLAS-400-00-029", "inputs[0].facets.schema.fields[0].name: required: a non-empty string"),
    ({"inputs": [{"namespace": "pg", "name": "x" * 1001}]}, 400, "ATLAS-400-00-029",
     "inputs[0].name: longer than 1000 characters"),
    ({"run": {"runId": "r", "facets": {"nominalTime": {"nominalStartTime": "soon"}}}}, 400, "ATLAS-400-00-029",
     "run.facets.nominalTime.nominalStartTime: expected an ISO-8601 date-time"),
])
def test_malformed_events_name_the_field_and_write_nothing(
        app: Any, client: Any, change: dict[str, Any], status: int, code: str, message: str) -> None:
    before = _counts(app)
    response = _post(client, {**_valid(), **change})
    assert response.status_code == status
    answer = response.get_json()
    assert answer["errorCode"] == code and answer["errorMessage"].startswith(message), answer
    assert _counts(app) == before


def test_not_json_not_an_object_too_large_and_roles(app: Any, client: Any) -> None:
    before = _counts(app)
    broken = _post(client, b'{"eventType": "START"')
    assert broken.status_code == 400 and broken.get_json() == {
        "errorCode": "ATLAS-400-00-029",
        "errorMessage": "request body is not valid JSON: Expecting ',' delimiter at line 1 column 22"}
    listed = _post(client, [_valid()])
    assert listed.get_json() == {"errorCode": "ATLAS-400-00-029", "errorMessage": "event: expected an object, got list"}
    big = _post(client, json.dumps({**_valid(), "padding": "x" * 1_100_000}))
    assert big.status_code == 413 and big.get_json()["errorMessage"].startswith(
        "request body is larger than the limit of 1048576 bytes (MAX_CONTENT_LENGTH)")
    bomb = gzip.compress(json.dumps({**_valid(), "padding": "x" * 3_000_000}).encode())
    inflated = client.post(LINEAGE, data=bomb, content_type="application/json",
                           headers={**basic_auth(STEWARD), "Content-Encoding": "gzip"})
    assert inflated.status_code == 413 and inflated.get_json()["errorMessage"].startswith(
        "the decompressed request body is larger than the limit of 1048576 bytes")
    anonymous = _post(client, _valid(), who=None)
    assert anonymous.status_code == 401 and anonymous.get_json()["errorCode"] == "ATLAS-401-00-001"
    viewer = _post(client, _valid(), who=VIEWER)
    assert viewer.status_code == 403 and viewer.get_json()["errorMessage"] == (
        "user 'viewer' (role viewer) may not POST /api/v1/lineage: needs steward")
    assert _counts(app) == before
    assert client.get(f"{LINEAGE}?ref=default.wineds_ext@cm").status_code == 200  # the GET of the path still works


def test_a_bad_token_is_refused_by_the_client(app: Any, base_url: str) -> None:
    transport = HttpTransport(HttpConfig(url=base_url, auth=ApiKeyTokenProvider({"apiKey": "mlc_not-a-token"}),
                                         retry={"total": 0}))
    with pytest.raises(requests.HTTPError) as info:
        transport.emit(_event(RunState.START, T_START, str(uuid.uuid4()), [], []))
    assert info.value.response.status_code == 401
    assert info.value.response.json() == {"errorCode": "ATLAS-401-00-001",
                                          "errorMessage": "invalid or revoked API token"}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_FACETS = st.dictionaries(st.sampled_from(["schema", "dataSource", "symlinks", "columnLineage", "documentation",
                                           "jobType", "sql", "nominalTime", "parent", "errorMessage", "other"]),
                          _JSON | st.fixed_dictionaries({}, optional={
                              "fields": _JSON | st.lists(st.fixed_dictionaries({"name": _JSON, "type": _JSON})),
                              "identifiers": _JSON, "name": _JSON, "_deleted": st.booleans()}), max_size=3)
_DATASET = st.fixed_dictionaries({"namespace": _JSON | st.text(min_size=1, max_size=8),
                                  "name": _JSON | st.text(min_size=1, max_size=8)}, optional={"facets": _FACETS})
_EVENT = st.fixed_dictionaries(
    {"eventTime": st.sampled_from([T_START, T_END, "2024-13-01T00:00:00Z", "yesterday"]) | _JSON,
     "run": st.fixed_dictionaries({"runId": st.uuids().map(str) | _JSON}, optional={"facets": _FACETS}) | _JSON,
     "job": st.fixed_dictionaries({"namespace": st.sampled_from(["gen", ""]) | _JSON,
                                   "name": st.sampled_from(["job", ""]) | _JSON}, optional={"facets": _FACETS}),
     "producer": st.just(PRODUCER) | _JSON},
    optional={"eventType": st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"]) | _JSON,
              "inputs": st.lists(_DATASET, max_size=3) | _JSON, "outputs": st.lists(_DATASET, max_size=3) | _JSON})


_SHORT = st.text(min_size=1, max_size=6)
#: Nearly valid: the required fields right, data sets and facets generated.
_NEAR = st.builds(
    lambda kind, inputs, outputs, run_facets, job_facets: {
        **_valid(), "eventType": kind, "inputs": inputs, "outputs": outputs,
        "run": {"runId": "fuzz", "facets": run_facets},
        "job": {"namespace": "fuzz", "name": "job", "facets": job_facets}},
    st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"]),
    st.lists(st.fixed_dictionaries({"namespace": st.sampled_from(["pg", "cm"]), "name": _SHORT},
                                   optional={"facets": _FACETS}), max_size=3),
    st.lists(st.fixed_dictionaries({"namespace": st.just("s3://b"), "name": _SHORT}, optional={"facets": _FACETS}),
             max_size=2),
    _FACETS, _FACETS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=_NEAR | _EVENT | _JSON)
def test_generated_events_never_get_a_server_error(app: Any, body: Any) -> None:
    response = _post(app.test_client(), body)
    assert response.status_code in (201, 400), (body, response.get_json())
    if response.status_code == 400:
        answer = response.get_json()
        assert set(answer) == {"errorCode", "errorMessage"} and answer["errorMessage"], answer
