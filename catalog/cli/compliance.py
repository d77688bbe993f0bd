"""``catalog check``, ``catalog evidence verify|export``, ``catalog expectations suggest``.

Exit codes of ``catalog check``: 0 pass (warnings and waived failures allowed), 1 fail,
2 could not check (unknown deployment or ref, an alias that does not resolve, a
malformed policy or suite, an unreadable data sample); the reason is printed, and
nothing is recorded as a pass.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from catalog.cli import EXIT_FINDINGS, EXIT_OK, _open
from catalog.config import Settings

__all__ = ["COMMANDS", "check", "evidence", "expectations"]

_FORMATS = ("text", "json", "junit", "sarif", "markdown")


def _write(text: str, output: Path | None, what: str) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"{what} written to {output}", err=True)


def _when(millis: int) -> str:
    return dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.command()
@click.argument("subject", required=False, metavar="DEPLOYMENT|MODEL_REF")
@click.option("--target", metavar="T", help="Target whose policy applies (a model ref: default prod; a "
              "deployment: its own target, which this must match).")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True,
              help="text for people, json for machines, junit for CI test reports, sarif for code-scanning "
              "UIs, markdown for a CI job summary.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report here.")
@click.option("--no-data", is_flag=True, help="Skip the rules that read a data sample (signature-matches-input "
              "on an undeclared CSV schema, expectations-pass).")
@click.option("--no-record", is_flag=True, help="Do not store the result as evidence.")
@click.option("--history", "history_ref", metavar="REF",
              help="Print the stored check results about REF (deployment, model ref, entity) instead.")
@click.pass_obj
def check(settings: Settings, subject: str | None, target: str | None, fmt: str, output: Path | None,
          no_data: bool, no_record: bool, history_ref: str | None) -> None:
    """Check a deployment (of lineage.yml) or a model version before it is deployed.

    \b
    DEPLOYMENT  a deployment of lineage.yml (wine-quality-stream), or its
                qualifiedName (wine-quality-stream:prod@cm)
    MODEL_REF   models:/<name>@<alias> or models:/<name>/<version>

    Every built-in rule runs with the target's policy (lineage.yml `policy`);
    the alias is resolved once and the report pins the version checked. The
    result is stored as evidence (hash-chained; `catalog evidence verify`).
    Exit codes: 0 pass (warnings allowed), 1 fail, 2 could not check.
    """
    with _open(settings) as catalog:
        if history_ref is not None:
            _history(catalog, history_ref, fmt)
            return
        if subject is None:
            raise click.UsageError("give a DEPLOYMENT or MODEL_REF (or --history REF)")
        from catalog.compliance.formats import render
        from catalog.compliance.record import check as run_check

        report = run_check(catalog, subject, target=target, data=not no_data, record=not no_record)
    _write(render(report, fmt), output, "report")
    if output is not None:
        click.echo(f"{report.subject_label}: {report.verdict} ({report.summary_line()})", err=True)
    click.get_current_context().exit(report.exit_code)


def _history(catalog: object, ref: str, fmt: str) -> None:
    from catalog.compliance.record import history

    records = history(catalog, ref)  # type: ignore[arg-type]
    if fmt == "json":
        click.echo(json.dumps([{"digest": r.digest, "chain": r.chain, "seq": r.seq, "at": r.at, "by": r.by,
                                "verdict": r.verdict, "report": r.report} for r in records], indent=2))
        return
    if not records:
        click.echo(f"no checks recorded for {ref}")
        return
    for r in records:
        model = r.report.get("model", {})
        click.echo(f"{_when(r.at)}  {r.verdict:<5}  {r.chain} #{r.seq}  {model.get('version', '')}  by {r.by}  "
                   f"{r.digest[:12]}")


@click.group()
def evidence() -> None:
    """Verify the evidence chain; export a model card for auditors."""


@evidence.command("verify")
@click.argument("chain", required=False)
@click.pass_obj
def evidence_verify(settings: Settings, chain: str | None) -> None:
    """Recompute every evidence record's digest and chain link (exit 1 when one was tampered with).

    CHAIN: one chain (a deployment's qualifiedName); default all.
    """
    from catalog.compliance.record import verify

    with _open(settings) as catalog:
        count, problems = verify(catalog, chain)
    for problem in problems:
        click.echo(f"TAMPERED {problem}")
    if problems:
        click.echo(f"{count} records checked: {len(problems)} problem(s)", err=True)
        click.get_current_context().exit(EXIT_FINDINGS)
    click.echo(f"{count} records checked: every digest and chain link holds")
    click.get_current_context().exit(EXIT_OK)


@evidence.command("export")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(("markdown", "html")), default="markdown", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the model card here.")
@click.pass_obj
def evidence_export(settings: Settings, ref: str, fmt: str, output: Path | None) -> None:
    """A model-card-shaped report of REF (deployment or model ref): provenance, checks, waivers."""
    from catalog.compliance.card import model_card
    from catalog.compliance.export import render_card

    with _open(settings) as catalog:
        card = model_card(catalog, ref)
    _write(render_card(card, fmt), output, "model card")


@click.group()
def expectations() -> None:
    """Draft Great Expectations suites."""


@expectations.command("suggest")
@click.argument("model_ref", metavar="MODEL_REF")
@click.option("--dataset", metavar="D", help="A dataset key of lineage.yml (an fs_path) or a CSV/Parquet file "
              "to profile; default: the model's declared fs_path training data.")
@click.option("--rows", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True,
              help="Rows of the data to profile.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the suite here.")
@click.pass_obj
def expectations_suggest(settings: Settings, model_ref: str, dataset: str | None, rows: int,
                         output: Path | None) -> None:
    """Draft a GX 1.x suite from MODEL_REF's signature and a profile of its training data, for review."""
    from catalog.compliance.card import suggest

    with _open(settings) as catalog:
        suite = suggest(catalog, model_ref, dataset, rows=rows)
    _write(json.dumps(suite, indent=2) + "\n", output, "suite")


COMMANDS = (check, evidence, expectations)
