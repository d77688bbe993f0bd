"""Loaded YAML data -> ``LineageDocument``, or every problem of the file in one error.

Why: a data scientist fixing lineage.yml wants all of its problems at once, each
pointing at a line and a key path with what was expected, not a pydantic trace.
This module detects the form (full or CML), validates it, cross-checks references
between sections and turns every failure into an ``Issue``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from catalog import naming
from catalog.errors import LineageFileError, did_you_mean
from catalog.lineage_file.loader import KeyPath, format_path
from catalog.lineage_file.policy import PolicySection
from catalog.lineage_file.spec import (
    DEFAULT_CLUSTER,
    CmlLineageFile,
    DatasetSpec,
    FieldProblem,
    FullLineageFile,
    LineageDocument,
    ModelSpec,
    TrainingSpec,
)
from catalog.lineage_file.values import describe_value

__all__ = ["Issue", "LineageValidationError", "build_document", "build_policy", "did_you_mean"]

FULL_KEYS = tuple(FullLineageFile.model_fields)
CML_KEY = "hive_table_qualified_names"
_HIVE_TABLE = re.compile(r"([A-Za-z0-9_]+\.)?[A-Za-z0-9_]+(@[A-Za-z0-9_.-]+)?\Z")
_DEPLOYMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_HIVE_TABLE_EXPECTED = "a Hive table name db.table[@cluster] (letters, digits, '_')"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem of a lineage file, located by line (1-based; 0 = the whole file) and key path."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        line = f":{self.line}" if self.line else ""  # 0: about the whole file
        where = f" {self.path}:" if self.path else ""
        return f"{self.file}{line}:{where} {self.message}"


class LineageValidationError(LineageFileError):
    """lineage.yml has one or more problems; ``issues`` lists them in line order."""

    def __init__(self, issues: list[Issue]) -> None:
        issues = sorted(issues, key=lambda i: (i.line, i.path, i.message))
        self.issues = issues
        if len(issues) == 1:
            text = str(issues[0])
        else:
            text = "\n".join([f"{issues[0].file}: {len(issues)} problems", *map(str, issues)])
        super().__init__(text)


class _Locator:
    """Turns key paths into issues that carry the file name and the nearest known line."""

    def __init__(self, filename: str, lines: dict[KeyPath, int]) -> None:
        self.filename = filename
        self.lines = lines

    def issue(self, path: tuple[Any, ...], message: str) -> Issue:
        probe = tuple(path)
        while probe not in self.lines and probe:
            probe = probe[:-1]
        return Issue(self.filename, self.lines.get(probe, 1), format_path(path), message)


# -- detecting the form -----------------------------------------------------------------


def _is_cml(data: dict[Any, Any]) -> bool:
    """CML's form is a mapping of model names to ``{hive_table_qualified_names: ...}``."""
    if any(key in FULL_KEYS for key in data):
        return False
    if any(isinstance(v, dict) and CML_KEY in v for v in data.values()):
        return True
    if any(difflib.get_close_matches(str(key), FULL_KEYS, n=1, cutoff=0.75) for key in data):
        return False
    return bool(data) and all(isinstance(v, dict) for v in data.values())


# -- pydantic errors -> issues ----------------------------------------------------------


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}


