"""``python -m demo.run``: the steps of ``make demo`` before ``catalog serve``.

1. generate the wine-quality data under ``data/`` (``demo.data``);
2. train and register ``wine-quality`` in MLflow, unless it already has a version;
3. ingest lineage.yml and MLflow into the catalog (a re-run writes nothing);
4. print ``catalog lineage models:/wine-quality@champion --direction both``;
5. run ``catalog check wine-quality-stream`` and print its report (exit 1 if it fails);
6. run ``catalog score wine-quality-stream --available-now``: the governed Spark job scores
   the incoming CSV files once (a re-run finds nothing new), quarantines the bad rows and
   prints the counts, the drift verdicts and where the quarantined rows went.

Settings come from the environment like every ``catalog`` command
(``CATALOG_DATABASE_URL``, ``CATALOG_MLFLOW_URI``, ``CATALOG_LINEAGE_FILE``); the
defaults are ``catalog.db``, ``mlflow.db`` and ``lineage.yml`` in the current
directory. Exit codes as the CLI's: 0 ok, 1 the ingest recorded findings, 2 error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from catalog.config import Settings
from catalog.errors import CatalogError

__all__ = ["DEPLOYMENT", "ENVIRONMENT", "MODEL_REF", "main", "run", "score"]

#: Set (unless already set) before MLflow is imported: no progress bars, no git
#: probing noise, no usage telemetry (the demo never talks to the network), and
#: only MLflow's warnings and errors on the console.
ENVIRONMENT = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "GIT_PYTHON_REFRESH": "quiet",
    # the demo's Hive tables are CSV files in a warehouse folder of its own (catalog score reads
    # the training table there as the drift baseline)
    "CATALOG_SPARK_WAREHOUSE": "data/warehouse",
}
MODEL_REF = "models:/wine-quality@champion"
DEPLOYMENT = "wine-quality-stream"
DATA_ROOT = Path("data")

Say = Callable[[str], None]


def _say(line: str) -> None:
    print(line, flush=True)


def generate(root: Path = DATA_ROOT, say: Say = _say):
    """Step 1: the demo's tables and incoming files (kept when already there)."""
    from demo import data

    paths = data.demo_paths(root)
    if all(p.exists() for p in paths.paths):
        say(f"generating data… already in {root}/, kept")
        return paths
    say(f"generating data… {data.ROWS} wines (seed {data.SEED})")
    paths = data.write_demo_data(root)
    say(f"  {paths.table}  table {data.TABLE}")
    say(f"  {paths.nolabel_table}  table {data.NOLABEL_TABLE}")
    say(f"  {', '.join(str(p) for p in paths.incoming)}  streaming input")
    return paths


def train(settings: Settings, table: Path, say: Say = _say) -> str:
    """Step 2: the registered version of wine-quality, training one if there is none."""
    from demo import data
    from demo import train as training

    uri = settings.mlflow_uri
    version = training.existing_version(uri)
    if version is not None:
        say(f"training… skipped: {training.MODEL_NAME} already has version {version} in {uri}")
        return version
    say(f"training… ElasticNet on {data.TABLE} with MLflow at {uri}")
    result = training.train(uri, data.read_table(table))
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items())
    say(f"  run {result.run_id}: {metrics}")
    say(f"  registered {training.MODEL_NAME} version {result.version}, alias {training.ALIAS}")
    return result.version


def ingest(settings: Settings, say: Say = _say):
    """Step 3: lineage.yml and MLflow into the catalog, in one transaction."""
    from catalog.service import Catalog

    say(f"ingesting… {settings.lineage_file} and {settings.mlflow_uri} into {settings.database_url}")
    with Catalog(settings) as catalog:
        report = catalog.ingest(lineage_path=settings.lineage_file, mlflow_uri=settings.mlflow_uri)
    say(f"  {report.summary()}" + ("" if report.wrote else " (nothing written)"))
    for finding in report.findings:
        say(f"  finding [{finding.kind}] {finding.subject}: {finding.message}")
    return report


def show_lineage(ref: str = MODEL_REF, say: Say = _say) -> int:
    """Step 4: exactly what ``catalog lineage REF --direction both`` prints."""
    from catalog.cli import cli

    say(f"$ catalog lineage {ref} --direction both")
    code = cli.main(["lineage", ref, "--direction", "both"], prog_name="catalog", standalone_mode=False)
    return int(code or 0)


def check(deployment: str = DEPLOYMENT, say: Say = _say) -> int:
    """Step 5: exactly what ``catalog check DEPLOYMENT`` prints (the report is stored as evidence)."""
    from catalog.cli import cli

    say(f"$ catalog check {deployment}")
    code = cli.main(["check", deployment], prog_name="catalog", standalone_mode=False)
    return int(code or 0)


def score(deployment: str = DEPLOYMENT, say: Say = _say) -> int:
    """Step 6: exactly what ``catalog score DEPLOYMENT --available-now`` prints."""
    from catalog.cli import cli

    say(f"$ catalog score {deployment} --available-now")
    code = cli.main(["score", deployment, "--available-now"], prog_name="catalog", standalone_mode=False)
    return int(code or 0)


def run(say: Say = _say) -> int:
    """All six steps with the environment's settings; returns the exit code."""
    settings = Settings.from_env()
    if not Path(settings.lineage_file).is_file():
        say(f"error: {settings.lineage_file} not found (run the demo from the repository root)")
        return 2
    paths = generate(DATA_ROOT, say)
    train(settings, paths.table, say)
    report = ingest(settings, say)
    code = show_lineage(MODEL_REF, say) or check(DEPLOYMENT, say) or score(DEPLOYMENT, say)
    if code:
        return code
    if report.findings:
        say(f"the ingest recorded {len(report.findings)} findings: see `catalog findings`")
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    if argv:
        print("usage: python -m demo.run  (settings from CATALOG_* environment variables)", file=sys.stderr)
        return 2
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    try:
        return run()
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
