"""The Spark session a scoring job runs on.

``local[*]`` unless Spark's own configuration names a master (``spark-submit --master``,
``spark-defaults.conf``, ``PYSPARK_SUBMIT_ARGS``): the job never overrides what Spark was
told. Python workers run the interpreter the job runs in, so the model's libraries are the
ones the job has (``spark_udf(env_manager="local")``). The UI is off unless configured,
and the driver binds to loopback when running locally: nothing listens beyond the machine.

Public API: ``session``, ``stop``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DEFAULT_MASTER", "session", "stop"]

DEFAULT_MASTER = "local[*]"
LOG4J = Path(__file__).with_name("log4j2.properties")

#: Set unless Spark's configuration already says otherwise.
_DEFAULTS: Mapping[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    # A batch is collected to the driver as Arrow (about 115 MB for a million wines, held
    # in the JVM as task results, then streamed to Python): with Spark's 1 GB default heap
    # a task's result was now and then dropped before it was fetched ("TaskResultLost
    # (result lost from block manager)"), failing the batch. In local mode the driver is
    # also the executor.
    "spark.driver.memory": "2g",
}
_LOCAL: Mapping[str, str] = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}


def session(app_name: str = "catalog-score", config: Mapping[str, Any] | None = None) -> SparkSession:
    """The active Spark session, or a new one configured as above (``config`` wins)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    given = SparkConf()  # spark.* system properties: what spark-submit and spark-defaults set
    builder = SparkSession.builder.appName(app_name)
    master = given.get("spark.master", None)
    settings = dict(_DEFAULTS)
    if master is None or master.startswith("local"):
        settings.update(_LOCAL)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if not given.contains("spark.driver.extraJavaOptions"):
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{LOG4J}"
    if master is None:
        builder = builder.master(DEFAULT_MASTER)
    for key, value in {**settings, **dict(config or {})}.items():
        if config and key in config or not given.contains(key):
            builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("CATALOG_SPARK_LOG_LEVEL", "ERROR"))
    return spark


def stop() -> None:
    """Stop the active session, if any."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
