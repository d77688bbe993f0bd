"""OpenLineage run events (what Marquez takes at ``POST /api/v1/lineage``) as catalog entities.

An event names a run (``run.runId``) of a job (``job.namespace``, ``job.name``) and the
data sets it reads (``inputs``) and writes (``outputs``), each by ``namespace`` and ``name``.
They become (types in ``5100-openlineage.json``):

- ``ol_job``, a Process named ``<name>@<namespace>`` whose inputs and outputs are the
  data sets: the lineage. They are those of the run of the latest event (each event of a
  run adds to the run's ``inputDatasets``/``outputDatasets``); a run that named no input
  (output) yet leaves the job's inputs (outputs) as they were;
- ``ol_run`` (``run:<runId>@<job namespace>``), related to its job: ``state`` (RUNNING,
  COMPLETED, FAILED, ABORTED, as the latest event by ``eventTime`` left it; ``OTHER`` changes
  none), ``startTime`` (the START event's time), ``endTime`` (COMPLETE/FAIL/ABORT's), the
  latest ``eventType``/``eventTime``, and run facets (nominalTime, parent, errorMessage,
  processing_engine);
- ``ol_dataset`` (``<name>@<namespace>``) with the facets ``schema``, ``dataSource``,
  ``symlinks``, ``columnLineage`` and ``documentation`` as attributes, unless the data set is
  already in the catalog as another DataSet type under ``<name>@<namespace>``, under a
  symlink's ``<name>@<namespace>`` or under ``<name>@<dataSource.name>``: then the job links
  to that entity (e.g. the ``hive_table`` ``default.wine@cm``) and writes nothing to it.

Writes go through ``store.upsert_batch`` (diff, then apply) under the source ``openlineage``,
in one transaction per event. A malformed event raises ``AtlasApiError`` 400 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from catalog import store
from catalog.atlas import stored_to_entity
from catalog.embedded.errors import AtlasApiError
from catalog.errors import EntityValidationError, ReferenceNotFound, UnknownTypeError
from catalog.model import DELETED, Entity, EntityRef, SourceBatch, StoredEntity

if TYPE_CHECKING:
    from catalog.service import Catalog
    from catalog.types.registry import TypeRegistry

__all__ = ["SOURCE", "BAD_REQUEST", "EVENT_TYPES", "DatasetIn", "RunEvent", "Recorded", "scoped_name", "run_name",
           "parse_event", "record_event"]

SOURCE = "openlineage"
#: Atlas's ``BAD_REQUEST`` ("{0}").
BAD_REQUEST = "ATLAS-400-00-029"
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER")
_STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED", "ABORT": "ABORTED"}
_TERMINAL = ("COMPLETE", "FAIL", "ABORT")
DATASET_TYPE, JOB_TYPE, RUN_TYPE = "ol_dataset", "ol_job", "ol_run"
MAX_DATASETS = 1000
MAX_NAME_CHARS = 1000
MAX_TEXT_CHARS = 100_000
_FRACTION = re.compile(r"(\.\d{6})\d+")


def bad(where: str, message: str) -> AtlasApiError:
    return AtlasApiError(400, BAD_REQUEST, f"{where}: {message}")


def scoped_name(namespace: str, name: str) -> str:
    """The qualifiedName of a job or data set: ``<name>@<namespace>``, as Atlas scopes names by cluster."""
    return f"{name}@{namespace}"


def run_name(namespace: str, run_id: str) -> str:
    return f"run:{run_id}@{namespace}"


@dataclass(frozen=True)
class DatasetIn:
    """A data set of an event: its OpenLineage name, the attributes its facets give, its other names."""

    namespace: str
    name: str
    attributes: Mapping[str, Any]
    aliases: tuple[str, ...] = ()

    @property
    def qualified_name(self) -> str:
        return scoped_name(self.namespace, self.name)


@dataclass(frozen=True)
class RunEvent:
    """A validated OpenLineage RunEvent."""

    event_type: str | None
    event_time: int
    producer: str
    run_id: str
    job_namespace: str
    job_name: str
    job_attributes: Mapping[str, Any]
    run_attributes: Mapping[str, Any]
    inputs: tuple[DatasetIn, ...]
    outputs: tuple[DatasetIn, ...]


@dataclass
class Recorded:
    """What an event was written as: guids, and the data sets linked to entities of other types."""

    job: str
    run: str
    inputs: list[EntityRef] = field(default_factory=list)
    outputs: list[EntityRef] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


# -- reading the event ------------------------------------------------------------------------


def _text(value: Any, where: str, *, required: bool = False, limit: int = MAX_TEXT_CHARS) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise bad(where, "required: a non-empty string" if required and value is None
                  else f"expected a non-empty string, got {type(value).__name__}")
    if len(value) > limit:
        raise bad(where, f"longer than {limit} characters")
    return value


def _object(value: Any, where: str, *, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise bad(where, "required: an object" if value is None else f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str, limit: int = MAX_DATASETS) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(where, f"expected a list, got {type(value).__name__}")
    if len(value) > limit:
        raise bad(where, f"{len(value)} items: at most {limit}")
    return value


def _time(value: Any, where: str, *, required: bool = False) -> int | None:
    """ISO-8601 date-time (an offset, or UTC when none) as epoch milliseconds."""
    text = _text(value, where, required=required, limit=64)
    if text is None:
        return None
    try:
        if "t" not in text.lower():
            raise ValueError
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()))
    except ValueError:
        raise bad(where, f"expected an ISO-8601 date-time such as 2024-05-01T10:00:00Z, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _facet(facets: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any] | None:
    """A facet by name: None when absent, ``{}`` when ``_deleted`` (its attributes are cleared)."""
    value = facets.get(name)
    if value is None:
        return None
    facet = _object(value, f"{where}.{name}")
    return {} if facet.get("_deleted") is True else facet


def _schema_fields(fields: Any, where: str, prefix: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(_list(fields, where, limit=10_000)):
        item = _object(raw, f"{where}[{i}]", required=True)
        name = prefix + (_text(item.get("name"), f"{where}[{i}].name", required=True) or "")
        entry = {"name": name, "type": _text(item.get("type"), f"{where}[{i}].type"),
                 "description": _text(item.get("description"), f"{where}[{i}].description")}
        out.append({k: v for k, v in entry.items() if v is not None})
        if prefix.count(".") < 8:
            out.extend(_schema_fields(item.get("fields"), f"{where}[{i}].fields", name + "."))
    return out


def _column_lineage(facet: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    out = []
    for name, raw in _object(facet.get("fields"), f"{where}.fields").items():
        at = f"{where}.fields.{name}"
        item = _object(raw, at, required=True)
        inputs = []
        for i, source in enumerate(_list(item.get("inputFields"), f"{at}.inputFields", limit=10_000)):
            src = _object(source, f"{at}.inputFields[{i}]", required=True)
            ref = {key: _text(src.get(key), f"{at}.inputFields[{i}].{key}", required=True)
                   for key in ("namespace", "name", "field")}
            steps = _list(src.get("transformations"), f"{at}.inputFields[{i}].transformations")
            ref["transformations"] = ["/".join(str(s.get(k)) for k in ("type", "subtype") if s.get(k))
                                      for s in steps if isinstance(s, Mapping) and s.get("type")]
            inputs.append(ref)
        entry = {"field": name, "inputFields": inputs,
                 "transformationType": _text(item.get("transformationType"), f"{at}.transformationType"),
                 "transformationDescription": _text(item.get("transformationDescription"),
                                                    f"{at}.transformationDescription")}
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def _dataset(raw: Any, where: str) -> DatasetIn:
    item = _object(raw, where, required=True)
    namespace = _text(item.get("namespace"), f"{where}.namespace", required=True, limit=MAX_NAME_CHARS) or ""
    name = _text(item.get("name"), f"{where}.name", required=True, limit=MAX_NAME_CHARS) or ""
    at = f"{where}.facets"
    facets = _object(item.get("facets"), at)
    attributes: dict[str, Any] = {"namespace": namespace, "name": name}
    aliases: list[str] = []
    if (schema := _facet(facets, "schema", at)) is not None:
        attributes["schema"] = _schema_fields(schema.get("fields"), f"{at}.schema.fields") if schema else None
    if (source := _facet(facets, "dataSource", at)) is not None:
        attributes["dataSourceName"] = _text(source.get("name"), f"{at}.dataSource.name", limit=MAX_NAME_CHARS)
        attributes["dataSourceUri"] = _text(source.get("uri"), f"{at}.dataSource.uri")
        if attributes["dataSourceName"] and attributes["dataSourceName"] != namespace:
            aliases.append(scoped_name(attributes["dataSourceName"], name))
    if (links := _facet(facets, "symlinks", at)) is not None:
        identifiers = []
        for i, raw_id in enumerate(_list(links.get("identifiers"), f"{at}.symlinks.identifiers")):
            ident = _object(raw_id, f"{at}.symlinks.identifiers[{i}]", required=True)
            one = {key: _text(ident.get(key), f"{at}.symlinks.identifiers[{i}].{key}", required=key != "type",
                              limit=MAX_NAME_CHARS) for key in ("namespace", "name", "type")}
            identifiers.append({k: v for k, v in one.items() if v is not None})
            aliases.append(scoped_name(one["namespace"] or "", one["name"] or ""))
        attributes["symlinks"] = identifiers or None
    if (lineage := _facet(facets, "columnLineage", at)) is not None:
        attributes["columnLineage"] = _column_lineage(lineage, f"{at}.columnLineage") or None
    if (docs := _facet(facets, "documentation", at)) is not None:
        attributes["description"] = _text(docs.get("description"), f"{at}.documentation.description")
    return DatasetIn(namespace, name, attributes, tuple(dict.fromkeys(a for a in aliases if a != scoped_name(
        namespace, name))))


def _job_attributes(facets: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (kind := _facet(facets, "jobType", where)) is not None:
        for key in ("processingType", "integration", "jobType"):
            out[key] = _text(kind.get(key), f"{where}.jobType.{key}", limit=255)
    if (sql := _facet(facets, "sql", where)) is not None:
        out["sqlQuery"] = _text(sql.get("query"), f"{where}.sql.query")
    if (code := _facet(facets, "sourceCodeLocation", where)) is not None:
        out["sourceCodeUrl"] = _text(code.get("url"), f"{where}.sourceCodeLocation.url")
    if (docs := _facet(facets, "documentation", where)) is not None:
        out["description"] = _text(docs.get("description"), f"{where}.documentation.description")
    return out


def _run_attributes(facets: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (nominal := _facet(facets, "nominalTime", where)) is not None:
        out["nominalStartTime"] = _time(nominal.get("nominalStartTime"), f"{where}.nominalTime.nominalStartTime")
        out["nominalEndTime"] = _time(nominal.get("nominalEndTime"), f"{where}.nominalTime.nominalEndTime")
    if (parent := _facet(facets, "parent", where)) is not None:
        run = _object(parent.get("run"), f"{where}.parent.run")
        job = _object(parent.get("job"), f"{where}.parent.job")
        out["parentRunId"] = _text(run.get("runId"), f"{where}.parent.run.runId", limit=255)
        job_ns = _text(job.get("namespace"), f"{where}.parent.job.namespace", limit=MAX_NAME_CHARS)
        job_name = _text(job.get("name"), f"{where}.parent.job.name", limit=MAX_NAME_CHARS)
        out["parentJob"] = scoped_name(job_ns, job_name) if job_ns and job_name else None
    if (error := _facet(facets, "errorMessage", where)) is not None:
        out["errorMessage"] = _text(error.get("message"), f"{where}.errorMessage.message")
    if (engine := _facet(facets, "processing_engine", where)) is not None:
        parts = [_text(engine.get(k), f"{where}.processing_engine.{k}", limit=255) for k in ("name", "version")]
        out["processingEngine"] = " ".join(p for p in parts if p) or None
    return out


def parse_event(body: Any) -> RunEvent:
    """A RunEvent from its JSON; ``AtlasApiError`` 400 naming the field (Marquez's required fields too)."""
    event = _object(body, "event", required=True)
    kind = event.get("eventType")
    if kind is not None and kind not in EVENT_TYPES:
        raise bad("eventType", f"expected one of {', '.join(EVENT_TYPES)}, got {str(kind)[:40]!r}")
    run = _object(event.get("run"), "run", required=True)
    job = _object(event.get("job"), "job", required=True)
    inputs = [_dataset(d, f"inputs[{i}]") for i, d in enumerate(_list(event.get("inputs"), "inputs"))]
    outputs = [_dataset(d, f"outputs[{i}]") for i, d in enumerate(_list(event.get("outputs"), "outputs"))]
    return RunEvent(
        event_type=kind,
        event_time=_time(event.get("eventTime"), "eventTime", required=True) or 0,
        producer=_text(event.get("producer"), "producer", required=True, limit=2048) or "",
        run_id=_text(run.get("runId"), "run.runId", required=True, limit=255) or "",
        job_namespace=_text(job.get("namespace"), "job.namespace", required=True, limit=MAX_NAME_CHARS) or "",
        job_name=_text(job.get("name"), "job.name", required=True, limit=MAX_NAME_CHARS) or "",
        job_attributes=_job_attributes(_object(job.get("facets"), "job.facets"), "job.facets"),
        run_attributes=_run_attributes(_object(run.get("facets"), "run.facets"), "run.facets"),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
    )


# -- writing it -----------------------------------------------------------------------------


def _linked(session: Session, types: list[str], dataset: DatasetIn) -> EntityRef | None:
    """The entity of another DataSet type the data set already is in the catalog, if any."""
    for qualified_name in (dataset.qualified_name, *dataset.aliases):
        found = [e for e in store.find_by_qualified_name(session, qualified_name, types) if e.status != DELETED]
        if found:
            return EntityRef(found[0].type_name, found[0].qualified_name)
    return None


def _datasets(session: Session, registry: TypeRegistry, event: RunEvent) -> tuple[
        list[EntityRef], list[EntityRef], dict[str, Entity]]:
    """Each side's references, and the ol_dataset entities to write (one per data set)."""
    types = sorted(registry.subtypes("DataSet") - {DATASET_TYPE})
    own: dict[str, Entity] = {}
    sides: list[list[EntityRef]] = [[], []]
    for side, datasets in zip(sides, (event.inputs, event.outputs), strict=True):
        for dataset in datasets:
            ref = _linked(session, types, dataset)
            if ref is None:
                ref = EntityRef(DATASET_TYPE, dataset.qualified_name)
                entity = own.setdefault(ref.guid, Entity(DATASET_TYPE, dataset.qualified_name, {}))
                entity.attributes.update({k: v for k, v in dataset.attributes.items()
                                          if v is not None or k not in entity.attributes})
            if ref not in side:
                side.append(ref)
    return sides[0], sides[1], own


def _job(event: RunEvent, old: StoredEntity | None, run: Entity) -> Entity:
    base = stored_to_entity(old).attributes if old is not None else {}
    attributes: dict[str, Any] = {"name": event.job_name, "namespace": event.job_namespace}
    attributes.update({k: v for k, v in event.job_attributes.items() if v is not None or k in base})
    for side, of_run in (("inputs", "inputDatasets"), ("outputs", "outputDatasets")):
        # what the event's run read (wrote) so far; a run that named none keeps what the job had
        before = [r for r in base.get(side) or () if isinstance(r, EntityRef)]
        attributes[side] = list(run.attributes[of_run]) or before
    return Entity(JOB_TYPE, scoped_name(event.job_namespace, event.job_name), attributes)


def _run(event: RunEvent, old: StoredEntity | None, inputs: list[EntityRef], outputs: list[EntityRef]) -> Entity:
    before = dict(old.attributes) if old is not None else {}
    attributes: dict[str, Any] = {"name": f"{event.job_name} {event.run_id}", "runId": event.run_id,
                                  "producer": event.producer}
    stored = stored_to_entity(old).attributes if old is not None else {}
    for side, refs in (("inputDatasets", inputs), ("outputDatasets", outputs)):  # every event of the run adds
        seen = [r for r in stored.get(side) or () if isinstance(r, EntityRef)]
        attributes[side] = seen + [r for r in refs if r not in seen]
    attributes.update({k: v for k, v in event.run_attributes.items() if v is not None or k in before})
    latest = before.get("eventTime")
    if latest is None or event.event_time >= latest:
        attributes.update(eventType=event.event_type or "OTHER", eventTime=event.event_time)
    if event.event_type in _STATES:  # the state of the latest state-changing event wins
        changed_at = before.get("stateTime") if isinstance(before.get("stateTime"), int) else None
        if before.get("state") is None or changed_at is None or event.event_time >= changed_at:
            attributes["state"] = _STATES[event.event_type]
    if event.event_type == "START" and (before.get("startTime") is None or event.event_time < before["startTime"]):
        attributes["startTime"] = event.event_time
    if event.event_type in _TERMINAL:
        attributes["endTime"] = event.event_time
    if "state" in attributes:
        attributes["stateTime"] = event.event_time
    relationships = {"job": EntityRef(JOB_TYPE, scoped_name(event.job_namespace, event.job_name))}
    return Entity(RUN_TYPE, run_name(event.job_namespace, event.run_id), attributes, relationships)


def record_event(catalog: Catalog, event: RunEvent, *, user: str) -> Recorded:
    """Write the event's job, run and data sets in one transaction (diff, then apply)."""
    registry = catalog.registry
    job_ref = EntityRef(JOB_TYPE, scoped_name(event.job_namespace, event.job_name))
    run_ref = EntityRef(RUN_TYPE, run_name(event.job_namespace, event.run_id))
    with catalog.write_session() as session, session.begin():
        inputs, outputs, datasets = _datasets(session, registry, event)
        stored = store.get_entities(session, [job_ref.guid, run_ref.guid])
        run = _run(event, stored.get(run_ref.guid), inputs, outputs)
        job = _job(event, stored.get(job_ref.guid), run)
        try:
            result = store.upsert_batch(session, SourceBatch(SOURCE, [*datasets.values(), job, run]), registry,
                                        user=user)
        except (EntityValidationError, UnknownTypeError, ReferenceNotFound) as exc:
            raise AtlasApiError(400, BAD_REQUEST, f"event: {exc}") from None
    return Recorded(job_ref.guid, run_ref.guid, inputs, outputs, list(result.created), list(result.updated))
