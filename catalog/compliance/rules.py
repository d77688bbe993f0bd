"""The built-in rules: small functions over a ``CheckContext``, each with an id, version and severity.

A rule says what it found (``Outcome``): ``pass``, a ``violation`` (which the target's
severity turns into fail or warn), a ``warn`` whatever the severity, or ``error`` (it
could not decide: the check then cannot pass). It names the evidence it looked at:
guids, digests, values. The ids are ``catalog.lineage_file.policy.RULE_IDS``; docs/
compliance.md gives each rule's exact semantics. Bump a rule's ``version`` whenever its
semantics change: evidence records carry it.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from catalog.compliance.context import CheckContext
from catalog.config import redact_uri
from catalog.lineage_file.policy import RuleSettings
from catalog.model import ACTIVE

__all__ = ["RULES", "Outcome", "Rule", "digest_text"]

DEFAULT_ALIASES = ("champion",)
DEFAULT_MAX_DRIFT = 0.2
DEFAULT_SAMPLE_ROWS = 10_000
_COMPARE = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*\Z")
_OPS: Mapping[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["pass", "violation", "warn", "error"]
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    applicable: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    severity: str  # the default: fail or warn
    description: str
    run: Callable[[CheckContext, Any], Outcome]
    data: bool = False  # reads a data sample (``--no-data`` skips it)


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _na(message: str) -> Outcome:
    return Outcome("pass", message, applicable=False)  # the reports say "not applicable"


def _model_attr(ctx: CheckContext, name: str) -> tuple[str | None, dict[str, Any]]:
    model = ctx.registered_model
    value = model.attributes.get(name) if model is not None else None
    spec_value = getattr(ctx.model_spec, name, None) if ctx.model_spec is not None else None
    text = value if isinstance(value, str) and value.strip() else spec_value
    evidence = {"model": model.qualified_name if model else None, "guid": model.guid if model else None, name: text}
    return (text if isinstance(text, str) and text.strip() else None), evidence


def _model_unknown(ctx: CheckContext) -> Outcome | None:
    if ctx.registered_model is None and ctx.model_spec is None:
        return Outcome("error", f"registered model {ctx.model_name!r} is neither in the catalog nor in lineage.yml: "
                       "run `catalog ingest`")
    return None


def _runs_missing(ctx: CheckContext) -> Outcome | None:
    """An error when the version names its run but the catalog does not hold it."""
    run_id = ctx.version.attributes.get("runId")
    if run_id and not ctx.runs:
        return Outcome("error", f"run {run_id} of {ctx.version.qualified_name} is not in the catalog: "
                       "ingest MLflow (`catalog ingest`)", {"runId": run_id})
    return None


def owner_declared(ctx: CheckContext, _: RuleSettings) -> Outcome:
    if (unknown := _model_unknown(ctx)) is not None:
        return unknown
    owner, evidence = _model_attr(ctx, "owner")
    if owner is None:
        return Outcome("violation", f"model {ctx.model_name!r} declares no owner (lineage.yml models.{ctx.model_name}.owner)",
                       evidence)
    return Outcome("pass", f"owner {owner}", evidence)


def purpose_declared(ctx: CheckContext, _: RuleSettings) -> Outcome:
    if (unknown := _model_unknown(ctx)) is not None:
        return unknown
    purpose, evidence = _model_attr(ctx, "purpose")
    if purpose is None:
        return Outcome("violation",
                       f"model {ctx.model_name!r} declares no purpose (lineage.yml models.{ctx.model_name}.purpose)",
                       evidence)
    return Outcome("pass", f"purpose: {purpose}", evidence)


def training_lineage_known(ctx: CheckContext, _: RuleSettings) -> Outcome:
    if (missing_run := _runs_missing(ctx)) is not None:
        return missing_run
    evidence = {"datasets": [t.to_json() for t in ctx.training], "runs": [r.guid for r in ctx.runs]}
    if not ctx.training:
        return Outcome("violation", f"{ctx.version.qualified_name}: no training data set is declared in "
                       "lineage.yml or logged by its run", evidence)
    missing = [t.qualified_name for t in ctx.training if t.entity is None]
    deleted = [t.qualified_name for t in ctx.training if t.entity is not None and t.entity.status != ACTIVE]
    problems = []
    if missing:
        problems.append(f"not in the catalog: {', '.join(missing)}")
    if deleted:
        problems.append(f"deleted: {', '.join(deleted)}")
    if ctx.atlas_url:
        problems += _not_in_atlas(ctx, evidence)
    if problems:
        return Outcome("violation", "training data " + "; ".join(problems), evidence)
    where = f" (and in Atlas at {redact_uri(ctx.atlas_url)})" if ctx.atlas_url else ""
    return Outcome("pass", f"{len(ctx.training)} training data set(s) known{where}: "
                   + ", ".join(t.qualified_name for t in ctx.training), evidence)


def _not_in_atlas(ctx: CheckContext, evidence: dict[str, Any]) -> list[str]:
    """Training data the configured Atlas lacks or has deleted; ``evidence["atlas"]`` says what it holds."""
    from catalog.compliance.atlas_lookup import atlas_state

    states = {t.qualified_name: atlas_state(ctx.atlas_url, t.type_name, t.qualified_name) for t in ctx.training}
    evidence["atlas"] = {"url": redact_uri(ctx.atlas_url), "entities": {
        qn: {"guid": s.guid, "status": s.status} if s.found else None for qn, s in states.items()}}
    absent = [qn for qn, s in states.items() if not s.found]
    gone = [qn for qn, s in states.items() if s.found and s.status != ACTIVE]
    where = redact_uri(ctx.atlas_url)
    return ([f"not in Atlas at {where}: {', '.join(absent)}"] if absent else []) + (
        [f"deleted in Atlas at {where}: {', '.join(gone)}"] if gone else [])


def training_data_agrees(ctx: CheckContext, _: RuleSettings) -> Outcome:
    if (missing_run := _runs_missing(ctx)) is not None:
        return missing_run
    evidence = {"datasets": [t.to_json() for t in ctx.training]}
    declared = [t for t in ctx.training if t.declared]
    logged = [t for t in ctx.training if t.logged]
    if not declared or not logged:
        what = "declares" if not declared else "logs"
        return _na(f"{'lineage.yml' if not declared else 'the MLflow run'} {what} no training data to compare")
    only_declared = [t.qualified_name for t in declared if not t.logged]
    only_logged = [t.qualified_name for t in logged if not t.declared]
    digests = {t.qualified_name: {str(d.get("digest")) for d in t.logged_details if d.get("digest")} for t in logged}
    several = [f"{qn} ({', '.join(sorted(d))})" for qn, d in digests.items() if len(d) > 1]
    problems = []
    if only_declared:
        problems.append(f"declared in lineage.yml but not logged by the run: {', '.join(only_declared)}")
    if only_logged:
        problems.append(f"logged by the run but not declared in lineage.yml: {', '.join(only_logged)}")
    if several:
        problems.append(f"logged with different digests: {'; '.join(several)}")
    if problems:
        return Outcome("violation", "; ".join(problems), evidence)
    return Outcome("pass", "lineage.yml and the MLflow run agree: " + ", ".join(
        f"{t.qualified_name} (digest {', '.join(sorted(digests[t.qualified_name])) or 'not logged'})" for t in logged
    ), evidence)


def signature_present(ctx: CheckContext, _: RuleSettings) -> Outcome:
    signature = ctx.version.attributes.get("signature")
    evidence = {"version": ctx.version.qualified_name, "signatureDigest": digest_text(signature) if signature else None}
    if not signature:
        return Outcome("violation", f"{ctx.version.qualified_name} has no model signature (log the model with "
                       "signature=infer_signature(...))", evidence)
    try:
        inputs = json.loads(json.loads(signature).get("inputs") or "null")
    except (ValueError, AttributeError):
        return Outcome("error", f"{ctx.version.qualified_name}: the stored signature is not MLflow's JSON", evidence)
    if not inputs:
        return Outcome("violation", f"{ctx.version.qualified_name}: the signature declares no inputs", evidence)
    return Outcome("pass", f"signature with {len(inputs)} input(s)", evidence)


def _input_schema(ctx: CheckContext) -> tuple[dict[str, str] | None, str]:
    """The deployment input's schema (name -> Spark type) and where it came from."""
    spec = ctx.input_spec
    if spec is None:
        return None, ""
    if spec.schema_:
        return dict(spec.schema_), f"lineage.yml datasets.{ctx.deployment_spec.input}.schema"  # type: ignore[union-attr]
    fmt = (spec.format or "").lower()
    if spec.type == "fs_path" and fmt == "csv":
        sample = _sample(ctx, DEFAULT_SAMPLE_ROWS)
        return dict(sample.schema), "the CSV header, every column a string (no schema declared)"
    if spec.type == "fs_path" and fmt in ("parquet", "delta"):
        from catalog.compliance.schema_compat import input_schema_from_parquet

        return input_schema_from_parquet(ctx.base_dir / spec.path), f"the {fmt} files' own schema"  # type: ignore[operator]
    return None, ""


