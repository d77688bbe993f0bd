"""The pydantic models of lineage.yml: the file's full form, CML's form, and the document.

Why: one declaration gives validation (strict types, unknown keys rejected), the
JSON Schema editors use, and the typed ``LineageDocument`` the rest of the catalog
reads. Field descriptions here are the ones editors show on hover.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    model_validator,
)

from catalog import naming
from catalog.errors import did_you_mean
from catalog.refs import parse_model_ref
from catalog.config import Settings
from catalog.lineage_file.policy import PolicySection, Threshold
from catalog.lineage_file.values import (
    DEPLOYMENT_STATUSES,
    INT_MAX,
    FieldProblem,
    atlas_int,
    deployment_status,
    epoch_millis,
    format_version,
)
from catalog.model import EntityRef

__all__ = [
    "DEFAULT_CLUSTER",
    "FieldProblem",
    "CmlLineageFile",
    "CmlModelEntry",
    "DatasetSpec",
    "DeploymentSpec",
    "DriftSpec",
    "FullLineageFile",
    "LineageDocument",
    "ModelSpec",
    "OutputSpec",
    "PolicySpec",
    "TrainingSpec",
    "parse_model_ref",
]

DEFAULT_CLUSTER = Settings.cluster

_CLASSIFICATION = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_CLUSTER = re.compile(r"[A-Za-z0-9_.-]+\Z")
_TARGET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


# -- single values --------------------------------------------------------------------


def _model_ref(value: str) -> str:
    parse_model_ref(value)
    return value


def _classification(value: str, info: ValidationInfo) -> str:
    if not _CLASSIFICATION.match(value):
        raise ValueError(f"expected a classification name (letters, digits, '_'), got {value!r}")
    known = (info.context or {}).get("known_classifications")
    if known is not None and value not in known:
        raise ValueError(f"unknown classification {value!r}; known: {', '.join(sorted(known))}")
    return value


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"expected {what}, got {value!r}")
        return value

    return AfterValidator(check)


def _scalars_to_str(value: Any) -> Any:
    """Tag values may be written unquoted (``version: 2``); they are stored as strings."""
    if isinstance(value, dict):
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v)) if isinstance(v, (bool, int, float)) else v
            for k, v in value.items()
        }
    return value


def _none_is_empty(value: Any) -> Any:
    """``datasets:`` with nothing under it, or ``wine-quality:`` with no settings, is empty."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


def _schema_pattern(pattern: str) -> Any:
    """A JSON Schema ``pattern`` (ECMA regex) for editors; validation is the validator's."""
    return Field(json_schema_extra={"pattern": pattern})


#: Spark SQL type names a dataset's ``schema`` may use (``decimal(p,s)`` too).
SPARK_TYPES = (
    "string", "double", "float", "int", "integer", "bigint", "long", "smallint", "short", "tinyint", "byte",
    "boolean", "date", "timestamp", "binary",
)
_DECIMAL = re.compile(r"decimal\(\s*[0-9]{1,2}\s*,\s*[0-9]{1,2}\s*\)\Z")


def _spark_type(value: str) -> str:
    text = value.strip().lower()
    if text in SPARK_TYPES or text == "decimal" or _DECIMAL.match(text):
        return text
    hint = did_you_mean(text, SPARK_TYPES)
    raise ValueError(f"expected a Spark SQL type ({', '.join(SPARK_TYPES)}, decimal(p,s)), got {value!r}{hint}")


