"""A fault-injecting TCP proxy for HTTP on loopback: what an Atlas cluster does to its clients on a bad day.

Each new connection takes the next fault of the script (then ``pass``):

- ``pass``: piped to the upstream server both ways;
- ``drop``: closed as soon as it is accepted (the client sees the connection die);
- ``503``: the request is read and answered ``503 Service Unavailable`` (``500``: ``500 Internal Server Error``);
- ``stall``: the request is read and nothing is answered for ``stall_seconds``, then closed;
- ``hold``: the request is forwarded and the upstream answers it (the change is made), but the
  answer is held back for ``stall_seconds`` (what a client killed mid-request leaves behind).

The upstream server closes a connection after each answer (``Connection: close``), so a
connection is a request. ``requests`` lists ``(fault, method, path)`` of each one seen.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Iterable

__all__ = ["FaultProxy"]


def _read_request(conn: socket.socket) -> bytes:
    """One HTTP request (headers and a ``Content-Length`` body) from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _first_line(request: bytes) -> tuple[str, str]:
    line = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    return (line[0], line[1].split("?", 1)[0]) if len(line) >= 2 else ("", "")


class FaultProxy:
    def __init__(self, upstream_port: int, *, stall_seconds: float = 10.0) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.stall_seconds = stall_seconds
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str, str]] = []
        self.held = threading.Event()
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, faults: Iterable[str]) -> None:
        """The faults the next connections get, in order (then ``pass``)."""
        with self._lock:
            self._script.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._script.clear()

    def writes(self) -> list[tuple[str, str, str]]:
        """The requests seen that could change something (not GET)."""
        return [r for r in self.requests if r[1] not in ("GET", "HEAD")]

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                fault = self._script.popleft() if self._script else "pass"
            threading.Thread(target=self._handle, args=(conn, fault), daemon=True).start()

    def _handle(self, conn: socket.socket, fault: str) -> None:
        try:
            if fault == "drop":
                self.requests.append((fault, "", ""))
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return
            request = _read_request(conn)
            method, path = _first_line(request)
            self.requests.append((fault, method, path))
            if fault in ("503", "500"):
                reason = b"Service Unavailable" if fault == "503" else b"Internal Server Error"
                conn.sendall(b"HTTP/1.1 " + fault.encode() + b" " + reason +
                             b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if fault == "stall":
                self._stopping.wait(self.stall_seconds)
                return
            answer = self._forward(request)
            if fault == "hold":
                self.held.set()
                self._stopping.wait(self.stall_seconds)
                return
            conn.sendall(answer)
        except OSError:
            pass
        finally:
            conn.close()

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=60) as up:
            up.sendall(request)
            chunks = []
            while True:
                chunk = up.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)


def wait_for(predicate, timeout: float = 30.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