def _sample(ctx: CheckContext, rows: int) -> Any:
    """The deployment input's data sample, read once per check."""
    key = f"sample:{rows}"
    if key not in ctx.cache:
        from catalog.compliance.sample import DatasetInput, read_sample

        spec = ctx.input_spec
        assert spec is not None
        if spec.type != "fs_path" or spec.path is None:
            from catalog.compliance.model import CheckError

            raise CheckError(f"input {ctx.input_qn} is a {spec.type}: its data cannot be sampled here; "
                             "declare it as an fs_path with its files")
        ctx.cache[key] = read_sample(DatasetInput.of(spec), rows=rows, base_dir=ctx.base_dir)
    return ctx.cache[key]


def signature_matches_input(ctx: CheckContext, settings: Any) -> Outcome:
    if ctx.deployment is None:
        return _na("a model reference has no deployment input; check the deployment")
    if ctx.input_spec is None:
        return Outcome("error", f"deployment {ctx.deployment_name!r} declares no input (lineage.yml "
                       f"deployments.{ctx.deployment_name}.input)")
    signature = ctx.version.attributes.get("signature")
    if not signature:
        return Outcome("violation", f"{ctx.version.qualified_name} has no signature to check the input against")
    schema, origin = _input_schema(ctx)
    if schema is None:
        return Outcome("error", f"the schema of input {ctx.input_qn} is unknown: declare it in lineage.yml "
                       f"(datasets.{ctx.deployment_spec.input}.schema)")  # type: ignore[union-attr]
    from catalog.compliance.schema_compat import check_signature

    outcome = check_signature(signature, schema)
    evidence = {"input": ctx.input_qn, "schemaFrom": origin, "schema": schema,
                "signatureDigest": digest_text(signature), **outcome.to_json()}
    mismatched = [p for p in outcome.problems if p.kind != "positional"]
    positional = [p for p in outcome.problems if p.kind == "positional"]
    if mismatched:
        return Outcome("violation", f"input {ctx.input_qn} ({origin}) does not fit the signature of "
                       f"{ctx.version.qualified_name}: " + "; ".join(p.message for p in mismatched), evidence)
    if positional and not settings.allow_positional:
        return Outcome("warn", "; ".join(p.message for p in positional), evidence)
    dropped = f"; extra columns dropped: {', '.join(outcome.dropped)}" if outcome.dropped else ""
    return Outcome("pass", f"input {ctx.input_qn} fits the signature ({len(schema)} columns, {origin}){dropped}",
                   evidence)


