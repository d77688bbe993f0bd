"""What ``catalog score DEPLOYMENT`` runs, read from lineage.yml and checked before Spark starts.

Every problem a user can fix in lineage.yml is reported here, with the key path, before a
Spark session exists: an unknown deployment, an online one (served, not scored by a job), a
missing input or output, an output format the job does not write, a streaming deployment
whose input is not files. Relative paths are relative to lineage.yml's folder, as the
compliance check reads them.

Public API: ``ScoringSetup``, ``Location``, ``resolve_setup``, ``ScoringError``,
``OUTPUT_FORMATS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from catalog import naming
from catalog.errors import CatalogError, did_you_mean

if TYPE_CHECKING:
    from catalog.lineage_file import LineageDocument
    from catalog.lineage_file.spec import DatasetSpec, DeploymentSpec, DriftSpec

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "Location", "ScoringError", "ScoringSetup", "resolve_setup"]

#: What the job writes predictions and quarantined rows as.
OUTPUT_FORMATS = ("delta", "parquet")
#: What it reads: files (batch or stream) or, in batch, a Delta table; a hive_table is read
#: from Spark's catalog or its warehouse folder.
INPUT_FORMATS = ("csv", "parquet", "delta")


class ScoringError(CatalogError):
    """A scoring run cannot start or must stop; the message says what to fix. Exit code 2."""


@dataclass(frozen=True, slots=True)
class Location:
    """A place the job writes: the path as lineage.yml wrote it, the local path, the format."""

    declared: str
    path: Path
    format: str

    @property
    def uri(self) -> str:
        return str(self.path)


@dataclass(frozen=True, slots=True)
class ScoringSetup:
    """A deployment of lineage.yml, resolved for the scoring job."""

    name: str
    spec: DeploymentSpec
    qualified_name: str
    cluster: str
    input_key: str
    input: DatasetSpec
    input_qn: str
    input_path: Path | None  # files; None for a hive_table
    output: Location
    quarantine: Location
    checkpoint: Path
    expectations: Path | None
    drift: DriftSpec
    baseline_key: str | None
    baseline: DatasetSpec | None
    base_dir: Path
    warehouse: str = ""  # CATALOG_SPARK_WAREHOUSE; "" is Spark's own spark.sql.warehouse.dir

    @property
    def streaming(self) -> bool:
        return self.spec.mode == "streaming"

    @property
    def input_format(self) -> str:
        return (self.input.format or ("csv" if self.input.type == "fs_path" else "parquet")).lower()


def _local(raw: str, base_dir: Path, what: str) -> Path:
    parsed = urlparse(raw)
    if parsed.scheme == "file":
        path = Path(parsed.path)
    elif parsed.scheme and len(parsed.scheme) > 1:
        raise ScoringError(f"{what}: {raw!r} is a {parsed.scheme}: URI; this job reads and writes local paths and "
                           "file: URIs (run it where the data is mounted)")
    else:
        path = Path(raw)
    return path if path.is_absolute() else base_dir / path


def _deployment(doc: LineageDocument, name: str) -> DeploymentSpec:
    spec = doc.deployments.get(name)
    if spec is None:
        declared = list(doc.deployments)
        hint = did_you_mean(name, declared) or (f"; declared: {', '.join(declared)}" if declared
                                                else "; it declares none")
        raise ScoringError(f"{doc.source}: deployments.{name}: no such deployment{hint}")
    if spec.mode == "online":
        raise ScoringError(f"{doc.source}: deployments.{name}.mode: an online deployment is served, not run "
                           "by `catalog score` (batch or streaming)")
    return spec


def _input(doc: LineageDocument, name: str, spec: DeploymentSpec, base_dir: Path) -> tuple[str, DatasetSpec, Path | None]:
    where = f"{doc.source}: deployments.{name}.input"
    if not spec.input:
        raise ScoringError(f"{where}: the deployment names no input dataset to score")
    dataset = doc.datasets[spec.input]  # validation guarantees the key is declared
    fmt = (dataset.format or ("csv" if dataset.type == "fs_path" else "parquet")).lower()
    if fmt not in INPUT_FORMATS:
        raise ScoringError(f"{doc.source}: datasets.{spec.input}.format: {fmt!r} cannot be scored; expected one "
                           f"of {', '.join(INPUT_FORMATS)}")
    path = _local(dataset.path, base_dir, where) if dataset.path else None
    if spec.mode == "streaming" and (path is None or fmt == "delta"):
        raise ScoringError(f"{where}: a streaming deployment reads files (csv or parquet at an fs_path); "
                           f"{spec.input!r} is a {dataset.type} in {fmt}")
    return spec.input, dataset, path


def _output(doc: LineageDocument, name: str, spec: DeploymentSpec, base_dir: Path) -> tuple[Location, Location]:
    where = f"{doc.source}: deployments.{name}"
    if spec.output is None:
        raise ScoringError(f"{where}.output: the deployment names no output for its predictions")
    if spec.output.path is None:
        raise ScoringError(f"{where}.output.table: predictions are written to a path (output: {{path: ..., "
                           "format: delta}}); a table output needs the table's location as its path")
    fmt = (spec.output.format or "delta").lower()
    if fmt not in OUTPUT_FORMATS:
        raise ScoringError(f"{where}.output.format: {fmt!r} is not written; expected one of {', '.join(OUTPUT_FORMATS)}")
    output = Location(spec.output.path, _local(spec.output.path, base_dir, f"{where}.output"), fmt)
    q = spec.quarantine
    if q is not None and q.path is None:
        raise ScoringError(f"{where}.quarantine.table: quarantined rows are written to a path")
    declared = q.path if q is not None and q.path else spec.output.path.rstrip("/") + "_quarantine"
    q_fmt = ((q.format if q is not None else None) or "delta").lower()
    if q_fmt not in OUTPUT_FORMATS:
        raise ScoringError(f"{where}.quarantine.format: {q_fmt!r} is not written; expected one of "
                           f"{', '.join(OUTPUT_FORMATS)}")
    quarantine = Location(declared, _local(declared, base_dir, f"{where}.quarantine"), q_fmt)
    if quarantine.path.resolve() == output.path.resolve():
        raise ScoringError(f"{where}.quarantine.path: the quarantine must not be the output itself ({declared})")
    return output, quarantine


def _baseline(doc: LineageDocument, name: str, spec: DeploymentSpec) -> tuple[str | None, DatasetSpec | None]:
    key = spec.drift.baseline
    if key is None:
        model = doc.models.get(spec.model_name)
        key = model.training.datasets[0] if model is not None and model.training.datasets else None
    return key, (doc.datasets[key] if key is not None else None)


def resolve_setup(doc: LineageDocument, name: str, *, warehouse: str = "") -> ScoringSetup:
    """The deployment ``name`` of ``doc`` as the job runs it; ScoringError names what is wrong."""
    spec = _deployment(doc, name)
    base_dir = Path(doc.source).resolve().parent
    input_key, dataset, input_path = _input(doc, name, spec, base_dir)
    output, quarantine = _output(doc, name, spec, base_dir)
    checkpoint = (_local(spec.checkpoint, base_dir, f"{doc.source}: deployments.{name}.checkpoint")
                  if spec.checkpoint else Path(str(output.path).rstrip("/") + "_checkpoint"))
    expectations = _local(spec.expectations, base_dir, f"{doc.source}: deployments.{name}.expectations") \
        if spec.expectations else None
    baseline_key, baseline = _baseline(doc, name, spec)
    return ScoringSetup(
        name=name, spec=spec, qualified_name=naming.deployment_qn(name, spec.target, doc.cluster),
        cluster=doc.cluster, input_key=input_key, input=dataset, input_qn=doc.dataset_qn(input_key),
        input_path=input_path, output=output, quarantine=quarantine, checkpoint=checkpoint,
        expectations=expectations, drift=spec.drift, baseline_key=baseline_key, baseline=baseline, base_dir=base_dir,
        warehouse=warehouse,
    )
