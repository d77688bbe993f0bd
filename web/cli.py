"""``catalog serve``: registered into the ``catalog`` CLI through an entry point."""

from __future__ import annotations

import socket
from typing import Any

import click

from catalog.config import Settings, redact_uri

EXIT_ERROR = 2
#: Seconds a kept connection waits for its next request under gunicorn (its default is 2).
KEEP_ALIVE = 5
#: Threads per gunicorn worker unless ``--threads`` says otherwise.
THREADS = 4
#: Seconds a gunicorn worker has to finish its requests after SIGTERM (its default is 30: gunicorn 26's
#: gthread worker was seen waiting all of it for connections its clients had closed).
GRACEFUL = 10


def make_http_server(host: str, port: int, app: object):
    """Werkzeug's threaded server (``catalog serve`` without ``--workers``; the tests serve the app so).

    It speaks HTTP/1.1 but closes every connection after its answer (``Connection: close``,
    whatever the protocol: Werkzeug 3 never keeps one), so a client opens a TCP connection
    per request. gunicorn's gthread workers (``run_gunicorn``) keep them.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"
        def version_string(self) -> str:  # no framework or Python version in Server
            return "catalog"

    return make_server(host, port, app, threaded=True, request_handler=KeepAlive)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (``port`` 0: any free port); OSError if it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


#: ``app.extensions`` key of the stop function of a gunicorn worker's hook thread.
HOOK_STOP = "catalog_hook_stop"


def run_gunicorn(settings: Settings, sock: socket.socket, *, workers: int, threads: int) -> None:
    """Serve ``web:create_app(settings)`` with gunicorn on ``sock`` (already listening) until stopped.

    ``gthread`` workers: each a process with ``threads`` threads, keeping connections
    alive (gunicorn's ``sync`` worker closes every connection). Each worker builds its own
    app after the fork, so no store connection crosses a fork. The socket is bound by the
    caller, which reports a port in use itself and knows the port it got; gunicorn takes
    it over (``fd://``) and closes it. SIGINT (Ctrl-C) stops the master and its workers at
    once, SIGTERM after the requests in flight (at most ``GRACEFUL`` seconds); returns, or
    raises ``SystemExit`` with gunicorn's status.
    """
    from gunicorn.app.base import BaseApplication

    fd = sock.detach()

    def worker_exit(_server: Any, worker: Any) -> None:
        app = getattr(worker, "wsgi", None)
        if app is not None and hasattr(app, "extensions"):
            stop = app.extensions.get(HOOK_STOP)
            if stop is not None:
                stop()
            app.extensions["catalog"].close()

    options: dict[str, Any] = {
        "bind": [f"fd://{fd}"],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": KEEP_ALIVE,
        "graceful_timeout": GRACEFUL,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "worker_exit": worker_exit,
        # no gunicornc control socket in $HOME: two catalogs served at once would share it
        "control_socket_disable": True,
    }

    class Catalog(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # control_socket_disable: gunicorn >= 25.1
                    self.cfg.set(key, value)

        def load(self) -> Any:
            from web import create_app
            from web.hooks import start_background

            app = create_app(settings=settings)
            # each worker works the hook's queue too: a job is claimed in a write transaction
            app.extensions[HOOK_STOP] = start_background(app)
            return app

    Catalog(prog="catalog serve").run()


def start_push(settings: Settings) -> Any:
    """The push to a real Atlas when ``CATALOG_ATLAS_URL`` is set (docs/atlas.md): its stop function, else None.

    The loop has a catalog of its own (its own store connections), started in this process
    only: with ``--workers`` the gunicorn master pushes, not each worker.
    """
    if not settings.atlas_url:
        click.echo("Atlas: embedded only (Atlas's v2 API at /api/atlas/v2); set CATALOG_ATLAS_URL to push to a real one")
        return None
    from catalog.push import PushLoop
    from catalog.service import Catalog

    catalog = Catalog(settings)
    loop = PushLoop(catalog).start()
    click.echo(f"Atlas: pushing to {redact_uri(settings.atlas_url)} (CATALOG_ATLAS_PUSH={settings.atlas_push}, "
               f"every {settings.atlas_push_interval_seconds} s); see catalog atlas status")

    def stop() -> None:
        loop.stop()
        catalog.close()
    return stop


def _echo_serving(settings: Settings, host: str, port: int) -> None:
    store = redact_uri(settings.database_url)
    click.echo(f"serving the catalog ({store}) on http://{host}:{port}/ (Ctrl-C to stop)")
    if settings.read_access == "open":
        click.echo("reads are open to anyone (CATALOG_READ_ACCESS=open); writes need a user's credentials")
    else:
        click.echo("reads and writes need a user's credentials (CATALOG_READ_ACCESS=authenticated); "
                   "add users with `catalog users add`")


def _cannot_listen(ctx: click.Context, host: str, port: int, exc: BaseException) -> None:
    why = f": {exc.strerror or exc}" if isinstance(exc, OSError) else ""
    click.echo(f"error: cannot listen on {host}:{port}{why}", err=True)
    ctx.exit(EXIT_ERROR)


@click.command()
@click.option("--host", metavar="HOST", default=None,
              help="Interface to bind [default: $CATALOG_HOST or 127.0.0.1].")
@click.option("--port", metavar="PORT", type=click.IntRange(0, 65535), default=None,
              help="Port, 0 for any free one (the first line says which) [default: $CATALOG_PORT or 5000].")
@click.option("--workers", metavar="N", type=click.IntRange(1, 64), default=None,
              help="Serve with gunicorn: N worker processes [default: one process, Werkzeug's "
                   "threaded server].")
@click.option("--threads", metavar="N", type=click.IntRange(1, 256), default=None,
              help=f"Threads per gunicorn worker (with --workers) [default: {THREADS}].")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None, threads: int | None) -> None:
    """Serve the JSON API and Atlas's v2 REST API over HTTP.

    Without --workers: Werkzeug's threaded server, one process. With --workers
    N: gunicorn, N processes of --threads threads each, keeping connections
    alive (its gthread worker). The store is the one CATALOG_DATABASE_URL
    names. Stops on Ctrl-C.
    """
    settings: Settings = ctx.obj
    bind_host = host or settings.host
    bind_port = port if port is not None else settings.port
    if workers is not None:
        _serve_gunicorn(ctx, settings, bind_host, bind_port, workers, threads or THREADS)
        return
    if threads is not None:
        raise click.UsageError("--threads is the threads of each gunicorn worker: it needs --workers")
    from web import create_app
    from web.hooks import start_background

    app = create_app(settings=settings)
    try:
        server = make_http_server(bind_host, bind_port, app)
    except (OSError, SystemExit) as exc:
        # Werkzeug prints why it cannot bind (e.g. the port is in use) and exits 1,
        # which would read as "findings"; this is an error.
        app.extensions["catalog"].close()
        _cannot_listen(ctx, bind_host, bind_port, exc)
    stop_hook = start_background(app)  # the MLflow hook's worker and reconciler (docs/hook.md)
    _echo_serving(settings, bind_host, server.server_port)
    stop_push = start_push(settings)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if stop_push is not None:
            stop_push()
        stop_hook()
        server.server_close()
        app.extensions["catalog"].close()


def _serve_gunicorn(ctx: click.Context, settings: Settings, host: str, port: int, workers: int,
                    threads: int) -> None:
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        _cannot_listen(ctx, host, port, exc)
    _echo_serving(settings, host, sock.getsockname()[1])
    stop_push = start_push(settings)
    try:
        run_gunicorn(settings, sock, workers=workers, threads=threads)
    finally:
        if stop_push is not None:
            stop_push()
