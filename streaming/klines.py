"""Klines: crypto-klines -> exchange_bars_1m and exchange_bars_quarantine.

An exchange kline is already a final 1-minute bar (the collector publishes closed ones
only), so it needs no window: valid klines land once (deduplicated by event_id like every
landing), rejected records go to quarantine with the reason. The alerts query
(streaming.alerts) reads the landed klines like the bars of ticks. These queries run in the
prices job (same JVM): klines are price data.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming import lake
from streaming.events import KLINE, kline_rules
from streaming.landing import start_landing
from streaming.runner import Trigger

TABLE = "exchange_bars_1m"


def bars_of(klines: DataFrame) -> DataFrame:
    """The lake rows: open/close times as timestamps (open_time is event_time, checked by
    the rules), partitioned by the UTC day of the minute."""
    return lake.landed(
        klines.withColumn("open_time", F.col("event_time")).withColumn(
            "close_time", F.col("event_time") + F.expr("interval 1 minute")
        ),
        "open_time",
    )


def as_alert_bars(klines: DataFrame) -> DataFrame:
    """Landed klines in the shape of the alerts' bars (streaming.alerts.BAR_FIELDS)."""
    return klines.select(
        "coin_id",
        F.concat_ws(":", "source", "symbol").alias("source"),
        F.col("open_time").alias("window_start"),
        F.col("close_time").alias("window_end"),
        "open",
        "high",
        "low",
        "close",
        F.col("event_time").alias("last_event_time"),
        F.col("ingest_time").alias("last_ingest_time"),
        "replayed",
    )


def start_queries(
    spark: SparkSession, settings: Settings, trigger: Trigger, *, job: str
) -> list[StreamingQuery]:
    return start_landing(
        spark,
        settings,
        trigger,
        job=job,
        topic=settings.topic_klines,
        schema=KLINE,
        rules=kline_rules(),
        dedup_seconds=settings.stream_price_dedup_seconds,
        table=TABLE,
        quarantine_table="exchange_bars_quarantine",
        finish=bars_of,
    )
