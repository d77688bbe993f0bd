"""The browsing pages: server-rendered, readable without JavaScript, every value escaped.

URLs are stable and shareable:

- ``/``: search, the registered models at a glance, recent changes;
- ``/search?q=&type=&classification=``: results with type and classification facets;
- ``/models/<name>`` and ``/models/<name>/<version>``: a registered model, a model version
  (the entity pages of ``ml_registered_model`` / ``ml_model_version`` under short names);
- ``/entity/<type>/<qualifiedName>``: any entity: attributes (references as links),
  classifications direct and propagated (with where they came from), lineage around it;
- ``.../history``: its audit history; ``.../impact`` and ``.../impact.csv``: everything
  downstream, with owners;
- ``.../lineage.svg`` and ``.../lineage.dot``: the lineage graph for download.

An unknown entity, type or model is a 404 page; a malformed parameter a 400 page.
Reads go through ``catalog.service.Catalog`` and ``catalog.store``; nothing here writes.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from markupsafe import Markup, escape

from catalog import naming, store
from catalog.store import evidence
from web.impact import IMPACT_KINDS as _IMPACT_KINDS
from web.impact import entity_url, impact_of, when
from web.ui_models import deployed_versions, model_rows, model_sections, version_number, version_sections
from web.ui_runs import SCORING, dated, drift_chart, pinned, scoring_detail, scoring_runs
from catalog.errors import CatalogError, ReferenceNotFound, UnknownTypeError
from catalog.model import (
    REGISTERED_MODEL,
    EntityHeader,
    EntityRef,
    LineageGraph,
    StoredEntity,
)

bp = Blueprint("ui", __name__)

MODEL_VERSION = "ml_model_version"
#: The most entities one page opens one hop further (``open=<guid>``, repeated).
MAX_OPEN = 20
#: The most lineage hops a page draws (the API answers deeper); the page says when it capped.
MAX_PAGE_DEPTH = 10
_DIRECTIONS = ("BOTH", "INPUT", "OUTPUT")
_VERDICT_ORDER = {"fail": 0, "error": 1, "warn": 2, "waived": 3, "pass": 4, "skip": 5}
DEPLOYMENT = "ml_deployment"


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _catalog() -> Any:
    return current_app.extensions["catalog"]


# -- links and values --------------------------------------------------------------------------


def _ref_of(value: Any) -> EntityRef | None:
    if isinstance(value, Mapping):
        unique = value.get("uniqueAttributes")
        if isinstance(unique, Mapping) and "typeName" in value and "qualifiedName" in unique:
            return EntityRef(str(value["typeName"]), str(unique["qualifiedName"]))
    return None


def render_value(value: Any, depth: int = 0) -> Markup:
    """An attribute value as HTML: references as links, lists and maps as small lists, all escaped."""
    ref = _ref_of(value)
    if ref is not None:
        return Markup('<a href="{}">{}</a> <span class="type">{}</span>').format(
            entity_url(ref.type_name, ref.qualified_name), ref.qualified_name, ref.type_name)
    if isinstance(value, list):
        if not value:
            return Markup('<span class="none">none</span>')
        return Markup("<ul class=\"plain\">{}</ul>").format(
            Markup("").join(Markup("<li>{}</li>").format(render_value(v, depth + 1)) for v in value[:200]))
    if isinstance(value, Mapping):
        if not value:
            return Markup('<span class="none">none</span>')
        if depth > 2:
            return escape(str(value))
        rows = Markup("").join(Markup("<tr><th>{}</th><td>{}</td></tr>").format(k, render_value(v, depth + 1))
                               for k, v in list(value.items())[:200])
        return Markup('<table class="inner">{}</table>').format(rows)
    if value is None or value == "":
        return Markup('<span class="none">none</span>')
    return escape(str(value))


def metric(value: Any) -> str:
    """A metric for a table cell: floats to 4 significant digits, anything else as it is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def run_url(version: StoredEntity) -> str | None:
    """The page of the run a model version came from (its ``runId``), if it names one."""
    run_id = version.attributes.get("runId")
    if not run_id:
        return None
    return entity_url("ml_training_run", naming.run_qn(str(run_id), _catalog().settings.mlflow_instance))


