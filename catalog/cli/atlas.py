"""``catalog sync`` and ``catalog atlas status``: the push to a real Apache Atlas (docs/atlas.md).

``catalog serve`` pushes on its own when ``CATALOG_ATLAS_URL`` is set; ``catalog sync``
does one pass by hand (CI, a first load, after an outage), ``catalog atlas status`` says
how far behind Atlas is.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from catalog.cli import EXIT_FINDINGS, EXIT_OK, _echo_json, _open
from catalog.config import Settings

__all__ = ["COMMANDS", "sync", "atlas"]


def _bar():
    """One tqdm bar per sink on stderr (TTY only): entities handled of those pending at the start."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(sink: str, n: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        bar = bars.get(sink)
        if bar is None:
            bar = bars[sink] = tqdm(desc=f"pushing to {sink}", total=total, unit=" entities", file=sys.stderr,
                                    leave=False)
        bar.update(n)

    return update, bars


@click.command("sync")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; send and change nothing.")
@click.option("--full", is_flag=True,
              help="Send every entity again, also those Atlas took unchanged, and retry parked ones.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def sync(settings: Settings, dry_run: bool, full: bool, as_json: bool) -> None:
    """Push the catalog's changes to the Atlas at CATALOG_ATLAS_URL, then exit.

    \b
    First the typedefs: Atlas gets the types it lacks and our changed ones; its
    own are never modified (a conflict stops here, exit 2, nothing written).
    Then the outbox: every entity changed since the last push (all of them the
    first time), dependencies first, in entity/bulk requests; deletes as Atlas
    deletes; tables of Atlas's Hive hook linked by qualifiedName, never written.
    Exits 0 when everything was taken, 1 when something was parked (Atlas
    refused it), waits for a table Atlas lacks, or Atlas went away mid-way
    (the rest stays queued), 2 when Atlas cannot be used at all.
    """
    from catalog.push import client_for
    from catalog.push import sync as run

    client = client_for(settings)
    update, bars = _bar()
    with _open(settings) as catalog:
        try:
            report = run(catalog, client, full=full, dry_run=dry_run, progress=update)
        finally:
            for bar in bars.values():
                bar.close()
    plan = report.typedefs
    if as_json:
        _echo_json({"typedefs": {"created": plan.created, "updated": plan.updated, "unchanged": plan.unchanged},
                    "sinks": [{**{k: v for k, v in vars(s).items()}, "line": s.line()} for s in report.summaries],
                    "dry_run": dry_run})
    else:
        verb = "would create" if dry_run else "created"
        names = plan.created + plan.updated
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        click.echo(f"typedefs: {verb} {len(plan.created)}, updated {len(plan.updated)}, {plan.unchanged} in sync"
                   + (f" ({shown})" if names else ""))
        if not report.summaries:
            click.echo("nothing queued yet: the first sync (without --dry-run) registers the push and queues every entity")
        for summary in report.summaries:
            click.echo(summary.line())
            for table in summary.missing[:20]:
                click.echo(f"  not in Atlas: {table}")
            for parked in summary.parked[:20]:
                click.echo(f"  parked: {parked}")
    click.get_current_context().exit(EXIT_OK if report.complete else EXIT_FINDINGS)


@click.group("atlas")
def atlas() -> None:
    """The real Apache Atlas the catalog pushes to (CATALOG_ATLAS_URL); docs/atlas.md."""


@atlas.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def status(settings: Settings, as_json: bool) -> None:
    """Is Atlas reachable, which version, are the typedefs in sync, how deep is the outbox.

    Per sink: entities pending and parked, the oldest pending change, the last
    push and the last error, and a few parked entities with Atlas's answer.
    Exits 0 when all is well, 1 when Atlas is unreachable, typedefs differ,
    or entities are parked.
    """
    from catalog.atlas.client import Retry
    from catalog.push import client_for
    from catalog.push import status as read

    client = client_for(settings, retry=Retry(attempts=1))
    with _open(settings) as catalog:
        answer = read(catalog, client)
    healthy = answer["reachable"] and answer.get("typedefs", {}).get("in_sync", False) and not any(
        s["parked"] for s in answer["sinks"])
    if as_json:
        _echo_json(answer)
    else:
        if answer["reachable"]:
            click.echo(f"Atlas {answer['atlas']}: reachable, version {answer['version']}")
            types = answer["typedefs"]
            if types["in_sync"]:
                click.echo("typedefs: in sync")
            else:
                click.echo(f"typedefs: {len(types['to_create'])} to create, {len(types['to_update'])} to update, "
                           f"{len(types['conflicts'])} conflicts (catalog sync applies them)")
                for conflict in types["conflicts"]:
                    click.echo(f"  conflict: {conflict}")
        else:
            click.echo(f"Atlas {answer['atlas']}: unreachable: {answer.get('error', '')}")
        if not answer["sinks"]:
            click.echo("outbox: no push registered yet (run catalog sync or catalog serve with CATALOG_ATLAS_URL)")
        for sink in answer["sinks"]:
            oldest = sink["oldest_pending_seconds"]
            click.echo(f"outbox {sink['sink']} ({sink['kind']}): {sink['pending']} pending"
                       + (f", oldest {oldest:g} s" if oldest is not None else "") + f", {sink['parked']} parked")
            if sink["last_error"]:
                click.echo(f"  last error: {sink['last_error']}")
            for parked in sink["parked_examples"]:
                click.echo(f"  parked: {parked['entity']}: {parked['error']}")
    click.get_current_context().exit(EXIT_OK if healthy else EXIT_FINDINGS)


COMMANDS = (sync, atlas)
