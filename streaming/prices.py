"""Prices: crypto-prices -> price_ticks, price_quarantine, price_bars_1m, price_alerts.

The job also runs the klines query (streaming.klines: crypto-klines -> exchange_bars_1m).

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

import sys
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming import klines
from streaming.alerts import land_alerts, spike_alerts
from streaming.bars import BarState, BarStateStore, advance
from streaming.dedupe import SeenIds
from streaming.events import PRICE_TICK, parse, price_rules
from streaming.kafka_reader import read_kafka
from streaming.lake import Lake
from streaming.landing import day_of, now_utc, split_batch, with_column
from streaming.runner import BatchWriter, Trigger, job_main

JOB = "prices"
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
        self.writer.write("price_bars_1m", batch_id, bars)
        land_alerts(self.writer, batch_id, alerts, landed_at, self.settings)


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
    kline_query, kline_writer = klines.start_query(spark, settings, trigger)
    return [query, kline_query], [writer, kline_writer]


def main() -> int:
    return job_main(JOB, start_queries)


if __name__ == "__main__":
    sys.exit(main())
