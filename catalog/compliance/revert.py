"""Moving an alias back in MLflow, and the audit event that says the catalog did it.

Why apart from the gate: these are the two writes of the revert, one to MLflow and one
to the store, each small enough to read at a glance; the gate decides whether to call
them. The audit event is a row of the store's append-only audit log (the same table every
change is written to), on the model version the alias was moved off, so
``catalog audit models:/<model>/<version>`` shows it next to that version's changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from catalog import naming, store
from catalog.canonical import canonical_json
from catalog.config import redact_uri
from catalog.errors import SourceUnavailableError
from catalog.store.schema import AuditRow, now_ms

if TYPE_CHECKING:
    from catalog.model import StoredEntity
    from catalog.service import Catalog

__all__ = [
    "ALIAS_REVERTED", "SOURCE", "alias_version", "last_revert", "move_alias", "previous_from_audit", "record_revert",
]

#: The audit action of a revert.
ALIAS_REVERTED = "ALIAS_REVERTED"
#: The audit source: the same as every other write of the compliance check.
SOURCE = "catalog-check"


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _unavailable(uri: str, what: str, exc: BaseException) -> SourceUnavailableError:
    from catalog.mlflow_source.connect import scrub

    detail = scrub(str(exc))
    if len(detail) > 500:
        detail = detail[:500] + "..."
    return SourceUnavailableError(f"MLflow at {redact_uri(uri)}: {what} failed: {type(exc).__name__}: {detail}")


def alias_version(uri: str, model: str, alias: str) -> str | None:
    """The version ``alias`` of ``model`` points at in MLflow now, or None when it points nowhere."""
    from mlflow.exceptions import MlflowException

    from catalog.mlflow_source.connect import http_env, source_errors

    with http_env(_is_http(uri)):
        try:
            return str(_client(uri).get_model_version_by_alias(model, alias).version)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise _unavailable(uri, f"reading alias {alias!r} of {model!r}", exc) from None
        except source_errors() as exc:
            raise _unavailable(uri, f"reading alias {alias!r} of {model!r}", exc) from None


def move_alias(uri: str, model: str, alias: str, to: str | None) -> str | None:
    """Point ``alias`` of ``model`` at version ``to``, or delete it when ``to`` is None.

    Returns the version the alias points at afterwards (None: deleted). When version
    ``to`` is gone from MLflow (deleted since), the alias is deleted instead: the version
    that failed must not keep it, and there is nothing earlier to give it back to.
    """
    from mlflow.exceptions import MlflowException

    from catalog.mlflow_source.connect import http_env, source_errors

    with http_env(_is_http(uri)):
        client = _client(uri)
        try:
            if to is not None:
                try:
                    client.set_registered_model_alias(model, alias, to)
                    return to
                except MlflowException as exc:
                    if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                        raise
            client.delete_registered_model_alias(model, alias)
            return None
        except source_errors() as exc:
            target = f"version {to}" if to is not None else "nothing (delete)"
            raise _unavailable(uri, f"moving alias {alias!r} of {model!r} to {target}", exc) from None


def record_revert(
    catalog: Catalog, *, subject: StoredEntity | None, detail: Mapping[str, Any], user: str, at: int | None = None,
) -> store.AuditEvent:
    """Append the ``ALIAS_REVERTED`` audit event about ``subject`` (the version moved off) and return it."""
    at = now_ms() if at is None else at
    row = AuditRow(
        at=at, user=user, source=SOURCE, action=ALIAS_REVERTED,
        entity_guid=subject.guid if subject is not None else "",
        type_name=subject.type_name if subject is not None else "",
        qualified_name=subject.qualified_name if subject is not None else "",
        detail=canonical_json(dict(detail)),
    )
    with catalog.write_session() as session, session.begin():
        session.add(row)
        session.flush()
        event_id = row.id
    return store.AuditEvent(event_id, at, user, SOURCE, ALIAS_REVERTED, row.entity_guid, row.type_name,
                            row.qualified_name, dict(detail))


def last_revert(catalog: Catalog, model: str, alias: str, *, limit: int = 1000) -> store.AuditEvent | None:
    """The newest ``ALIAS_REVERTED`` event of ``alias`` of ``model``, or None."""
    import json

    from sqlalchemy import select

    query = (select(AuditRow).where(AuditRow.action == ALIAS_REVERTED, AuditRow.source == SOURCE)
             .order_by(AuditRow.id.desc()).limit(limit))
    with catalog.session() as session:
        for row in session.scalars(query):
            try:
                detail = json.loads(row.detail)
            except ValueError:
                continue
            if isinstance(detail, dict) and detail.get("model") == model and detail.get("alias") == alias:
                return store.AuditEvent(row.id, row.at, row.user, row.source, row.action, row.entity_guid,
                                        row.type_name, row.qualified_name, detail)
    return None


def previous_from_audit(
    catalog: Catalog, model: str, alias: str, version: str, *, limit: int = 10_000,
) -> tuple[bool, str | None]:
    """``(known, previous)``: the version ``alias`` left when the catalog last saw ``version`` take it.

    For a gate that runs after an ingest already saw the move: each ingest's audit event
    of an updated version records its ``aliases`` before and after. The move is the
    newest update of ``version`` that added ``alias``; the version that lost it in the
    same write (same time and source) is the previous one, and none losing it there means
    no version carried it. ``known`` is False when the log does not say (the version was
    created carrying the alias, or the values were too long to keep): then nothing is guessed.
    """
    from sqlalchemy import select

    from catalog.model import MODEL_VERSION

    instance = catalog.settings.mlflow_instance
    gated = naming.model_version_qn(model, version, instance)
    prefix, suffix = f"{model}/", f"@{instance}"
    query = (
        select(AuditRow.at, AuditRow.source, AuditRow.qualified_name, AuditRow.detail)
        .where(AuditRow.action == "ENTITY_UPDATE", AuditRow.type_name == MODEL_VERSION,
               AuditRow.qualified_name.startswith(prefix, autoescape=True),
               AuditRow.detail.contains('"aliases"', autoescape=True))
        .order_by(AuditRow.id.desc()).limit(limit)
    )
    with catalog.session() as session:
        rows = [(at, source, qn, _aliases_change(detail)) for at, source, qn, detail in session.execute(query)]
    rows = [r for r in rows if r[2].endswith(suffix) and r[3] is not None]
    gain = next(((at, source) for at, source, qn, (old, new) in rows  # type: ignore[misc]
                 if qn == gated and alias not in old and alias in new), None)
    if gain is None:
        return False, None
    losers = {qn for at, source, qn, (old, new) in rows  # type: ignore[misc]
              if (at, source) == gain and qn != gated and alias in old and alias not in new}
    if len(losers) > 1:
        return False, None
    if not losers:
        return True, None
    number = losers.pop()[len(prefix):-len(suffix)]
    return (True, number) if number.isdigit() else (False, None)


def _aliases_change(detail: str) -> tuple[list[str], list[str]] | None:
    """``(before, after)`` of an update's ``aliases``; None when the event does not carry both as lists."""
    import json

    try:
        change = (json.loads(detail).get("changed") or {}).get("aliases")
    except (ValueError, AttributeError):
        return None
    if not isinstance(change, list) or len(change) != 2:
        return None
    old, new = (v if v is not None else [] for v in change)
    if not isinstance(old, list) or not isinstance(new, list):
        return None
    return [str(a) for a in old], [str(a) for a in new]


def _is_http(uri: str) -> bool:
    return urlsplit(uri).scheme.lower() in ("http", "https")