def display_name(entity: StoredEntity | EntityHeader) -> str:
    return str(entity.attributes.get("name") or entity.qualified_name)


# -- lookups -----------------------------------------------------------------------------------


def _entity(type_name: str, qualified_name: str) -> StoredEntity:
    catalog = _catalog()
    if not catalog.registry.has_entity_type(type_name):
        raise PageError(404, f"There is no entity type {type_name!r}.")
    with catalog.session() as session:
        found = store.get_entity(session, EntityRef(type_name, qualified_name).guid)
    if found is None:
        raise PageError(404, f"No {type_name} named {qualified_name!r} is in the catalog.")
    return found


#: A whole number in ASCII digits (``str.isdigit`` also takes "²", which ``int`` refuses).
_WHOLE = re.compile(r"\s*-?[0-9]{1,11}\s*")


def _int_param(name: str, default: int, low: int, high: int) -> tuple[int, bool]:
    """A bounded int query parameter; (value, whether it was capped). Not an int: a 400 page."""
    text = request.args.get(name)
    if text is None or text == "":
        return default, False
    if _WHOLE.fullmatch(text) is None:
        raise PageError(400, f"{name}={text[:40]!r}: expected a whole number")
    value = int(text)
    if value < low:
        raise PageError(400, f"{name}={value}: expected at least {low}")
    return (min(value, high), value > high)


def _choice_param(name: str, default: str, allowed: Iterable[str]) -> str:
    text = request.args.get(name, default)
    upper = text.upper() if text.isascii() else text
    if upper not in allowed:
        raise PageError(400, f"{name}={text[:40]!r}: expected one of {', '.join(allowed)}")
    return upper


# -- pages -------------------------------------------------------------------------------------


def _versions_of(model: StoredEntity) -> list[StoredEntity]:
    """The versions of a registered model (``<name>/<n>@<instance>``), newest first."""
    name, _, instance = model.qualified_name.rpartition("@")
    prefix, suffix = f"{name}/", f"@{instance}"
    found = [e for e in _catalog().search(f"{name}/", type_name=MODEL_VERSION, limit=1000)
             if e.qualified_name.startswith(prefix) and e.qualified_name.endswith(suffix)
             and e.qualified_name[len(prefix):-len(suffix)].isdigit()]
    return sorted(found, key=version_number, reverse=True)


@bp.get("/")
def index():
    """Search, the registered models at a glance, and recent changes."""
    catalog = _catalog()
    models = catalog.search("", type_name=REGISTERED_MODEL, limit=500)
    rows = model_rows(catalog, models, _versions_of)
    recent = catalog.audit(limit=20)
    with catalog.session() as session:
        by_type, by_tag = store.facet_counts(session)
    return render_template("index.html", models=models, rows=rows, recent=recent, by_type=by_type, by_tag=by_tag)


@bp.get("/search")
def search_page():
    catalog = _catalog()
    text = request.args.get("q", "")[:200]
    type_name = request.args.get("type") or None
    classification = request.args.get("classification") or None
    try:
        found = catalog.search(text, type_name=type_name, classification=classification, limit=500)
    except UnknownTypeError as exc:
        raise PageError(400, str(exc)) from None
    by_type = Counter(e.type_name for e in found)
    by_tag = Counter(c.type_name for e in found for c in {c.type_name: c for c in e.classifications}.values())
    return render_template("search.html", q=text, type_name=type_name, classification=classification, found=found,
                           by_type=sorted(by_type.items()), by_tag=sorted(by_tag.items()), limit=500)


def _model(name: str) -> StoredEntity:
    instance = _catalog().settings.mlflow_instance
    return _entity(REGISTERED_MODEL, f"{name}@{instance}")


