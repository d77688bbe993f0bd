"""Who may read and who may write: users, roles and tokens in the store; credentials over real HTTP.

The apps are served on loopback and driven with ``requests``. Writes go to a route
registered here (``/api/atlas/v2/_test_write``, guarded by ``require("steward")``), so
these tests do not depend on which write endpoints exist. The CLI is run in-process
with click's runner and, for ``catalog serve``, as the installed console script.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result
from flask import jsonify
from sqlalchemy import text

from catalog import users
from catalog.cli import cli
from catalog.config import Settings
from catalog.errors import CatalogError, ConfigError, NotFound
from catalog.service import Catalog
from tests.conftest import store_url
from tests.web_fixtures import catalog_app, served
from web.auth import current_user, require, user_name

CATALOG_SCRIPT = Path(sys.executable).parent / "catalog"
WRITE = "/api/atlas/v2/_test_write"
WHOAMI = "/api/atlas/v2/_test_whoami"
TYPEDEFS = "/api/atlas/v2/types/typedefs"
CHALLENGE = 'Basic realm="ml-lineage-catalog"'
PASSWORDS = {"vera": "viewer-pass-1", "stan": "steward-pass-1", "ada": "admin-pass-12"}
ROLE_OF = {"vera": "viewer", "stan": "steward", "ada": "admin"}


@dataclass
class Site:
    settings: Settings
    open_url: str  # read_access=open
    closed_url: str  # read_access=authenticated
    token: str  # an API token of stan


def _add_test_routes(app: Any) -> None:
    @require("steward")
    def test_write():
        return jsonify({"user": user_name()})

    def whoami():
        user = current_user()
        return jsonify({"user": user_name(), "role": user.role if user else None})

    app.add_url_rule(WRITE, "test_write", test_write, methods=["POST"])
    app.add_url_rule(WHOAMI, "test_whoami", whoami)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One store with a viewer, a steward and an admin, served once open and once closed."""
    root = tmp_path_factory.mktemp(f"auth-{request.param}")
    settings = Settings(database_url=store_url(request, root), user="tester")
    with Catalog(settings) as catalog, catalog.write_session() as session, session.begin():
        for name, password in PASSWORDS.items():
            users.add_user(session, name, password, ROLE_OF[name])
        token = users.create_token(session, "stan", label="ci")
    with catalog_app(settings) as open_app, catalog_app(settings, open_reads=False) as closed_app:
        _add_test_routes(open_app)
        _add_test_routes(closed_app)
        with served(open_app, "auth-open") as open_url, served(closed_app, "auth-closed") as closed_url:
            yield Site(settings, open_url, closed_url, token)


def basic(name: str) -> tuple[str, str]:
    return name, PASSWORDS[name]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response: requests.Response, message: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert response.json() == {"errorCode": "ATLAS-401-00-001", "errorMessage": message}


# ---------------------------------------------------------------- writes


def test_an_anonymous_write_is_401_with_atlas_body_and_basic_challenge(site: Site) -> None:
    response = requests.post(site.open_url + WRITE, json={}, timeout=30)
    assert_401(response, f"authentication required: POST {WRITE} needs a user with role steward "
                         "(basic auth or an API token)")


def test_a_wrong_password_is_401_even_for_a_read_of_an_open_catalog(site: Site) -> None:
    for url in (site.open_url + WRITE, site.open_url + TYPEDEFS):
        response = requests.request("POST" if url.endswith(WRITE) else "GET", url, auth=("stan", "not-his-pass"),
                                    timeout=30)
        assert_401(response, "invalid user name or password")
    unknown = requests.get(site.open_url + TYPEDEFS, auth=("nobody", "whatever-1"), timeout=30)
    assert_401(unknown, "invalid user name or password")


def test_a_viewer_writing_is_403_naming_user_role_and_role_needed(site: Site) -> None:
    response = requests.post(site.open_url + WRITE, json={}, auth=basic("vera"), timeout=30)
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
    assert response.json() == {
        "errorCode": "ATLAS-403-00-001",
        "errorMessage": f"user 'vera' (role viewer) may not POST {WRITE}: needs steward",
    }


