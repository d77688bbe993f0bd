"""The browsing pages over the demo chain (a real MLflow store and the repository's lineage.yml).

Server-rendered HTML through Flask's test client: each page's content, links between pages,
escaping of what sources wrote, 404 and 400 pages, the impact analysis and its CSV, the
lineage graph's downloads, and the security headers on every response.
"""

from __future__ import annotations

import csv
from html import unescape
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.config import Settings
from catalog.model import Classification, Entity, EntityRef, SourceBatch
from catalog.store import upsert_batch
from tests.mlflow_fixtures import MlflowStore, demo_catalog, mlflow_store  # noqa: F401 - module-scoped fixture
from tests.web_fixtures import catalog_app
from web import create_app
from web.security import CSP
from web.ui import entity_url

TABLE = "default.wineds_ext@cm"
DEPLOYMENT = "wine-quality-stream:prod@cm"


@pytest.fixture(scope="module")
def app(mlflow_store: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # noqa: F811
    catalog, store = demo_catalog(mlflow_store, tmp_path_factory.mktemp("ui"))
    with catalog:
        settings = catalog.settings
    with catalog_app(settings) as app:
        app.config["RUN_ID"] = store.train_run_id
        yield app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def page(client: Any, url: str, status: int = 200) -> str:
    answer = client.get(url)
    assert answer.status_code == status, (url, answer.status_code, answer.get_data(as_text=True)[:500])
    return answer.get_data(as_text=True)


def links(html: str) -> set[str]:
    return set(re.findall(r'href="([^"]+)"', html))


def test_the_home_page_shows_models_versions_aliases_and_recent_changes(client: Any) -> None:
    html = page(client, "/")
    assert '<a href="/models/wine-quality">wine-quality</a>' in html
    assert "@champion &rarr; 1" in html
    assert entity_url("ml_model_version", "wine-quality/1@mlflow") in links(html)
    assert "Recent changes" in html and "ENTITY_CREATE" in html
    assert 'action="/search"' in html


def test_the_model_page_lists_versions_and_the_lineage_graph(client: Any) -> None:
    html = page(client, "/models/wine-quality")
    assert "<h1>wine-quality</h1>" in html
    assert '<p class="owner">owner <strong>ml-team@example.com</strong> · purpose: predicts the quality' in html
    assert "<h2>Versions</h2>" in html and "@champion" in html
    assert '<svg' in html and "</svg>" in html
    assert entity_url("ml_model_version", "wine-quality/1@mlflow") in links(html)


def test_the_version_page_links_its_run_and_training_tables(app: Any, client: Any) -> None:
    html = page(client, "/models/wine-quality/1")
    assert "<h1>" in html and "wine-quality/1@mlflow" in html
    run = entity_url("ml_training_run", f"run:{app.config['RUN_ID']}@mlflow")
    assert run in links(html)
    run_page = page(client, run)
    assert entity_url("hive_table", TABLE) in links(run_page)  # the run's inputs, as links
    assert "alpha" in run_page  # its params


def test_a_table_page_shows_its_classifications_and_downstream(client: Any) -> None:
    html = page(client, entity_url("hive_table", TABLE))
    assert "Classifications" in html
    assert "Downstream" in html and "ml_training_run" in html
    assert "/history" in html and "/impact" in html


def test_propagated_classifications_say_where_they_came_from(client: Any) -> None:
    html = page(client, "/models/wine-quality/1?depth=1")
    for match in re.finditer(r'<span class="tag propagated">([^<]+)</span> propagated from\s*<a href="([^"]+)"', html):
        assert match.group(2).startswith("/entity/")
    assert ('class="tag propagated"' in html) == ("propagated from" in html)


def test_impact_analysis_lists_everything_downstream_and_exports_csv(client: Any) -> None:
    html = page(client, entity_url("hive_table", TABLE) + "/impact")
    assert "Impact analysis" in html
    assert "model versions" in html and "wine-quality/1@mlflow" in html
    assert "deployments" in html and DEPLOYMENT in html
    answer = client.get(entity_url("hive_table", TABLE) + "/impact.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert 'attachment; filename="impact-default.wineds_ext_cm.csv"' == answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    names = {r["qualifiedName"] for r in rows}
    assert {"wine-quality/1@mlflow", DEPLOYMENT} <= names
    assert all(r["hops"].isdigit() and int(r["hops"]) >= 1 for r in rows)
    assert {r["kind"] for r in rows} >= {"model versions", "deployments", "training runs"}


def test_history_shows_who_changed_what(client: Any) -> None:
    html = page(client, entity_url("ml_deployment", DEPLOYMENT) + "/history")
    assert "ENTITY_CREATE" in html and "tester" in html


def test_lineage_downloads_are_svg_and_dot(client: Any) -> None:
    base = entity_url("ml_model_version", "wine-quality/1@mlflow")
    answer = client.get(base + "/lineage.svg?direction=BOTH&depth=2")
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    root = ET.fromstring(answer.get_data())
    assert root.tag.endswith("svg")
    dot = client.get(base + "/lineage.dot").get_data(as_text=True)
    assert dot.lstrip().startswith("digraph") and "wine-quality/1@mlflow" in dot


def _open_links(html: str) -> dict[str, str]:
    """The graph's "+" controls: the label they name -> where they lead."""
    return {unescape(m.group(2)): unescape(m.group(1)) for m in re.finditer(
        r'<a class="open" href="([^"]+)"[^>]*><g class="node-open"><title>draw one more hop around ([^<]+)</title>', html)}


def test_a_node_opens_one_more_hop_and_keeps_it_in_the_downloads(client: Any) -> None:
    table = entity_url("hive_table", TABLE)
    deployment = entity_url("ml_deployment", DEPLOYMENT)
    html = page(client, table + "?direction=OUTPUT")
    graph = html[html.index("<svg"):html.index("</svg>")]
    assert entity_url("ml_model_version", "wine-quality/1@mlflow") in links(graph)
    assert deployment not in links(graph)  # past the version: not drawn at depth 1
    opens = _open_links(graph)
    base = EntityRef("hive_table", TABLE).guid
    assert "wine-quality v1" in opens and "wineds_ext" not in opens  # the page's own entity: no control
    assert all(f"open={base}" not in href for href in opens.values()) and len(opens) >= 5
    opened = page(client, opens["wine-quality v1"])
    graph = opened[opened.index("<svg"):opened.index("</svg>")]
    assert deployment in links(graph)  # the version's next hop is drawn now
    assert "wine-quality v1" not in _open_links(graph)  # an opened node loses its control
    guid = re.search(r"open=([0-9a-f-]+)", opens["wine-quality v1"]).group(1)
    assert f'<input type="hidden" name="open" value="{guid}">' in opened  # kept when depth or direction change
    download = next(unescape(h) for h in links(opened) if "/lineage.svg" in h)
    assert f"open={guid}" in download
    assert deployment in client.get(download).get_data(as_text=True)
    unknown = page(client, table + "?direction=OUTPUT&open=no-such-guid")
    assert deployment not in links(unknown) and len(links(unknown)) == len(links(html))  # opens nothing


def test_unknown_pages_are_404_pages_and_bad_parameters_400(client: Any) -> None:
    def page(client: Any, url: str, status: int = 200) -> str:  # the messages as the reader sees them
        return unescape(globals()["page"](client, url, status))

    html = page(client, "/models/no-such-model", 404)
    assert "No ml_registered_model named 'no-such-model@mlflow' is in the catalog." in html
    assert "There is no entity type 'nope'." in page(client, "/entity/nope/x", 404)
    assert "depth='abc': expected a whole number" in page(client, "/models/wine-quality?depth=abc", 400)
    assert "direction='sideways': expected one of BOTH, INPUT, OUTPUT" in page(
        client, "/models/wine-quality?direction=sideways", 400)
    capped = page(client, "/models/wine-quality?depth=" + "9" * 11)
    assert "Depth capped at 10 on this page" in capped
    assert "unknown entity type 'hive_tabel'; did you mean 'hive_table'?" in page(client, "/search?type=hive_tabel", 400)


def test_search_has_type_and_classification_facets(client: Any) -> None:
    html = page(client, "/search?q=wine")
    assert re.search(r'>hive_table</a> <span class="count">\d+</span>', html)
    assert "/search?q=wine&amp;type=ml_model_version" in html
    only = page(client, "/search?q=wine&type=ml_model_version")
    assert "<strong>ml_model_version</strong>" in only and "wine-quality/1@mlflow" in only
    assert "default.wineds_ext@cm" not in only


def test_every_response_carries_the_security_headers(client: Any) -> None:
    for url in ("/", "/models/wine-quality", "/healthz", "/api/atlas/v2/types/typedefs", "/nope"):
        headers = client.get(url).headers
        assert headers["Content-Security-Policy"] == CSP
        assert "script-src 'self';" in CSP and "frame-ancestors 'none'" in CSP and "unsafe-inline' " not in \
            CSP.split("script-src", 1)[1].split(";", 1)[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_a_host_not_trusted_is_refused(tmp_path: Path) -> None:
    app = create_app(settings=Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", read_access="open"))
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200  # Host: localhost
        assert client.get("/healthz", headers={"Host": "127.0.0.1:5000"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "attacker.example"}).status_code == 400
    finally:
        app.extensions["catalog"].close()
    anyone = create_app(settings=Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", read_access="open",
                                          trusted_hosts="*"))
    try:
        assert anyone.test_client().get("/healthz", headers={"Host": "catalog.example"}).status_code == 200
    finally:
        anyone.extensions["catalog"].close()


PAYLOADS = ('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "javascript:alert(1)")


def test_what_sources_wrote_is_escaped_on_every_page(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}")
    with catalog_app(settings) as app:
        catalog = app.extensions["catalog"]
        table = Entity("ml_dataset", "evil@cm", {"name": PAYLOADS[0], "description": PAYLOADS[1],
                                                   "owner": PAYLOADS[2]}, classifications=[Classification("PII")])
        run = Entity("ml_training_run", 'run:"><svg onload=alert(1)>@mlflow', {
            "name": PAYLOADS[1], "userName": PAYLOADS[0], "runId": "r", "status": "FINISHED",
            "params": {PAYLOADS[0]: PAYLOADS[1]}, "inputs": [table.ref], "outputs": []})
        with catalog.write_session() as session, session.begin():
            upsert_batch(session, SourceBatch("t", [table, run]), catalog.registry, user="t")
        client = app.test_client()
        for url in ("/", "/search?q=evil", entity_url("ml_dataset", "evil@cm"), entity_url("ml_dataset", "evil@cm") +
                    "/history", entity_url("ml_dataset", "evil@cm") + "/impact", entity_url(run.type_name,
                                                                                             run.qualified_name)):
            html = page(client, url)
            assert "<script>alert(1)</script>" not in html, url
            assert "<img src=x" not in html and "<svg onload" not in html, url
            assert 'href="javascript:' not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page(client, entity_url("ml_dataset", "evil@cm"))


# -- deployments, scoring runs and compliance reports ------------------------------------------------


def _score_run(deployment: str, run: str, version: str, start: int, psi: float) -> Entity:
    import json

    from catalog.model import EntityRef

    batches = [{"batch_id": 0, "status": "written", "rows_in": 104, "rows_scored": 100, "rows_quarantined": 4,
                "rows_warned": 0, "by_rule": {"null-input": 2, "non-finite-input": 1, "malformed-line": 0}}]
    checks = {"batches": batches, "batchesOmitted": 0,
              "byRule": {"null-input": 2, "non-finite-input": 1, "malformed-line": 0}}
    drift = {"features": {"alcohol": {"kind": "numeric", "psi": psi, "ks": 0.05, "wasserstein": 0.16, "rows": 100,
                                      "verdict": "drift" if psi > 0.2 else "ok", "drifted_by": ["psi"] if psi > 0.2 else []}},
             "prediction": {"psi": psi / 2, "verdict": "ok"}}
    return Entity("ml_scoring_process", f"score:{deployment.rpartition('@')[0]}:{run}@cm", {
        "name": f"score {run}", "deployment": deployment, "modelVersion": version, "runId": run,
        "status": "SUCCEEDED", "startTime": start, "endTime": start + 1000, "rowsIn": 104, "rowsScored": 100,
        "rowsQuarantined": 4, "rowsWarned": 0, "batchCount": 1, "checkResults": json.dumps(checks),
        "drift": json.dumps(drift), "userName": "tester",
        "inputs": [EntityRef("ml_deployment", deployment)], "outputs": []})


@pytest.fixture(scope="module")
def scored(app: Any) -> dict[str, str]:
    from catalog.model import EntityRef
    from catalog.store import evidence

    catalog = app.extensions["catalog"]
    runs = [_score_run(DEPLOYMENT, "r1", "wine-quality/1@mlflow", 1_790_000_000_000, 0.05),
            _score_run(DEPLOYMENT, "r2", "wine-quality/1@mlflow", 1_790_000_100_000, 0.31)]
    deployment = EntityRef("ml_deployment", DEPLOYMENT).guid
    version = EntityRef("ml_model_version", "wine-quality/1@mlflow").guid
    report = {"verdict": "warn", "target": "prod", "counts": {"pass": 1, "warn": 1},
              "model": {"version": "wine-quality/1@mlflow"},
              "subject": {"kind": "deployment", "name": DEPLOYMENT, "label": "wine-quality-stream"},
              "results": [{"rule": "owner-declared", "verdict": "pass", "severity": "fail", "description": "An owner.",
                           "message": "owner ml-team@example.com", "evidence": {"owner": "ml-team@example.com"}},
                          {"rule": "expectations-pass", "verdict": "warn", "severity": "warn",
                           "description": "The suite passes.", "message": "2 of 25 expectations failed <b>x</b>",
                           "evidence": {"failed": ["a", "b"]}}]}
    with catalog.write_session() as session, session.begin():
        upsert_batch(session, SourceBatch("scoring", runs), catalog.registry, user="tester")
        record = evidence.append(session, chain=DEPLOYMENT, report=report, subject_guid=deployment,
                                 version_guid=version, verdict="warn", at=1_790_000_000_000, by="tester")
    return {"digest": record.digest}


def test_the_deployment_page_shows_its_scoring_runs_drift_versions_and_checks(client: Any, scored: dict) -> None:
    html = page(client, entity_url("ml_deployment", DEPLOYMENT))
    assert "<h2>Scoring runs</h2>" in html and "score r1" in html and "score r2" in html
    assert html.index("score r2") < html.index("score r1")  # newest first
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="drift"' in html and "PSI 0.2" in html
    assert html.count("<polyline") == 2  # prediction and the largest feature, over the two runs
    assert "<h3>Versions scored</h3>" in html and ">wine-quality/1@mlflow</a></td><td>2</td>" in html
    assert re.search(r'Deployed now: <a href="/entity/ml_model_version/wine-quality/1@mlflow">wine-quality/1@mlflow</a>'
                     r'\s*\(<code>models:/wine-quality@champion</code>\)', html)
    assert "<h2>Compliance checks</h2>" in html and f"/compliance/{scored['digest']}" in html


def test_the_scoring_run_page_shows_batches_rules_and_drift(client: Any, scored: dict) -> None:
    html = page(client, entity_url("ml_scoring_process", "score:wine-quality-stream:prod:r2@cm"))
    assert "<h2>Batches</h2>" in html and "<td>104</td><td>100</td><td>4</td>" in html
    assert "<td>null-input</td><td>2</td>" in html and "malformed-line</td>" not in html  # rules with rows only
    assert "<td>alcohol</td><td>drift</td><td>0.31</td>" in html
    assert "checkResults" not in html  # shown as tables, not as raw JSON


def test_a_compliance_report_page_lists_every_rule_with_its_evidence(client: Any, scored: dict) -> None:
    html = page(client, f"/compliance/{scored['digest']}")
    assert 'Compliance report: <span class="verdict warn">warn</span>' in html
    assert html.index("expectations-pass") < html.index("owner-declared")  # the warning first
    assert "2 of 25 expectations failed &lt;b&gt;x&lt;/b&gt;" in html
    assert "No compliance report " + "0" * 64 in unescape(page(client, "/compliance/" + "0" * 64, 404))
    assert "a compliance report is named by the sha256" in page(client, "/compliance/nope", 400)
    version = page(client, "/models/wine-quality/1")
    assert "<h2>Compliance checks</h2>" in version and f"/compliance/{scored['digest']}" in version
    assert '<a href="/models/wine-quality/1/card">Model card</a>' in version



def test_the_home_page_shows_facets_and_each_models_last_check_and_scoring_run(client: Any, scored: dict) -> None:
    html = page(client, "/")
    row = html[html.index('<a href="/models/wine-quality">'):]
    row = row[:row.index("</tr>")]
    assert f'<span class="verdict warn">warn</span> <a href="/compliance/{scored["digest"]}">' in row
    newest = entity_url("ml_scoring_process", "score:wine-quality-stream:prod:r2@cm")  # r2 started after r1
    assert f'<a href="{newest}">' in row and "SUCCEEDED, 100 scored / 4 quarantined" in row
    assert '<a href="/models/wine-quality?depth=3#lineage">graph</a>' in row
    assert re.search(r'<a href="/search\?type=ml_deployment">ml_deployment</a> <span class="count">2</span>', html)
    assert re.search(r'<a href="/search\?classification=PII">PII</a> <span class="count">\d+</span>', html)
    assert '<option value="hive_table">hive_table (3)</option>' in html


def test_the_model_page_shows_key_metrics_flavors_and_deployments(client: Any, scored: dict) -> None:
    html = page(client, "/models/wine-quality")
    head = html[html.index("<h2>Versions</h2>"):html.index("<h2>Deployments</h2>")]
    assert '<th class="metric">r2</th><th class="metric">rmse</th>' in head  # the run's metrics, by name
    assert '<td class="metric">0.42</td><td class="metric">0.61</td>' in head
    assert "<td>python_function, sklearn</td>" in head
    deployments = html[html.index("<h2>Deployments</h2>"):html.index("<h2>Classifications</h2>")]
    for qn in (DEPLOYMENT, "wine-quality-batch:prod@cm"):
        assert entity_url("ml_deployment", qn) in links(deployments)
    assert "<code>models:/wine-quality@champion</code>" in deployments
    assert f'<span class="verdict warn">warn</span> <a href="/compliance/{scored["digest"]}">' in deployments


def test_the_version_page_shows_its_run_training_data_and_signature(app: Any, client: Any) -> None:
    html = page(client, "/models/wine-quality/1")
    run = html[html.index("<h2>Training run</h2>"):html.index("<h2>Training data</h2>")]
    assert entity_url("ml_training_run", f"run:{app.config['RUN_ID']}@mlflow") in links(run)
    assert "<tr><th>alpha</th><td>0.5</td></tr>" in run and "<tr><th>rmse</th><td>0.61</td></tr>" in run
    data = html[html.index("<h2>Training data</h2>"):html.index("<h2>Signature</h2>")]
    table = data[data.index(entity_url("hive_table", TABLE)):]
    table = table[:table.index("</tr>")]
    assert "<code>0cdaa965</code>" in table and "<td>training</td>" in table
    assert "declared in lineage.yml; logged to the run (mlflow.log_input)" in table
    assert '<span class="tag">PII</span>' in table
    logged_only = data[data.index(entity_url("hive_table", "sales.wine_train@cm")):]
    assert logged_only[:logged_only.index("</tr>")].count("logged to the run (mlflow.log_input)</td>") == 1
    assert "declared in lineage.yml" not in logged_only[:logged_only.index("</tr>")]
    signature = html[html.index("<h2>Signature</h2>"):]
    assert "<tr><td>fixed acidity</td><td><code>double</code></td><td>yes</td></tr>" in signature
    assert "<tr><td>(unnamed)</td><td><code>tensor float64 (-1,)</code></td><td>yes</td></tr>" in signature
    assert "<tr><th>signature</th>" not in html  # the tables only, not the raw JSON again


def test_the_model_card_is_served_from_the_version_page(client: Any) -> None:
    assert '<a href="/models/wine-quality/2/card">Model card</a>' in page(client, "/models/wine-quality/2")
    answer = client.get("/models/wine-quality/2/card")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert "wine-quality" in answer.get_data(as_text=True)
    assert client.get("/models/wine-quality/99/card").status_code == 404


@pytest.mark.parametrize("depth", ["--5", "\u00b2", "\u0663", "1e3", " ", "-"])
def test_depths_int_cannot_read_are_400_pages_not_500(client: Any, depth: str) -> None:
    answer = client.get(entity_url("hive_table", TABLE), query_string={"depth": depth})
    assert answer.status_code == 400, answer.status_code
    assert "expected a whole number" in unescape(answer.get_data(as_text=True))


def test_signature_table_reads_mlflow_column_tensor_and_param_specs() -> None:
    import json

    from web.ui_models import signature_table

    signature = json.dumps({
        "inputs": json.dumps([{"type": "double", "name": "pH", "required": False}, {"type": "string", "name": "kind"}]),
        "outputs": json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, 2]}}]),
        "params": json.dumps([{"name": "top_k", "type": "long", "default": 5, "shape": None}])})
    assert signature_table(signature) == {
        "inputs": [("pH", "double", "no"), ("kind", "string", "yes")],
        "outputs": [("(unnamed)", "tensor int64 (-1, 2)", "yes")],
        "params": [("top_k", "long (default 5)", "yes")]}
    for unreadable in ("not json", json.dumps([1]), json.dumps({"inputs": "[1]"}), json.dumps({"inputs": "{bad"}),
                       json.dumps({"inputs": json.dumps({"a": 1})})):
        assert signature_table(unreadable) is None, unreadable
    assert signature_table(json.dumps({"inputs": None})) == {}


