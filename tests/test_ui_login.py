"""Login to the pages (web/login.py): sessions of real users in a real store, CSRF, redirects, cookie flags.

Flask's test client keeps cookies per client, as a browser does. The catalog's reads are
closed (``read_access="authenticated"``, the default), so an anonymous browser is sent to
``/login``; the APIs answer 401 JSON as before. A session counts for reads and for the
pages' CSRF-checked forms, never for an API write (``/api/atlas/v2/entity`` needs basic
auth or a token). ``/_test_form`` is a page form registered here, guarded by
``require("steward")``: the pages have no write form of their own yet.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import jsonify

from catalog import users
from catalog.config import Settings
from catalog.errors import ConfigError
from catalog.model import Entity, SourceBatch
from catalog.service import Catalog
from catalog.store import upsert_batch
from tests.web_fixtures import basic_auth, catalog_app
from web import create_app
from web.auth import require, user_name
from web.login import KEY_FILE_SUFFIX, safe_next, secret_key
from web.ui import entity_url

PASSWORDS = {"vera": "viewer-pass-1", "stan": "steward-pass-1", "paul": "changing-pass-1"}
ROLE_OF = {"vera": "viewer", "stan": "steward", "paul": "viewer"}
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
DATASET = "sales@cm"
FORM = "/_test_form"
ENTITY_WRITE = "/api/atlas/v2/entity"
TYPEDEFS = "/api/atlas/v2/types/typedefs"
WRONG = "Wrong user name or password."


def _add_test_form(app: Any) -> None:
    @require("steward")
    def test_form():
        return jsonify({"user": user_name()})

    app.add_url_rule(FORM, "test_form", test_form, methods=["POST"])


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("ui-login")
    settings = Settings(database_url=f"sqlite:///{root / 'catalog.db'}", user="tester")
    assert settings.read_access == "authenticated"
    with Catalog(settings) as catalog:
        with catalog.write_session() as session, session.begin():
            for name, password in PASSWORDS.items():
                users.add_user(session, name, password, ROLE_OF[name])
        with catalog.write_session() as session, session.begin():
            upsert_batch(session, SourceBatch("t", [Entity("ml_dataset", DATASET, {"name": "sales"})]),
                         catalog.registry, user="t")
    return settings


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Any]:
    with catalog_app(settings, open_reads=False) as app:
        _add_test_form(app)
        yield app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def login_page(client: Any, query: str = "") -> str:
    answer = client.get("/login" + query, headers=HTML)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def log_in(client: Any, name: str, password: str | None = None, next: str | None = None, **kwargs: Any) -> Any:
    token = token_of(login_page(client))
    form = {"csrf_token": token, "name": name, "password": PASSWORDS[name] if password is None else password}
    if next is not None:
        form["next"] = next
    return client.post("/login", data=form, headers=HTML, **kwargs)


def cookie_attributes(response: Any, name: str = "catalog_session") -> dict[str, str]:
    """The attributes of the ``Set-Cookie`` of ``name`` (lower-case keys; ``value`` is the cookie's)."""
    for header in response.headers.getlist("Set-Cookie"):
        first, *rest = [part.strip() for part in header.split(";")]
        key, _, value = first.partition("=")
        if key == name:
            attributes = {"value": value}
            for part in rest:
                attribute, _, setting = part.partition("=")
                attributes[attribute.lower()] = setting
            return attributes
    raise AssertionError(f"no Set-Cookie of {name}: {response.headers.getlist('Set-Cookie')}")


# ---------------------------------------------------------------- logging in


def test_a_login_redirects_to_next_and_the_pages_name_the_user(client: Any) -> None:
    page = entity_url("ml_dataset", DATASET)
    answer = log_in(client, "vera", next=page + "?depth=2")
    assert answer.status_code == 302
    assert answer.headers["Location"] == page + "?depth=2"
    html = client.get(page, headers=HTML).get_data(as_text=True)
    assert "<h1>sales</h1>" in html
    assert "vera (viewer)" in html and 'action="/logout"' in html and "Log out" in html


def test_a_wrong_password_or_an_unknown_user_says_so_and_logs_nobody_in(client: Any) -> None:
    for name, password in (("vera", "not-her-password"), ("nobody", "whatever-1")):
        token = token_of(login_page(client))
        answer = client.post("/login", data={"csrf_token": token, "name": name, "password": password}, headers=HTML)
        assert answer.status_code == 200
        html = answer.get_data(as_text=True)
        assert WRONG in html
        assert password not in html  # the password field is not filled back in
        assert client.get("/", headers=HTML).status_code == 302  # still anonymous


def test_an_empty_form_is_400_saying_what_is_missing(client: Any) -> None:
    token = token_of(login_page(client))
    answer = client.post("/login", data={"csrf_token": token, "name": "vera"}, headers=HTML)
    assert answer.status_code == 400
    assert "Give a user name and a password." in answer.get_data(as_text=True)


@pytest.mark.parametrize("target", [
    "//evil.example/x", "http://evil.example/", "https:evil.example", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "/\t/evil.example", " //evil.example", "///evil.example",
])
def test_next_never_leaves_the_site(client: Any, target: str) -> None:
    assert safe_next(target) is None
    answer = log_in(client, "vera", next=target)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"
    html = login_page(client, "?next=" + target)  # nor is it carried into the form
    assert 'name="next" type="hidden" value=""' in html


def test_next_keeps_a_path_and_query_on_the_site() -> None:
    assert safe_next("/search?q=wine&type=ml_dataset") == "/search?q=wine&type=ml_dataset"
    assert safe_next("/entity/hive_table/default.wineds_ext@cm/impact") is not None


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_over_tls(app: Any, settings: Settings) -> None:
    plain = log_in(app.test_client(), "vera")
    flags = cookie_attributes(plain)
    assert "httponly" in flags and flags["samesite"] == "Lax" and flags.get("path") == "/"
    assert "secure" not in flags  # plain HTTP: a Secure cookie would never come back
    assert "expires" not in flags  # gone with the browser; its signature is refused after 12 hours anyway

    tls = app.test_client()
    login = tls.get("/login", base_url="https://localhost", headers=HTML)
    form = {"csrf_token": token_of(login.get_data(as_text=True)), "name": "vera", "password": PASSWORDS["vera"]}
    answer = tls.post("/login", data=form, base_url="https://localhost",
                      headers={**HTML, "Referer": "https://localhost/login"})
    assert answer.status_code == 302
    flags = cookie_attributes(answer)
    assert "secure" in flags and "httponly" in flags and flags["samesite"] == "Lax"

    forced = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": True}, settings=settings)
    try:
        assert "secure" in cookie_attributes(log_in(forced.test_client(), "vera"))
    finally:
        forced.extensions["catalog"].close()


# ---------------------------------------------------------------- CSRF


def test_login_and_logout_without_the_csrf_token_are_a_400_page(client: Any) -> None:
    refused = client.post("/login", data={"name": "vera", "password": PASSWORDS["vera"]}, headers=HTML)
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    html = refused.get_data(as_text=True)
    assert "<h1>Bad request</h1>" in html and "The CSRF token is missing." in html and "reload the page" in html
    assert client.get("/", headers=HTML).status_code == 302  # not logged in

    assert log_in(client, "vera").status_code == 302
    for form in ({}, {"csrf_token": "forged"}):
        answer = client.post("/logout", data=form, headers=HTML)
        assert answer.status_code == 400 and "CSRF token" in answer.get_data(as_text=True)
    assert client.get("/", headers=HTML).status_code == 200  # still logged in


def test_a_csrf_token_of_another_session_is_refused(app: Any) -> None:
    other = token_of(login_page(app.test_client()))
    client = app.test_client()
    login_page(client)
    answer = client.post("/login", data={"csrf_token": other, "name": "vera", "password": PASSWORDS["vera"]},
                         headers=HTML)
    assert answer.status_code == 400 and "The CSRF tokens do not match." in answer.get_data(as_text=True)


# ---------------------------------------------------------------- logging out


def test_logout_is_a_post_with_its_token_and_ends_the_session(client: Any) -> None:
    assert log_in(client, "vera").status_code == 302
    html = client.get("/", headers=HTML).get_data(as_text=True)
    assert client.get("/logout", headers=HTML).status_code == 405
    assert client.get("/", headers=HTML).status_code == 200  # a GET logged nobody out
    answer = client.post("/logout", data={"csrf_token": token_of(html)}, headers=HTML)
    assert (answer.status_code, answer.headers["Location"]) == (302, "/login")
    assert "You are logged out." in login_page(client)
    assert client.get("/", headers=HTML).status_code == 302


def test_a_new_password_ends_the_sessions_of_that_user(client: Any, settings: Settings) -> None:
    assert log_in(client, "paul").status_code == 302
    assert client.get("/", headers=HTML).status_code == 200
    with Catalog(settings) as catalog, catalog.write_session() as session, session.begin():
        users.add_user(session, "paul", "changed-pass-2", "viewer", replace=True)
    assert client.get("/", headers=HTML).status_code == 302


# ---------------------------------------------------------------- who may read


def test_an_anonymous_browser_is_sent_to_login_with_next(client: Any) -> None:
    page = entity_url("ml_dataset", DATASET) + "?depth=2&direction=BOTH"
    answer = client.get(page, headers=HTML)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": [page]}
    assert "Log in" in login_page(client)  # the login page itself is served to anyone
    assert log_in(client, "vera", next=page).headers["Location"] == page


def test_apis_and_scripts_still_get_401_and_credentials_still_work(client: Any) -> None:
    for path, accept in ((TYPEDEFS, HTML), (TYPEDEFS, {}), ("/", {})):
        answer = client.get(path, headers=accept)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="ml-lineage-catalog"'
        if path.startswith("/api/"):
            assert answer.json["errorCode"] == "ATLAS-401-00-001"
        else:
            assert answer.mimetype == "text/plain"
    auth = basic_auth(("vera", PASSWORDS["vera"]))
    assert client.get(TYPEDEFS, headers=auth).status_code == 200
    assert client.get("/", headers={**HTML, **auth}).status_code == 200
    assert "vera (viewer)" in client.get("/", headers={**HTML, **auth}).get_data(as_text=True)


def test_a_session_reads_the_apis_too(client: Any) -> None:
    assert log_in(client, "vera").status_code == 302
    answer = client.get(TYPEDEFS)
    assert answer.status_code == 200 and answer.json["entityDefs"]


# ---------------------------------------------------------------- who may write


def test_a_session_never_writes_through_an_api(app: Any) -> None:
    body = {"entity": {"typeName": "ml_dataset", "attributes": {"qualifiedName": "x@cm", "name": "x"}}}
    for name in ("vera", "stan"):  # even a steward's session, even with its CSRF token
        client = app.test_client()
        assert log_in(client, name).status_code == 302
        token = token_of(client.get("/", headers=HTML).get_data(as_text=True))
        answer = client.post(ENTITY_WRITE, json=body, headers={"X-CSRFToken": token})
        assert answer.status_code in (401, 403), answer.get_data(as_text=True)
        assert answer.status_code == 403 and answer.json["errorCode"] == "ATLAS-403-00-001"
        assert "WWW-Authenticate" not in answer.headers  # no password prompt in the browser
        assert answer.json["errorMessage"] == (f"user {name!r} is logged in to the pages, but a page session does "
                                               f"not authorize POST {ENTITY_WRITE}: send basic auth or an API token")
    scripts = app.test_client()
    viewer = scripts.post(ENTITY_WRITE, json=body, headers=basic_auth(("vera", PASSWORDS["vera"])))
    assert viewer.status_code == 403 and viewer.json["errorCode"] == "ATLAS-403-00-001"
    written = scripts.get("/api/atlas/v2/entity/uniqueAttribute/type/ml_dataset?attr:qualifiedName=x@cm",
                          headers=basic_auth(("stan", PASSWORDS["stan"])))
    assert written.status_code == 404  # nothing was written


def test_a_page_form_needing_steward_is_a_403_page_for_a_viewer_and_served_to_a_steward(app: Any) -> None:
    for name, status in (("vera", 403), ("stan", 200)):
        client = app.test_client()
        assert log_in(client, name).status_code == 302
        token = token_of(client.get("/", headers=HTML).get_data(as_text=True))
        assert client.post(FORM, data={}, headers=HTML).status_code == 400  # no token: refused before the role
        answer = client.post(FORM, data={"csrf_token": token}, headers=HTML)
        assert answer.status_code == status, answer.get_data(as_text=True)
        if status == 403:
            assert answer.mimetype == "text/html"
            assert "user &#39;vera&#39; (role viewer) may not POST /_test_form: needs steward" in answer.get_data(
                as_text=True)
        else:
            assert answer.json == {"user": "stan"}


# ---------------------------------------------------------------- the secret key


def test_the_generated_key_is_kept_beside_the_store_and_shared_by_processes(settings: Settings, app: Any) -> None:
    path = Path(settings.database_url.removeprefix("sqlite:///") + KEY_FILE_SUFFIX)
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert app.config["SECRET_KEY"] == path.read_text().strip()
    assert len(app.config["SECRET_KEY"]) == 64
    # another process (here: another app) over the same store takes a session this one signed
    with catalog_app(settings, open_reads=False) as other:
        assert other.config["SECRET_KEY"] == app.config["SECRET_KEY"]
        client = app.test_client()
        log_in(client, "vera")
        cookie = client.get_cookie("catalog_session")
        visitor = other.test_client()
        visitor.set_cookie("catalog_session", cookie.value)
        assert visitor.get("/", headers=HTML).status_code == 200


def test_catalog_secret_key_wins_and_is_never_shown(settings: Settings) -> None:
    given = dataclasses.replace(settings, secret_key="s" * 40)
    assert secret_key(given) == "s" * 40
    assert "s" * 40 not in repr(given)
    assert Settings.from_env(environ={"CATALOG_SECRET_KEY": "k" * 20}).secret_key == "k" * 20
    with pytest.raises(ConfigError, match="CATALOG_SECRET_KEY: expected at least 16 characters"):
        secret_key(dataclasses.replace(settings, secret_key="short"))
    memory = secret_key(Settings(database_url="sqlite://"))
    assert len(memory) == 64 and memory != secret_key(Settings(database_url="sqlite://"))


def test_without_a_sqlite_file_each_process_draws_a_key_and_warns() -> None:
    warnings: list[str] = []

    class Log:
        def warning(self, message: str, *args: Any) -> None:
            warnings.append(message % args)

    key = secret_key(Settings(database_url="postgresql+psycopg://catalog@db.example/catalog"), Log())
    assert len(key) == 64
    assert warnings and "CATALOG_SECRET_KEY is not set" in warnings[0] and "other workers refuse them" in warnings[0]


def test_with_open_reads_a_session_still_writes_nothing(settings: Settings) -> None:
    with catalog_app(settings) as app:
        client = app.test_client()
        assert log_in(client, "stan").status_code == 302
        assert "stan (steward)" in client.get("/", headers=HTML).get_data(as_text=True)
        answer = client.post(ENTITY_WRITE, json={"entity": {}})
        assert answer.status_code == 403 and answer.json["errorMessage"] == (
            f"user 'stan' is logged in to the pages, but a page session does not authorize POST {ENTITY_WRITE}: "
            "send basic auth or an API token")
        anonymous = app.test_client().post(ENTITY_WRITE, json={"entity": {}})
        assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
