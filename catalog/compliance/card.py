"""What ``catalog evidence export`` and ``catalog expectations suggest`` read from the catalog.

``model_card`` gathers a model version's provenance (the same context a check reads),
its latest stored check and the history of earlier ones into an ``export.ModelCard``;
``suggest`` profiles a model's training data into a draft Great Expectations suite.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalog.compliance.context import CheckContext, build_context
from catalog.compliance.model import CheckError, Report
from catalog.compliance.record import history, load_document
from catalog.store.schema import now_ms

if TYPE_CHECKING:
    from catalog.compliance.export import ModelCard
    from catalog.service import Catalog

__all__ = ["model_card", "suggest"]

#: MLflow column types -> the Spark SQL type a CSV column is read as for profiling.
_SPARK = {"double": "double", "float": "float", "long": "bigint", "integer": "int", "boolean": "boolean",
          "string": "string", "binary": "binary", "datetime": "timestamp"}


def _columns(signature: str | None, part: str) -> tuple[tuple[str, str], ...]:
    try:
        specs = json.loads(json.loads(signature or "{}").get(part) or "[]")
    except (ValueError, AttributeError):
        return ()
    return tuple((str(s.get("name", f"#{i}")), str(s.get("type", s.get("tensor-spec", "")))) for i, s in
                 enumerate(specs) if isinstance(s, dict))


def _context(catalog: Catalog, ref: str) -> CheckContext:
    doc = load_document(catalog, required=not ref.startswith("models:/"))
    with catalog.session() as session:
        return build_context(session, catalog.registry, subject=ref, target=None, doc=doc,
                             instance=catalog.settings.mlflow_instance)


def model_card(catalog: Catalog, ref: str) -> ModelCard:
    """The model card of ``ref`` (a deployment of lineage.yml, or a model ref), with its stored checks."""
    from catalog.compliance import export

    ctx = _context(catalog, ref)
    records = history(catalog, ref if ctx.subject_kind == "model" else ctx.subject_label)
    if ctx.subject_kind == "model":
        records = [r for r in records if r.report.get("model", {}).get("version") == ctx.version.qualified_name]
    reports = [Report.from_json(r.report, evidence_digest=r.digest) for r in records]
    model = ctx.registered_model.attributes if ctx.registered_model is not None else {}
    spec = ctx.model_spec
    run = ctx.runs[0].attributes if ctx.runs else {}
    signature = ctx.version.attributes.get("signature")
    deployments = []
    if ctx.doc is not None:
        deployments = [export.CardDeployment(name, d.target, d.mode, d.model)
                       for name, d in ctx.doc.deployments.items() if d.model_name == ctx.model_name]
    latest = records[0] if records else None
    return export.ModelCard(
        model_name=ctx.model_name,
        owner=str(model.get("owner") or (spec.owner if spec else "") or ""),
        purpose=str(model.get("purpose") or (spec.purpose if spec else "") or ""),
        description=str(model.get("description") or (spec.description if spec else "") or ""),
        version_qn=ctx.version.qualified_name, status=str(ctx.version.attributes.get("status") or ""),
        run_id=str(ctx.version.attributes.get("runId") or ""), generated_at=now_ms(),
        metrics=tuple(sorted((k, float(v)) for k, v in (run.get("metrics") or {}).items())),
        params=tuple(sorted((k, str(v)) for k, v in (run.get("params") or {}).items())),
        signature_inputs=_columns(signature, "inputs"), signature_outputs=_columns(signature, "outputs"),
        training_data=tuple(export.TrainingDataset(
            t.qualified_name, t.type_name, ", ".join(t.to_json()["digests"]), t.declared, t.logged)
            for t in ctx.training),
        classifications=tuple(export.CardClassification(
            c.type_name, ctx.sources[c.source_guid].qualified_name if c.source_guid in ctx.sources else c.source_guid)
            for c in ctx.classifications),
        deployments=tuple(deployments),
        report=reports[0] if reports else None,
        history=tuple(export.ReportSummary.of(r) for r in reports[1:]),
        waivers=reports[0].waivers if reports else (),
        evidence=export.EvidenceLink(latest.seq, latest.digest, latest.prev) if latest else None,
        generated_by=catalog.settings.user,
    )


def _dataset_input(ctx: CheckContext, dataset: str | None) -> tuple[Any, Path]:
    from catalog.compliance.sample import DatasetInput

    doc = ctx.doc
    keys = [dataset] if dataset is not None else (ctx.model_spec.training.datasets if ctx.model_spec else [])
    for key in keys:
        spec = doc.datasets.get(key) if doc is not None and key is not None else None
        if spec is not None and spec.type == "fs_path" and spec.path is not None:
            return DatasetInput.of(spec), ctx.base_dir
    if dataset is not None and Path(dataset).exists():
        fmt = "parquet" if Path(dataset).suffix.lower() in (".parquet", ".pq") else "csv"
        return DatasetInput(dataset, fmt), Path(".")
    if dataset is not None:
        raise CheckError(f"--dataset {dataset!r} is neither an fs_path dataset of lineage.yml nor a file")
    raise CheckError(f"{ctx.model_name!r} declares no fs_path training data to profile: pass --dataset "
                     "(a dataset key of lineage.yml, or a CSV / Parquet file)")


def suggest(catalog: Catalog, model_ref: str, dataset: str | None, *, rows: int = 100_000) -> dict[str, Any]:
    """A draft GX suite for ``model_ref`` from its signature and a profile of its training data."""
    if not model_ref.startswith("models:/"):
        raise CheckError(f"expected a model ref (models:/<name>@<alias> or models:/<name>/<version>), got {model_ref!r}")
    from catalog.compliance.expectations import suggest_suite
    from catalog.compliance.sample import read_sample

    ctx = _context(catalog, model_ref)
    spec, base = _dataset_input(ctx, dataset)
    signature = ctx.version.attributes.get("signature")
    if spec.schema is None and spec.format == "csv":
        # read the signature's columns as the types the model takes, the rest as Spark would: strings
        typed = {name: _SPARK[kind] for name, kind in _columns(signature, "inputs") if kind in _SPARK}
        spec = dataclasses.replace(spec, schema=typed or None)
    sample = read_sample(spec, rows=rows, base_dir=base)
    suite = suggest_suite(signature, sample.frame, name=f"{ctx.model_name}-input")
    suite.setdefault("meta", {}).update({"model": ctx.version.qualified_name, "profiled": list(sample.files),
                                         "sampleDigest": sample.digest})
    return suite

