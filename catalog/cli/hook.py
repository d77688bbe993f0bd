"""``catalog hook install|test|reconcile``: wire the MLflow hook, try it, catch up on what it missed.

``catalog serve`` receives the webhooks (``POST /hooks/mlflow``) and works the queue;
these commands set MLflow up to send them and run the reconciler by hand. docs/hook.md
says what MLflow's server needs (its webhook guards) and how the secret is shared.
"""

from __future__ import annotations

import click

from catalog.cli import EXIT_FINDINGS, EXIT_OK, _echo_json, _open
from catalog.config import Settings, read_secret, redact_uri

__all__ = ["COMMANDS", "hook"]

_SECRET_ENV = "CATALOG_HOOK_SECRET"


@click.group()
def hook() -> None:
    """The MLflow hook: register the catalog's webhook in MLflow, test it, reconcile.

    catalog serve receives MLflow's webhooks on POST /hooks/mlflow, checks their
    signature (CATALOG_HOOK_SECRET) and ingests each change; see docs/hook.md.
    """


def _events(values: tuple[str, ...]) -> tuple[str, ...]:
    from catalog.intake.install import DEFAULT_EVENTS

    events = tuple(e.strip() for v in values for e in v.split(",") if e.strip())
    return events or DEFAULT_EVENTS


@hook.command("install")
@click.option("--mlflow", "mlflow_uri", metavar="URI", help="MLflow tracking server [default: $CATALOG_MLFLOW_URI].")
@click.option("--url", required=True, metavar="URL",
              help="Where MLflow posts: this catalog's http(s)://HOST:PORT/hooks/mlflow.")
@click.option("--secret-env", metavar="VAR", default=_SECRET_ENV, show_default=True,
              help="Environment variable holding the shared secret (at least 16 characters).")
@click.option("--events", "events", multiple=True, metavar="E[,E...]",
              help="Events to send [default: the six model registry events the hook handles].")
@click.option("--name", metavar="NAME", default="ml-lineage-catalog", show_default=True, help="Its name in MLflow.")
@click.pass_obj
def install(settings: Settings, mlflow_uri: str | None, url: str, secret_env: str, events: tuple[str, ...],
            name: str) -> None:
    """Register the catalog's webhook in MLflow (create_webhook; again: update).

    The secret is read from the environment variable --secret-env names, never
    from the command line; catalog serve must see the same value in
    CATALOG_HOOK_SECRET.
    """
    from catalog.intake.install import install as register

    secret = settings.hook_secret if secret_env == _SECRET_ENV else read_secret(secret_env)
    if not secret:
        raise click.UsageError(f"no secret: set {secret_env} to the webhook's shared secret (see docs/hook.md)")
    uri = mlflow_uri or settings.mlflow_uri
    done = register(uri, url, secret, events=_events(events), name=name)
    click.echo(f"{'created' if done.created else 'updated'} webhook {done.name!r} ({done.webhook_id}) in MLflow at "
               f"{redact_uri(uri)}: {', '.join(done.events)} -> {done.url}")


@hook.command("test")
@click.option("--mlflow", "mlflow_uri", metavar="URI", help="MLflow tracking server [default: $CATALOG_MLFLOW_URI].")
@click.option("--name", metavar="NAME", default="ml-lineage-catalog", show_default=True, help="Its name in MLflow.")
@click.option("--event", metavar="E", help="The event MLflow sends [default: the webhook's first].")
@click.pass_obj
def test(settings: Settings, mlflow_uri: str | None, name: str, event: str | None) -> None:
    """Have MLflow send its test event to the webhook; exits 1 when it failed.

    MLflow signs and posts the event itself, so a success proves the URL, its
    network guards and the secret. The test's example model is not in MLflow:
    the catalog queues the event and its worker records it as failed.
    """
    from catalog.intake.install import send_test

    result = send_test(mlflow_uri or settings.mlflow_uri, name=name, event=event)
    if result.success:
        click.echo(f"webhook {name!r} ({result.webhook_id}): delivered, HTTP {result.status}: {result.body.strip()}")
        return
    why = f"HTTP {result.status}: {result.body.strip()}" if result.status is not None else result.error
    click.echo(f"webhook {name!r} ({result.webhook_id}): delivery failed: {why}", err=True)
    click.get_current_context().exit(EXIT_FINDINGS)


@hook.command("reconcile")
@click.option("--mlflow", "mlflow_uri", metavar="URI", help="MLflow tracking server [default: $CATALOG_MLFLOW_URI].")
@click.option("--json", "as_json", is_flag=True, help="Print what was missed and done as JSON.")
@click.pass_obj
def reconcile(settings: Settings, mlflow_uri: str | None, as_json: bool) -> None:
    """Compare MLflow's registry with the catalog and ingest what the hook missed.

    Queues a job per difference and works the queue off here (alias moves run
    the alias gate). Exits 0 when the catalog caught up, 1 when a job is still
    queued (MLflow failed; catalog serve retries it) or failed.
    """
    from catalog.intake import drain
    from catalog.intake import reconcile as run

    uri = mlflow_uri or settings.mlflow_uri
    with _open(settings) as catalog:
        found = run(catalog, mlflow_uri=uri)
        worked = drain(catalog, mlflow_uri=uri)
    mine = [w for w in worked if w.job_id in found.job_ids]
    behind = [w for w in mine if w.status != "done"]
    if as_json:
        _echo_json({"missed": [{"event": m.event.event, "model": m.event.model, "version": m.event.version or None,
                                "alias": m.event.alias or None, "why": m.why} for m in found.missed],
                    "jobs": [{"id": w.job_id, "status": w.status, "message": w.message} for w in worked]})
    else:
        click.echo(f"reconciled MLflow at {redact_uri(uri)}: {len(found.missed)} missed, {found.queued} queued")
        for m in found.missed:
            click.echo(f"missed: {m.why}")
        for w in worked:
            click.echo(f"job {w.job_id} {w.status}: {w.message}")
    click.get_current_context().exit(EXIT_FINDINGS if behind else EXIT_OK)


COMMANDS = (hook,)
