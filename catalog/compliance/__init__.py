"""The pre-deployment compliance check: rules over the lineage graph, policy and waivers, reports, evidence.

- ``model``: verdicts, rule results, the report;
- ``rules``: the built-in rules, small functions over a ``CheckContext``;
- ``policy``: which rules apply per target, with which severity and settings; waivers;
- ``context``: what a check looks at, read once from the catalog and lineage.yml;
- ``check``: run the rules, apply waivers, decide the verdict and exit code;
- ``schema_compat``, ``sample``, ``expectations``: the data-facing rules' helpers
  (MLflow's schema enforcement, a data sample, Great Expectations);
- ``formats``: text, JSON, JUnit, SARIF and markdown reports; ``export``: the model card;
- ``gate``: the alias gate the MLflow hook runs.

Heavy libraries (mlflow, pandas, great_expectations) are imported where a rule needs them.
"""
