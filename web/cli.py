"""``catalog serve``: registered into the ``catalog`` CLI through an entry point."""

from __future__ import annotations

import click

from catalog.config import Settings, redact_uri

EXIT_ERROR = 2


def make_http_server(host: str, port: int, app: object):
    """Werkzeug's threaded server speaking HTTP/1.1, so clients keep their connections.

    Werkzeug answers HTTP/1.0 by default: a new TCP connection per request, which cost
    more than an entity read itself on loopback (``bench atlas_api``). The tests and the
    benches serve the app the same way.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

    return make_server(host, port, app, threaded=True, request_handler=KeepAlive)


@click.command()
@click.option("--host", metavar="HOST", default=None,
              help="Interface to bind [default: $CATALOG_HOST or 127.0.0.1].")
@click.option("--port", metavar="PORT", type=click.IntRange(1, 65535), default=None,
              help="Port [default: $CATALOG_PORT or 5000].")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the JSON API and Atlas's v2 REST API over HTTP.

    Werkzeug's development server, for one machine; at scale run
    web:create_app() under gunicorn. The store is the one CATALOG_DATABASE_URL
    names. Stops on Ctrl-C.
    """
    from web import create_app

    settings: Settings = ctx.obj
    bind_host = host or settings.host
    bind_port = port if port is not None else settings.port
    app = create_app(settings=settings)
    try:
        server = make_http_server(bind_host, bind_port, app)
    except (OSError, SystemExit) as exc:
        # Werkzeug prints why it cannot bind (e.g. the port is in use) and exits 1,
        # which would read as "findings"; this is an error.
        app.extensions["catalog"].close()
        why = f": {exc.strerror or exc}" if isinstance(exc, OSError) else ""
        click.echo(f"error: cannot listen on {bind_host}:{bind_port}{why}", err=True)
        ctx.exit(EXIT_ERROR)
    store = redact_uri(settings.database_url)
    click.echo(f"serving the catalog ({store}) on http://{bind_host}:{server.server_port}/ (Ctrl-C to stop)")
    if settings.read_access == "open":
        click.echo("reads are open to anyone (CATALOG_READ_ACCESS=open); writes need a user's credentials")
    else:
        click.echo("reads and writes need a user's credentials (CATALOG_READ_ACCESS=authenticated); "
                   "add users with `catalog users add`")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["catalog"].close()
