"""The pinned model as the job uses it: ``spark_udf``, its signature, and the drift baseline.

The UDF is ``mlflow.pyfunc.spark_udf(..., env_manager="local")`` on ``models:/name/<version>``
(the version the compliance check pinned, never an alias), called with a struct of the
signature's columns by name. Its result type is the signature's single output type.

The drift baseline is the training data set (``drift.baseline``, or the model's first
declared training dataset), read as the compliance check reads samples (at most
``drift.max_rows`` rows), with the model's own predictions on it, so prediction drift
compares like with like. A baseline that cannot be read turns drift off for the run with
a line saying why; it never stops scoring.

Public API: ``LoadedModel``, ``load``, ``drift_accumulator``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.scoring.deployment import ScoringError, ScoringSetup

if TYPE_CHECKING:
    from catalog.scoring.drift import DriftAccumulator

__all__ = ["LoadedModel", "drift_accumulator", "drift_settings", "load"]

#: MLflow signature output types -> the Spark type spark_udf returns.
_RESULT_TYPES = {"double": "double", "float": "float", "long": "long", "integer": "int", "string": "string",
                 "boolean": "boolean"}


@dataclass(frozen=True)
class LoadedModel:
    uri: str
    udf: Any
    signature_json: str | None
    inputs: tuple[str, ...]
    result_type: str
    pyfunc: Callable[[], Any]  # loads the model in the driver (for the baseline's predictions)


def _result_type(signature: Any) -> str:
    outputs = signature.outputs if signature is not None else None
    if outputs is None or outputs.is_tensor_spec() or len(outputs.inputs) != 1:
        return "double"
    return _RESULT_TYPES.get(outputs.inputs[0].type.name, "double")


def load(mlflow_uri: str, model_uri: str, spark: Any) -> LoadedModel:
    """The UDF and signature of ``model_uri``; ScoringError when MLflow cannot load it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_registry_uri(mlflow_uri)
    try:
        info = mlflow.models.get_model_info(model_uri)
    except (MlflowException, OSError) as exc:
        raise ScoringError(f"{model_uri}: MLflow at {mlflow_uri} cannot load the model: {exc}") from None
    signature = info.signature
    inputs = tuple(signature.inputs.input_names()) if signature is not None and signature.inputs is not None \
        and signature.inputs.has_input_names() else ()
    if not inputs:
        raise ScoringError(f"{model_uri}: the model has no signature with named inputs; the job matches columns "
                           "by name, never by position (log the model with a signature)")
    result_type = _result_type(signature)
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local", result_type=result_type)
    signature_json = json.dumps(signature.to_dict(), sort_keys=True)
    return LoadedModel(model_uri, udf, signature_json, inputs, result_type,
                       lambda: mlflow.pyfunc.load_model(model_uri))


def _baseline_frame(spark: Any, setup: ScoringSetup) -> Any:
    from catalog.compliance.sample import DatasetInput, read_sample
    from catalog.scoring.source import table_location

    spec = setup.baseline
    assert spec is not None and setup.baseline_key is not None
    if spec.path is not None:
        source = DatasetInput.of(spec)
        base = setup.base_dir
    else:
        qn = spec.qualified_name(setup.baseline_key, setup.cluster)
        source = DatasetInput(str(table_location(spark, qn, setup.warehouse)), (spec.format or "parquet").lower(), spec.header,
                              spec.separator, tuple(spec.columns) if spec.columns else None,
                              dict(spec.schema_) if spec.schema_ else None)
        base = None
    return read_sample(source, rows=setup.drift.max_rows, base_dir=base).frame


def drift_settings(setup: ScoringSetup) -> Any:
    """The deployment's ``drift:`` of lineage.yml as the drift module's settings."""
    from catalog.scoring.drift import DriftSettings

    return DriftSettings.from_mapping(setup.drift.model_dump(exclude={"baseline", "max_rows"}))


def drift_accumulator(spark: Any, setup: ScoringSetup, model: LoadedModel, say: Callable[[str], None]
                      ) -> DriftAccumulator | None:
    """The run's drift accumulator over the baseline, or None (said why) when there is none."""
    from catalog.errors import CatalogError
    from catalog.scoring.drift import Baseline, DriftAccumulator

    if setup.baseline is None:
        say("drift: off (no drift.baseline and the model declares no training dataset)")
        return None
    try:
        frame = _baseline_frame(spark, setup)
    except (CatalogError, OSError, ValueError) as exc:
        say(f"drift: off, the baseline {setup.baseline_key} cannot be read: {exc}")
        return None
    features = [c for c in model.inputs if c in frame.columns]
    missing = [c for c in model.inputs if c not in frame.columns]
    if missing:
        say(f"drift: the baseline {setup.baseline_key} lacks {', '.join(missing)}; measured on the other features")
    if not features:
        return None
    predictions = None
    if not missing:
        try:
            predictions = model.pyfunc().predict(frame[list(model.inputs)])
        except Exception as exc:  # the model's own error on its training data: report, measure features only
            say(f"drift: no prediction baseline, the model failed on {setup.baseline_key}: {exc}")
    baseline = Baseline.from_frame(frame, features, predictions=_values(predictions), settings=drift_settings(setup))
    say(f"drift: against {setup.baseline_key} ({baseline.rows} rows)")
    return DriftAccumulator(baseline)


def _values(predictions: Any) -> Any:
    if predictions is None:
        return None
    import numpy as np

    if hasattr(predictions, "iloc") and getattr(predictions, "ndim", 1) == 2:
        predictions = predictions.iloc[:, 0]
    return np.asarray(predictions)