@bp.get("/models/<path:name>/<int:version>")
def model_version_page(name: str, version: int):
    instance = _catalog().settings.mlflow_instance
    return _entity_page(_entity(MODEL_VERSION, f"{name}/{version}@{instance}"))


@bp.get("/models/<path:name>")
def model_page(name: str):
    return _entity_page(_model(name))


@bp.get("/compliance/<digest>")
def compliance_page(digest: str):
    """One compliance report (an evidence record): each rule, its verdict, evidence and waiver."""
    from sqlalchemy import select

    from catalog.store.schema import EvidenceRow

    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise PageError(400, f"{digest[:70]!r}: a compliance report is named by the sha256 digest of its record")
    catalog = _catalog()
    with catalog.session() as session:
        row = session.get(EvidenceRow, digest)
        record = evidence.record(session, digest)
        if row is None or record is None:
            raise PageError(404, f"No compliance report {digest} is in the catalog.")
        version = store.get_entity(session, row.version_guid)
        later = session.scalar(select(EvidenceRow.digest).where(EvidenceRow.chain == row.chain,
                                                                 EvidenceRow.seq == row.seq + 1))
    report = record.report
    results = sorted(report.get("results") or (), key=lambda r: (_VERDICT_ORDER.get(r.get("verdict"), 9),
                                                                  str(r.get("rule"))))
    return render_template("compliance.html", record=record, report=report, results=results, version=version,
                           later=later)


@bp.get("/models/<path:name>/<int:version>/card")
def model_card_page(name: str, version: int):
    """The version's model card (``catalog evidence export --format html``), for auditors."""
    from catalog.compliance.card import model_card
    from catalog.compliance.export import render_card

    instance = _catalog().settings.mlflow_instance
    _entity(MODEL_VERSION, f"{name}/{version}@{instance}")  # a 404 page when the version is not in the catalog
    card = model_card(_catalog(), f"models:/{name}/{version}")
    return Response(render_card(card, "html"), mimetype="text/html")


#: Events on one page of the feed of changes.
CHANGES_PAGE = 100


@bp.get("/changes")
def changes_page():
    """The feed of recent changes to any entity, newest first, a page of ``CHANGES_PAGE`` (``before=<event id>``)."""
    before = _int_param("before", 0, 1, 2 ** 62)[0] or None
    events = _catalog().audit(limit=CHANGES_PAGE + 1, before=before)
    older = events[CHANGES_PAGE - 1].id if len(events) > CHANGES_PAGE else None
    return render_template("changes.html", events=events[:CHANGES_PAGE], older=older, before=before)


@bp.get("/entity/<type_name>/<path:qualified_name>/history")
def history_page(type_name: str, qualified_name: str):
    entity = _entity(type_name, qualified_name)
    events = _catalog().audit(entity.guid, limit=500)
    return render_template("history.html", entity=entity, events=events)


