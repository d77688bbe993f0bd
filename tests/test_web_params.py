"""Query parameters of the lineage APIs are parsed strictly; odd stored text never makes a 500.

``direction`` takes the ASCII words INPUT, OUTPUT and BOTH in any ASCII case, ``depth``
at most four ASCII digits, ``ref`` printable text of bounded length; anything else is a
400 in Atlas's error shape naming the parameter and the form it takes. Both lineage
endpoints share the parser. The store holds a real ingest of the demo's lineage.yml
(rewritten with markup, emoji, right-to-left text and combining marks in the model's
text) and the MLflow fixture store, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from markupsafe import escape

from catalog.config import Settings
from catalog.service import Catalog
from tests.conftest import store_url
from tests.mlflow_fixtures import MlflowStore, copy_store, mlflow_store  # noqa: F401 - module-scoped fixture
from tests.web_fixtures import base_url, catalog_app, client  # noqa: F401 - fixtures
from web.api import lineage_args
from web.errors import ApiError
from web.params import MAX_DEPTH_DIGITS, MAX_REF_LENGTH, depth_param, direction_param, text_param

REPO = Path(__file__).resolve().parents[1]

LINEAGE_PARAMS = "ATLAS-400-00-026"
BAD_REQUEST = "ATLAS-400-00-029"
NOT_FOUND = "ATLAS-404-00-005"

# Odd but valid text, as a team may well write it in lineage.yml.
PURPOSE = "<script>alert(1)</script> predicts 🍷 quality — جودة النبيذ & טיב היין"
OWNER = "ml-team@example.com <b>bold</b> 👩🏽‍🔬 فريق"
DESCRIPTION = (
    "Ame\u0301lie's Z\u0334a\u0335l\u0336g\u0337o model: \"quoted\" <img src=x onerror=alert(1)> "
    "\u202eevird\u202c \u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd 🇫🇷"
)
DATASET_DESCRIPTION = "wine attributes 🍇 <i>with</i> the label — بيانات"


@dataclass(frozen=True)
class Store:
    settings: Settings
    guids: dict[str, str]  # qualifiedName -> guid


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, mlflow_store: MlflowStore, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
) -> Store:
    """The demo's lineage.yml with odd text in the model and a dataset, ingested with MLflow."""
    root = tmp_path_factory.mktemp(f"params-{request.param}")
    url = store_url(request, root)
    doc = yaml.safe_load((REPO / "lineage.yml").read_text(encoding="utf-8"))
    doc["models"]["wine-quality"] |= {"purpose": PURPOSE, "owner": OWNER, "description": DESCRIPTION}
    doc["datasets"]["default.wineds_ext@cm"]["description"] = DATASET_DESCRIPTION
    lineage_file = root / "lineage.yml"
    lineage_file.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert PURPOSE in lineage_file.read_text(encoding="utf-8")  # written as text, not as YAML escapes
    mlflow = copy_store(mlflow_store, root)
    settings = Settings(database_url=url, mlflow_uri=mlflow.uri, user="tester")
    names = ["wine-quality@mlflow", "wine-quality/1@mlflow", "default.wineds_ext@cm"]
    with Catalog(settings) as catalog:
        report = catalog.ingest(lineage_path=lineage_file, mlflow_uri=mlflow.uri)
        assert report.created > 0
        guids = {qn: catalog.resolve(qn).guid for qn in names}
    return Store(settings, guids)


@pytest.fixture(scope="module")
def app(store: Store) -> Iterator[Any]:
    with catalog_app(store.settings) as app:
        yield app


