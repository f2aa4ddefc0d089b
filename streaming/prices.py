"""Prices: crypto-prices -> price_ticks, price_quarantine, price_bars, price_alerts.

The job also runs the klines queries (streaming.klines: crypto-klines -> exchange_bars_1m).
Each arrow below is one streaming query with its own checkpoint (`<checkpoint_root>/prices/
<table>`), each a lake table written by Spark's Delta sink:

* crypto-prices -> valid ticks, each event_id once (deduplicated within
  `stream_price_dedup_seconds` of Kafka append time, so nothing is dropped for being late)
  -> price_ticks; rejected records with the reason -> price_quarantine.
* price_ticks (the committed ticks, read as a stream: parsed and deduplicated once) ->
  event-time OHLC bars of 1, 5 and 15 minutes per (coin_id, source) -> price_bars. The
  watermark, `stream_price_watermark_seconds` behind the newest event time, bounds
  lateness: a bar is emitted once, when the watermark passes its end, so it is final. Ticks
  behind the watermark stay out of bars (they are in price_ticks).
* final 1-minute bars and exchange klines -> price_range_spike alerts (streaming.alerts) ->
  price_alerts and crypto-alerts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming import alerts, klines, lake
from streaming.events import PRICE_TICK, price_rules
from streaming.landing import parsed, rejected_records, valid_events
from streaming.runner import Trigger, job_main

JOB = "prices"
BAR_MINUTES = (1, 5, 15)


def bars(ticks: DataFrame, watermark_seconds: int) -> DataFrame:
    """Final OHLC bars at each size of BAR_MINUTES, with the size in `bar_minutes`."""
    watermarked = ticks.withWatermark("event_time", f"{watermark_seconds} seconds")
    order = F.struct("event_time", "event_id")  # open/close: first/last tick, ties by id
    sizes = [
        watermarked.groupBy(F.window("event_time", f"{minutes} minutes"), "coin_id", "source")
        .agg(
            F.max_by("symbol", order).alias("symbol"),
            F.min_by("price_usd", order).alias("open"),
            F.max("price_usd").alias("high"),
            F.min("price_usd").alias("low"),
            F.max_by("price_usd", order).alias("close"),
            F.max_by("volume_24h_usd", order).alias("volume_24h_usd"),
            F.count(F.lit(1)).alias("tick_count"),
            F.min("event_time").alias("first_event_time"),
            F.max("event_time").alias("last_event_time"),
            F.max("ingest_time").alias("last_ingest_time"),
            F.bool_or("replayed").alias("replayed"),
        )
        .select(
            F.lit(minutes).alias("bar_minutes"),
            F.col("window.start").alias("window_start"),
            F.col("window.end").alias("window_end"),
            "coin_id",
            "source",
            "symbol",
            "open",
            "high",
            "low",
            "close",
            "volume_24h_usd",
            "tick_count",
            "first_event_time",
            "last_event_time",
            "last_ingest_time",
            "replayed",
        )
        for minutes in BAR_MINUTES
    ]
    union = sizes[0]
    for more in sizes[1:]:
        union = union.unionByName(more)
    return lake.landed(union, "window_start")


def start_queries(
    spark: SparkSession, settings: Settings, trigger: Trigger
) -> Iterator[list[StreamingQuery]]:
    """Three stages: Kafka to ticks and klines; ticks to bars; bars and klines to alerts."""
    records = parsed(spark, settings, settings.topic_prices, PRICE_TICK, price_rules())
    ticks = lake.landed(
        valid_events(records, PRICE_TICK, settings.stream_price_dedup_seconds), "event_time"
    )
    yield [
        lake.sink(ticks, settings, trigger, job=JOB, table="price_ticks"),
        lake.sink(rejected_records(records), settings, trigger, job=JOB, table="price_quarantine"),
        *klines.start_queries(spark, settings, trigger, job=JOB),
    ]
    price_bars = bars(
        lake.read_stream(spark, settings, "price_ticks"), settings.stream_price_watermark_seconds
    )
    yield [lake.sink(price_bars, settings, trigger, job=JOB, table="price_bars")]
    minute_bars = lake.read_stream(spark, settings, "price_bars").where(F.col("bar_minutes") == 1)
    exchange_bars = klines.as_alert_bars(lake.read_stream(spark, settings, klines.TABLE))
    alert_bars = minute_bars.select(*alerts.BAR_FIELDS).unionByName(exchange_bars)
    yield [alerts.start_query(spark, settings, trigger, job=JOB, bars=alert_bars)]


def main() -> int:
    return job_main(JOB, start_queries)


if __name__ == "__main__":
    sys.exit(main())
