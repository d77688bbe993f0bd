"""``catalog``: ingest lineage.yml and MLflow, query lineage, show and search entities, serve.

Exit codes: 0 ok, 1 findings (the command worked and found something to look at),
2 error (bad input, unreachable source, unknown reference; nothing was written).
Settings come from ``CATALOG_*`` environment variables (docs/cli.md); the defaults
point at the demo's files in the current directory.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from catalog.config import Settings, redact_uri
from catalog.errors import CatalogError
from catalog.model import FS_PATH, HIVE_TABLE, ML_DATASET

__all__ = ["cli", "main"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _open(settings: Settings, *, create: bool = False):
    """The catalog; only ``ingest`` may create a store that is not there yet."""
    from catalog.service import Catalog

    return Catalog(settings, create=create)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


@contextmanager
def _progress() -> Iterator[Callable[[str, int], None]]:
    """A progress callback drawing one tqdm bar per kind of object on stderr (TTY only)."""
    from tqdm import tqdm

    bars: dict[str, Any] = {}
    enabled = sys.stderr.isatty()

    def update(kind: str, n: int) -> None:
        if not enabled:
            return
        bar = bars.get(kind)
        if bar is None:
            bar = bars[kind] = tqdm(desc=f"reading {kind}", unit=" " + kind, file=sys.stderr, leave=False)
        bar.update(n)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


def _store_error(exc: Exception, settings: Settings | None) -> str | None:
    """One line for an error of the catalog store (SQLAlchemy), else None.

    Checked by module name so that ``catalog --help`` does not import SQLAlchemy.
    """
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.SQLAlchemyError):
        return None
    cause = getattr(exc, "orig", None) or exc
    detail = "; ".join(line.strip() for line in str(cause).splitlines() if line.strip())
    detail = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", detail)
    url = redact_uri(settings.database_url) if settings is not None else "$CATALOG_DATABASE_URL"
    return f"catalog store {url}: {type(cause).__name__}: {detail}"


def _echo_error(message: str) -> None:
    """``error: ...`` on stderr; text that is not valid Unicode (a lone surrogate) is shown escaped."""
    click.echo("error: " + message.encode("utf-8", "backslashreplace").decode("utf-8"), err=True)


class _Group(click.Group):
    """Turns the catalog's own errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CatalogError as exc:
            _echo_error(str(exc))
            ctx.exit(EXIT_ERROR)
        except (OSError, ValueError) as exc:
            _echo_error(str(exc))
            ctx.exit(EXIT_ERROR)
        except Exception as exc:
            message = _store_error(exc, ctx.obj if isinstance(ctx.obj, Settings) else None)
            if message is None:
                raise
            _echo_error(message)
            ctx.exit(EXIT_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ml-lineage-catalog", prog_name="catalog")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Lineage and governance catalog for ML models, typed as Apache Atlas entities.

    \b
    Settings (environment):
      CATALOG_DATABASE_URL   store         (default sqlite:///catalog.db)
      CATALOG_MLFLOW_URI     MLflow        (default sqlite:///mlflow.db)
      CATALOG_LINEAGE_FILE   lineage.yml   (default lineage.yml)
    All settings: docs/cli.md.
    Exit codes: 0 ok, 1 findings, 2 error.
    """
    ctx.obj = Settings.from_env()


# ---------------------------------------------------------------- ingest


def _default_mlflow(settings: Settings) -> str | None:
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return None
    return uri


@cli.command()
@click.option("--lineage", "lineage_path", type=click.Path(dir_okay=False), help="lineage.yml to read "
              "[default: $CATALOG_LINEAGE_FILE or ./lineage.yml when present]")
@click.option("--mlflow", "mlflow_uri", metavar="URI", help="MLflow tracking URI [default: $CATALOG_MLFLOW_URI "
              "or sqlite:///mlflow.db when present]")
@click.option("--no-lineage", is_flag=True, help="Do not read lineage.yml.")
@click.option("--no-mlflow", is_flag=True, help="Do not read MLflow.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def ingest(settings: Settings, lineage_path: str | None, mlflow_uri: str | None, no_lineage: bool,
           no_mlflow: bool, as_json: bool) -> None:
    """Read lineage.yml and MLflow and register what they describe.

    Everything is read and validated first and written in one transaction: a bad
    file or an unreachable MLflow leaves the catalog unchanged. Re-running on
    unchanged sources writes nothing; MLflow is read incrementally (a cursor per
    MLflow instance). Exits 1 when the ingest recorded findings, e.g. a data set
    declared as training data that the run did not log.
    """
    if lineage_path is None and not no_lineage and Path(settings.lineage_file).exists():
        lineage_path = settings.lineage_file
    if mlflow_uri is None and not no_mlflow:
        mlflow_uri = _default_mlflow(settings)
    if no_lineage:
        lineage_path = None
    if no_mlflow:
        mlflow_uri = None
    if lineage_path is None and mlflow_uri is None:
        raise click.UsageError(
            f"nothing to ingest: no {settings.lineage_file} here and no MLflow store at {settings.mlflow_uri}; "
            "pass --lineage FILE and/or --mlflow URI"
        )
    with _open(settings, create=True) as catalog, _progress() as progress:
        report = catalog.ingest(lineage_path=lineage_path, mlflow_uri=mlflow_uri, progress=progress)
    if as_json:
        _echo_json(report.to_json())
    else:
        click.echo(f"ingested {report.describe_sources()}")
        click.echo(report.summary())
        for finding in report.findings:
            click.echo(f"finding [{finding.kind}] {finding.subject}: {finding.message}")
    sys.exit(EXIT_FINDINGS if report.findings else EXIT_OK)


# ---------------------------------------------------------------- lineage


def _label(entity: Any) -> str:
    if entity.type_name in (HIVE_TABLE, FS_PATH, ML_DATASET):
        return entity.qualified_name
    return f"{entity.name} [{entity.type_name}]"


def _paths(graph: Any, limit: int = 50) -> list[list[str]]:
    """Every source-to-sink path of a (small) lineage graph, base included."""
    out: dict[str, list[str]] = {}
    indegree: dict[str, int] = {g: 0 for g in graph.entities}
    for r in graph.relations:
        out.setdefault(r.from_guid, []).append(r.to_guid)
        indegree[r.to_guid] = indegree.get(r.to_guid, 0) + 1
    starts = sorted((g for g, d in indegree.items() if d == 0), key=lambda g: graph.entities[g].qualified_name)
    paths: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        if len(paths) >= limit:
            return
        nexts = [n for n in out.get(node, []) if n not in trail]
        if not nexts:
            paths.append(trail)
            return
        for n in sorted(nexts, key=lambda g: graph.entities[g].qualified_name):
            walk(n, trail + [n])

    for start in starts:
        walk(start, [start])
    return paths


def _dot(graph: Any) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph lineage {", "  rankdir=LR;"]
    for guid, entity in sorted(graph.entities.items()):
        shape = "box" if "inputs" in entity.attributes or "outputs" in entity.attributes else "ellipse"
        style = ', style=bold' if guid == graph.base_guid else ""
        # "\n" inside a quoted DOT string is Graphviz's centred line break.
        label = quote(entity.type_name)[:-1] + "\\n" + quote(entity.qualified_name)[1:]
        lines.append(f"  {quote(guid)} [label={label}, shape={shape}{style}];")
    for r in graph.relations:
        lines.append(f"  {quote(r.from_guid)} -> {quote(r.to_guid)};")
    lines.append("}")
    return "\n".join(lines)


@cli.command()
@click.argument("ref")
@click.option("--direction", type=click.Choice(["input", "output", "both"], case_sensitive=False), default="both",
              show_default=True, help="Upstream (input), downstream (output) or both.")
@click.option("--depth", type=click.IntRange(min=0), default=3, show_default=True,
              help="Data-set hops, as in Atlas; 0 = unlimited (capped by CATALOG_LINEAGE_MAX_DEPTH).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "dot"]), default="text", show_default=True,
              help="text: one line per path; json: Atlas AtlasLineageInfo; dot: Graphviz.")
@click.pass_obj
def lineage(settings: Settings, ref: str, direction: str, depth: int, fmt: str) -> None:
    """Lineage around REF.

    REF is a qualifiedName (optionally prefixed by its type, hive_table:db.t@cm), a
    guid, models:/NAME/VERSION, models:/NAME@ALIAS or runs:/RUN_ID[/PATH].
    """
    from catalog.atlas import lineage_to_atlas

    with _open(settings) as catalog:
        graph = catalog.lineage(ref, direction=direction.upper(), depth=depth)
    if fmt == "json":
        _echo_json(lineage_to_atlas(graph))
        return
    if fmt == "dot":
        click.echo(_dot(graph))
        return
    base = graph.entities[graph.base_guid]
    cap = settings.lineage_max_depth
    shown = "unlimited" if depth == 0 else str(depth)
    if depth == 0 or depth > cap:
        shown += f", capped at {cap} by CATALOG_LINEAGE_MAX_DEPTH"
    click.echo(f"lineage of {base.type_name} {base.qualified_name} ({graph.direction.lower()}, depth {shown})")
    if not graph.relations:
        click.echo("  (no lineage)")
        return
    for path in _paths(graph):
        click.echo("  " + " → ".join(_label(graph.entities[g]) for g in path))


# ---------------------------------------------------------------- show, search, findings


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the entity as Atlas AtlasEntity JSON.")
@click.pass_obj
def show(settings: Settings, ref: str, as_json: bool) -> None:
    """Show one entity: attributes, classifications and its latest audit events.

    REF takes the same forms as in 'catalog lineage'.
    """
    from catalog.atlas import stored_entity_to_atlas

    with _open(settings) as catalog:
        entity = catalog.resolve(ref)
        events = catalog.audit(entity.guid, limit=10)
    if as_json:
        _echo_json({"entity": stored_entity_to_atlas(entity), "referredEntities": {}})
        return
    click.echo(f"{entity.type_name} {entity.qualified_name}")
    click.echo(f"  guid      {entity.guid}")
    click.echo(f"  status    {entity.status} (version {entity.version}, updated by {entity.updated_by} from {entity.source})")
    for key in sorted(entity.attributes):
        value = entity.attributes[key]
        if isinstance(value, list) and value and isinstance(value[0], dict) and "uniqueAttributes" in value[0]:
            value = ", ".join(v["uniqueAttributes"]["qualifiedName"] for v in value)
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True)
        click.echo(f"  {key:<16} {value}")
    for c in entity.classifications:
        how = "propagated" if c.propagated else "direct"
        click.echo(f"  classification {c.type_name} ({how})")
    click.echo("  audit:")
    for e in events:
        click.echo(f"    #{e.id} {e.action} by {e.user} from {e.source}")


@cli.command()
@click.argument("text", default="")
@click.option("--type", "type_name", metavar="TYPE",
              help="Only entities of this type or its subtypes (e.g. DataSet, Process).")
@click.option("--classification", metavar="NAME", help="Only entities carrying this classification, direct or "
              "propagated.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="At most this many entities.")
@click.option("--json", "as_json", is_flag=True, help="Print Atlas AtlasEntityHeader JSON.")
@click.pass_obj
def search(settings: Settings, text: str, type_name: str | None, classification: str | None, limit: int,
           as_json: bool) -> None:
    """Find entities whose qualifiedName or name contains TEXT (case-insensitive).

    Without TEXT every entity matches (up to --limit).
    """
    from catalog.atlas import entity_header

    with _open(settings) as catalog:
        found = catalog.search(text, type_name=type_name, classification=classification, limit=limit)
    if as_json:
        _echo_json({"entities": [entity_header(e) for e in found], "approximateCount": len(found)})
        return
    for e in found:
        tags = ",".join(sorted({c.type_name for c in e.classifications}))
        click.echo(f"{e.type_name:<30} {e.qualified_name}" + (f"  [{tags}]" if tags else ""))
    if not found:
        click.echo("no entities found", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@click.pass_obj
def findings(settings: Settings, as_json: bool) -> None:
    """List the findings of the latest ingests; exits 1 when there are any."""
    with _open(settings) as catalog:
        found = catalog.findings()
    if as_json:
        _echo_json([{"kind": f.kind, "subject": f.subject, "message": f.message} for f in found])
    else:
        for f in found:
            click.echo(f"[{f.kind}] {f.subject}: {f.message}")
    sys.exit(EXIT_FINDINGS if found else EXIT_OK)


# ---------------------------------------------------------------- plugins

PLUGIN_GROUP = "catalog.commands"


def _load_plugins(group: click.Group) -> None:
    """Add commands other packages register under the ``catalog.commands`` entry point.

    ``catalog serve`` comes from the ``web`` package this way, so the library never
    imports the web layer (docs/architecture.md, Layers).
    """
    from importlib.metadata import entry_points

    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name not in group.commands:
            group.add_command(entry.load(), entry.name)


def _add_library_commands(group: click.Group) -> None:
    """The command groups of the library that live in modules of their own (docs/cli.md)."""
    from catalog.cli import accounts, atlas, compliance, hook, score

    for command in (*accounts.COMMANDS, *compliance.COMMANDS, *hook.COMMANDS, *score.COMMANDS, *atlas.COMMANDS):
        group.add_command(command)


_add_library_commands(cli)


def main() -> None:
    _load_plugins(cli)
    cli(prog_name="catalog")
