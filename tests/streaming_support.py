"""Helpers for the streaming tests: contract-valid events, a producer, ground truths."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from confluent_kafka import Producer

from cryptoviz_assets.analytics import delta_reader
from cryptoviz_assets.contract.events import event_id
from cryptoviz_assets.runtime.processes import wait_until
from cryptoviz_assets.settings import Settings

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
COINS = ["bitcoin", "ethereum", "solana", "cardano"]

# Ticks produced while the job runs reach Spark partition by partition: one partition can be
# read up to a whole produced chunk ahead of another (a chunk spans 375 s of event time, and
# two can be in flight). Under a watermark shorter than that, Spark would rightly drop the
# lagging partition's ticks as late, which the ground truth cannot foresee. The exactly-once
# test is about delivery, not lateness, so its watermark outlasts any such spread.
EXACTLY_ONCE_WATERMARK_SECONDS = 900


class LakeReader:
    """Committed rows of the lake's Delta tables, read with DuckDB (as dbt reads them)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def read_table(self, table: str, where: str = "true") -> pa.Table:
        path = Path(self.root) / table
        with delta_reader.connect() as con:
            if not delta_reader.table_exists(con, str(path)):
                return pa.table({})
            con.execute("set TimeZone = 'UTC'")
            return con.sql(f"select * from delta_scan('{path}') where {where}").fetch_arrow_table()

    def count_rows(self, table: str) -> int:
        return self.read_table(table).num_rows


def spike_pct(high: float, low: float) -> float:
    return (high - low) / low * 100.0


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def price_tick(
    coin: str, source: str, at: datetime, price: float, volume: float = 1e9
) -> dict[str, Any]:
    event_time = iso(at)
    return {
        "schema_version": 1,
        "event_id": event_id(source, coin, event_time),
        "event_type": "price_tick",
        "source": source,
        "event_time": event_time,
        "ingest_time": iso(at + timedelta(seconds=1)),
        "replayed": False,
        "coin_id": coin,
        "symbol": coin[:3].upper(),
        "name": coin.title(),
        "price_usd": price,
        "market_cap_usd": None,
        "market_cap_rank": 1,
        "volume_24h_usd": volume,
    }


def malformed_ticks() -> list[bytes | dict[str, Any]]:
    """Records the prices job must quarantine with a reason: not JSON, not an object, and
    contract violations (negative or non-numeric price, empty coin, a non-ISO time)."""
    good = price_tick("bitcoin", "coingecko", T0, 100.0)
    return [
        b"not json at all",
        b"[1, 2, 3]",
        {**good, "event_id": "0" * 63 + "x", "price_usd": -1.0},
        {**good, "event_id": "1" * 64, "price_usd": "cheap"},
        {**good, "event_id": "2" * 64, "coin_id": ""},
        {**good, "event_id": "3" * 64, "event_time": "2025-03-01 12:00:00"},
    ]


def flush_watermark(flush: dict[str, Any], watermark_seconds: int) -> datetime:
    """The watermark once the job has seen `flush`: every bar ending before it is final."""
    at = datetime.fromisoformat(flush["event_time"].replace("Z", "+00:00"))
    return at - timedelta(seconds=watermark_seconds)


def fear_greed_event(day: int, value: int) -> dict[str, Any]:
    """The Fear & Greed index of day `day` after T0."""
    index_date = (T0 + timedelta(days=day)).date().isoformat()
    return {
        "schema_version": 1,
        "event_id": event_id("alternative_me", "fear_greed", index_date),
        "event_type": "market_sentiment",
        "source": "alternative_me",
        "event_time": iso(T0 + timedelta(days=day)),
        "ingest_time": iso(T0 + timedelta(days=day, minutes=5)),
        "replayed": True,
        "index_name": "fear_greed",
        "index_date": index_date,
        "value": value,
        "classification": "Greed" if value > 55 else "Fear",
    }


