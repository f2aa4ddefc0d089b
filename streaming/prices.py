"""Prices: crypto-prices -> price_ticks, price_quarantine, price_bars_1m, price_alerts.

One query (`prices`) reads the topic once per micro-batch; its `foreachBatch` lands
everything from that one read (a query per output would read and parse Kafka twice):

* every record once: valid ticks (deduplicated by event_id, remembered for
  `stream_price_dedup_seconds` of Kafka append time: streaming.dedupe) land in price_ticks;
  rejected records land in price_quarantine with the reason. Nothing is dropped for being
  late. The query itself is stateless (no shuffle, no state store): the state of the
  dedupe and of the bars is versioned per micro-batch next to its checkpoint;
* event-time 1-minute OHLC bars per (coin_id, source) (streaming.bars): a watermark of
  `stream_price_watermark_seconds` behind the newest event time bounds lateness; a bar is
  emitted once, when the watermark passes its end, so it is final and lands exactly once.
  Ticks at or before the watermark are left out of bars (still in price_ticks). Each final
  bar whose range (high - low) / low exceeds 5% raises a price_spike alert (critical above
  10%), landed in price_alerts and published to crypto-alerts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.collectors.events import event_id
from cryptoviz_assets.settings import Settings
from streaming.bars import BarState, BarStateStore, advance
from streaming.dedupe import SeenIds
from streaming.events import PRICE_TICK, parse, price_rules
from streaming.kafka_reader import read_kafka
from streaming.lake import Lake
from streaming.landing import day_of, now_utc, split_batch, with_column
from streaming.runner import BatchWriter, Trigger, job_main

JOB = "prices"
SPIKE_WARNING_PCT = 5.0
SPIKE_CRITICAL_PCT = 10.0
TICK_COLUMNS = [f.name for f in PRICE_TICK.fields]


def parsed_prices(spark: SparkSession, settings: Settings) -> DataFrame:
    return parse(read_kafka(spark, settings, settings.topic_prices), PRICE_TICK, price_rules())


@dataclass
class PricesLander:
    """The prices query's `foreachBatch`: ticks, quarantine, final bars and their alerts."""

    writer: BatchWriter
    seen: SeenIds
    bar_store: BarStateStore
    settings: Settings
    _state: tuple[int, BarState] | None = None  # (batch id, state) last saved by this process

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        landed_at = now_utc()
        ticks, rejected = split_batch(batch.toArrow(), TICK_COLUMNS, landed_at)
        ticks = self.first_occurrences(batch_id, ticks)
        self.writer.write(
            "price_ticks", batch_id, with_column(ticks, "date", day_of(ticks["event_time"]))
        )
        self.writer.write("price_quarantine", batch_id, rejected)
        state, bars, _late = advance(
            self._state_before(batch_id), ticks, self.settings.stream_price_watermark_seconds
        )
        self.land_bars(batch_id, bars, landed_at)
        self.bar_store.save(batch_id, state)
        self._state = (batch_id, state)

    def first_occurrences(self, batch_id: int, ticks: pa.Table) -> pa.Table:
        """The ticks whose event_id is seen for the first time (within the retention)."""
        kafka_times = pc.cast(ticks["kafka_timestamp"], pa.int64()).to_pylist()
        keep = self.seen.first_seen(batch_id, ticks["event_id"].to_pylist(), kafka_times)
        return ticks.filter(pa.array(keep, pa.bool_()))

    def _state_before(self, batch_id: int) -> BarState:
        # Batches run one after the other: the state this process saved last is the one
        # before `batch_id`, unless the batch is a replay (then read it from the store).
        if self._state is not None and self._state[0] < batch_id:
            return self._state[1]
        return self.bar_store.load_before(batch_id)

    def land_bars(self, batch_id: int, bars: pa.Table, landed_at: pa.Scalar) -> None:
        bars = with_column(bars, "landed_at", landed_at)
        bars = with_column(bars, "date", day_of(bars["window_start"]))
        alerts = spike_alerts(bars.to_pylist()) if bars.num_rows else []
        alert_table = (
            pa.Table.from_pylist(alerts, schema=ALERT_SCHEMA)
            if alerts
            else ALERT_SCHEMA.empty_table()
        )
        alert_table = with_column(alert_table, "landed_at", landed_at)
        alert_table = with_column(
            alert_table, "date", pc.utf8_slice_codeunits(alert_table["window_start"], 0, 10)
        )
        self.writer.write("price_bars_1m", batch_id, bars)
        self.writer.write("price_alerts", batch_id, alert_table)
        if alerts:
            publish_alerts(self.settings, alerts)


