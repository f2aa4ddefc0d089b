"""The SparkSession every streaming job uses, built from the project settings.

Spark's Kafka connector comes from `var/jars/spark-kafka` (fetched by `make setup`) through
`spark.jars`, so the same session runs on a cluster: the driver ships the jars to executors.
Tuned for a small machine: local mode, two shuffle partitions (the defaults' 200 tiny tasks
per batch dominate latency), no UI or console progress bar, UTC everywhere so event times
and lake partitions never depend on the host's time zone.
"""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from cryptoviz_assets.runtime import jvm
from cryptoviz_assets.settings import Settings

DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"


def build_spark(app_name: str, settings: Settings) -> SparkSession:
    """Get or create the session for `app_name` (one JVM per Python process)."""
    local = settings.spark_master.startswith("local")
    if local:  # nothing outside this machine talks to the driver: keep it on loopback
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Executors and the Python data source planner must run this interpreter (our venv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    if local:
        # On a cluster the executors must reach the driver: its address is then Spark's
        # default (SPARK_LOCAL_IP / SPARK_LOCAL_HOSTNAME, else this host's address).
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    spark = (
        builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.jars", ",".join(str(jar) for jar in _jars()))
        # Delta Lake: the streaming Delta sink (idempotent per query and batch), DeltaTable.
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG)
        # New tables: classic checkpoints (DuckDB's delta extension reads no V2 checkpoints)
        # and no deletion vectors (nothing here deletes rows; keep readers' work simple).
        .config("spark.databricks.delta.properties.defaults.checkpointPolicy", "classic")
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "false")
        # Delta rebuilds a table's state (log replay) with 50 tasks by default: on 2 cores
        # that dominated every small commit. The logs here are small: 2 partitions.
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.streaming.stateStore.providerClass", _state_store())
        # Commit only the changes of each batch, not a RocksDB snapshot: the dedupe state
        # holds minutes of event ids and a snapshot per micro-batch dominated small batches.
        .config("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true")
        .config("spark.sql.adaptive.enabled", "false")  # AQE re-plans each tiny batch
        # -Xss: a query stopped mid-batch fails its foreachBatch call, and Spark's regex over
        # the long Python traceback overflowed the default 1 MB thread stack (noise only).
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC -Xss16m")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _jars() -> list[object]:
    """Spark's Kafka connector and Delta Lake, with what PySpark does not already ship."""
    return [*jvm.jars(jvm.SPARK_KAFKA), *jvm.jars(jvm.DELTA)]


def _state_store() -> str:
    """RocksDB keeps dedup state off the JVM heap; it ships inside Spark itself."""
    return "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