def tick_series(
    n: int, start: datetime = T0, step_ms: int = 250, seed: int = 7
) -> list[dict[str, Any]]:
    """n ticks over coins and sources, event time increasing; some minutes spike > 5% / 10%."""
    ticks = []
    for i in range(n):
        coin = COINS[i % len(COINS)]
        source = "coingecko" if (i // len(COINS)) % 2 == 0 else "coinmarketcap"
        at = start + timedelta(milliseconds=i * step_ms)
        base = 100.0 + (i * seed) % 13 * 0.1  # moves within 1.3%: no alert
        minute = int((at - start).total_seconds() // 60)
        if coin == "solana" and minute % 3 == 1 and i % 17 == 0:
            base *= 1.08  # a warning-size spike
        if coin == "bitcoin" and minute % 4 == 2 and i % 19 == 0:
            base *= 1.15  # a critical spike
        ticks.append(price_tick(coin, source, at, round(base, 6), volume=1e9 + i))
    return ticks


def produce(
    bootstrap: str, topic: str, values: Iterable[dict[str, Any] | bytes], key: str = "coin_id"
) -> int:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 10}
    )
    count = 0
    for value in values:
        if isinstance(value, bytes):
            producer.produce(topic, value=value)
        else:
            producer.produce(topic, key=str(value.get(key, "")), value=json.dumps(value))
        count += 1
        if count % 5000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    return count


def bars_ground_truth(
    ticks: list[dict[str, Any]], watermark_end: datetime, minutes: int = 1
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """`minutes`-minute OHLC per (window_start, coin, source) without Spark; final windows
    only (those ending at or before `watermark_end`)."""
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    seen: set[str] = set()
    for tick in ticks:
        if tick["event_id"] in seen:
            continue
        seen.add(tick["event_id"])
        at = datetime.fromisoformat(tick["event_time"].replace("Z", "+00:00"))
        start = at.replace(minute=at.minute - at.minute % minutes, second=0, microsecond=0)
        if start + timedelta(minutes=minutes) > watermark_end:
            continue
        by_key[(iso(start), tick["coin_id"], tick["source"])].append(tick)
    bars = {}
    for key, group in by_key.items():
        ordered = sorted(group, key=lambda t: (t["event_time"], t["event_id"]))
        prices = [t["price_usd"] for t in ordered]
        bars[key] = {
            "open": ordered[0]["price_usd"],
            "high": max(prices),
            "low": min(prices),
            "close": ordered[-1]["price_usd"],
            "volume_24h_usd": ordered[-1]["volume_24h_usd"],
            "tick_count": len(ordered),
        }
    return bars


def alerts_ground_truth(
    bars: dict[tuple[str, str, str], dict[str, Any]],
) -> dict[tuple[str, str, str], str]:
    out = {}
    for key, bar in bars.items():
        pct = spike_pct(bar["high"], bar["low"])
        if pct > 5:
            out[key] = "critical" if pct > 10 else "warning"
    return out


def landed_bars(lake: LakeReader, minutes: int = 1) -> dict[tuple[str, str, str], dict[str, Any]]:
    table = lake.read_table("price_bars", f"bar_minutes = {minutes}")
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in table.to_pylist():
        key = (iso(row["window_start"]), row["coin_id"], row["source"])
        assert key not in out, f"bar {key} landed twice"
        out[key] = {
            k: row[k] for k in ("open", "high", "low", "close", "volume_24h_usd", "tick_count")
        }
    return out


def column(lake: LakeReader, table: str, name: str) -> list[Any]:
    data = lake.read_table(table)
    return data[name].to_pylist() if data.num_rows else []


def job_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a job subprocess: the test's settings plus overrides."""
    env = dict(os.environ)
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
            "CRYPTOVIZ_VAR_DIR": str(settings.var_dir),
            "TOPIC_PRICES": settings.topic_prices,
            "TOPIC_NEWS": settings.topic_news,
            "TOPIC_MARKET_SENTIMENT": settings.topic_market_sentiment,
            "TOPIC_ALERTS": settings.topic_alerts,
            "TOPIC_DLQ": settings.topic_dlq,
            "STREAM_TRIGGER_SECONDS": "0.5",
            "STREAM_REPORT_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    wait_until(predicate, timeout, interval=1.0, what=what)


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
