"""The wine-quality demo behind ``make demo``: generate data, train, ingest, show lineage.

``python -m demo.run`` generates a wine-quality data set (``demo.data``), trains an
ElasticNet with MLflow and registers it (``demo.train``), ingests lineage.yml and
MLflow into the catalog and prints the model's lineage (``demo.run``).
"""
