"""The lake: Delta tables written by Spark's streaming Delta sink, one per table.

Each table lives at `<lake_root>/<table>` (a local path, or s3a://... / abfss://... with the
matching Hadoop connector on the cluster), partitioned by the UTC day `date`. The sink writes
from the executors and is exactly once: it records (query id, batch id) in the table's
transaction log and skips a batch a replay already committed. Readers (DuckDB's delta
extension, dbt, Great Expectations) see committed versions only.

Tables are created empty, with the stream's schema, before their query starts: a query that
reads a table as a stream, and every reader, find it there before the first batch lands.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming.runner import LANDED, Trigger

PARTITION_COLUMN = "date"


def counted(rows: DataFrame) -> DataFrame:
    """`rows`, observed: each batch's progress carries how many of them it wrote."""
    return rows.observe(LANDED, F.count(F.lit(1)).alias("rows"))


def table_path(settings: Settings, table: str) -> str:
    return f"{settings.lake_uri.rstrip('/')}/{table}"


def day_of(column: str) -> Column:
    """The `date` partition (UTC day) of a timestamp column (the session runs in UTC)."""
    return F.to_date(F.col(column))


def landed(rows: DataFrame, partition_from: str) -> DataFrame:
    """`rows` with the two columns every lake table has: landed_at and date."""
    return rows.withColumn("landed_at", F.current_timestamp()).withColumn(
        PARTITION_COLUMN, day_of(partition_from)
    )


def create_table(spark: SparkSession, path: str, rows: DataFrame) -> None:
    """An empty Delta table with the schema of `rows`, partitioned by date (no-op if any)."""
    (
        spark.createDataFrame([], rows.schema)
        .write.format("delta")
        .mode("ignore")
        .partitionBy(PARTITION_COLUMN)
        .save(path)
    )


def read_stream(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    """A lake table as a streaming source (each new committed version, once)."""
    return spark.readStream.format("delta").load(table_path(settings, table))


def sink(
    rows: DataFrame, settings: Settings, trigger: Trigger, *, job: str, table: str
) -> StreamingQuery:
    """Append a stream to a lake table (creating it first); the query is named after the
    table, its checkpoint is `<checkpoint_root>/<job>/<table>`."""
    path = table_path(settings, table)
    create_table(rows.sparkSession, path, rows)
    return (
        counted(rows)
        .writeStream.queryName(table)
        .format("delta")
        .outputMode("append")
        .partitionBy(PARTITION_COLUMN)
        .option("checkpointLocation", settings.checkpoint_dir(f"{job}/{table}"))
        .trigger(**trigger)
        .start(path)
    )
