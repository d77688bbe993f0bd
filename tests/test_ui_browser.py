"""The pages in a real browser: Playwright driving Debian's headless Chromium against the served catalog.

`make test` installs chromium with apt-get when /usr/bin/chromium is missing, and the
``playwright`` package with the test extras (its own browser downloads are never used).
Screenshots go to ``$UI_SCREENSHOTS`` (default: the test's temporary folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.config import Settings
from catalog.model import Entity, SourceBatch
from catalog.service import Catalog
from catalog.store import upsert_batch
from tests.mlflow_fixtures import MlflowStore, demo_catalog, mlflow_store  # noqa: F401 - module-scoped fixture
from tests.web_fixtures import catalog_app, served
from web.ui import entity_url

CHROMIUM = "/usr/bin/chromium"
TABLE = "default.wineds_ext@cm"
XSS = '<img src=x onerror="window.__pwned=1">'
WIDE = 40  # data sets one run writes: more than the 25 a layer draws


@pytest.fixture(scope="module")
def site(mlflow_store: MlflowStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    catalog, _store = demo_catalog(mlflow_store, tmp_path_factory.mktemp("ui-browser"))
    with catalog:
        settings = catalog.settings
        evil = Entity("ml_dataset", "evil@cm", {"name": XSS, "description": "<script>window.__pwned=2</script>"})
        wide = [Entity("ml_dataset", f"wide-{i:02d}@cm", {"name": f"wide {i:02d}"}) for i in range(WIDE)]
        source = Entity("ml_dataset", "wide-source@cm", {"name": "wide source"})
        split = Entity("ml_training_run", "split@mlflow", {  # one run writing more data sets than a layer draws
            "name": "split", "runId": "0" * 32, "status": "FINISHED", "userName": "ann",
            "inputs": [source.ref], "outputs": [w.ref for w in wide]})
        with catalog.write_session() as session, session.begin():
            upsert_batch(session, SourceBatch("t", [evil, source, split, *wide]), catalog.registry, user="t")
    with catalog_app(settings) as app, served(app, "ui-browser") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: make test installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: (page.errors.append("dialog: " + d.message), d.dismiss()))
    try:
        yield page
    finally:
        context.close()


def _shots(tmp_path: Path) -> Path:
    where = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_search_to_model_to_lineage_to_table_to_impact_to_csv(site: str, tab: Any, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    tab.goto(site + "/")
    tab.fill("input[name=q]", "wine-quality")
    tab.click("header button[type=submit]")
    tab.wait_for_url("**/search?q=wine-quality")
    tab.click("table.results a:text-is('wine-quality')")
    tab.wait_for_url("**/entity/ml_registered_model/wine-quality@mlflow")
    assert tab.inner_text("h1") == "wine-quality"
    tab.screenshot(path=str(shots / "model.png"), full_page=True)
    tab.click("table a:text-is('1')")  # version 1 from the versions table
    tab.wait_for_url("**/entity/ml_model_version/wine-quality/1@mlflow")
    assert tab.locator("h2:text-is('Training data')").count() == 1
    tab.screenshot(path=str(shots / "version.png"), full_page=True)
    tab.select_option("select[name=direction]", "BOTH")
    tab.fill("input[name=depth]", "3")
    tab.click("form.lineage-options button")
    tab.wait_for_url("**depth=3**")
    graph = tab.locator(".graph svg")
    assert graph.count() == 1
    tab.locator(".graph").screenshot(path=str(shots / "lineage.png"))
    tab.locator(f".graph svg a[href='{entity_url('hive_table', TABLE)}']").first.click()
    tab.wait_for_url(f"**{entity_url('hive_table', TABLE)}")
    tab.click("nav.links a:text-is('Impact analysis')")
    tab.wait_for_url("**/impact")
    assert "wine-quality/1@mlflow" in tab.inner_text("main")
    tab.screenshot(path=str(shots / "impact.png"), full_page=True)
    with tab.expect_download() as download:
        tab.click("a:text-is('Download as CSV')")
    saved = shots / "impact.csv"
    download.value.save_as(str(saved))
    assert saved.read_text().startswith("kind,type,qualifiedName,name,owner,status,hops")
    assert tab.errors == []


def test_a_collapsed_group_expands_and_a_node_opens_one_more_hop(site: str, tab: Any, tmp_path: Path) -> None:
    tab.goto(site + entity_url("ml_dataset", "wide-source@cm"))
    nodes = tab.locator(".graph svg g.node")
    assert "Partial: 27 of 42 entities drawn" in tab.inner_text("p.partial")
    group = tab.locator(".graph svg g.node-group")
    assert group.count() == 1 and "15 more (drawn 25 / total 40)" in group.text_content()
    before = nodes.count()
    tab.locator(".graph svg a:has(g.node-group)").click()
    tab.wait_for_url(lambda url: "expand=group" in url)
    assert tab.locator(".graph svg g.node-group").count() == 0 and tab.locator("p.partial").count() == 0
    assert nodes.count() == before - 1 + 15  # the group node gave way to the 15 it stood for
    tab.locator(".graph").screenshot(path=str(_shots(tmp_path) / "lineage-expanded.png"))

    deployment = entity_url("ml_deployment", "wine-quality-stream:prod@cm")
    tab.goto(site + entity_url("hive_table", TABLE) + "?direction=OUTPUT")
    assert tab.locator(f".graph svg a[href='{deployment}']").count() == 0
    tab.locator(".graph svg a.open:has(title:text-is('draw one more hop around wine-quality v1'))").click()
    tab.wait_for_url("**open=**")
    assert tab.locator(f".graph svg a[href='{deployment}']").count() == 1
    tab.select_option("select[name=direction]", "BOTH")  # the opened node stays open through a redraw
    tab.click("form.lineage-options button")
    tab.wait_for_url("**direction=BOTH**")
    assert "open=" in tab.url and tab.locator(f".graph svg a[href='{deployment}']").count() == 1
    assert tab.errors == []


def test_injected_markup_does_not_run(site: str, tab: Any) -> None:
    for url in ("/", "/search?q=evil", entity_url("ml_dataset", "evil@cm")):
        tab.goto(site + url)
        assert tab.evaluate("window.__pwned === undefined"), url
        assert tab.locator("main img[src=x]").count() == 0
    assert XSS in tab.inner_text("h1")
    assert tab.errors == []


def test_an_unknown_page_is_a_404_page(site: str, tab: Any) -> None:
    answer = tab.goto(site + "/models/no-such-model")
    assert answer.status == 404 and tab.inner_text("h1") == "Not found"


# ---------------------------------------------------------------- login (web/login.py)

VIEWER = ("vera", "viewer-pass-1")


@pytest.fixture(scope="module")
def closed_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A catalog whose reads need a user (``read_access="authenticated"``), with a viewer and one data set."""
    from catalog import users

    root = tmp_path_factory.mktemp("ui-browser-login")
    settings = Settings(database_url=f"sqlite:///{root / 'catalog.db'}", user="tester", read_access="authenticated")
    with Catalog(settings) as catalog:
        with catalog.write_session() as session, session.begin():
            users.add_user(session, *VIEWER, "viewer")
        with catalog.write_session() as session, session.begin():
            upsert_batch(session, SourceBatch("t", [Entity("ml_dataset", "sales@cm", {"name": "sales"})]),
                         catalog.registry, user="t")
    with catalog_app(settings, open_reads=False) as app, served(app, "ui-browser-login") as url:
        yield url


