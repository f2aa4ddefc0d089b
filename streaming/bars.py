"""Final event-time 1-minute OHLC bars, computed inside the prices query's `foreachBatch`.

Why not Spark's streaming aggregation: that needs a second query over crypto-prices (a
second Kafka read, parse and state store per micro-batch), which halved the throughput of
the job. The open bars are few (coins x sources x the minutes inside the watermark), so
their state is a small Arrow table kept next to the query's checkpoint, one version per
micro-batch, exactly like Spark's own state store:

* batch N reads the state written by the newest batch before N and writes version N;
  a batch replayed after a crash therefore starts from the same state and computes the
  same bars (it may find its own version N from the failed attempt: it is ignored);
* the watermark is the newest event time seen in earlier batches minus
  `watermark_seconds`; ticks at or before it are too late for bars (they still land in
  price_ticks); a bar is final, and emitted once, when the watermark passes its end.

The input ticks are already deduplicated by event_id (the query's dedupe), so each tick
counts once. open/close are the first/last tick by (event_time, event_id): exact whatever
order the rows arrive in.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs

from streaming.storage import resolve, saved_versions, version_path, write_parquet_atomic

KEYS = ["window_start", "coin_id", "source"]
KEEP_VERSIONS = 10
TS = pa.timestamp("us", tz="UTC")
WATERMARK_META = b"max_event_time_us"

# One row per (window, coin, source) with everything needed to merge more ticks into it.
PARTIAL_SCHEMA = pa.schema(
    [
        ("window_start", TS),
        ("coin_id", pa.string()),
        ("source", pa.string()),
        ("open", pa.float64()),
        ("first_event_time", TS),
        ("first_event_id", pa.string()),
        ("close", pa.float64()),
        ("symbol", pa.string()),
        ("volume_24h_usd", pa.float64()),
        ("last_event_time", TS),
        ("last_event_id", pa.string()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("tick_count", pa.int64()),
        ("last_ingest_time", TS),
        ("replayed", pa.bool_()),
    ]
)

BAR_COLUMNS = [
    "window_start",
    "window_end",
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
]


@dataclass(frozen=True)
class BarState:
    """Open bars and the newest event time seen, as of the end of one micro-batch."""

    partials: pa.Table
    max_event_time: datetime | None

    @classmethod
    def empty(cls) -> BarState:
        return cls(PARTIAL_SCHEMA.empty_table(), None)

    def watermark(self, delay_seconds: int) -> datetime | None:
        if self.max_event_time is None:
            return None
        return self.max_event_time - timedelta(seconds=delay_seconds)


def as_partials(ticks: pa.Table) -> pa.Table:
    """Each valid tick as a one-tick bar (price_tick columns in, PARTIAL_SCHEMA out)."""
    price = ticks["price_usd"]
    columns = {
        "window_start": pc.floor_temporal(ticks["event_time"], unit="minute"),
        "coin_id": ticks["coin_id"],
        "source": ticks["source"],
        "open": price,
        "first_event_time": ticks["event_time"],
        "first_event_id": ticks["event_id"],
        "close": price,
        "symbol": ticks["symbol"],
        "volume_24h_usd": ticks["volume_24h_usd"],
        "last_event_time": ticks["event_time"],
        "last_event_id": ticks["event_id"],
        "high": price,
        "low": price,
        "tick_count": pa.array([1] * ticks.num_rows, pa.int64()),
        "last_ingest_time": ticks["ingest_time"],
        "replayed": ticks["replayed"],
    }
    return pa.table(
        [pc.cast(columns[f.name], f.type) for f in PARTIAL_SCHEMA], schema=PARTIAL_SCHEMA
    )


def merge(partials: pa.Table) -> pa.Table:
    """Combine partial bars of the same (window, coin, source) into one."""
    if partials.num_rows == 0:
        return PARTIAL_SCHEMA.empty_table()
    keep_nulls = pc.ScalarAggregateOptions(skip_nulls=False)
    by_first = partials.sort_by(
        [(k, "ascending") for k in KEYS]
        + [("first_event_time", "ascending"), ("first_event_id", "ascending")]
    )
    # Ordered aggregations ("first"/"last") need use_threads=False.
    head = by_first.group_by(KEYS, use_threads=False).aggregate(
        [
            ("open", "first", keep_nulls),
            ("first_event_time", "first", keep_nulls),
            ("first_event_id", "first", keep_nulls),
            ("high", "max"),
            ("low", "min"),
            ("tick_count", "sum"),
            ("last_ingest_time", "max"),
            ("replayed", "any"),
        ]
    )
    by_last = partials.sort_by(
        [(k, "ascending") for k in KEYS]
        + [("last_event_time", "ascending"), ("last_event_id", "ascending")]
    )
    tail = by_last.group_by(KEYS, use_threads=False).aggregate(
        [
            ("close", "last", keep_nulls),
            ("symbol", "last", keep_nulls),
            ("volume_24h_usd", "last", keep_nulls),
            ("last_event_time", "last", keep_nulls),
            ("last_event_id", "last", keep_nulls),
        ]
    )
    joined = head.join(tail, KEYS)
    renamed = {
        f"{name}_{agg}": name
        for name, agg in [
            ("open", "first"),
            ("first_event_time", "first"),
            ("first_event_id", "first"),
            ("high", "max"),
            ("low", "min"),
            ("tick_count", "sum"),
            ("last_ingest_time", "max"),
            ("replayed", "any"),
            ("close", "last"),
            ("symbol", "last"),
            ("volume_24h_usd", "last"),
            ("last_event_time", "last"),
            ("last_event_id", "last"),
        ]
    }
    joined = joined.rename_columns([renamed.get(n, n) for n in joined.column_names])
    return joined.select(PARTIAL_SCHEMA.names).cast(PARTIAL_SCHEMA)


def advance(state: BarState, ticks: pa.Table, delay_seconds: int) -> tuple[BarState, pa.Table, int]:
    """Add one micro-batch of valid ticks. Returns (new state, final bars, late ticks dropped)."""
    watermark = state.watermark(delay_seconds)
    if watermark is not None and ticks.num_rows:
        on_time = pc.greater(ticks["event_time"], pa.scalar(watermark, TS))
        late = ticks.num_rows - pc.sum(on_time).as_py()
        ticks = ticks.filter(on_time)
    else:
        late = 0
    newest = state.max_event_time
    if ticks.num_rows:
        batch_max = pc.max(ticks["event_time"]).as_py()
        newest = batch_max if newest is None else max(newest, batch_max)
    merged = merge(pa.concat_tables([state.partials, as_partials(ticks)]))
    next_state = BarState(merged, newest)
    closing = next_state.watermark(delay_seconds)
    if closing is None or merged.num_rows == 0:
        return next_state, bars_of(merged.slice(0, 0)), late
    window_end = pc.add(merged["window_start"], pa.scalar(timedelta(minutes=1)))
    final = pc.less_equal(window_end, pa.scalar(closing, TS))
    open_bars = merged.filter(pc.invert(final))
    return BarState(open_bars, newest), bars_of(merged.filter(final)), late


def bars_of(partials: pa.Table) -> pa.Table:
    """The price_bars_1m columns of final partial bars."""
    end = pc.add(partials["window_start"], pa.scalar(timedelta(minutes=1)))
    table = partials.append_column("window_end", pc.cast(end, TS))
    return table.select(BAR_COLUMNS).sort_by([(k, "ascending") for k in KEYS])


@dataclass(frozen=True)
class BarStateStore:
    """Versions of BarState under `<root>/<version>.parquet`, one per micro-batch."""

    root: str

    def _fs(self) -> tuple[fs.FileSystem, str]:
        return resolve(self.root)

    def _versions(self) -> list[int]:
        return saved_versions(*self._fs())

    def load_before(self, batch_id: int) -> BarState:
        """The state written by the newest batch before `batch_id` (empty at the start)."""
        earlier = [v for v in self._versions() if v < batch_id]
        if not earlier:
            return BarState.empty()
        filesystem, root = self._fs()
        table = pq.read_table(version_path(root, earlier[-1]), filesystem=filesystem)
        meta = table.schema.metadata or {}
        raw = meta.get(WATERMARK_META, b"")
        newest = pa.scalar(int(raw), pa.int64()).cast(TS).as_py() if raw else None
        return BarState(table.replace_schema_metadata(None).cast(PARTIAL_SCHEMA), newest)

    def save(self, batch_id: int, state: BarState) -> None:
        """Write version `batch_id` atomically and drop versions no replay can need."""
        filesystem, root = self._fs()
        meta = {}
        if state.max_event_time is not None:
            micros = pa.scalar(state.max_event_time, TS).cast(pa.int64()).as_py()
            meta[WATERMARK_META] = str(micros).encode()
        partials = state.partials.replace_schema_metadata(meta)
        write_parquet_atomic(filesystem, version_path(root, batch_id), partials)
        for version in self._versions():
            if version < batch_id - KEEP_VERSIONS:
                with contextlib.suppress(FileNotFoundError):
                    filesystem.delete_file(version_path(root, version))