def _fields_at(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at ``loc`` (below ``root``) accepts, for did-you-mean."""
    current: Any = root
    for step in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if current.__pydantic_root_model__:
                current = current.model_fields["root"].annotation
            if isinstance(current, type) and issubclass(current, BaseModel):
                field = _field(current, str(step))
                if field is None:
                    return []
                current = field.annotation
                continue
        current = _unwrap(current)
        args = typing.get_args(current)
        origin = typing.get_origin(current)
        if origin is dict:
            current = args[1]
        elif origin is list:
            current = args[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        if current.__pydantic_root_model__:
            return []
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _field(model: type[BaseModel], key: str) -> Any:
    """The field a file's key names: by its alias (``schema``, ``owner-declared``) or its name."""
    for name, field in model.model_fields.items():
        if (field.alias or name) == key:
            return field
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the one type that matters."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation


def _pydantic_issues(exc: ValidationError, root: type[BaseModel], at: _Locator) -> list[Issue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
        if loc and loc[-1] == "[key]":
            issues.append(at.issue(loc[:-1], f"expected a string key, got {describe_value(value)}"))
            continue
        if kind == "extra_forbidden":
            allowed = _fields_at(root, loc[:-1])
            hint = did_you_mean(loc[-1], allowed) or (f"; expected one of: {', '.join(allowed)}" if allowed else "")
            issues.append(at.issue(loc, f"unknown key {loc[-1]!r}{hint}"))
        elif kind == "missing":
            issues.append(at.issue(loc, f"required key {loc[-1]!r} is missing"))
        elif kind == "literal_error":
            expected = str(ctx.get("expected", ""))
            choices = re.findall(r"'([^']*)'", expected)
            if choices:
                message = f"expected one of {', '.join(map(repr, choices))}, got {describe_value(value)}"
                issues.append(at.issue(loc, message + did_you_mean(value, choices)))
            else:
                issues.append(at.issue(loc, f"expected {expected}, got {describe_value(value)}"))
        elif kind in _BOUNDS:
            bound = next(iter(ctx.values()), "?")
            issues.append(at.issue(loc, f"expected a number {_BOUNDS[kind]} {bound}, got {describe_value(value)}"))
        elif kind == "string_too_short":
            issues.append(at.issue(loc, "expected a non-empty string"))
        elif kind in _EXPECTED:
            issues.append(at.issue(loc, f"expected {_EXPECTED[kind]}, got {describe_value(value)}"))
        elif kind in ("value_error", "assertion_error"):
            error = ctx.get("error")
            subpath = error.subpath if isinstance(error, FieldProblem) else ()
            issues.append(at.issue(loc + subpath, str(error)))
        else:
            message = re.sub(r"^Input should be ", "expected ", err["msg"])
            issues.append(at.issue(loc, f"{message[:1].lower()}{message[1:]}, got {describe_value(value)}"))
    return issues


# -- cross-checks (on the raw data, so they run even when other parts are malformed) -------


def _cross_issues(data: dict[Any, Any], at: _Locator) -> list[Issue]:
    issues: list[Issue] = []
    datasets = data.get("datasets") if isinstance(data.get("datasets"), dict) else {}
    for key, spec in (datasets or {}).items():
        kind = spec.get("type", "hive_table") if isinstance(spec, dict) else "hive_table"
        if kind == "hive_table" and isinstance(key, str) and not _HIVE_TABLE.match(key):
            issues.append(at.issue(("datasets", key), f"expected {_HIVE_TABLE_EXPECTED} as the key, got {key!r}"))
    declared = [k for k in (datasets or {}) if isinstance(k, str)]

    def check_ref(path: tuple[Any, ...], ref: Any, what: str) -> None:
        if isinstance(ref, str) and ref not in declared:
            hint = did_you_mean(ref, declared) or (
                f"; declared: {', '.join(declared)}" if declared else "; 'datasets' declares none"
            )
            issues.append(at.issue(path, f"{what} {ref!r} is not declared under 'datasets'{hint}"))

    models = data.get("models") if isinstance(data.get("models"), dict) else {}
    for name, spec in (models or {}).items():
        training = spec.get("training") if isinstance(spec, dict) else None
        refs = training.get("datasets") if isinstance(training, dict) else None
        for i, ref in enumerate(refs if isinstance(refs, list) else []):
            path = ("models", name, "training", "datasets", i)
            if ref in (name, f"models:/{name}"):
                issues.append(at.issue(path, f"model {name!r} lists itself as a training input"))
            else:
                check_ref(path, ref, "training dataset")

    deployments = data.get("deployments") if isinstance(data.get("deployments"), dict) else {}
    for name, spec in (deployments or {}).items():
        if isinstance(name, str) and not _DEPLOYMENT_NAME.match(name):
            expected = "a deployment name (letters, digits, '_', '.', '-')"
            issues.append(at.issue(("deployments", name), f"expected {expected}, got {name!r}"))
        if isinstance(spec, dict) and "input" in spec:
            check_ref(("deployments", name, "input"), spec["input"], "input dataset")
        drift = spec.get("drift") if isinstance(spec, dict) else None
        if isinstance(drift, dict) and drift.get("baseline") is not None:
            check_ref(("deployments", name, "drift", "baseline"), drift["baseline"], "drift baseline dataset")
    policy = data.get("policy")
    if isinstance(policy, dict) and isinstance(deployments, dict):
        issues += _scope_issues(policy, [k for k in deployments if isinstance(k, str)], at, ("policy",))
    return issues


def _scope_issues(policy: dict[Any, Any], deployments: list[str], at: _Locator, where: tuple[Any, ...]) -> list[Issue]:
    """A waiver scoped to a deployment must name one the file declares."""
    issues = []
    waivers = policy.get("waivers")
    for i, waiver in enumerate(waivers if isinstance(waivers, list) else []):
        scope = waiver.get("scope") if isinstance(waiver, dict) else None
        if not isinstance(scope, str) or scope.startswith("models:/"):
            continue
        name = scope.removeprefix("deployment:")
        if name not in deployments:
            hint = did_you_mean(name, deployments) or (
                f"; declared: {', '.join(deployments)}" if deployments else "; 'deployments' declares none"
            )
            issues.append(at.issue((*where, "waivers", i, "scope"), f"deployment {name!r} is not declared{hint}"))
    return issues


def build_policy(data: Any, lines: dict[KeyPath, int], *, filename: str, deployments: list[str]) -> PolicySection:
    """Validate a policy file (the keys of lineage.yml's ``policy`` section, without ``file``)."""
    at = _Locator(filename, lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LineageValidationError([at.issue((), f"expected a mapping (targets, waivers), got {describe_value(data)}")])
    issues = []
    if "file" in data:
        issues.append(at.issue(("file",), "a policy file cannot name another policy file"))
    issues += _scope_issues(data, deployments, at, ())
    try:
        policy = PolicySection.model_validate({k: v for k, v in data.items() if k != "file"})
    except ValidationError as exc:
        issues += _pydantic_issues(exc, PolicySection, at)
    if issues:
        raise LineageValidationError(issues)
    return policy


def _collision_issues(doc: LineageDocument, at: _Locator) -> list[Issue]:
    """Two dataset keys must not name the same Atlas entity."""
    issues = []
    owners: dict[tuple[str, str], str] = {}
    for key, spec in doc.datasets.items():
        ident = (spec.type, spec.qualified_name(key, doc.cluster))
        if ident in owners:
            issues.append(
                at.issue(("datasets", key), f"names the same {ident[0]} {ident[1]!r} as dataset {owners[ident]!r}")
            )
        owners.setdefault(ident, key)
    return issues


# -- the two forms ----------------------------------------------------------------------


def _full(data: dict[Any, Any], at: _Locator, context: dict[str, Any]) -> LineageDocument | list[Issue]:
    issues = _cross_issues(data, at)
    try:
        parsed = FullLineageFile.model_validate(data, context=context)
    except ValidationError as exc:
        return issues + _pydantic_issues(exc, FullLineageFile, at)
    if issues:
        return issues
    doc = LineageDocument(
        version=parsed.version,
        cluster=parsed.cluster,
        datasets=parsed.datasets,
        models=parsed.models,
        deployments=parsed.deployments,
        policy=parsed.policy,
        source=at.filename,
        policy_source=at.filename,
        form="full",
    )
    return _collision_issues(doc, at) or doc


def _cml(data: dict[Any, Any], at: _Locator) -> LineageDocument | list[Issue]:
    try:
        parsed = CmlLineageFile.model_validate(data)
    except ValidationError as exc:
        return _pydantic_issues(exc, CmlLineageFile, at)
    issues = []
    for name, entry in parsed.root.items():
        for i, table in enumerate(entry.hive_table_qualified_names):
            if not _HIVE_TABLE.match(table):
                issues.append(at.issue((name, CML_KEY, i), f"expected {_HIVE_TABLE_EXPECTED}, got {table!r}"))
            elif table == name:
                issues.append(at.issue((name, CML_KEY, i), f"model {name!r} lists itself as a training input"))
    if issues:
        return issues
    tables = [t for entry in parsed.root.values() for t in entry.hive_table_qualified_names]
    suffixes = {cluster for _, cluster in map(naming.split_cluster, tables) if cluster}
    cluster = suffixes.pop() if len(suffixes) == 1 else DEFAULT_CLUSTER
    datasets: dict[str, DatasetSpec] = {}
    models: dict[str, ModelSpec] = {}
    for name, entry in parsed.root.items():
        keys = list(dict.fromkeys(naming.table_qn(t, cluster) for t in entry.hive_table_qualified_names))
        for key in keys:
            datasets.setdefault(key, DatasetSpec())
        models[name] = ModelSpec(training=TrainingSpec(datasets=keys), metadata=entry.metadata or {})
    return LineageDocument(
        cluster=cluster, datasets=datasets, models=models, source=at.filename, policy_source=at.filename, form="cml"
    )


def build_document(
    data: Any,
    lines: dict[KeyPath, int],
    *,
    filename: str,
    known_classifications: set[str] | frozenset[str] | None = None,
) -> LineageDocument:
    """Validate loaded data (either form); raise ``LineageValidationError`` listing every problem."""
    at = _Locator(filename, lines)
    if data is None:
        expected = "expected a mapping (version/datasets/models/deployments, or CML's form)"
        raise LineageValidationError([at.issue((), f"the file is empty; {expected}")])
    if not isinstance(data, dict):
        raise LineageValidationError([at.issue((), f"expected a mapping at the top level, got {describe_value(data)}")])
    context = {"known_classifications": known_classifications}
    result = _cml(data, at) if _is_cml(data) else _full(data, at, context)
    if isinstance(result, list):
        raise LineageValidationError(result)
    return result