def test_login_through_the_form_then_a_viewers_write_is_refused(closed_site: str, tab: Any, tmp_path: Path) -> None:
    page = entity_url("ml_dataset", "sales@cm")
    tab.goto(closed_site + page)
    tab.wait_for_url("**/login?next=**")
    tab.fill("input[name=name]", VIEWER[0])
    tab.fill("input[name=password]", "not-her-password")
    tab.click("form.login button[type=submit]")
    assert "Wrong user name or password." in tab.inner_text("main")
    tab.fill("input[name=name]", VIEWER[0])
    tab.fill("input[name=password]", VIEWER[1])
    tab.click("form.login button[type=submit]")
    tab.wait_for_url(f"**{page}")
    assert tab.inner_text("h1") == "sales"
    assert tab.inner_text("header .who") == "vera (viewer)"
    tab.screenshot(path=str(_shots(tmp_path) / "logged-in.png"), full_page=True)
    cookie = next(c for c in tab.context.cookies() if c["name"] == "catalog_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert tab.evaluate("document.cookie").find("catalog_session") == -1  # HttpOnly: no script reads it
    assert tab.errors == []

    # a write from the page's own context, with the session cookie only (and its CSRF token, even)
    status = tab.evaluate("""async () => {
        const token = document.querySelector("form.logout input[name=csrf_token]").value;
        const answer = await fetch("/api/atlas/v2/entity", {
            method: "POST", credentials: "same-origin", signal: AbortSignal.timeout(10000),
            headers: {"Content-Type": "application/json", "X-CSRFToken": token},
            body: JSON.stringify({entity: {typeName: "ml_dataset", attributes: {qualifiedName: "x@cm", name: "x"}}}),
        });
        return answer.status;
    }""")
    assert status == 403  # the session is no credential for an API write (401 would prompt)
    assert all(f"status of {status}" in e for e in tab.errors), tab.errors  # Chromium logs the refused fetch
    tab.errors.clear()

    # the same write with the viewer's own credentials: refused for her role
    answer = tab.evaluate("""async ([name, password]) => {
        const answer = await fetch("/api/atlas/v2/entity", {
            method: "POST", credentials: "omit", signal: AbortSignal.timeout(10000),
            headers: {"Content-Type": "application/json", "Authorization": "Basic " + btoa(name + ":" + password)},
            body: JSON.stringify({entity: {typeName: "ml_dataset", attributes: {qualifiedName: "x@cm", name: "x"}}}),
        });
        return [answer.status, (await answer.json()).errorMessage];
    }""", list(VIEWER))
    assert answer == [403, "user 'vera' (role viewer) may not POST /api/atlas/v2/entity: needs steward"]
    assert all("status of 403" in e for e in tab.errors), tab.errors
    tab.errors.clear()

    tab.click("form.logout button[type=submit]")
    tab.wait_for_url("**/login")
    assert "You are logged out." in tab.inner_text("main")
    tab.goto(closed_site + page)
    tab.wait_for_url("**/login?next=**")
    assert tab.errors == []