ALERT_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int64()),
        ("event_id", pa.string()),
        ("event_type", pa.string()),
        ("source", pa.string()),
        ("event_time", pa.string()),
        ("ingest_time", pa.string()),
        ("replayed", pa.bool_()),
        ("coin_id", pa.string()),
        ("alert_type", pa.string()),
        ("severity", pa.string()),
        ("window_start", pa.string()),
        ("window_end", pa.string()),
        ("observed_value", pa.float64()),
        ("threshold", pa.float64()),
        ("explanation", pa.string()),
    ]
)


def spike_pct(high: float, low: float) -> float:
    """The bar's range as a percentage of its low: the size of the move within the minute."""
    return (high - low) / low * 100.0


def spike_alerts(bars: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """price_alert.v1 events for bars whose range exceeds 5% (critical above 10%)."""
    alerts = []
    for bar in bars:
        pct = spike_pct(bar["high"], bar["low"])
        if pct <= SPIKE_WARNING_PCT:
            continue
        start, end = _iso(bar["window_start"]), _iso(bar["window_end"])
        critical = pct > SPIKE_CRITICAL_PCT
        direction = "up" if bar["close"] >= bar["open"] else "down"
        alerts.append(
            {
                "schema_version": 1,
                "event_id": event_id("price_spike", bar["coin_id"], bar["source"], start),
                "event_type": "price_alert",
                "source": bar["source"],
                "event_time": _iso(bar["last_event_time"]),
                "ingest_time": _iso(bar["last_ingest_time"]),
                "replayed": bool(bar["replayed"]),
                "coin_id": bar["coin_id"],
                "alert_type": "price_spike",
                "severity": "critical" if critical else "warning",
                "window_start": start,
                "window_end": end,
                "observed_value": round(pct, 6),
                "threshold": SPIKE_CRITICAL_PCT if critical else SPIKE_WARNING_PCT,
                "explanation": (
                    f"{bar['coin_id']} ({bar['source']}) moved {pct:.2f}% within one minute "
                    f"(low {bar['low']}, high {bar['high']}, open {bar['open']}, "
                    f"close {bar['close']}, {direction})"
                ),
            }
        )
    return alerts


def publish_alerts(settings: Settings, alerts: list[dict[str, Any]]) -> None:
    """At-least-once to Kafka: a replayed batch re-sends the same event_ids; readers dedupe."""
    from confluent_kafka import Producer

    producer = Producer(
        {**settings.kafka_client_config(), "enable.idempotence": True, "acks": "all"}
    )
    errors: list[str] = []

    def _delivered(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    for alert in alerts:
        producer.produce(
            settings.topic_alerts,
            key=alert["coin_id"],
            value=json.dumps(alert),
            on_delivery=_delivered,
        )
    remaining = producer.flush(30)
    if remaining or errors:
        raise RuntimeError(
            f"publishing alerts failed: {remaining} undelivered, errors {errors[:3]}"
        )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"


def start_queries(
    spark: SparkSession, settings: Settings, trigger: Trigger
) -> tuple[list[StreamingQuery], list[BatchWriter]]:
    checkpoint = settings.checkpoint_dir(f"{JOB}/landing")
    writer = BatchWriter(JOB, checkpoint, Lake(settings.lake_uri))
    seen = SeenIds(f"{checkpoint}/seen_ids", settings.stream_price_dedup_seconds)
    lander = PricesLander(writer, seen, BarStateStore(f"{checkpoint}/bars_state"), settings)
    query = (
        parsed_prices(spark, settings)
        .writeStream.queryName(JOB)
        .option("checkpointLocation", checkpoint)
        .trigger(**trigger)
        .foreachBatch(lander)
        .start()
    )
    return [query], [writer]


def main() -> int:
    return job_main(JOB, start_queries)


if __name__ == "__main__":
    sys.exit(main())
