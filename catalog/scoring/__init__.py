"""Governed scoring on Spark: the compliance gate, then per batch the schema gate, row checks,
``spark_udf``, predictions and quarantine as Delta, drift, and the run recorded as lineage.

Modules: ``spark`` (the session), ``rules`` (GX expectations -> Spark column expressions),
``drift`` (binned, mergeable drift statistics).
"""