def expectations_pass(ctx: CheckContext, settings: Any) -> Outcome:
    if ctx.deployment is None:
        return _na("a model reference has no deployment input; check the deployment")
    suite_path = ctx.deployment_spec.expectations if ctx.deployment_spec else None
    if not suite_path:
        return _na(f"deployment {ctx.deployment_name!r} names no expectation suite")
    if ctx.input_spec is None:
        return Outcome("error", f"deployment {ctx.deployment_name!r} declares no input to validate")
    from catalog.compliance.expectations import load_suite, validate

    suite = load_suite(ctx.base_dir / suite_path)
    sample = _sample(ctx, settings.sample_rows or DEFAULT_SAMPLE_ROWS)
    outcome = validate(suite, sample.frame)
    evidence = {"suite": suite_path, "sampleDigest": sample.digest, "rows": sample.rows, **outcome.to_json()}
    failed = [r for r in outcome.results if not r.success]
    if failed:
        parts = [f"{r.type}({r.column or ''}) {r.unexpected_count or 0} unexpected" for r in failed]
        return Outcome("violation", f"{len(failed)} of {len(outcome.results)} expectations failed on "
                       f"{sample.rows} rows: " + "; ".join(parts), evidence)
    return Outcome("pass", f"{len(outcome.results)} expectations passed on {sample.rows} rows of {ctx.input_qn}",
                   evidence)