def test_the_changes_feed_pages_back_through_every_event(app: Any, client: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from web import ui

    CHANGES_PAGE = 10
    monkeypatch.setattr(ui, "CHANGES_PAGE", CHANGES_PAGE)  # the demo chain writes a few dozen events
    catalog = app.extensions["catalog"]
    every = [e.id for e in catalog.audit(limit=100_000)]
    assert len(every) > 2 * CHANGES_PAGE
    assert '<a href="/changes">All changes</a>' in page(client, "/")
    seen, url = [], "/changes"
    while url:
        html = page(client, url)
        seen.append(len(re.findall(r'\(<a href="/entity/[^"]+/history">history</a>\)', html)))  # rows on the page
        older = re.search(r'<a class="older" href="([^"]+)">older changes</a>', html)
        url = unescape(older.group(1)) if older else ""
    assert sum(seen) == len(every) and seen[0] == CHANGES_PAGE
    assert "Nothing has changed before that." in page(client, f"/changes?before={min(every)}")
    assert "expected a whole number" in unescape(page(client, "/changes?before=x", 400))


def test_stored_values_of_unexpected_shapes_never_break_a_page() -> None:
    import json

    from web.ui_models import _logged_digests, signature_table

    run = Entity("ml_training_run", "r@mlflow", {"datasetInputs": {"t@cm": "null", "u@cm": "5", "v@cm": "[1, {}]"}})
    stored: Any = type("Stored", (), {"attributes": run.attributes})()
    for qn in ("t@cm", "u@cm", "v@cm", "missing@cm"):
        assert _logged_digests(stored, qn) == ([], [])
    for signature in ({"outputs": json.dumps([{"type": "tensor", "tensor-spec": "x"}])},
                      {"outputs": json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "f", "shape": 5}}])}):
        assert signature_table(json.dumps(signature)) in (None, {"outputs": [("(unnamed)", "tensor f 5", "yes")]})
    assert signature_table("[" * 100_000) is None
    from web.impact import when

    assert when("2026-01-01T00:00:00+00:00") == when(1_767_225_600_000) == "2026-01-01 00:00:00 UTC"
    assert when("2026-01-01T00:00:00") == "2026-01-01 00:00:00 UTC" and when("soon") == when(None) == ""