SparkType = Annotated[str, AfterValidator(_spark_type)]
ModelRef = Annotated[
    str, AfterValidator(_model_ref), _schema_pattern(r"^models:/.+(/[0-9]+|@[A-Za-z0-9_-]+)$")
]
ClassificationName = Annotated[str, AfterValidator(_classification), _schema_pattern(r"^[A-Za-z][A-Za-z0-9_]*$")]
NonEmpty = Annotated[str, Field(min_length=1)]
Tags = Annotated[
    dict[str, str],
    BeforeValidator(_scalars_to_str, json_schema_input_type=dict[str, str | int | float | bool]),
]
_Millis = Annotated[int, Field(ge=0)]
EpochMillis = Annotated[
    _Millis | None,
    BeforeValidator(epoch_millis, json_schema_input_type=_Millis | dt.date | dt.datetime | None),
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# -- datasets ---------------------------------------------------------------------------


class DatasetSpec(_Spec):
    """A dataset the models train on or score: a Hive table (by its key) or a file path."""

    type: Literal["hive_table", "fs_path"] = Field(
        "hive_table",
        description="hive_table: the key is the table name db.table[@cluster]; "
        "fs_path: files at 'path' (the key is a free name).",
    )
    path: NonEmpty | None = Field(None, description="fs_path only: the directory or file (path or URI).")
    format: NonEmpty | None = Field(None, description="Storage format, e.g. csv, parquet, delta.")
    classifications: list[ClassificationName] = Field(
        default_factory=list,
        description="Atlas classifications (e.g. PII); they propagate downstream along lineage.",
    )
    description: str | None = Field(None, description="What the data is.")
    owner: str | None = Field(None, description="Who answers for the data.")
    header: bool = Field(True, description="CSV: the first line names the columns.")
    separator: Annotated[str, Field(min_length=1, max_length=1)] = Field(",", description="CSV: the field separator.")
    columns: list[NonEmpty] | None = Field(
        None, description="CSV without a header: the names of its fields, in order."
    )
    schema_: dict[NonEmpty, SparkType] | None = Field(
        None, alias="schema",
        description="Column name -> Spark SQL type (double, string, bigint, ...): what the check and the "
        "scoring job's schema gate compare with the model signature.",
    )

    @model_validator(mode="after")
    def _path_matches_type(self) -> DatasetSpec:
        if self.type == "fs_path" and self.path is None:
            raise FieldProblem("an fs_path dataset needs 'path'", ("path",))
        if self.type == "hive_table" and self.path is not None:
            raise FieldProblem("'path' is for type fs_path; a hive_table is named by its key", ("path",))
        for i, name in enumerate(self.classifications):
            if name in self.classifications[:i]:
                raise FieldProblem(f"classification {name!r} is listed twice", ("classifications", i))
        if self.columns is not None:
            if self.header:
                raise FieldProblem("'columns' names the fields of a file without a header: set header: false",
                                   ("columns",))
            for i, name in enumerate(self.columns):
                if name in self.columns[:i]:
                    raise FieldProblem(f"column {name!r} is listed twice", ("columns", i))
        return self

    def qualified_name(self, key: str, cluster: str) -> str:
        """The Atlas qualifiedName of the dataset declared under ``key``."""
        if self.type == "fs_path":
            if self.path is None:  # excluded by validation; kept for model_construct() callers
                raise ValueError(f"fs_path dataset {key!r} has no path")
            return naming.path_qn(self.path, cluster)
        return naming.table_qn(key, cluster)

    def entity_name(self, key: str, cluster: str) -> str:
        """Atlas ``name``: the table part of a hive table (``wineds_ext``), else the key."""
        if self.type == "fs_path":
            return key
        table, _ = naming.split_cluster(naming.table_qn(key, cluster))
        return table.rpartition(".")[2]


# -- models ------------------------------------------------------------------------------


class TrainingSpec(_Spec):
    """What a model is trained on: keys of the top-level 'datasets'."""

    datasets: list[str] = Field(default_factory=list, description="Keys of 'datasets' the model trains on.")

    @model_validator(mode="after")
    def _no_repeats(self) -> TrainingSpec:
        for i, value in enumerate(self.datasets):
            if value in self.datasets[:i]:
                raise FieldProblem(f"dataset {value!r} is listed twice", ("datasets", i))
        return self


class PolicySpec(_Spec):
    """Governance policy the pre-deployment check enforces."""

    metrics: dict[str, Threshold] = Field(
        default_factory=dict,
        description="Metric name -> threshold the model version's logged metric must meet, e.g. rmse: '<= 0.8'.",
    )


class ModelSpec(_Spec):
    """A model, keyed by its MLflow registered model name."""

    purpose: str | None = Field(None, description="What the model is for, in a sentence.")
    owner: str | None = Field(None, description="Who answers for the model (team or e-mail).")
    description: str | None = Field(None, description="Longer description.")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="Declared training inputs.")
    policy: PolicySpec = Field(default_factory=PolicySpec, description="Policy checked before deployment.")
    tags: Tags = Field(default_factory=dict, description="Free-form string tags.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free-form metadata (CML's 'metadata' lands here)."
    )


