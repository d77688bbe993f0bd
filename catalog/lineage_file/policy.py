"""The ``policy`` section of lineage.yml (or the policy file it names): rules per target, waivers.

Why here, below the compliance package: a policy is part of what a team declares, so it
is validated with the rest of the file (file, line and key path in every message, the
JSON Schema editors use) by ``python -m catalog.lineage_file`` and at ingest, long
before ``catalog check`` reads it. The rule ids and their settings are declared here;
``catalog.compliance.rules`` implements exactly these ids (a test holds the two equal).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from catalog.lineage_file.values import FieldProblem

__all__ = [
    "RULE_IDS",
    "Threshold",
    "PolicySection",
    "RuleSettings",
    "RulesSpec",
    "TargetPolicySpec",
    "WaiverSpec",
    "waiver_scope",
]

_THRESHOLD = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*\Z")
_TARGET_OR_DEFAULT = re.compile(r"[A-Za-z0-9*][A-Za-z0-9_.-]*\Z")
_SCOPE = re.compile(r"(models:/(?P<model>[^/@]+)(/(?P<version>[0-9]+))?|(deployment:)?(?P<deployment>[A-Za-z0-9][A-Za-z0-9_.-]*))\Z")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def _severity_shorthand(value: Any) -> Any:
    """``owner-declared: warn`` is short for ``owner-declared: {severity: warn}``."""
    if value is None:
        return {}
    if isinstance(value, str):
        return {"severity": value}
    return value


def _date(value: Any) -> Any:
    """A YAML date (``2027-01-31``), a date-time, or the same as a quoted ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"expected a date such as 2027-01-31, got {value!r}") from None
    return value


def _threshold(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"expected a comparison such as '<= {value}', got the bare number {value}")
    if isinstance(value, str) and not _THRESHOLD.match(value):
        raise ValueError(f"expected a comparison such as '<= 0.8' or '>= 0.9', got {value!r}")
    return value


#: ``rmse: "<= 0.8"``: an operator and a number, quoted (a bare number is refused, naming the fix).
Threshold = Annotated[
    str,
    BeforeValidator(_threshold, json_schema_input_type=str),
    Field(json_schema_extra={"pattern": r"^\s*(<=|>=|==|!=|<|>)\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"}),
]
Severity = Literal["fail", "warn", "off"]
NonEmpty = Annotated[str, Field(min_length=1)]
Date = Annotated[dt.date, BeforeValidator(_date, json_schema_input_type=str)]


class RuleSettings(_Spec):
    """Settings every rule takes: its severity for this target (``off`` skips it)."""

    severity: Severity | None = Field(None, description="fail (a violation fails the check), warn, or off.")


class AliasApprovedSettings(RuleSettings):
    aliases: list[NonEmpty] | None = Field(
        None, description="Aliases approved to deploy to this target (default: champion)."
    )


class ClassificationsAllowedSettings(RuleSettings):
    allow: list[NonEmpty] | None = Field(
        None, description="Classifications allowed to reach a model deployed here; any other fails. "
        "Unset: every classification is allowed unless denied."
    )
    deny: list[NonEmpty] = Field(default_factory=list, description="Classifications that may not reach it.")


class MetricsThresholdSettings(RuleSettings):
    metrics: dict[str, Threshold] = Field(
        default_factory=dict,
        description="Extra thresholds for this target, on top of the model's policy.metrics ('<= 0.8').",
    )


class NoDriftSettings(RuleSettings):
    max: float | None = Field(None, ge=0, description="Largest drift score (PSI) a feature may have (default 0.2).")
    runs: int | None = Field(None, ge=1, le=1000, description="How many of the latest scoring runs to look at (default 1).")


class ExpectationsSettings(RuleSettings):
    sample_rows: int | None = Field(
        None, ge=1, le=1_000_000, description="Rows of the deployment's input to validate (default 10000)."
    )


class SignatureInputSettings(RuleSettings):
    allow_positional: bool = Field(
        False, description="Accept a signature without column names (inputs matched by position)."
    )


def _settings(model: type[RuleSettings], key: str) -> Any:
    return Field(default_factory=model, alias=key, description=model.__doc__ or f"Settings of {key}.")


_Shorthand = BeforeValidator(_severity_shorthand)