def classifications_allowed(ctx: CheckContext, settings: Any) -> Outcome:
    seen = []
    for c in ctx.classifications:
        source = ctx.sources.get(c.source_guid)
        seen.append({"classification": c.type_name, "on": c.entity_guid, "from": source.qualified_name if source
                     else c.source_guid, "fromGuid": c.source_guid, "propagated": c.propagated})
    evidence = {"classifications": seen, "allow": settings.allow, "deny": list(settings.deny)}
    unknown = sorted((set(settings.allow or []) | set(settings.deny)) - set(ctx.known_classifications))
    if ctx.known_classifications and unknown:
        return Outcome("error", f"the policy of target {ctx.target!r} names unknown classification(s) "
                       f"{', '.join(unknown)}; known: {', '.join(sorted(ctx.known_classifications))}", evidence)
    names = sorted({s["classification"] for s in seen})
    refused = [s for s in seen if s["classification"] in settings.deny
               or (settings.allow is not None and s["classification"] not in settings.allow)]
    if refused:
        return Outcome("violation", f"not allowed for target {ctx.target!r}: " + ", ".join(
            f"{s['classification']} (from {s['from']})" for s in refused), evidence)
    if not names:
        return Outcome("pass", "no classification reached the model", evidence)
    return Outcome("pass", f"allowed for target {ctx.target!r}: {', '.join(names)}", evidence)


def alias_approved(ctx: CheckContext, settings: Any) -> Outcome:
    approved = list(DEFAULT_ALIASES if settings.aliases is None else settings.aliases)
    if not approved:
        return Outcome("error", f"the policy of target {ctx.target!r} approves no alias (alias-approved.aliases "
                       "is empty): nothing could deploy; list the approved aliases or set the rule off")
    carried = list(ctx.version.attributes.get("aliases") or [])
    evidence = {"ref": ctx.model_ref, "approved": approved, "versionAliases": carried,
                "version": ctx.version.qualified_name}
    alias = ctx.alias
    if alias is not None:
        if alias in approved:
            return Outcome("pass", f"alias {alias!r} is approved for target {ctx.target!r}", evidence)
        return Outcome("violation", f"alias {alias!r} is not approved for target {ctx.target!r} "
                       f"(approved: {', '.join(approved)})", evidence)
    if set(carried) & set(approved):
        return Outcome("pass", f"pinned version carries approved alias {sorted(set(carried) & set(approved))[0]!r}",
                       evidence)
    return Outcome("violation", f"{ctx.model_ref} is pinned to a version that carries no approved alias for "
                   f"target {ctx.target!r} (approved: {', '.join(approved)}; it carries: {', '.join(carried) or 'none'})",
                   evidence)


def metrics_threshold(ctx: CheckContext, settings: Any) -> Outcome:
    thresholds = dict(ctx.model_spec.policy.metrics) if ctx.model_spec is not None else {}
    thresholds.update(settings.metrics)
    if not thresholds:
        return _na(f"no metric thresholds declared for {ctx.model_name!r} (models.{ctx.model_name}.policy.metrics)")
    if (missing_run := _runs_missing(ctx)) is not None:
        return missing_run
    metrics: dict[str, float] = {}
    for run in ctx.runs:
        metrics.update(run.attributes.get("metrics") or {})
    evidence = {"thresholds": thresholds, "metrics": {k: metrics.get(k) for k in thresholds},
                "runs": [r.qualified_name for r in ctx.runs]}
    failed, passed = [], []
    for name, threshold in sorted(thresholds.items()):
        match = _COMPARE.match(threshold)
        assert match is not None  # validated with lineage.yml
        op, bound = match[1], float(match[2])
        value = metrics.get(name)
        if value is None:
            failed.append(f"{name} was not logged by the run (needs {op} {bound:g})")
        elif not _OPS[op](float(value), bound):
            failed.append(f"{name} = {float(value):g}, needs {op} {bound:g}")
        else:
            passed.append(f"{name} = {float(value):g} {op} {bound:g}")
    if failed:
        return Outcome("violation", "; ".join(failed), evidence)
    return Outcome("pass", "; ".join(passed), evidence)