# -- deployments -------------------------------------------------------------------------


class OutputSpec(_Spec):
    """Where a deployment writes predictions: a path or a table."""

    path: NonEmpty | None = Field(None, description="Directory (or URI) of the predictions.")
    table: NonEmpty | None = Field(None, description="Table of the predictions, db.table[@cluster].")
    format: NonEmpty | None = Field(None, description="Storage format, e.g. delta, parquet.")

    @model_validator(mode="after")
    def _one_place(self) -> OutputSpec:
        if (self.path is None) == (self.table is None):
            raise ValueError("expected exactly one of 'path' or 'table'")
        return self

    @property
    def location(self) -> str:
        """The path, or else the table, predictions go to."""
        return self.path or self.table or ""


class DriftSpec(_Spec):
    """How a scoring run measures drift against the training data (docs/scoring.md)."""

    baseline: str | None = Field(
        None, description="Key of the dataset drift is measured against (default: the model's first declared "
        "training dataset).",
    )
    bins: int = Field(10, ge=2, le=100, description="Quantile bins of each numeric feature.")
    psi: float = Field(0.2, gt=0, description="Population stability index above this is drift.")
    ks: float = Field(0.2, gt=0, le=1, description="Kolmogorov-Smirnov distance (binned) above this is drift.")
    wasserstein: float = Field(0.5, gt=0, description="Wasserstein-1 distance in baseline standard deviations "
                               "above this is drift.")
    js: float = Field(0.1, gt=0, le=1, description="Jensen-Shannon distance of a categorical feature above this "
                      "is drift.")
    chi2_p: float = Field(0.01, gt=0, lt=1, description="Chi-square p-value of the predicted labels below this is "
                          "drift.")
    max_rows: int = Field(100_000, ge=1, le=10_000_000, description="Rows of the baseline read to profile it.")


