"""``catalog score DEPLOYMENT``: governed scoring on Spark (docs/scoring.md).

Exit codes: 0 the run finished (rows may be quarantined: they are counted and kept);
1 not compliant, or a rule, a threshold or the schema gate stopped a batch before it was
written; 2 the run could not start (lineage.yml, MLflow, paths, checkpoint).
"""

from __future__ import annotations

import click

from catalog.cli import _open
from catalog.config import Settings

__all__ = ["COMMANDS", "score"]

EXIT_STOPPED = 1


def _summary(run: object) -> list[str]:
    from catalog.scoring.job import RunSummary

    assert isinstance(run, RunSummary) and run.setup is not None
    totals = run.totals()
    lines = [f"run {run.run_id} of {run.setup.name}: {run.status}, {len(run.batches)} batch(es), model {run.version_qn}",
             f"  rows: {totals['rows_in']} in = {totals['rows_scored']} scored + {totals['rows_quarantined']} "
             f"quarantined ({totals['rows_warned']} warned)",
             f"  predictions: {run.setup.output.path} ({run.setup.output.format})",
             f"  quarantine:  {run.setup.quarantine.path} ({run.setup.quarantine.format})"]
    failed = ", ".join(f"{rule} {count}" for rule, count in sorted(run.by_rule().items()) if count)
    if failed:
        lines.append(f"  rows failing each rule: {failed}")
    drift = run.drift or {}
    if drift:
        lines.append(f"  drift: {drift.get('verdict')}")
        for name, figures in sorted((drift.get("features") or {}).items()):
            stats = ", ".join(f"{k} {figures[k]:.4g}" for k in ("psi", "ks", "wasserstein", "js")
                              if isinstance(figures.get(k), (int, float)))
            lines.append(f"    {name}: {figures.get('verdict')} ({stats})")
        prediction = drift.get("prediction") or {}
        if prediction:
            labels = prediction.get("labels") or {}
            extra = f", labels chi2 {labels['chi2']:.4g} p {labels['p_value']:.3g}" if labels else ""
            lines.append(f"    prediction: {prediction.get('verdict')} (psi {prediction.get('psi', 0):.4g}{extra})")
    lines.append(f"  recorded as ml_scoring_process {run.scoring_qn}")
    return lines


@click.command()
@click.argument("deployment")
@click.option("--once", "mode", flag_value="once", help="Streaming: one micro-batch of what is there, then stop.")
@click.option("--available-now", "mode", flag_value="available-now",
              help="Streaming: everything there now, in as many micro-batches as needed, then stop (the "
              "default).")
@click.option("--trigger", metavar="INTERVAL", help="Streaming: run until stopped, a micro-batch every INTERVAL "
              "(e.g. \"5 minutes\", the deployment's `trigger`).")
@click.option("--max-files-per-trigger", type=click.IntRange(min=1), metavar="N",
              help="Streaming: at most N new files per micro-batch.")
@click.option("--conf", "conf", multiple=True, metavar="KEY=VALUE", help="A Spark configuration setting "
              "(repeatable); spark-submit's own configuration is kept otherwise.")
@click.pass_obj
def score(settings: Settings, deployment: str, mode: str | None, trigger: str | None,
          max_files_per_trigger: int | None, conf: tuple[str, ...]) -> None:
    """Score a deployment of lineage.yml on Spark, governed.

    \b
    Before the job: the compliance check for the deployment's target must
    pass, and the version it checked is pinned for the whole run.
    Every batch: the schema gate (input schema vs the model signature), the
    row checks of the deployment's expectations (warn, quarantine or fail),
    spark_udf, predictions appended to the output and failing rows to the
    quarantine (Delta), exactly once per batch; drift against the training
    data; the run recorded as an ml_scoring_process in the lineage.
    Exit codes: 0 done, 1 not compliant or a batch stopped by a rule,
    2 could not start.
    """
    from catalog.scoring.batch import BatchFailed
    from catalog.scoring.gate import SchemaMismatch
    from catalog.scoring.job import NotCompliant, ScoreOptions
    from catalog.scoring.job import score as run_score

    if trigger is not None and mode is not None:
        raise click.UsageError("--trigger runs until stopped; it cannot be combined with --once or --available-now")
    spark_config = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--conf")
        spark_config[key.strip()] = value
    options = ScoreOptions(trigger_mode="trigger" if trigger else mode, trigger=trigger,
                           max_files_per_trigger=max_files_per_trigger, spark_config=spark_config)
    with _open(settings) as catalog:
        try:
            run = run_score(catalog, deployment, options, say=lambda line: click.echo(line, err=True))
        except NotCompliant as exc:
            click.echo(f"error: {exc}", err=True)
            click.get_current_context().exit(exc.report.exit_code)
        except (BatchFailed, SchemaMismatch) as exc:
            click.echo(f"error: {exc}", err=True)
            click.get_current_context().exit(EXIT_STOPPED)
    click.echo("\n".join(_summary(run)))


COMMANDS = (score,)