def test_a_steward_and_an_admin_may_write_and_are_the_audit_user(site: Site) -> None:
    for name in ("stan", "ada"):
        response = requests.post(site.closed_url + WRITE, json={}, auth=basic(name), timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == {"user": name}


def test_a_bearer_token_acts_as_its_user_until_revoked(site: Site) -> None:
    with Catalog(site.settings) as catalog:
        with catalog.write_session() as session, session.begin():
            token = users.create_token(session, "stan", label="short-lived")
        response = requests.post(site.closed_url + WRITE, json={}, headers=bearer(token), timeout=30)
        assert response.status_code == 200, response.text
        assert response.json() == {"user": "stan"}
        with catalog.write_session() as session, session.begin():
            assert users.revoke_token(session, token, "stan") is True
    for url in (site.closed_url + WRITE, site.open_url + TYPEDEFS):
        method = "POST" if url.endswith(WRITE) else "GET"
        assert_401(requests.request(method, url, headers=bearer(token), timeout=30), "invalid or revoked API token")
    assert_401(requests.get(site.open_url + TYPEDEFS, headers=bearer("mlc_made-up"), timeout=30),
               "invalid or revoked API token")


def test_a_token_use_is_recorded_after_the_response(site: Site) -> None:
    with Catalog(site.settings) as catalog:
        with catalog.write_session() as session, session.begin():
            token = users.create_token(session, "vera", label="touch")
        response = requests.get(site.closed_url + WHOAMI, headers=bearer(token), timeout=30)
        assert response.json() == {"user": "vera", "role": "viewer"}
        deadline = time.monotonic() + 10
        while True:
            with catalog.session() as session:
                info = [t for t in users.list_tokens(session, "vera") if t.label == "touch"]
            if info[0].last_used_at is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert info[0].last_used_at is not None, "the token's use was not recorded"
        with catalog.write_session() as session, session.begin():
            assert users.touch_token(session, token) is False  # written less than a minute ago


def test_malformed_or_unsupported_credentials_are_401(site: Site) -> None:
    cases = {
        "Basic !!!notbase64": "malformed basic credentials: expected base64 of 'name:password'",
        "Basic c3Rhbg==": "malformed basic credentials: expected base64 of 'name:password'",  # "stan", no colon
        "Digest username=stan": "unsupported authorization scheme 'Digest': use Basic or Bearer",
    }
    for header, message in cases.items():
        response = requests.get(site.open_url + TYPEDEFS, headers={"Authorization": header}, timeout=30)
        assert_401(response, message)


def test_a_store_error_while_checking_a_token_does_not_show_its_digest(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", user="tester")
    token = "mlc_" + "x" * 43
    with catalog_app(settings, open_reads=False) as app:
        with app.extensions["catalog"].engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE api_token")
        with pytest.raises(RuntimeError) as failed:  # TESTING mode: Flask raises instead of answering 500
            app.test_client().get(TYPEDEFS, headers=bearer(token))
    assert str(failed.value) == "credentials could not be checked: OperationalError: no such table: api_token"
    assert failed.value.__suppress_context__ is True
    assert hashlib.sha256(token.encode()).hexdigest() not in str(failed.value)


# ---------------------------------------------------------------- reads


def test_a_closed_catalog_answers_anonymous_reads_401_and_users_200(site: Site) -> None:
    assert_401(requests.get(site.closed_url + TYPEDEFS, timeout=30),
               "authentication required: this catalog serves reads only to its users "
               "(basic auth or Authorization: Bearer <API token>)")
    for auth in ({"auth": basic("vera")}, {"headers": bearer(site.token)}):
        response = requests.get(site.closed_url + TYPEDEFS, timeout=30, **auth)
        assert response.status_code == 200, response.text
        assert "ml_model_version" in {d["name"] for d in response.json()["entityDefs"]}


def test_a_closed_catalog_still_answers_healthz_and_asks_pages_for_credentials(site: Site) -> None:
    health = requests.get(site.closed_url + "/healthz", timeout=30)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    page = requests.get(site.closed_url + "/", timeout=30)
    assert page.status_code == 401
    assert page.headers["WWW-Authenticate"] == CHALLENGE
    assert page.headers["Content-Type"].startswith("text/plain")
    assert "authentication required" in page.text
    assert requests.get(site.closed_url + "/", auth=basic("vera"), timeout=30).status_code == 200


def test_an_open_catalog_serves_anonymous_reads_as_the_configured_user(site: Site) -> None:
    response = requests.get(site.open_url + TYPEDEFS, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["entityDefs"]
    assert requests.get(site.open_url + WHOAMI, timeout=30).json() == {"user": "tester", "role": None}
    assert requests.get(site.open_url + WHOAMI, auth=basic("ada"), timeout=30).json() == {"user": "ada",
                                                                                        "role": "admin"}


def test_repeated_basic_auth_pays_for_the_password_hash_once(site: Site) -> None:
    from werkzeug.security import check_password_hash, generate_password_hash

    sample = generate_password_hash("x" * 12)
    started = time.perf_counter()
    check_password_hash(sample, "y" * 12)
    one_hash = time.perf_counter() - started
    with requests.Session() as http:
        http.auth = basic("vera")
        assert http.get(site.closed_url + WHOAMI, timeout=30).status_code == 200
        started = time.perf_counter()
        for _ in range(40):
            assert http.get(site.closed_url + WHOAMI, timeout=30).status_code == 200
        elapsed = time.perf_counter() - started
    assert elapsed < 10 * one_hash, f"40 requests took {elapsed:.2f}s; one hash takes {one_hash:.3f}s"


def test_a_changed_password_takes_effect_at_once_despite_the_cache(site: Site) -> None:
    with Catalog(site.settings) as catalog:
        with catalog.write_session() as session, session.begin():
            users.add_user(session, "temp", "first-password", "steward")
        assert requests.post(site.closed_url + WRITE, auth=("temp", "first-password"), timeout=30).status_code == 200
        with catalog.write_session() as session, session.begin():
            users.add_user(session, "temp", "second-password", "viewer", replace=True)
    assert_401(requests.post(site.closed_url + WRITE, auth=("temp", "first-password"), timeout=30),
               "invalid user name or password")
    refused = requests.post(site.closed_url + WRITE, auth=("temp", "second-password"), timeout=30)
    assert refused.status_code == 403
    assert refused.json()["errorMessage"] == f"user 'temp' (role viewer) may not POST {WRITE}: needs steward"


# ---------------------------------------------------------------- the library


def test_roles_are_ordered() -> None:
    assert users.ROLES == ("viewer", "steward", "admin")
    allowed = {(r, n) for r in users.ROLES for n in users.ROLES if users.role_allows(r, n)}
    assert allowed == {("viewer", "viewer"), ("steward", "viewer"), ("steward", "steward"),
                       ("admin", "viewer"), ("admin", "steward"), ("admin", "admin")}
    assert users.role_allows("root", "viewer") is False
    with pytest.raises(ValueError, match="unknown role 'owner'"):
        users.role_allows("admin", "owner")
    with pytest.raises(ValueError, match="unknown role 'owner'"):
        require("owner")


def test_users_and_tokens_in_the_store(database_url: str) -> None:
    with Catalog(Settings(database_url=database_url)) as catalog:
        with catalog.write_session() as session, session.begin():
            users.add_user(session, "bo", "bo-password", "viewer")
            token = users.create_token(session, "bo")
        with catalog.write_session() as session, session.begin(), pytest.raises(users.UserExistsError) as exists:
            users.add_user(session, "bo", "other-password", "admin")
        with catalog.session() as session:
            assert users.authenticate(session, "bo", "bo-password") == users.User("bo", "viewer")
            assert users.authenticate(session, "bo", "bo-passworD") is None
            assert users.authenticate(session, "nobody", "bo-password") is None
            assert users.user_for_token(session, token) == users.User("bo", "viewer")
            assert users.user_for_token(session, token + "x") is None
            assert users.list_users(session) == [users.User("bo", "viewer")]
            assert users.active_tokens(session) == {"bo": 1}
            stored = session.execute(text("SELECT token_hash FROM api_token")).scalar_one()
            hashed = session.execute(text("SELECT password_hash FROM app_user")).scalar_one()
    assert str(exists.value) == ("user 'bo' exists (role viewer); replace it to set its password and role "
                                 "(catalog users add --replace)")
    assert isinstance(exists.value, CatalogError) and isinstance(exists.value, ValueError)
    assert token.startswith("mlc_") and len(token) > 40
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert "bo-password" not in hashed and hashed.startswith(("scrypt:", "pbkdf2:"))


def test_create_token_for_an_unknown_user_is_not_found(database_url: str) -> None:
    with Catalog(Settings(database_url=database_url)) as catalog:
        with catalog.write_session() as session, session.begin():
            users.add_user(session, "stan", "steward-pass", "steward")
        with catalog.write_session() as session, session.begin(), pytest.raises(NotFound) as missing:
            users.create_token(session, "stna")
    assert str(missing.value) == "no user 'stna'; did you mean 'stan'? (add one with `catalog users add`)"


@pytest.mark.parametrize(("name", "password", "role", "message"), [
    ("", "long-enough", "viewer", "a user name has 1 to 255 characters"),
    ("x" * 256, "long-enough", "viewer", "a user name has 1 to 255 characters"),
    ("a:b", "long-enough", "viewer", "user name 'a:b': no ':' (basic authentication separates name and password"),
    ("tab\tname", "long-enough", "viewer", "user name 'tab\\tname': only printable characters"),
    (" padded", "long-enough", "viewer", "user name ' padded': only printable characters, no leading or trailing"),
    ("ok", "seven77", "viewer", "a password has at least 8 characters"),
    ("ok", "long-enough", "stewart", "unknown role 'stewart': expected one of viewer, steward, admin; did you mean "
                                     "'steward'?"),
])
def test_add_user_refuses_what_it_cannot_store(tmp_path: Path, name: str, password: str, role: str,
                                               message: str) -> None:
    with Catalog(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}")) as catalog:
        with catalog.write_session() as session, session.begin(), pytest.raises(users.UserError) as refused:
            users.add_user(session, name, password, role)
        with catalog.session() as session:
            assert users.list_users(session) == []
    assert str(refused.value).startswith(message)
    assert password not in str(refused.value)


def test_the_password_cache_expires_is_bounded_and_follows_the_stored_hash() -> None:
    now = [1000.0]
    cache = users.PasswordCache(ttl=60, max_entries=2, clock=lambda: now[0])
    cache.put("a", "pw-a-12345", "hash-1")
    assert cache.hit("a", "pw-a-12345", "hash-1") is True
    assert cache.hit("a", "wrong-pw-1", "hash-1") is False
    assert cache.hit("a", "pw-a-12345", "hash-2") is False  # the password changed since
    cache.put("a", "pw-a-12345", "hash-1")
    now[0] += 61
    assert cache.hit("a", "pw-a-12345", "hash-1") is False
    for name in ("b", "c", "d"):
        cache.put(name, "pw", "h")
    assert len(cache) == 2
    assert [cache.hit(n, "pw", "h") for n in ("b", "c", "d")] == [False, True, True]


def test_read_access_is_open_or_authenticated() -> None:
    assert Settings().read_access == "authenticated"
    assert Settings.from_env(environ={"CATALOG_READ_ACCESS": "Open"}).read_access == "open"
    with pytest.raises(ConfigError) as bad:
        Settings.from_env(environ={"CATALOG_READ_ACCESS": "public"})
    assert str(bad.value) == "CATALOG_READ_ACCESS='public': expected one of 'open', 'authenticated'"
    with pytest.raises(ConfigError, match="CATALOG_READ_ACCESS='anyone'"):
        Settings(read_access="anyone")


# ---------------------------------------------------------------- the CLI


def invoke(root: Path, *args: str, stdin: str | None = None, **env: str) -> Result:
    environ = {"CATALOG_DATABASE_URL": f"sqlite:///{root / 'c.db'}", **env}
    return CliRunner().invoke(cli, list(args), input=stdin, env=environ, catch_exceptions=False)


def test_cli_users_add_and_tokens_create_give_working_credentials(tmp_path: Path) -> None:
    added = invoke(tmp_path, "users", "add", "ci", "--role", "steward", "--password-stdin", stdin="ci-password-1\n")
    assert (added.exit_code, added.stdout, added.stderr) == (0, "added user 'ci' (role steward)\n", "")
    created = invoke(tmp_path, "tokens", "create", "ci", "--label", "build")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("mlc_")
    assert created.stderr == "API token of 'ci': it will not be shown again, store it now\n"
    listed = invoke(tmp_path, "users", "list", "--json")
    assert listed.stdout.count("ci") == 1 and '"activeTokens": 1' in listed.stdout
    tokens = invoke(tmp_path, "tokens", "list")
    assert tokens.stdout.startswith("ci") and " build " in tokens.stdout and "active" in tokens.stdout
    for result in (added, created, listed, tokens):
        assert "ci-password-1" not in result.output
    assert token not in tokens.output and token not in listed.output
    store = (tmp_path / "c.db").read_bytes()
    assert b"ci-password-1" not in store and token.encode() not in store

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", user="tester")
    with catalog_app(settings, open_reads=False) as app:
        _add_test_routes(app)
        with served(app, "auth-cli") as url:
            assert requests.post(url + WRITE, headers=bearer(token), timeout=30).json() == {"user": "ci"}
            assert requests.post(url + WRITE, auth=("ci", "ci-password-1"), timeout=30).json() == {"user": "ci"}
            revoked = invoke(tmp_path, "tokens", "revoke", "ci", "--label", "build")
            assert (revoked.exit_code, revoked.stdout) == (0, "revoked 1 token(s) of 'ci'\n")
            assert_401(requests.post(url + WRITE, headers=bearer(token), timeout=30), "invalid or revoked API token")
    again = invoke(tmp_path, "tokens", "revoke", "ci", "--all")
    assert (again.exit_code, again.stderr) == (2, "error: no active token of user 'ci' to revoke\n")


def test_cli_users_add_prompts_twice_without_echoing(tmp_path: Path) -> None:
    result = invoke(tmp_path, "users", "add", "pat", "--role", "viewer", stdin="pat-password\npat-password\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "Repeat for confirmation" in result.output
    assert "pat-password" not in result.output
    with Catalog(Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}")) as catalog, catalog.session() as session:
        assert users.authenticate(session, "pat", "pat-password") == users.User("pat", "viewer")


def test_cli_refuses_a_bad_role_naming_the_allowed_ones(tmp_path: Path) -> None:
    result = invoke(tmp_path, "users", "add", "ci", "--role", "boss", "--password-stdin", stdin="ci-password-1\n")
    assert result.exit_code == 2
    assert "Invalid value for '--role': 'boss' is not one of 'viewer', 'steward', 'admin'." in result.stderr
    assert not (tmp_path / "c.db").exists()


def test_cli_refuses_short_passwords_taken_names_and_unknown_users(tmp_path: Path) -> None:
    short = invoke(tmp_path, "users", "add", "ci", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert (short.exit_code, short.stderr) == (2, "error: a password has at least 8 characters\n")
    assert not (tmp_path / "c.db").exists()
    invoke(tmp_path, "users", "add", "ci", "--role", "viewer", "--password-stdin", stdin="ci-password-1\n")
    taken = invoke(tmp_path, "users", "add", "ci", "--role", "admin", "--password-stdin", stdin="ci-password-2\n")
    assert taken.exit_code == 2
    assert taken.stderr == ("error: user 'ci' exists (role viewer); replace it to set its password and role "
                            "(catalog users add --replace)\n")
    replaced = invoke(tmp_path, "users", "add", "ci", "--role", "admin", "--password-stdin", "--replace",
                      stdin="ci-password-2\n")
    assert (replaced.exit_code, replaced.stdout) == (0, "updated user 'ci' (role admin)\n")
    assert invoke(tmp_path, "users", "list").stdout.split() == ["ci", "admin", "0", "active", "token(s)"]
    unknown = invoke(tmp_path, "tokens", "create", "cii")
    assert (unknown.exit_code, unknown.stdout) == (2, "")
    assert unknown.stderr == "error: no user 'cii'; did you mean 'ci'? (add one with `catalog users add`)\n"
    bad_setting = invoke(tmp_path, "users", "list", CATALOG_READ_ACCESS="everyone")
    assert bad_setting.exit_code == 2
    assert bad_setting.stderr == "error: CATALOG_READ_ACCESS='everyone': expected one of 'open', 'authenticated'\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("read_access", "line", "anonymous_status"), [
    ("open", "reads are open to anyone (CATALOG_READ_ACCESS=open); writes need a user's credentials", 200),
    ("authenticated", "reads and writes need a user's credentials (CATALOG_READ_ACCESS=authenticated); "
                      "add users with `catalog users add`", 401),
])
def test_serve_says_whether_reads_are_open(tmp_path: Path, read_access: str, line: str,
                                           anonymous_status: int) -> None:
    port = _free_port()
    env = {"PATH": "/usr/bin:/bin", "CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
           "CATALOG_READ_ACCESS": read_access, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(CATALOG_SCRIPT), "serve", "--port", str(port)], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status = requests.get(f"http://127.0.0.1:{port}{TYPEDEFS}", timeout=5).status_code
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"catalog serve did not answer:\n{log.read_text()}")
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert status == anonymous_status
    lines = log.read_text().splitlines()
    assert lines[0].startswith("serving the catalog (sqlite:///") and lines[1] == line
