"""The common shape of a landing: Kafka -> parse -> valid events (deduplicated) and
rejected records (with the reason), each appended to its lake table by its own query.

Duplicates are dropped by event_id within `dedup_seconds` of Kafka append time, not event
time: feeds re-send the same items on every poll, and an article published last week is
still new to us the first time we see it (an event-time watermark would drop it as late).
The dedupe is Spark's `dropDuplicatesWithinWatermark`, its state in the checkpoint's state
store. Rejected records are all distinct (keyed by their Kafka coordinates): nothing to
dedupe, so the quarantine query is stateless.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming import lake
from streaming.events import Rule, parse
from streaming.kafka_reader import read_kafka
from streaming.runner import Trigger

KAFKA_COLUMNS = ["kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp"]


def parsed(
    spark: SparkSession, settings: Settings, topic: str, schema: T.StructType, rules: list[Rule]
) -> DataFrame:
    return parse(read_kafka(spark, settings, topic), schema, rules)


def valid_events(records: DataFrame, schema: T.StructType, dedup_seconds: int) -> DataFrame:
    """The records that passed every rule, each event_id once, with their Kafka coordinates."""
    return (
        records.where(F.col("reason").isNull())
        .select(*[f.name for f in schema.fields], *KAFKA_COLUMNS)
        .withWatermark("kafka_timestamp", f"{dedup_seconds} seconds")
        .dropDuplicatesWithinWatermark(["event_id"])
    )


def rejected_records(records: DataFrame) -> DataFrame:
    """Records that failed a rule: the reason, the raw text and where they were in Kafka."""
    rejected = records.where(F.col("reason").isNotNull()).select("reason", "raw", *KAFKA_COLUMNS)
    return lake.landed(rejected, "kafka_timestamp")


def start_landing(
    spark: SparkSession,
    settings: Settings,
    trigger: Trigger,
    *,
    job: str,
    topic: str,
    schema: T.StructType,
    rules: list[Rule],
    dedup_seconds: int,
    table: str,
    quarantine_table: str,
    finish: Callable[[DataFrame], DataFrame],
) -> list[StreamingQuery]:
    """Two queries: valid events, `finish`ed (enriched, with landed_at and date), to `table`;
    rejected records to `quarantine_table`."""
    records = parsed(spark, settings, topic, schema, rules)
    events = finish(valid_events(records, schema, dedup_seconds))
    return [
        lake.sink(events, settings, trigger, job=job, table=table),
        lake.sink(rejected_records(records), settings, trigger, job=job, table=quarantine_table),
    ]