def test_a_scoring_run_dated_by_an_iso_string_keeps_the_home_page_up(app: Any, client: Any, scored: dict) -> None:
    catalog = app.extensions["catalog"]
    late = _score_run(DEPLOYMENT, "r3", "wine-quality/1@mlflow", 0, 0.1)
    late.attributes["startTime"] = "2026-01-01T00:00:00+00:00"  # a date as Atlas also takes it
    with catalog.write_session() as session, session.begin():
        upsert_batch(session, SourceBatch("scoring-iso", [late]), catalog.registry, user="tester")
    html = page(client, "/")
    assert entity_url("ml_scoring_process", "score:wine-quality-stream:prod:r2@cm") in links(html)
    assert "score r3" in page(client, entity_url("ml_deployment", DEPLOYMENT))


def test_a_deployment_whose_model_resolved_to_no_version_runs_none(app: Any, client: Any) -> None:
    from catalog import store

    catalog = app.extensions["catalog"]
    with catalog.session() as session:  # a deployment like the demo's, but of a model alias no version holds
        like = store.get_entity(session, EntityRef("ml_deployment", "wine-quality-batch:prod@cm").guid)
    ghost = Entity("ml_deployment", "ghost:prod@cm", {**like.attributes, "name": "ghost (prod)",
                                                      "modelRef": "models:/wine-quality@nope"})
    process = Entity("ml_model_deploy_process", "deploy:ghost:prod@cm", {  # the ingest links the registered model
        "name": "deploy ghost", "userName": "tester", "inputs": [EntityRef("ml_registered_model", "wine-quality@mlflow")],
        "outputs": [ghost.ref]})
    with catalog.write_session() as session, session.begin():
        upsert_batch(session, SourceBatch("ghost", [ghost, process]), catalog.registry, user="tester")
    html = page(client, entity_url("ml_deployment", "ghost:prod@cm"))
    assert re.search(r'Deployed now: <span class="none">no version resolved</span>', html)
