"""Klines: crypto-klines -> exchange_bars_1m, exchange_bars_quarantine, price_alerts.

An exchange kline is already a final 1-minute bar (the collector publishes closed ones
only), so it needs no state: valid klines land once (deduplicated by event_id like every
landing), rejected records go to quarantine with the reason, and a kline whose range within
the minute exceeds the price-spike threshold raises the same real-time alert as a bar of
ticks (streaming.alerts), to price_alerts and crypto-alerts. The query runs in
the prices job (same JVM): klines are price data.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming.alerts import land_alerts, spike_alerts
from streaming.events import KLINE, kline_rules, parse
from streaming.kafka_reader import read_kafka
from streaming.lake import Lake
from streaming.landing import day_of, deduplicated, now_utc, split_batch, with_column
from streaming.runner import BatchWriter, Trigger

QUERY = "klines"
KLINE_COLUMNS = [f.name for f in KLINE.fields]


def bars_of(klines: pa.Table) -> pa.Table:
    """The lake rows: open/close times as timestamps (open_time is event_time, checked by
    the rules), partitioned by the UTC day of the minute."""
    opened = klines["event_time"]
    closed = pc.add(opened, pa.scalar(timedelta(minutes=1), pa.duration("us")))
    rows = klines.set_column(klines.schema.get_field_index("open_time"), "open_time", opened)
    rows = rows.set_column(rows.schema.get_field_index("close_time"), "close_time", closed)
    return with_column(rows, "date", day_of(opened))


def alerts_of(bars: pa.Table) -> list[dict[str, Any]]:
    """price_alert.v1 events for klines whose in-minute range crosses the threshold."""
    return spike_alerts(
        [
            {
                **kline,
                "source": f"{kline['source']}:{kline['symbol']}",
                "window_start": kline["open_time"],
                "window_end": kline["close_time"],
                "last_event_time": kline["event_time"],
                "last_ingest_time": kline["ingest_time"],
            }
            for kline in bars.to_pylist()
        ]
    )


def start_query(
    spark: SparkSession, settings: Settings, trigger: Trigger
) -> tuple[StreamingQuery, BatchWriter]:
    checkpoint = settings.checkpoint_dir(QUERY)
    writer = BatchWriter(QUERY, checkpoint, Lake(settings.lake_uri))

    def _land(batch: DataFrame, batch_id: int) -> None:
        landed_at = now_utc()
        klines, rejected = split_batch(batch.toArrow(), KLINE_COLUMNS, landed_at)
        bars = bars_of(klines)
        writer.write("exchange_bars_1m", batch_id, bars)
        writer.write("exchange_bars_quarantine", batch_id, rejected)
        land_alerts(writer, batch_id, alerts_of(bars), landed_at, settings)

    klines = parse(read_kafka(spark, settings, settings.topic_klines), KLINE, kline_rules())
    started = (
        deduplicated(klines, settings.stream_price_dedup_seconds)
        .writeStream.queryName(QUERY)
        .option("checkpointLocation", checkpoint)
        .trigger(**trigger)
        .foreachBatch(_land)
        .start()
    )
    return started, writer
