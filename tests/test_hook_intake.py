"""``POST /hooks/mlflow`` refusing what it must: bad, missing or stale signatures, replays, malformed bodies.

Requests are signed with MLflow's own signing function, so a delivery here is byte for
byte what an MLflow server sends. Each refusal is checked for its status, its reason and
that nothing was written (no job, no delivery id kept). No MLflow server is needed: the
hook answers before any work is done.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from catalog.config import Settings
from catalog.errors import ConfigError
from catalog.intake import queue, sign
from catalog.service import Catalog
from catalog.store.schema import HookDeliveryRow, HookJobRow, now_ms
from tests.web_fixtures import catalog_app, client  # noqa: F401 - fixture

SECRET = "a-shared-secret-of-32-characters"
CREATED = {"entity": "model_version", "action": "created", "timestamp": "2026-12-01T12:00:00+00:00",
           "data": {"name": "wine-quality", "version": "3", "source": "models:/m-1", "run_id": "abc",
                    "tags": {}, "description": None}}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'catalog.db'}", hook_secret=SECRET,
                    read_access="authenticated", lineage_file=str(tmp_path / "none.yml"))


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    with catalog_app(settings, open_reads=False) as app:
        yield app


def headers_for(body: bytes, *, secret: str = SECRET, delivery_id: str | None = None,
                stamp: int | None = None) -> dict[str, str]:
    from mlflow.webhooks.delivery import _generate_hmac_signature

    delivery_id = delivery_id or str(uuid.uuid4())
    stamp = int(time.time()) if stamp is None else stamp
    return {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery_id,
            "X-MLflow-Timestamp": str(stamp),
            "X-MLflow-Signature": _generate_hmac_signature(secret, delivery_id, str(stamp), body.decode())
            if _is_utf8(body) else sign(secret, delivery_id, stamp, body)}


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def post(client: Any, body: dict | bytes, **kwargs: Any) -> Any:  # noqa: F811
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = kwargs.pop("headers", None) or headers_for(raw, **kwargs)
    return client.post("/hooks/mlflow", data=raw, headers=headers)


def written(settings: Settings) -> tuple[int, int]:
    """(jobs, delivery ids) in the store."""
    from sqlalchemy import func, select

    with Catalog(settings) as catalog, catalog.session() as session:
        return (session.scalar(select(func.count()).select_from(HookJobRow)),
                session.scalar(select(func.count()).select_from(HookDeliveryRow)))


def refused(answer: Any, status: int, message: str) -> None:
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.json["errorMessage"] == message


def test_a_signed_event_is_queued_without_user_credentials(client, settings):  # noqa: F811
    answer = post(client, CREATED, delivery_id="d-1")
    assert answer.status_code == 202
    assert answer.json == {"status": "queued", "event": "model_version.created", "deliveryId": "d-1", "job": 1,
                           "new": True, "message": "model_version.created wine-quality/3 queued as job 1"}
    with Catalog(settings) as catalog:
        [job] = queue.jobs(catalog)
    assert (job.origin, job.delivery_id, job.event.event, job.event.model, job.event.version, job.status,
            job.attempts) == ("hook", "d-1", "model_version.created", "wine-quality", "3", "queued", 0)
    assert job.event.data == CREATED["data"]
    assert client.get("/api/atlas/v2/types/typedefs").status_code == 401  # reads still need a user here


def test_a_bad_signature_is_refused_and_nothing_written(client, settings):  # noqa: F811
    refused(post(client, CREATED, secret="another-secret-entirely-32-chars"), 401,
            "bad X-MLflow-Signature: it is not the HMAC-SHA256 of this delivery under the catalog's secret "
            "(CATALOG_HOOK_SECRET must equal the webhook's secret in MLflow)")
    raw = json.dumps(CREATED).encode()
    altered = headers_for(raw)
    refused(post(client, raw.replace(b'"3"', b'"4"'), headers=altered), 401,
            "bad X-MLflow-Signature: it is not the HMAC-SHA256 of this delivery under the catalog's secret "
            "(CATALOG_HOOK_SECRET must equal the webhook's secret in MLflow)")
    garbled = {**altered, "X-MLflow-Signature": "sha256=abc"}
    refused(post(client, raw, headers=garbled), 401,
            "malformed X-MLflow-Signature: expected 'v1,<base64 HMAC-SHA256>'")
    assert written(settings) == (0, 0)


@pytest.mark.parametrize("header", ["X-MLflow-Signature", "X-MLflow-Timestamp", "X-MLflow-Delivery-Id"])
def test_a_missing_header_is_named(client, settings, header):  # noqa: F811
    raw = json.dumps(CREATED).encode()
    headers = {k: v for k, v in headers_for(raw).items() if k != header}
    refused(post(client, raw, headers=headers), 401, f"missing {header} header: not a signed MLflow webhook")
    assert written(settings) == (0, 0)


def test_a_stale_or_future_timestamp_is_refused(client, settings):  # noqa: F811
    now = int(time.time())
    answer = post(client, CREATED, stamp=now - 400)
    assert answer.status_code == 401
    assert answer.json["errorMessage"].startswith(f"stale X-MLflow-Timestamp {now - 400}: 4")
    assert answer.json["errorMessage"].endswith(" s old, outside the 300 s window (CATALOG_HOOK_WINDOW_SECONDS)")
    ahead = post(client, CREATED, stamp=now + 4000)
    assert ahead.status_code == 401
    assert " s in the future, outside the 300 s window" in ahead.json["errorMessage"]
    raw = json.dumps(CREATED).encode()
    refused(post(client, raw, headers={**headers_for(raw), "X-MLflow-Timestamp": "soon"}), 401,
            "malformed X-MLflow-Timestamp 'soon': expected unix seconds")
    assert written(settings) == (0, 0)


def test_a_replayed_delivery_is_refused_and_queued_once(client, settings):  # noqa: F811
    raw = json.dumps(CREATED).encode()
    headers = headers_for(raw, delivery_id="same-delivery")
    assert post(client, raw, headers=headers).status_code == 202
    again = post(client, raw, headers=headers)
    assert again.status_code == 401
    assert again.json["errorMessage"].startswith("replayed X-MLflow-Delivery-Id same-delivery: already received at ")
    assert again.json["errorMessage"].endswith(" (job 1); its work is queued once")
    assert written(settings) == (1, 1)


def test_a_repeated_event_joins_the_queued_job(client, settings):  # noqa: F811
    first, second = post(client, CREATED), post(client, CREATED)
    assert (first.json["job"], first.json["new"], second.json["job"], second.json["new"]) == (1, True, 1, False)
    assert written(settings) == (1, 2)


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "webhook body: not JSON (Expecting value: line 1 column 1 (char 0))"),
    (b"\xff\xfe", "webhook body: not UTF-8 text"),
    (b"[1, 2]", "webhook body: expected a JSON object, got an array"),
    (b'{"entity": "model_version", "data": {}}',
     "webhook body: action: expected an MLflow webhook action such as 'created', got null"),
    (b'{"entity": "model_version", "action": "created", "data": []}',
     "webhook body: data: expected an object (the model_version.created payload), got an array"),
    (b'{"entity": "model_version", "action": "created", "data": {"name": "m"}}',
     "webhook body: data.version: missing (a model_version.created event names it)"),
    (b'{"entity": "model_version", "action": "created", "data": {"name": "m", "version": "three"}}',
     "webhook body: data.version: expected a model version number as a string ('1', '2', ...), got 'three'"),
    (b'{"entity": "model_version_alias", "action": "created", "data": {"name": "m", "alias": "no way", '
     b'"version": "1"}}',
     "webhook body: data.alias: expected an MLflow alias (letters, digits, '_', '-'), got 'no way'"),
    (b'{"entity": "registered_model", "action": "created", "data": {"name": ""}}',
     "webhook body: data.name: expected a registered model name, got ''"),
])
def test_a_malformed_body_is_refused_with_the_field(client, settings, body, message):  # noqa: F811
    refused(post(client, body), 400, message)
    assert written(settings) == (0, 0)


def test_an_event_the_hook_does_not_handle_is_acknowledged_and_logged(client, settings, caplog):  # noqa: F811
    prompt = {"entity": "prompt", "action": "created", "timestamp": "x", "data": {"name": "p", "tags": {}}}
    with caplog.at_level(logging.INFO, logger="catalog.intake"):
        answer = post(client, prompt, delivery_id="d-prompt")
    assert answer.status_code == 200
    assert answer.json == {"status": "ignored", "event": "prompt.created", "deliveryId": "d-prompt",
                           "message": "prompt.created is not an event the catalog's hook handles"}
    assert "hook delivery d-prompt: prompt.created ignored" in caplog.text
    assert written(settings) == (0, 0)


def test_without_a_secret_every_webhook_is_refused(tmp_path, settings):
    with catalog_app(dataclasses.replace(settings, hook_secret="")) as app:
        refused(post(app.test_client(), CREATED), 401, "the catalog has no hook secret (CATALOG_HOOK_SECRET is not "
                "set): every webhook is refused")
    assert written(settings) == (0, 0)


def test_a_secret_being_rotated_may_be_one_of_several_signatures(client, settings):  # noqa: F811
    raw = json.dumps(CREATED).encode()
    headers = headers_for(raw, delivery_id="rot")
    old = sign("the-old-secret-that-is-long-enough", "rot", headers["X-MLflow-Timestamp"], raw)
    headers["X-MLflow-Signature"] = f"{old} {headers['X-MLflow-Signature']}"
    assert post(client, raw, headers=headers).status_code == 202
    assert sign(SECRET, "rot", headers["X-MLflow-Timestamp"], raw) == headers["X-MLflow-Signature"].split()[1]


def test_wrong_methods_and_oversized_bodies_answer_json(settings):
    with catalog_app(settings) as app:  # reads open: the method is what is wrong
        client = app.test_client()
        wrong = client.get("/hooks/mlflow")
        big = client.post("/hooks/mlflow", data=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    assert (wrong.status_code, wrong.json["errorCode"]) == (405, "ATLAS-405-00-000")
    assert big.status_code == 413 and big.is_json


def test_the_hook_settings_keep_the_secret_out_of_reprs_and_check_their_values():
    settings = Settings.from_env(environ={"CATALOG_HOOK_SECRET": "s3cret-value-for-the-hook",
                                          "CATALOG_HOOK_WINDOW_SECONDS": "60", "CATALOG_USER": "u"})
    assert (settings.hook_secret, settings.hook_window_seconds, settings.reconcile_interval_seconds) == (
        "s3cret-value-for-the-hook", 60, 300)
    assert "s3cret" not in repr(settings) and "hook_secret" not in repr(settings)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(environ={"CATALOG_HOOK_WINDOW_SECONDS": "0", "CATALOG_USER": "u"})
    assert str(raised.value) == "CATALOG_HOOK_WINDOW_SECONDS=0: expected an int >= 1"


def test_the_reconciler_where_there_is_no_mlflow_store_says_so_without_importing_mlflow(tmp_path: Path) -> None:
    """``catalog serve``'s hook worker reconciles at start and every 30 s while MLflow is missing.

    Importing MLflow takes about a second of CPU under the interpreter lock the request
    threads share: it was done before the store was found missing, and the entity reads of
    a just-started server went from 1.3 to 5.7 ms p50 (p99 2 -> 55 ms) beside it.
    """
    import subprocess
    import sys

    missing = tmp_path / "no-mlflow.db"
    script = (
        "import sys\n"
        "from catalog.errors import SourceUnavailableError\n"
        "from catalog.intake import registry\n"
        "try:\n"
        f"    registry.registry_state({f'sqlite:///{missing}'!r})\n"
        "except SourceUnavailableError as exc:\n"
        "    print('refused:', exc)\n"
        "print('mlflow imported:', 'mlflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert f"refused: MLflow database sqlite:///{missing} does not exist ({missing})" in done.stdout, done.stderr
    assert "mlflow imported: False" in done.stdout
    assert not missing.exists()


def test_the_worker_s_idle_poll_does_not_wait_for_the_write_lock(settings: Settings) -> None:
    """With no job due, ``claim`` only reads; a due job is still claimed once the lock is free.

    The worker polls every ``hook_poll_seconds``: taking the write lock for an empty queue
    made each poll wait behind a long ingest (up to the 60 s busy timeout) and made writers
    wait behind the poll.
    """
    import sqlite3
    import threading

    from catalog.intake.events import parse_event

    path = settings.database_url.removeprefix("sqlite:///")
    with Catalog(settings) as catalog:
        assert queue.claim(catalog) == []  # the store made, in WAL mode, before the lock is held
        holder = sqlite3.connect(path, isolation_level=None)
        got: list[list[queue.Job]] = []
        try:
            holder.execute("BEGIN IMMEDIATE")
            poll = threading.Thread(target=lambda: got.append(queue.claim(catalog)), daemon=True)
            poll.start()
            poll.join(10)
            assert got == [[]], "the idle poll waited for the write lock"
        finally:
            holder.rollback()
            holder.close()
        with catalog.write_session() as session, session.begin():
            queue.enqueue(session, parse_event(json.dumps(CREATED).encode()), origin="hook", now=now_ms())
        claimed = queue.claim(catalog)
        assert [(job.event.model, job.event.version, job.status) for job in claimed] == [("wine-quality", "3", "running")]
        assert queue.claim(catalog) == []
