"""Klines: real recorded Binance.US minutes, made into events by the collector's own code, go
through Kafka and the prices job into exchange_bars_1m once; bad records are quarantined with
the reason; a minute whose range passes 5 % raises the stream's real-time alert."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cryptoviz_assets.collectors.binance import kline
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import PROJECT_ROOT, Settings
from streaming.process import StreamProcess
from tests.collector_support import read_topic
from tests.streaming_support import LakeReader, column, job_env, log_tail, produce, wait_for

pytestmark = pytest.mark.slow
RECORDING = PROJECT_ROOT / "cryptoviz_assets/replay/data"
PAIR = ("BTCUSDC", "BTC", "USDC", "bitcoin")
INGEST = datetime(2023, 3, 11, 5, 0, tzinfo=UTC)


def recorded_rows(first: str, last: str) -> list[list[Any]]:
    """BTCUSDC minutes [first, last] as Binance's 12-field REST rows (quote volume is
    volume x close, as the replay serves it; the recording has no trade count)."""
    path = RECORDING / "binanceus_klines_BTCUSDC_1m_2023-03-01_to_2023-03-21_iaqf.csv.gz"
    with gzip.open(path, "rt") as csv:
        frame = pd.read_csv(csv, parse_dates=["open_time"])
    window = frame[(frame.open_time >= first) & (frame.open_time <= last)]
    rows = []
    for bar in window.itertuples():
        opened = int(bar.open_time.timestamp() * 1000)
        rows.append(
            [opened, str(bar.open), str(bar.high), str(bar.low), str(bar.close),
             str(bar.volume), opened + 59_999, str(bar.volume * bar.close), None, "0", "0", "0"]
        )  # fmt: skip
    return rows


def test_klines_land_once_quarantine_the_bad_and_alert_on_a_wide_minute(
    project_env: Settings, tmp_path: Path
) -> None:
    settings = project_env
    ensure_topics(settings)
    events = [
        kline(row, PAIR, INGEST, True).value
        for row in recorded_rows("2023-03-11 04:28", "2023-03-11 04:36")
    ]
    assert len(events) == 9
    wide = next(e for e in events if e["open_time"] == "2023-03-11T04:32:00.000Z")
    bad_high = dict(events[0], high=events[0]["close"] / 2)
    five_minutes = dict(events[1], interval="5m")
    records: list[dict[str, Any] | bytes] = [
        *events,
        *events[:3],  # re-sent by a second poll: the same event_ids land once
        bad_high,
        five_minutes,
        b"not json",
    ]
    produce(settings.bootstrap_servers, settings.topic_klines, records, key="symbol")

    log = tmp_path / "prices-once.log"
    job = StreamProcess("prices", job_env(settings), log, args=("--once",))
    try:
        job.start()
        wait_for(lambda: job.poll() is not None, 300, "the run-once job to exit")
        assert job.poll() == 0, log_tail(log)
    finally:
        job.kill()

    lake = LakeReader(settings.lake_uri)
    bars = lake.read_table("exchange_bars_1m").to_pandas()
    assert sorted(bars.event_id) == sorted(e["event_id"] for e in events)
    assert set(bars.symbol) == {"BTCUSDC"}
    assert (bars.close_time - bars.open_time == pd.Timedelta(minutes=1)).all()
    assert sorted(str(day) for day in bars.date) == ["2023-03-11"] * 9

    reasons = sorted(column(lake, "exchange_bars_quarantine", "reason"))
    assert reasons == [
        "interval must be 1m",
        "low must be the lowest and high the highest price",
        "malformed JSON or a field of the wrong type",
    ]

    (alert,) = lake.read_table("price_alerts").to_pylist()
    assert (alert["alert_type"], alert["source"]) == ("price_range_spike", "binance:BTCUSDC")
    assert alert["window_start"] == "2023-03-11T04:32:00.000Z"
    assert alert["severity"] == "warning"
    assert alert["observed_value"] == pytest.approx((wide["high"] / wide["low"] - 1) * 100)
    published = [record["value"] for record in read_topic(settings, settings.topic_alerts)]
    assert [a["event_id"] for a in published] == [alert["event_id"]]