class RulesSpec(_Spec):
    """Per rule: its severity and settings for the target. Rules not listed run with their defaults."""

    owner_declared: Annotated[RuleSettings, _Shorthand] = _settings(RuleSettings, "owner-declared")
    purpose_declared: Annotated[RuleSettings, _Shorthand] = _settings(RuleSettings, "purpose-declared")
    training_lineage_known: Annotated[RuleSettings, _Shorthand] = _settings(RuleSettings, "training-lineage-known")
    training_data_agrees: Annotated[RuleSettings, _Shorthand] = _settings(RuleSettings, "training-data-agrees")
    signature_present: Annotated[RuleSettings, _Shorthand] = _settings(RuleSettings, "signature-present")
    signature_matches_input: Annotated[SignatureInputSettings, _Shorthand] = _settings(
        SignatureInputSettings, "signature-matches-input"
    )
    expectations_pass: Annotated[ExpectationsSettings, _Shorthand] = _settings(ExpectationsSettings, "expectations-pass")
    classifications_allowed: Annotated[ClassificationsAllowedSettings, _Shorthand] = _settings(
        ClassificationsAllowedSettings, "classifications-allowed"
    )
    alias_approved: Annotated[AliasApprovedSettings, _Shorthand] = _settings(AliasApprovedSettings, "alias-approved")
    metrics_threshold: Annotated[MetricsThresholdSettings, _Shorthand] = _settings(
        MetricsThresholdSettings, "metrics-threshold"
    )
    version_ready: Annotated[RuleSettings, _Shorthand] = _settings(RuleSettings, "version-ready")
    no_drift: Annotated[NoDriftSettings, _Shorthand] = _settings(NoDriftSettings, "no-drift")

    def settings(self, rule: str) -> RuleSettings:
        """The settings of rule id ``rule`` (``owner-declared``)."""
        return getattr(self, rule.replace("-", "_"))


#: The built-in rule ids, in the order a report lists them.
RULE_IDS: tuple[str, ...] = tuple(f.alias for f in RulesSpec.model_fields.values() if f.alias)


class TargetPolicySpec(_Spec):
    """What a deployment to this target must meet, and what a failure does."""

    rules: RulesSpec = Field(default_factory=RulesSpec, description="Rule id -> severity and settings.")
    on_fail: Literal["record", "revert"] = Field(
        "record", description="What the alias gate does when a promotion fails: record it, or revert the alias.",
    )


def waiver_scope(scope: str) -> tuple[str, str, int | None]:
    """``(kind, name, version)`` of a waiver scope: ("model", "m", None), ("version", "m", 3), ("deployment", "d", None)."""
    match = _SCOPE.match(scope)
    if not match:
        raise ValueError(
            f"expected a scope models:/<model>, models:/<model>/<version> or a deployment name, got {scope!r}"
        )
    if match["deployment"]:
        return "deployment", match["deployment"], None
    if match["version"]:
        return "version", match["model"], int(match["version"])
    return "model", match["model"], None


def _scope(value: str) -> str:
    waiver_scope(value)
    return value


class WaiverSpec(_Spec):
    """An approved exception: a failure of ``rule`` in ``scope`` is waived until ``expires``."""

    rule: Literal[RULE_IDS] = Field(description="The rule id it waives.")  # type: ignore[valid-type]
    scope: Annotated[str, BeforeValidator(lambda v: _scope(v) if isinstance(v, str) else v)] = Field(
        description="models:/<model>, models:/<model>/<version>, or a deployment name."
    )
    reason: NonEmpty = Field(description="Why the exception is acceptable.")
    approver: NonEmpty = Field(description="Who approved it (e-mail or name).")
    expires: Date = Field(description="Last day it counts (a date, e.g. 2027-01-31).")
    created: Date | None = Field(None, description="When it was granted; the expiry must come after it.")

    @model_validator(mode="after")
    def _expires_after_created(self) -> WaiverSpec:
        if self.created is not None and self.expires <= self.created:
            raise FieldProblem(
                f"expires {self.expires.isoformat()} is not after created {self.created.isoformat()}: "
                "the waiver was expired when it was granted", ("expires",),
            )
        return self


class PolicySection(_Spec):
    """Policy the pre-deployment check enforces: per target, and the waivers granted."""

    file: NonEmpty | None = Field(
        None, description="A policy file (same keys as this section, without 'file'), relative to lineage.yml."
    )
    targets: dict[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9*][A-Za-z0-9_.-]*$")], TargetPolicySpec
    ] = Field(default_factory=dict, description="Target name (or '*' for every other target) -> its policy.")
    waivers: list[WaiverSpec] = Field(default_factory=list, description="Approved exceptions.")

    @model_validator(mode="after")
    def _file_alone(self) -> PolicySection:
        if self.file is not None and (self.targets or self.waivers):
            raise FieldProblem("'file' names a policy file: put 'targets' and 'waivers' there, not here", ("file",))
        for name in self.targets:
            if not _TARGET_OR_DEFAULT.match(name) or (name.startswith("*") and name != "*"):
                raise FieldProblem(f"expected a target name or '*', got {name!r}", ("targets", name))
        return self

    def target(self, name: str) -> TargetPolicySpec:
        """The policy of target ``name``: its own, else ``*``'s, else the defaults."""
        return self.targets.get(name) or self.targets.get("*") or TargetPolicySpec()
