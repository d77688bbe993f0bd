"""lineage.yml -> validated ``LineageDocument`` -> declared Atlas entities.

Why: teams declare next to their training code which tables trained which model,
who owns it, what policy applies and where it runs; this package reads that file
safely (size, depth and alias limits; no python tags), accepts Cloudera CML's
lineage file unchanged, reports every problem with file, line and key path, and
turns the declaration into entities (see docs/lineage-yml.md).

Public API: ``load_lineage_file``, ``parse_lineage_text``, ``LineageDocument`` and
its specs, ``declared_batch``, ``lineage_schema``.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from catalog.config import Settings
from catalog.lineage_file.entities import declared_batch
from catalog.lineage_file.loader import LineageYamlError, LineageYamlLoader, load_yaml
from catalog.lineage_file.schema import lineage_schema
from catalog.lineage_file.spec import (
    DatasetSpec,
    DeploymentSpec,
    LineageDocument,
    ModelSpec,
    OutputSpec,
    PolicySpec,
    TrainingSpec,
    parse_model_ref,
)
from catalog.lineage_file.validate import Issue, LineageValidationError, build_document, build_policy

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DatasetSpec",
    "DeploymentSpec",
    "Issue",
    "LineageDocument",
    "LineageValidationError",
    "LineageYamlLoader",
    "ModelSpec",
    "OutputSpec",
    "PolicySpec",
    "TrainingSpec",
    "declared_batch",
    "lineage_schema",
    "load_lineage_file",
    "parse_lineage_text",
    "parse_model_ref",
]

DEFAULT_MAX_BYTES = Settings.max_lineage_file_bytes


def _too_big(filename: str, size: int, max_bytes: int) -> LineageValidationError:
    message = (
        f"the file is {size} bytes, over the limit of {max_bytes} bytes "
        "(CATALOG_MAX_LINEAGE_FILE_BYTES); it was not parsed"
    )
    return LineageValidationError([Issue(filename, 0, "", message)])


def load_lineage_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    known_classifications: set[str] | frozenset[str] | None = None,
) -> LineageDocument:
    """Read, check and validate a lineage file (YAML or JSON syntax, full or CML form).

    The size limit is checked before anything is parsed. Every problem raises one
    ``LineageValidationError`` (a ``LineageFileError``) naming file, line and key path.
    """
    filename = os.fspath(path)
    doc = _parse(_read_text(filename, max_bytes), filename, known_classifications)
    if doc.policy.file is None:
        return doc
    policy_path = Path(filename).parent / doc.policy.file
    policy_name = os.fspath(policy_path)
    try:
        data, lines = load_yaml(_read_text(policy_name, max_bytes))
    except yaml.YAMLError as exc:
        raise LineageValidationError([_yaml_error_issue(exc, policy_name, "")]) from None
    policy = build_policy(data, lines, filename=policy_name, deployments=list(doc.deployments))
    return doc.model_copy(update={"policy": policy, "policy_source": policy_name})


def _read_text(filename: str, max_bytes: int) -> str:
    """The UTF-8 text of ``filename``, its size checked before it is read."""
    try:
        with Path(filename).open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise _too_big(filename, size, max_bytes)
            raw = handle.read(max_bytes + 1)  # a file that grows (or a pipe) is cut here
    except OSError as exc:
        issue = Issue(filename, 0, "", f"cannot read the file: {exc.strerror or exc}")
        raise LineageValidationError([issue]) from exc
    if len(raw) > max_bytes:
        raise _too_big(filename, len(raw), max_bytes)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text: byte {raw[exc.start]:#04x} at offset {exc.start}"
        raise LineageValidationError([Issue(filename, line, "", message)]) from None


def parse_lineage_text(
    text: str,
    *,
    filename: str = "<string>",
    known_classifications: set[str] | frozenset[str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LineageDocument:
    """Validate lineage text as if read from ``filename`` (used in messages and ``source``)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise _too_big(filename, size, max_bytes)
    return _parse(text, filename, known_classifications)


def _parse(text: str, filename: str, known_classifications: set[str] | frozenset[str] | None) -> LineageDocument:
    try:
        data, lines = load_yaml(text)
    except yaml.YAMLError as exc:
        raise LineageValidationError([_yaml_error_issue(exc, filename, text)]) from None
    return build_document(data, lines, filename=filename, known_classifications=known_classifications)


def _yaml_error_issue(exc: yaml.YAMLError, filename: str, text: str) -> Issue:
    if isinstance(exc, yaml.MarkedYAMLError):
        return _yaml_issue(exc, filename)
    # ReaderError: a character YAML does not allow
    position = getattr(exc, "position", 0)
    character = getattr(exc, "character", "")
    code = character if isinstance(character, int) else None
    what = f"character #x{code:04x}" if code is not None else "a character"
    line = text[:position].count("\n") + 1
    return Issue(filename, line, "", f"YAML error: {what} is not allowed in YAML text")


def _yaml_issue(exc: yaml.MarkedYAMLError, filename: str) -> Issue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 0
    if isinstance(exc, LineageYamlError):
        return Issue(filename, line, exc.path, str(exc.problem))
    notes = []
    if exc.problem_mark is not None:
        notes.append(f"column {exc.problem_mark.column + 1}")
    if exc.context and exc.context_mark is not None:
        notes.append(f"{exc.context} started at line {exc.context_mark.line + 1}")
    details = f" ({'; '.join(notes)})" if notes else ""
    return Issue(filename, line, "", f"YAML syntax error: {exc.problem}{details}")
