"""MLflow -> Atlas entities, read incrementally (see docs/mlflow.md).

``read_mlflow(uri, cursor=...)`` returns a :class:`SourceBatch` of Atlas entities
(experiments, runs, logged datasets, logged models, registered models, model
versions) plus a JSON cursor; passing the cursor back makes the next read fetch
only what changed, found by MLflow queries:

- runs: ``attributes.start_time >=`` / ``attributes.end_time >=`` high-water
  marks (minus a clock-skew overlap) plus the ids of runs still open;
- logged models: ``last_updated_timestamp >=`` high-water mark;
- experiments, registered models and model versions: MLflow can filter none of
  them by time and does not bump ``last_updated_timestamp`` on tag or alias
  writes, so their (metadata-only) listings are read and compared to compact
  fingerprints kept in the cursor; only changed ones are turned into entities.

``mlflow`` is imported lazily; a sqlite store is opened read-only so a read can
never write to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar
from urllib.parse import urlsplit

from catalog.config import redact_uri
from catalog.errors import SourceUnavailableError
from catalog.mlflow_source.connect import (
    HTTP_PROBE_ENV,
    client_uri,
    http_env,
    patched_env,
    scrub,
    source_errors,
)
from catalog.mlflow_source.reader import (
    CURSOR_VERSION,
    OVERLAP_MS,
    MlflowRead,
    no_progress,
    Reader,
    cursor_usable,
    merge_cursor,
)

__all__ = ["MlflowRead", "read_mlflow", "read_mlflow_models", "cursor_usable", "merge_cursor", "CURSOR_VERSION",
           "OVERLAP_MS"]

T = TypeVar("T")


def read_mlflow(
    uri: str,
    *,
    instance: str = "mlflow",
    cluster: str = "cm",
    cursor: dict | None = None,
    page_size: int = 1000,
    progress: Callable[[str, int], None] | None = None,
) -> MlflowRead:
    """Read MLflow at ``uri`` into entities; with ``cursor``, only what changed since.

    Raises :class:`SourceUnavailableError` (naming the URI, without credentials)
    when MLflow cannot be reached or read; nothing is written anywhere.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")

    def read(client: object, tracking_uri: str, is_http: bool) -> MlflowRead:
        if is_http:
            with patched_env(HTTP_PROBE_ENV):
                client.search_experiments(max_results=1)  # type: ignore[attr-defined]
        reader = Reader(client, tracking_uri, instance, cluster, page_size, progress or no_progress)
        return reader.read(cursor)

    return _guarded(uri, read)


def read_mlflow_models(
    uri: str,
    names: Iterable[str],
    *,
    cursor: dict,
    instance: str = "mlflow",
    cluster: str = "cm",
    page_size: int = 1000,
) -> MlflowRead:
    """The registered models ``names`` (and what hangs off their changed versions), as an incremental read from
    ``cursor`` would emit them; ``MlflowRead.patch`` for ``merge_cursor`` instead of a cursor.

    ``cursor`` must be a usable cursor of ``instance`` (``cursor_usable``): what the
    catalog already holds is what the fingerprints in it say. Over HTTP, independent
    requests are sent in parallel and the first of them are the probe (no retries, 3 s).
    Raises :class:`SourceUnavailableError` like ``read_mlflow``.
    """
    from catalog.mlflow_source.targeted import TargetedReader

    if page_size < 1:
        raise ValueError(f"page_size must be >= 1, got {page_size}")
    wanted = sorted(set(names))

    def read(client: object, tracking_uri: str, is_http: bool) -> MlflowRead:
        reader = TargetedReader(client, tracking_uri, instance, cluster, page_size, parallel=is_http,
                                first_round=(lambda: patched_env(HTTP_PROBE_ENV)) if is_http else None)
        return reader.read(wanted, cursor)

    return _guarded(uri, read)


def _guarded(uri: str, read: Callable[[object, str, bool], T]) -> T:
    """``read(client, tracking_uri, is_http)`` with MLflow's errors as ``SourceUnavailableError`` naming ``uri``."""
    safe = redact_uri(uri)
    tracking_uri = client_uri(uri, safe)
    is_http = urlsplit(uri).scheme.lower() in ("http", "https")
    with http_env(is_http):
        try:
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            return read(client, tracking_uri, is_http)
        except SourceUnavailableError:
            raise
        except source_errors() as exc:
            detail = scrub(str(exc))
            if len(detail) > 500:
                detail = detail[:500] + "..."
            message = f"MLflow at {safe} could not be read: {type(exc).__name__}: {detail}"
            if safe != uri:  # never chain an exception whose text may carry credentials
                raise SourceUnavailableError(message) from None
            raise SourceUnavailableError(message) from exc