class DeploymentSpec(_Spec):
    """A place a model version runs: batch job, streaming job or online endpoint."""

    model: ModelRef = Field(description="models:/<name>/<version> or models:/<name>@<alias>.")
    mode: Literal["batch", "streaming", "online"] = Field(description="How the model is run.")
    target: Annotated[
        str,
        _pattern(_TARGET, "a target name (letters, digits, '_', '.', '-')"),
        _schema_pattern(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"),
    ] = Field(
        "prod", description="Environment, e.g. prod or staging; part of the deployment's qualifiedName."
    )
    trigger: NonEmpty | None = Field(
        None, description="Streaming trigger interval or batch schedule, e.g. '5 minutes'."
    )
    input: str | None = Field(None, description="Key of the dataset the deployment scores.")
    output: OutputSpec | None = Field(None, description="Where predictions go.")
    checkpoint: NonEmpty | None = Field(None, description="Streaming checkpoint location.")
    quarantine: OutputSpec | None = Field(
        None, description="Where rows that fail a row check go (default: beside the output, "
        "'<output path>_quarantine', as Delta).",
    )
    drift: DriftSpec = Field(default_factory=DriftSpec, description="Drift measured by every scoring run.")
    expectations: NonEmpty | None = Field(None, description="Great Expectations suite (JSON) checked before scoring.")
    status: Annotated[NonEmpty, AfterValidator(deployment_status)] = Field(
        "deployed", description="Deployment status: unknown, deploying, deployed, stopping or stopped.",
        json_schema_extra={"enum": list(DEPLOYMENT_STATUSES)},
    )
    created: EpochMillis = Field(None, description="When it was deployed: epoch milliseconds or ISO date.")
    cpu_millicores: Annotated[int, AfterValidator(atlas_int("cpuMillicores"))] = Field(
        0, ge=0, description="CPU reserved for the deployment, in millicores.",
        json_schema_extra={"maximum": INT_MAX},
    )

    def created_millis(self) -> int | None:
        """``created`` as epoch milliseconds (validation already normalised it)."""
        return self.created

    @property
    def model_name(self) -> str:
        """The registered model name in ``model``."""
        return parse_model_ref(self.model)[0]

    @property
    def model_selector(self) -> int | str:
        """The version (int) or alias (str) in ``model``."""
        return parse_model_ref(self.model)[1]

    @property
    def model_version(self) -> int | None:
        selector = self.model_selector
        return selector if isinstance(selector, int) else None

    @property
    def model_alias(self) -> str | None:
        selector = self.model_selector
        return selector if isinstance(selector, str) else None


# -- the file, both forms ----------------------------------------------------------------


def _section(item: Any) -> Any:
    return BeforeValidator(_none_is_empty, json_schema_input_type=dict[str, item | None] | None)


class FullLineageFile(_Spec):
    """lineage.yml in the full form: datasets, models (by MLflow name) and deployments."""

    version: Annotated[Literal[1], BeforeValidator(format_version)] = Field(1, description="Format version; 1.")
    cluster: Annotated[
        str,
        _pattern(_CLUSTER, "a cluster name (letters, digits, '_', '.', '-')"),
        _schema_pattern(r"^[A-Za-z0-9_.-]+$"),
    ] = Field(
        DEFAULT_CLUSTER, description="Cluster suffix of qualifiedNames (db.table@cluster)."
    )
    datasets: Annotated[dict[str, DatasetSpec], _section(DatasetSpec)] = Field(
        default_factory=dict, description="Datasets by key: a Hive table name, or a free name for fs_path."
    )
    models: Annotated[dict[str, ModelSpec], _section(ModelSpec)] = Field(
        default_factory=dict, description="Models by MLflow registered model name."
    )
    deployments: Annotated[dict[str, DeploymentSpec], _section(DeploymentSpec)] = Field(
        default_factory=dict, description="Deployments by name."
    )
    policy: Annotated[PolicySection, BeforeValidator(lambda v: {} if v is None else v)] = Field(
        default_factory=PolicySection, description="What `catalog check` enforces per target, and the waivers."
    )


class CmlModelEntry(_Spec):
    """One model in Cloudera CML's lineage file."""

    hive_table_qualified_names: list[str] = Field(
        description="Tables the model was trained on, as Atlas qualifiedNames (db.table@cluster)."
    )
    metadata: dict[str, Any] | None = Field(None, description="Free-form metadata.")


class CmlLineageFile(RootModel[dict[str, CmlModelEntry]]):
    """Cloudera CML's lineage file: model name -> {hive_table_qualified_names, metadata}."""

    model_config = ConfigDict(title="CmlLineageFile", strict=True)


class LineageDocument(_Spec):
    """A validated lineage.yml, whichever form it was written in."""

    version: int = 1
    cluster: str = DEFAULT_CLUSTER
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    deployments: dict[str, DeploymentSpec] = Field(default_factory=dict)
    policy: PolicySection = Field(default_factory=PolicySection)
    source: str
    #: The file the policy was read from: ``source``, or the policy file it names.
    policy_source: str = ""
    form: Literal["full", "cml"] = "full"

    def dataset_qn(self, key: str) -> str:
        """The qualifiedName of the dataset declared under ``key``."""
        return self.datasets[key].qualified_name(key, self.cluster)

    def dataset_ref(self, key: str) -> EntityRef:
        """An ``EntityRef`` to the dataset declared under ``key``."""
        spec = self.datasets[key]
        return EntityRef(spec.type, spec.qualified_name(key, self.cluster))

    def training_refs(self, model: str) -> list[EntityRef]:
        """The declared training datasets of ``model``, in file order."""
        return [self.dataset_ref(key) for key in self.models[model].training.datasets]
