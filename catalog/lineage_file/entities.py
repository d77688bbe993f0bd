"""A validated lineage.yml -> the Atlas entities it declares, as one ``SourceBatch``.

Why: the declared side of lineage (which tables trained which model, who owns it,
which data is PII) must reach the catalog as plain entities the ingest funnel can
merge with what MLflow logged. Values are deterministic (no clocks), so re-ingesting
an unchanged file yields identical entities and the store writes nothing.
"""

from __future__ import annotations

from typing import Any

from catalog import naming
from catalog.lineage_file.spec import LineageDocument
from catalog.model import DECLARED_TRAINING, FS_PATH, REGISTERED_MODEL, Classification, Entity, EntityRef, SourceBatch

__all__ = ["declared_batch"]


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def declared_batch(doc: LineageDocument, *, instance: str = "mlflow") -> SourceBatch:
    """Datasets, registered models and declared training processes of ``doc``.

    Deployments are not turned into entities here: the ingest funnel does that,
    because it must resolve each deployment's model reference against MLflow.
    """
    batch = SourceBatch(source=f"lineage.yml:{doc.source}")
    for key, dataset in doc.datasets.items():
        attributes = {"name": dataset.entity_name(key, doc.cluster)}
        if dataset.type == FS_PATH:
            attributes["path"] = dataset.path
        attributes |= _given(description=dataset.description, owner=dataset.owner)
        batch.entities.append(
            Entity(
                type_name=dataset.type,
                qualified_name=dataset.qualified_name(key, doc.cluster),
                attributes=attributes,
                classifications=[Classification(name) for name in dataset.classifications],
            )
        )
    for name, model in doc.models.items():
        model_ref = EntityRef(REGISTERED_MODEL, naming.registered_model_qn(name, instance))
        attributes = {"name": name} | _given(purpose=model.purpose, owner=model.owner, description=model.description)
        if model.tags:
            attributes["tags"] = dict(model.tags)
        batch.entities.append(Entity(model_ref.type_name, model_ref.qualified_name, attributes))
        if model.training.datasets:
            batch.entities.append(
                Entity(
                    type_name=DECLARED_TRAINING,
                    qualified_name=naming.declared_training_qn(name, instance),
                    attributes={
                        "name": f"declared training of {name}",
                        "userName": model.owner or "lineage.yml",
                        "inputs": doc.training_refs(name),
                        "outputs": [model_ref],
                    },
                )
            )
    return batch
