"""The common shape of a landing query: parse, dedupe, split valid/rejected, land both.

Duplicates are dropped by event_id within `dedup_seconds` of Kafka append time, not event
time: feeds re-send the same items on every poll, and an article published last week is
still new to us the first time we see it (an event-time watermark would drop it as late).
Rejected records are all distinct (keyed by their Kafka coordinates) and go to quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming.events import Rule, dedup_key, parse
from streaming.kafka_reader import read_kafka
from streaming.lake import Lake
from streaming.runner import BatchWriter, Trigger

KAFKA_COLUMNS = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"]
QUARANTINE_COLUMNS = ["reason", "raw", *KAFKA_COLUMNS]


def with_column(table: pa.Table, name: str, values: Any) -> pa.Table:
    """Append a column; a scalar is repeated for every row."""
    if isinstance(values, pa.Scalar):
        values = pa.repeat(values, table.num_rows)
    return table.append_column(name, values)


def day_of(values: Any) -> Any:
    """The `date` partition (YYYY-MM-DD, UTC) of a timestamp column."""
    return pc.strftime(values, format="%Y-%m-%d")


def now_utc() -> pa.Scalar:
    return pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC"))


def deduplicated(parsed: DataFrame, dedup_seconds: int) -> DataFrame:
    return (
        parsed.withColumn("dedup_key", dedup_key())
        .withWatermark("kafka_timestamp", f"{dedup_seconds} seconds")
        .dropDuplicatesWithinWatermark(["dedup_key"])
    )


def split_batch(
    data: pa.Table, event_columns: Sequence[str], landed_at: pa.Scalar
) -> tuple[pa.Table, pa.Table]:
    """(valid events with Kafka coordinates, rejected records with reason and raw text)."""
    valid = pc.is_null(data["reason"])
    events = with_column(
        data.filter(valid).select([*event_columns, *KAFKA_COLUMNS]), "landed_at", landed_at
    )
    rejected = data.filter(pc.invert(valid)).select(QUARANTINE_COLUMNS)
    rejected = with_column(rejected, "landed_at", landed_at)
    rejected = with_column(rejected, "date", day_of(rejected["kafka_timestamp"]))
    return events, rejected


def start_landing_query(
    spark: SparkSession,
    settings: Settings,
    trigger: Trigger,
    *,
    query: str,
    topic: str,
    schema: T.StructType,
    rules: Sequence[Rule],
    dedup_seconds: int,
    table: str,
    quarantine_table: str,
    finish: Callable[[pa.Table], pa.Table],
) -> tuple[StreamingQuery, BatchWriter]:
    """One query landing `topic` in `table` (+ quarantine). `finish` enriches the valid
    events and must add the string column `date`."""
    checkpoint = settings.checkpoint_dir(query)
    writer = BatchWriter(query, checkpoint, Lake(settings.lake_uri))
    event_columns = [f.name for f in schema.fields]

    def _land(batch: DataFrame, batch_id: int) -> None:
        events, rejected = split_batch(batch.toArrow(), event_columns, now_utc())
        writer.write(table, batch_id, finish(events))
        writer.write(quarantine_table, batch_id, rejected)

    stream = deduplicated(parse(read_kafka(spark, settings, topic), schema, rules), dedup_seconds)
    started = (
        stream.writeStream.queryName(query)
        .option("checkpointLocation", checkpoint)
        .trigger(**trigger)
        .foreachBatch(_land)
        .start()
    )
    return started, writer