def http_get(url: str) -> tuple[int, Any]:
    """``(status, JSON body)`` of a GET over real HTTP; error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def lineage_paths(store: Store, query: str) -> list[str]:
    """The same lineage request on Atlas's v2 endpoint and on the catalog's own."""
    guid = store.guids["wine-quality/1@mlflow"]
    return [f"/api/atlas/v2/lineage/{guid}?{query}", f"/api/v1/lineage?ref={guid}&{query}"]


def assert_400(client: Any, path: str, code: str, message: str) -> None:
    response = client.get(path)
    assert response.status_code == 400, (path[:120], response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    assert response.get_json() == {"errorCode": code, "errorMessage": message}


# ---------------------------------------------------------------- depth


def test_depth_of_5000_digits_is_400_naming_the_form(client: Any, store: Store) -> None:
    # int("9" * 5000) raises ValueError (Python's int-string limit): it was a 500.
    for path in lineage_paths(store, "depth=" + "9" * 5000):
        assert_400(client, path, LINEAGE_PARAMS,
                   "depth must be a non-negative integer of at most 4 digits, got 5000 digits")


def test_depth_of_5000_digits_is_400_over_http(base_url: str, store: Store) -> None:
    guid = store.guids["wine-quality/1@mlflow"]
    status, body = http_get(f"{base_url}/api/atlas/v2/lineage/{guid}?depth={'7' * 5000}")
    assert status == 400
    assert body == {"errorCode": LINEAGE_PARAMS,
                    "errorMessage": "depth must be a non-negative integer of at most 4 digits, got 5000 digits"}


@pytest.mark.parametrize(("depth", "digits"), [("10000", 5), ("00003", 5), ("1" * 4300, 4300)])
def test_depth_longer_than_4_digits_is_400(client: Any, store: Store, depth: str, digits: int) -> None:
    for path in lineage_paths(store, f"depth={depth}"):
        assert_400(client, path, LINEAGE_PARAMS,
                   f"depth must be a non-negative integer of at most 4 digits, got {digits} digits")


def test_depth_of_4_digits_is_capped_by_the_store(client: Any, store: Store) -> None:
    for path in lineage_paths(store, "depth=9999&direction=INPUT"):
        response = client.get(path)
        assert response.status_code == 200, path
        info = response.get_json()
        assert info["baseEntityGuid"] == store.guids["wine-quality/1@mlflow"]
        assert info["lineageDirection"] == "INPUT"
        assert store.guids["default.wineds_ext@cm"] in info["guidEntityMap"]


def test_a_long_non_numeric_depth_is_not_echoed_whole(client: Any, store: Store) -> None:
    depth = "x" * 10_000
    for path in lineage_paths(store, f"depth={depth}"):
        assert_400(client, path, LINEAGE_PARAMS,
                   "depth must be a non-negative integer, got " + repr("x" * 40)[:-1] + "…' (10000 characters)")


# ---------------------------------------------------------------- direction


@pytest.mark.parametrize(
    ("direction", "message"),
    [
        # str.upper() maps U+0131 to 'I': "ınput" passed as INPUT.
        ("ınput", "direction must be INPUT, OUTPUT or BOTH, got 'ınput' (U+0131 at position 1 is not ASCII)"),
        ("outpuṫ", "direction must be INPUT, OUTPUT or BOTH, got 'outpuṫ' (U+1E6B at position 6 is not ASCII)"),
        ("ＢＯＴＨ", "direction must be INPUT, OUTPUT or BOTH, got 'ＢＯＴＨ' (U+FF22 at position 1 is not ASCII)"),
        ("INPUT\x00", "direction must be INPUT, OUTPUT or BOTH, got 'INPUT\\x00'"),
        ("both ", "direction must be INPUT, OUTPUT or BOTH, got 'BOTH '"),
    ],
    ids=["dotless-i", "dot-above", "fullwidth", "nul", "trailing-space"],
)
def test_direction_takes_ascii_words_only(client: Any, store: Store, direction: str, message: str) -> None:
    for path in lineage_paths(store, "direction=" + urllib.parse.quote(direction)):
        assert_400(client, path, LINEAGE_PARAMS, message)


def test_direction_is_ascii_case_insensitive(client: Any, store: Store) -> None:
    for direction, expected in [("iNpUt", "INPUT"), ("output", "OUTPUT"), ("Both", "BOTH")]:
        for path in lineage_paths(store, f"direction={direction}&depth=1"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.get_json()["lineageDirection"] == expected


def test_a_long_direction_is_not_echoed_whole(client: Any, store: Store) -> None:
    for path in lineage_paths(store, "direction=" + "up" * 3000):
        assert_400(client, path, LINEAGE_PARAMS,
                   "direction must be INPUT, OUTPUT or BOTH, got " + repr("UP" * 20)[:-1] + "…' (6000 characters)")


# ---------------------------------------------------------------- ref


def test_ref_longer_than_the_bound_is_400(client: Any) -> None:
    assert MAX_REF_LENGTH == 4096
    assert_400(client, "/api/v1/lineage?ref=" + "x" * 4097, BAD_REQUEST,
               "query parameter 'ref' must be at most 4096 characters, got 4097")
    assert_400(client, "/api/v1/lineage?ref=" + "ы" * 100_000, BAD_REQUEST,
               "query parameter 'ref' must be at most 4096 characters, got 100000")


def test_ref_at_the_bound_is_looked_up(client: Any) -> None:
    response = client.get("/api/v1/lineage?ref=" + "x" * 4096)
    assert response.status_code == 404
    body = response.get_json()
    assert body["errorCode"] == NOT_FOUND
    assert body["errorMessage"].startswith("no entity matches 'xxxx")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("a%00b", "U+0000 (a control character) at position 2"),
        ("wine-quality%0A@mlflow", "U+000A (a control character) at position 13"),
        ("%09models:/wine-quality/1", "U+0009 (a control character) at position 1"),
        ("ab%7F", "U+007F (a control character) at position 3"),
        ("a%C2%85", "U+0085 (a control character) at position 2"),
        ("a%E2%80%A8b", "U+2028 (a line or paragraph separator) at position 2"),
        ("%E2%80%AEabc", "U+202E (a format character) at position 1"),
        ("a%C2%A0b", "U+00A0 (a space other than U+0020) at position 2"),
        ("%EE%80%80", "U+E000 (a private-use character) at position 1"),
        ("%CD%B8", "U+0378 (an unassigned code point) at position 1"),
    ],
    ids=["nul", "newline", "tab", "del", "c1-nel", "line-separator", "rtl-override", "nbsp", "private-use",
         "unassigned"],
)
def test_ref_with_non_printable_characters_is_400(client: Any, ref: str, message: str) -> None:
    assert_400(client, f"/api/v1/lineage?ref={ref}", BAD_REQUEST,
               f"query parameter 'ref' must be printable text, got {message}")


@pytest.mark.parametrize(
    ("query", "ref"),
    [
        ("wine%20%F0%9F%8D%B7%20quality@mlflow", "wine 🍷 quality@mlflow"),
        ("%D8%AC%D9%88%D8%AF%D8%A9@mlflow", "جودة@mlflow"),
        ("Ame%CC%81lie@cm", "Ame\u0301lie@cm"),
        ("100%25_off%5C@cm", "100%_off\\@cm"),
        ("%27;%20DROP%20TABLE%20entities;%20--", "'; DROP TABLE entities; --"),
        # Werkzeug keeps invalid UTF-8 in a query string percent-encoded: it arrives as text.
        ("%ED%A0%80", "%ED%A0%80"),
        ("%FF%FE", "%FF%FE"),
    ],
    ids=["emoji", "rtl", "combining", "like-wildcards", "sql", "utf8-surrogate", "invalid-utf8"],
)
def test_odd_but_printable_ref_is_looked_up_not_500(client: Any, query: str, ref: str) -> None:
    response = client.get(f"/api/v1/lineage?ref={query}")
    assert response.status_code == 404, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["errorCode"] == NOT_FOUND
    assert body["errorMessage"].startswith(f"no entity matches '{ref}'")


def test_missing_ref_is_still_required(client: Any) -> None:
    assert_400(client, "/api/v1/lineage?ref=", BAD_REQUEST, "query parameter 'ref' is required")
    assert_400(client, "/api/v1/lineage?direction=INPUT", BAD_REQUEST, "query parameter 'ref' is required")


def test_ref_of_a_model_alias_still_works(client: Any, store: Store) -> None:
    response = client.get("/api/v1/lineage?ref=models:/wine-quality@champion&direction=input&depth=1")
    assert response.status_code == 200
    info = response.get_json()
    assert (info["baseEntityGuid"], info["lineageDirection"], info["lineageDepth"]) == (
        store.guids["wine-quality/1@mlflow"], "INPUT", 1)


# ---------------------------------------------------------------- the parser itself


def test_lone_surrogates_are_rejected() -> None:
    # Werkzeug never decodes a query string to lone surrogates; the parser refuses them all the same.
    with pytest.raises(ApiError) as caught:
        text_param("ref", "models:/\ud800x")
    assert (caught.value.status, caught.value.code) == (400, BAD_REQUEST)
    assert caught.value.message == (
        "query parameter 'ref' must be printable text, got U+D800 (a lone surrogate) at position 9"
    )
    with pytest.raises(ApiError) as caught:
        direction_param("\udcc4\udcb1nput")
    assert caught.value.message == (
        "direction must be INPUT, OUTPUT or BOTH, got '\\udcc4\\udcb1nput' (U+DCC4 at position 1 is not ASCII)"
    )
    with pytest.raises(ApiError) as caught:
        depth_param("3\udc80")
    assert caught.value.message == "depth must be a non-negative integer, got '3\\udc80'"


def test_parser_values_and_defaults() -> None:
    assert MAX_DEPTH_DIGITS == 4
    assert depth_param(None) == 3
    assert depth_param("0") == 0
    assert depth_param("9999") == 9999
    assert direction_param(None) == "BOTH"
    assert direction_param("output") == "OUTPUT"
    assert text_param("ref", "wine 🍷 quality@mlflow") == "wine 🍷 quality@mlflow"
    assert text_param("ref", None) is None
    for bad in ["", "+3", "3.0", "٣", "1_000"]:
        with pytest.raises(ApiError) as caught:
            depth_param(bad)
        assert caught.value.message == f"depth must be a non-negative integer, got {bad!r}"


def test_lineage_args_reads_the_request(app: Any) -> None:
    with app.test_request_context("/api/v1/lineage?direction=input&depth=0042"):
        assert lineage_args() == ("INPUT", 42)
    with app.test_request_context("/api/v1/lineage"):
        assert lineage_args() == ("BOTH", 3)


# ---------------------------------------------------------------- odd stored text


def test_index_page_escapes_odd_stored_text(client: Any, store: Store) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.mimetype_params["charset"] == "utf-8"
    page = response.get_data(as_text=True)
    assert "<td><a href=\"/models/wine-quality\">wine-quality</a></td>" in page
    assert f"<td>{escape(OWNER)}</td>" in page
    assert f"<td>{escape(PURPOSE)}</td>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; predicts 🍷 quality — جودة النبيذ &amp; טיב היין" in page
    assert "<script>" not in page and "<b>bold</b>" not in page
    guid = store.guids["wine-quality@mlflow"]
    assert f'href="/api/atlas/v2/lineage/{guid}?direction=BOTH&amp;depth=3"' in page


def test_entity_api_returns_odd_stored_text_unchanged(client: Any, store: Store) -> None:
    response = client.get(f"/api/atlas/v2/entity/guid/{store.guids['wine-quality@mlflow']}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    attributes = response.get_json()["entity"]["attributes"]
    assert (attributes["purpose"], attributes["owner"], attributes["description"]) == (PURPOSE, OWNER, DESCRIPTION)
    response = client.get(f"/api/atlas/v2/entity/guid/{store.guids['default.wineds_ext@cm']}")
    assert response.status_code == 200
    assert response.get_json()["entity"]["attributes"]["description"] == DATASET_DESCRIPTION


def test_lineage_apis_answer_over_odd_stored_text(client: Any, store: Store) -> None:
    model = store.guids["wine-quality@mlflow"]
    for path in (f"/api/v1/lineage?ref=wine-quality@mlflow", f"/api/atlas/v2/lineage/{model}"):
        response = client.get(path)
        assert response.status_code == 200, path
        info = response.get_json()
        assert info["baseEntityGuid"] == model
        assert info["guidEntityMap"][model]["attributes"]["qualifiedName"] == "wine-quality@mlflow"
    response = client.get("/api/v1/lineage?ref=models:/wine-quality@champion&direction=INPUT")
    assert response.status_code == 200
    assert store.guids["default.wineds_ext@cm"] in response.get_json()["guidEntityMap"]


def test_odd_stored_text_over_http(base_url: str, store: Store) -> None:
    status, body = http_get(f"{base_url}/api/atlas/v2/entity/guid/{store.guids['wine-quality@mlflow']}")
    assert status == 200
    assert body["entity"]["attributes"]["purpose"] == PURPOSE
    with urllib.request.urlopen(f"{base_url}/", timeout=30) as response:
        assert response.status == 200
        page = response.read().decode("utf-8")
    assert f"<td>{escape(OWNER)}</td>" in page and "<script>" not in page
