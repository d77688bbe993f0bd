"""One real local Spark session per test run (starting Spark costs seconds).

Tests import the fixture: ``from tests.spark_fixtures import spark  # noqa: F401``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from catalog.scoring import spark as spark_session

    session = spark_session.session("catalog-tests", {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2"})
    yield session
    spark_session.stop()
