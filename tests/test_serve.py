"""``catalog serve`` for real: the console script in a process of its own, driven over loopback.

Both servers it can run: Werkzeug's (the default, one process) and gunicorn's (``--workers
N``, gthread workers). ``--port 0`` takes a free port, which the first line names. Over
gunicorn with two workers, a write answered by one process is read back from the other
(the store is shared, each worker has its own connections), a typedef created in one
process validates entities in the other, and a client's connection stays open between
requests (Werkzeug closes it after every answer).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from catalog import users
from catalog.config import Settings
from catalog.model import guid_for
from catalog.service import Catalog

CATALOG_SCRIPT = Path(sys.executable).parent / "catalog"
ADMIN = ("serve-admin", "serve-admin-password")
V2 = "/api/atlas/v2"


def _env(store: Path) -> dict[str, str]:
    """The test's environment without its CATALOG_ settings (but a hook secret the test set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CATALOG_") or k == "CATALOG_HOOK_SECRET"}
    env.update(CATALOG_DATABASE_URL=f"sqlite:///{store}", CATALOG_READ_ACCESS="open", PYTHONUNBUFFERED="1")
    return env


@contextmanager
def _serving(tmp_path: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    """``catalog serve --port 0 ARGS`` over a store with an admin: (its URL, the process, its log)."""
    store = tmp_path / "catalog.db"
    with Catalog(Settings(database_url=f"sqlite:///{store}")) as catalog:
        with catalog.write_session() as session, session.begin():
            users.add_user(session, *ADMIN, "admin")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(CATALOG_SCRIPT), "serve", "--port", "0", *args], cwd=tmp_path,
                                env=_env(store), stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r" on (http://127\.0\.0\.1:(\d+))/ ", log.read_text())
            if found:
                try:
                    if requests.get(found.group(1) + "/healthz", timeout=5).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"catalog serve {' '.join(args)} did not answer:\n{log.read_text()}")
            time.sleep(0.1)
        assert int(found.group(2)) != 0
        yield found.group(1), proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _table(name: str, type_name: str = "hive_table") -> dict:
    return {"typeName": type_name, "guid": "-1", "attributes": {"qualifiedName": f"default.{name}@cm", "name": name}}


@pytest.mark.parametrize(("args", "kept"), [((), False), (("--workers", "2", "--threads", "2"), True)],
                         ids=["werkzeug", "gunicorn"])
def test_serve_writes_and_reads_over_loopback(tmp_path: Path, args: tuple[str, ...], kept: bool) -> None:
    with _serving(tmp_path, *args) as (url, proc, log):
        typedef = {"entityDefs": [{"name": "serve_table", "superTypes": ["hive_table"], "attributeDefs": []}]}
        created = requests.post(url + V2 + "/types/typedefs", json=typedef, auth=ADMIN, timeout=30)
        assert created.status_code == 200, created.text
        guids = []
        for i in range(6):  # over gunicorn, the two workers answer some each: every one knows the new type
            body = {"entities": [_table(f"t{i}", "serve_table")]}
            answer = requests.post(url + V2 + "/entity/bulk", json=body, auth=ADMIN, timeout=30)
            assert answer.status_code == 200, answer.text
            guids.append(answer.json()["guidAssignments"]["-1"])
        assert guids == [guid_for("serve_table", f"default.t{i}@cm") for i in range(6)]

        host, port = url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for i, guid in enumerate(guids):
                connection.request("GET", f"{V2}/entity/guid/{guid}")
                if i == 0:
                    first = connection.sock
                answer = connection.getresponse()
                found = json.loads(answer.read())
                assert answer.status == 200
                assert found["entity"]["guid"] == guid and found["entity"]["typeName"] == "serve_table"
                assert found["entity"]["attributes"]["name"] == f"t{i}"
                assert answer.getheader("Connection") == ("keep-alive" if kept else "close")
            if kept:  # gunicorn: one connection, kept open throughout
                assert connection.sock is first and first is not None
            else:  # Werkzeug closes every connection after its answer
                assert connection.sock is None
        finally:
            connection.close()
        missing = requests.get(f"{url}{V2}/entity/guid/{guid_for('hive_table', 'nope@cm')}", timeout=30)
        assert missing.status_code == 404 and missing.json()["errorCode"] == "ATLAS-404-00-005"
        server = missing.headers["Server"]  # no framework or Python version
        assert server == ("gunicorn" if kept else "catalog"), server
    assert proc.returncode in (0, -signal.SIGINT)  # gunicorn exits 0; Werkzeug's server dies of the signal
    text = log.read_text()
    assert text.startswith("serving the catalog (sqlite:///") and "error" not in text.lower()


def test_serve_with_workers_on_a_port_in_use_exits_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([str(CATALOG_SCRIPT), "serve", "--workers", "1", "--port", str(port)], cwd=tmp_path,
                                env=_env(tmp_path / "c.db"), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.rstrip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert result.stdout == ""


def test_serve_threads_need_workers(tmp_path: Path) -> None:
    result = subprocess.run([str(CATALOG_SCRIPT), "serve", "--threads", "2"], cwd=tmp_path,
                            env=_env(tmp_path / "c.db"), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--threads is the threads of each gunicorn worker: it needs --workers" in result.stderr


@pytest.mark.parametrize("args", [(), ("--workers", "1")], ids=["werkzeug", "gunicorn"])
def test_serve_works_the_hooks_queue_and_creates_no_mlflow_store(tmp_path: Path, args: tuple[str, ...],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A signed webhook is queued by the request and tried by the worker ``catalog serve`` runs.

    There is no MLflow here, so the job stays queued with the reason; the reconciler says it
    once, and nothing creates an MLflow database where the catalog was started.
    """
    import sqlite3
    import uuid

    from mlflow.webhooks.delivery import _generate_hmac_signature

    secret = "serve-test-secret-0123456789"
    monkeypatch.setenv("CATALOG_HOOK_SECRET", secret)
    body = json.dumps({"entity": "model_version", "action": "created", "timestamp": "2026-12-01T12:00:00+00:00",
                       "data": {"name": "wine-quality", "version": "3", "source": "models:/m-1", "run_id": "abc",
                                "tags": {}, "description": None}})
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp,
               "X-MLflow-Signature": _generate_hmac_signature(secret, delivery, stamp, body)}
    with _serving(tmp_path, *args) as (url, proc, log):
        answer = requests.post(url + "/hooks/mlflow", data=body, headers=headers, timeout=30)
        assert answer.status_code == 202 and answer.json()["status"] == "queued", answer.text
        deadline = time.monotonic() + 30
        while True:
            with sqlite3.connect(tmp_path / "catalog.db") as con:
                row = con.execute("SELECT status, attempts, message FROM hook_job").fetchone()
            if (row[0] == "queued" and row[1] >= 1) or time.monotonic() > deadline:  # back in the queue, tried
                break
            time.sleep(0.2)
        assert row[0] == "queued" and row[1] >= 1, row
        assert "mlflow.db does not exist" in row[2]
    assert not (tmp_path / "mlflow.db").exists()
    text = log.read_text()
    assert text.count("hook reconciler: MLflow database sqlite:///mlflow.db does not exist") == 1, text