def version_ready(ctx: CheckContext, _: RuleSettings) -> Outcome:
    status = ctx.version.attributes.get("status")
    evidence = {"version": ctx.version.qualified_name, "status": status, "entityStatus": ctx.version.status}
    if ctx.version.status != ACTIVE:
        return Outcome("violation", f"{ctx.version.qualified_name} is {ctx.version.status} in the catalog", evidence)
    if not status:
        return Outcome("error", f"the status of {ctx.version.qualified_name} is unknown: MLflow reported none",
                       evidence)
    if status != "READY":
        return Outcome("violation", f"{ctx.version.qualified_name} is {status or 'of unknown status'}, not READY",
                       evidence)
    stage = str(ctx.version.attributes.get("stage") or "")
    if stage.lower() == "archived":
        return Outcome("violation", f"{ctx.version.qualified_name} is archived", evidence)
    return Outcome("pass", f"{ctx.version.qualified_name} is READY", evidence)


def _drift_scores(run: Any) -> dict[str, float]:
    """Feature -> drift score of a scoring run (``{"features": {"pH": {"psi": 0.1}}}`` or ``{"pH": 0.1}``)."""
    raw = run.attributes.get("drift")
    try:
        data = json.loads(raw) if isinstance(raw, str) else (raw or {})
    except ValueError:
        raise ValueError(f"scoring run {run.qualified_name}: its drift record is not JSON") from None
    features = data.get("features", data) if isinstance(data, dict) else {}
    scores = {}
    for name, value in features.items():
        score = value.get("psi") if isinstance(value, dict) else value
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            scores[str(name)] = float(score)
    return scores


def no_drift(ctx: CheckContext, settings: Any) -> Outcome:
    if ctx.deployment is None:
        return _na("a model reference has no scoring runs; check the deployment")
    mine = [r for r in ctx.scoring_runs if (ctx.version.qualified_name in str(r.attributes.get("modelVersion", ""))
            or not r.attributes.get("modelVersion")) and r.attributes.get("rowsScored") != 0]  # a run of no rows says nothing
    if not mine:
        return _na(f"no scoring runs of {ctx.version.qualified_name} by {ctx.deployment_name!r} yet")
    limit = settings.max if settings.max is not None else DEFAULT_MAX_DRIFT
    latest = mine[: settings.runs or 1]
    over = []
    evidence: dict[str, Any] = {"max": limit, "runs": []}
    for run in latest:
        scores = _drift_scores(run)
        evidence["runs"].append({"guid": run.guid, "qualifiedName": run.qualified_name, "drift": scores})
        over += [f"{name} {score:.3f} in {run.qualified_name}" for name, score in sorted(scores.items()) if score > limit]
    if over:
        return Outcome("violation", f"drift over {limit:g}: " + "; ".join(over), evidence)
    return Outcome("pass", f"latest {len(latest)} scoring run(s) within drift {limit:g}", evidence)


#: The built-in rules by id, in ``RULE_IDS`` order.
RULES: Mapping[str, Rule] = {r.id: r for r in (
    Rule("owner-declared", 1, "fail", "The registered model declares an owner.", owner_declared),
    Rule("purpose-declared", 1, "warn", "The registered model declares its intended purpose.", purpose_declared),
    Rule("training-lineage-known", 1, "fail", "Training data sets are declared and/or logged, each in the catalog "
         "and none deleted.", training_lineage_known),
    Rule("training-data-agrees", 1, "warn", "lineage.yml and the MLflow run name the same training data "
         "(one digest each).", training_data_agrees),
    Rule("signature-present", 1, "fail", "The model version has a signature with inputs.", signature_present),
    Rule("signature-matches-input", 1, "fail", "The deployment's input schema fits the signature under MLflow's "
         "schema enforcement.", signature_matches_input, data=True),
    Rule("expectations-pass", 1, "fail", "The deployment's Great Expectations suite passes on a sample of its "
         "input.", expectations_pass, data=True),
    Rule("classifications-allowed", 1, "fail", "Classifications that reached the model through lineage are "
         "allowed for the target.", classifications_allowed),
    Rule("alias-approved", 1, "fail", "Only approved aliases deploy to the target.", alias_approved),
    Rule("metrics-threshold", 1, "fail", "Logged metrics meet the declared thresholds.", metrics_threshold),
    Rule("version-ready", 1, "fail", "The version is READY, not archived or deleted.", version_ready),
    Rule("no-drift", 1, "warn", "The latest scoring runs of the current version are within their drift "
         "threshold.", no_drift),
)}