@bp.get("/entity/<type_name>/<path:qualified_name>/impact.csv")
def impact_csv(type_name: str, qualified_name: str):
    entity = _entity(type_name, qualified_name)
    rows = impact_of(_catalog(), entity)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "type", "qualifiedName", "name", "owner", "status", "hops"])
    for row in rows:
        writer.writerow([_csv_safe(v) for v in (row.kind, row.type_name, row.qualified_name, row.name, row.owner,
                                                row.status, row.hops)])
    filename = "impact-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in qualified_name)[:80] + ".csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_safe(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/entity/<type_name>/<path:qualified_name>/impact")
def impact_page(type_name: str, qualified_name: str):
    entity = _entity(type_name, qualified_name)
    rows = impact_of(_catalog(), entity)
    grouped = [(label, [r for r in rows if r.type_name == t]) for t, label in _IMPACT_KINDS]
    known = {t for t, _ in _IMPACT_KINDS}
    grouped.append(("data sets and other entities", [r for r in rows if r.type_name not in known]))
    return render_template("impact.html", entity=entity, grouped=grouped, total=len(rows))


#: download name -> (mimetype, Content-Disposition, the Picture field)
_DOWNLOADS = {"svg": ("image/svg+xml", "inline", "svg"), "dot": ("text/vnd.graphviz", "attachment", "dot")}


@bp.get("/entity/<type_name>/<path:qualified_name>/lineage.<any(svg, dot):kind>")
def lineage_download(type_name: str, qualified_name: str, kind: str):
    """The entity's lineage graph as SVG or Graphviz DOT (the page's ``direction``, ``depth``, ``expand``)."""
    mimetype, disposition, field = _DOWNLOADS[kind]
    picture = _picture(_entity(type_name, qualified_name))
    return Response(getattr(picture, field), mimetype=mimetype,
                    headers={"Content-Disposition": f'{disposition}; filename="lineage.{kind}"'})


@bp.get("/entity/<type_name>/<path:qualified_name>")
def entity_page(type_name: str, qualified_name: str):
    return _entity_page(_entity(type_name, qualified_name))


# -- the entity page ---------------------------------------------------------------------------


@dataclass
class Picture:
    graph: LineageGraph
    svg: str
    layout: Any  # web.graph's Layout, for ``dot``
    partial: bool
    drawn: int
    total: int
    direction: str
    depth: int
    capped: bool
    expanded: list[str]  # group ids drawn in full
    opened: list[str]  # guids opened one more hop

    @property
    def dot(self) -> str:
        """The graph as DOT, drawn when asked (the page shows only the SVG: 8% of a depth-3 page's time)."""
        from web import graph_svg as draw

        return draw.to_dot(self.layout)


def _lineage_options() -> tuple[str, int, bool, frozenset[str], frozenset[str]]:
    direction = _choice_param("direction", "BOTH", _DIRECTIONS)
    depth, capped = _int_param("depth", 1, 1, MAX_PAGE_DEPTH)
    expanded = frozenset(v[:64] for v in request.args.getlist("expand")[:50])
    opened = frozenset(v[:64] for v in request.args.getlist("open")[:MAX_OPEN])
    return direction, depth, capped, expanded, opened


def _open(graph: LineageGraph, opened: frozenset[str], direction: str) -> LineageGraph:
    """``graph`` with one more hop (in ``direction``) around each opened entity it holds.

    An entity an opening brings in can itself be opened: rounds repeat until none adds one.
    """
    entities = dict(graph.entities)
    relations = list(graph.relations)
    seen = set(relations)
    todo = set(opened) - {graph.base_guid}
    while ready := sorted(todo & entities.keys()):
        todo -= set(ready)
        for guid in ready:
            more = _catalog().lineage(guid, direction=direction, depth=1)
            for other, node in more.entities.items():
                entities.setdefault(other, node)
            relations += [r for r in more.relations if r not in seen]
            seen.update(more.relations)
    if len(entities) == len(graph.entities) and len(relations) == len(graph.relations):
        return graph
    return replace(graph, entities=entities, relations=tuple(relations))


def _picture(entity: StoredEntity) -> Picture:
    from web import graph as drawing
    from web import graph_svg as draw

    direction, depth, capped, expanded, opened = _lineage_options()
    lineage = _open(_catalog().lineage(entity.guid, direction=direction, depth=depth), opened, direction)

    def with_arg(name: str, value: str) -> str:
        args = request.args.to_dict(flat=False)
        args[name] = sorted({*args.get(name, ()), value})
        return url_for("ui.entity_page", type_name=entity.type_name, qualified_name=entity.qualified_name,
                       **args) + "#lineage"

    def expand_href(group: str) -> str:
        return with_arg("expand", group)

    def open_href(guid: str) -> str | None:
        if guid == entity.guid or guid in opened or len(opened) >= MAX_OPEN:
            return None
        return with_arg("open", guid)

    def href(guid: str) -> str:
        node = lineage.entities.get(guid)
        return entity_url(node.type_name, node.qualified_name) if node is not None else "#"

    laid = drawing.cached_layout(drawing.cache_key(lineage, expanded=expanded),
                                 lambda: drawing.layout(lineage, expanded=expanded))
    svg = draw.to_svg(laid, href=href, expand_href=expand_href, open_href=open_href)
    return Picture(lineage, svg, laid, laid.partial, laid.drawn, laid.total, direction, depth, capped,
                   sorted(expanded), sorted(opened & lineage.entities.keys()))


def _neighbours(graph: LineageGraph, guid: str) -> tuple[list[Any], list[Any]]:
    """Entities one step upstream and downstream of ``guid`` in ``graph``."""
    ups = [graph.entities[r.from_guid] for r in graph.relations if r.to_guid == guid and r.from_guid in graph.entities]
    downs = [graph.entities[r.to_guid] for r in graph.relations if r.from_guid == guid and r.to_guid in graph.entities]
    return ups, downs


def _entity_page(entity: StoredEntity):
    catalog = _catalog()
    picture = _picture(entity)
    with catalog.session() as session:
        sources = store.get_headers(session, sorted({c.source_guid for c in entity.classifications
                                                     if c.source_guid != entity.guid}))
    direct = [c for c in entity.classifications if c.source_guid == entity.guid]
    propagated = [(c, sources.get(c.source_guid)) for c in entity.classifications if c.source_guid != entity.guid]
    ups, downs = _neighbours(picture.graph, entity.guid)
    extra: dict[str, Any] = {}
    if entity.type_name == REGISTERED_MODEL:
        extra["versions"] = _versions_of(entity)
        extra.update(model_sections(catalog, entity, extra["versions"]))
    if entity.type_name == MODEL_VERSION:
        extra.update(version_sections(catalog, entity))
    if entity.type_name in (DEPLOYMENT, MODEL_VERSION):
        with catalog.session() as session:
            key = {"subject_guid": entity.guid} if entity.type_name == DEPLOYMENT else {"version_guid": entity.guid}
            extra["checks"] = evidence.history(session, **key, limit=50)
    if entity.type_name == DEPLOYMENT:
        runs = scoring_runs(_catalog(), entity)
        extra["runs"] = runs
        extra["pinned"] = pinned(runs)
        extra["drift_chart"] = drift_chart(runs)
        extra["deployed"] = deployed_versions(catalog, entity)
    if entity.type_name == SCORING:
        extra["scoring"] = scoring_detail(entity)
    if entity.type_name == MODEL_VERSION:
        name, _, rest = entity.qualified_name.rpartition("@")[0].rpartition("/")
        extra["card_url"] = url_for("ui.model_card_page", name=name, version=int(rest)) if rest.isdigit() else None
    shown_elsewhere = {"qualifiedName", *(("checkResults", "drift") if entity.type_name == SCORING else ()),
                       *(("signature",) if extra.get("signature") else ())}
    attributes = {k: dated(k, v) for k, v in entity.attributes.items() if k not in shown_elsewhere}
    return render_template("entity.html", entity=entity, attributes=sorted(attributes.items()),
                           relationships=sorted(entity.relationship_attributes.items()), direct=direct,
                           propagated=propagated, picture=picture, upstream=ups, downstream=downs,
                           directions=_DIRECTIONS, max_depth=MAX_PAGE_DEPTH, **extra)


# -- errors ------------------------------------------------------------------------------------


def _error_page(status: int, message: str):
    return render_template("error.html", status=status, message=message), status


@bp.errorhandler(PageError)
def _page_error(exc: PageError):
    return _error_page(exc.status, exc.message)


@bp.errorhandler(ReferenceNotFound)
def _not_found(exc: ReferenceNotFound):
    return _error_page(404, str(exc))


@bp.errorhandler(CatalogError)
def _catalog_error(exc: CatalogError):
    return _error_page(400, str(exc))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(entity_url=entity_url, render_value=render_value, when=when, metric=metric,
                                 display_name=display_name, run_url=run_url,
                                 compliance_url=lambda digest: url_for("ui.compliance_page", digest=digest))
