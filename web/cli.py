"""``catalog serve``: registered into the ``catalog`` CLI through an entry point."""

from __future__ import annotations

import click

from catalog.config import Settings


@click.command()
@click.option("--host", default=None, help="Interface to bind [default: $CATALOG_HOST or 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: $CATALOG_PORT or 5000].")
@click.pass_obj
def serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve the JSON API and Atlas's v2 REST API on 127.0.0.1 (development server)."""
    from web import create_app

    app = create_app(settings=settings)
    bind_host, bind_port = host or settings.host, port or settings.port
    click.echo(f"serving the catalog ({settings.database_url}) on http://{bind_host}:{bind_port}/")
    app.run(host=bind_host, port=bind_port, debug=False, use_reloader=False)
