"""The prices job end to end, as a real process: broker -> Spark -> lake (and crypto-alerts).

Exactly once is checked against ground truths computed here without Spark from the events
the test produced: every tick lands once, bars and alerts equal the independent result.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import Settings
from streaming.process import StreamProcess
from tests.collector_support import read_topic
from tests.conftest import start_broker
from tests.streaming_support import (
    EXACTLY_ONCE_WATERMARK_SECONDS,
    T0,
    LakeReader,
    alerts_ground_truth,
    bars_ground_truth,
    column,
    flush_watermark,
    job_env,
    landed_bars,
    log_tail,
    malformed_ticks,
    price_tick,
    produce,
    tick_series,
    wait_for,
)

pytestmark = pytest.mark.slow
WATERMARK_SECONDS = 30


def _assert_gone(job: StreamProcess) -> None:
    left = [p for p in job.family() if p.is_running()]
    assert left == [], f"processes left behind: {[(p.pid, p.name()) for p in left]}"


def _ticks(lake: LakeReader) -> list[str]:
    return column(lake, "price_ticks", "event_id")


def test_prices_exactly_once_across_kill_and_restart(project_env: Settings, tmp_path: Path) -> None:
    settings = project_env
    ensure_topics(settings)
    env = job_env(
        settings,
        STREAM_PRICE_WATERMARK_SECONDS=str(EXACTLY_ONCE_WATERMARK_SECONDS),
        STREAM_MAX_OFFSETS_PER_TRIGGER="1500",
    )
    lake = LakeReader(settings.lake_uri)
    log = tmp_path / "prices.log"
    ticks = tick_series(12_000)  # 50 minutes of event time, 4 coins x 2 sources
    chunks = [ticks[i : i + 3000] for i in range(0, 12_000, 3000)]
    repeats = chunks[0][:300]  # re-fetched ticks: same event_id, must not land twice
    flush = price_tick("bitcoin", "coingecko", T0 + timedelta(hours=2), 100.0)
    malformed = malformed_ticks()
    bootstrap = settings.bootstrap_servers

    job = StreamProcess("prices", env, log)
    try:
        job.start()
        produce(bootstrap, settings.topic_prices, [*chunks[0], *malformed])
        wait_for(lambda: len(_ticks(lake)) >= 1000, 240, "first ticks to land")
        produce(bootstrap, settings.topic_prices, chunks[1])
        wait_for(lambda: len(_ticks(lake)) > 3000, 120, "chunk 2 to start landing")
        # kill -9 the JVM mid-stream, then the driver: a crash, no chance to clean up.
        jvm = job.jvm()
        assert jvm is not None
        jvm.kill()
        job.kill()
        _assert_gone(job)

        job = StreamProcess("prices", env, log)
        job.start()
        produce(bootstrap, settings.topic_prices, [*chunks[2], *repeats])
        wait_for(lambda: len(set(_ticks(lake))) >= 9000, 240, "chunks 1-3 after the crash")
        assert job.stop() == 0, log_tail(log)  # graceful: SIGTERM to the driver
        _assert_gone(job)

        job = StreamProcess("prices", env, log)
        job.start()
        produce(bootstrap, settings.topic_prices, chunks[3])
        wait_for(lambda: len(_ticks(lake)) >= 12_000, 240, "chunk 4 after a graceful restart")
        # Only now the tick two hours ahead that closes every bar: produced with chunk 4, it
        # could reach Spark before chunk 4's last ticks on other partitions, which its
        # watermark would then rightly leave out of the bars (late), unlike the ground truth.
        produce(bootstrap, settings.topic_prices, [flush])
        truth = bars_ground_truth(
            [*ticks, flush], flush_watermark(flush, EXACTLY_ONCE_WATERMARK_SECONDS)
        )
        expected_alerts = alerts_ground_truth(truth)
        wait_for(
            lambda: (
                len(_ticks(lake)) >= 12_001
                and len(lake.read_table("price_bars", "bar_minutes = 1")) >= len(truth)
                and len(lake.read_table("price_alerts")) >= len(expected_alerts)
            ),
            240,
            "every tick, every final bar and its alert",
        )
        assert job.stop() == 0, log_tail(log)
        _assert_gone(job)
    finally:
        job.kill()

    landed = _ticks(lake)
    assert len(landed) == len(set(landed)), "a tick landed twice"
    assert set(landed) == {t["event_id"] for t in [*ticks, flush]}

    reasons = column(lake, "price_quarantine", "reason")
    assert len(reasons) == len(malformed)
    assert reasons.count("malformed JSON or a field of the wrong type") == 3
    assert "price_usd must be a number > 0" not in reasons  # the bad event_id is caught first
    assert "event_id must be 64 hex chars" in reasons
    assert "coin_id is required" in reasons
    assert "event_time must be an ISO-8601 UTC time ending in Z" in reasons

    bars = landed_bars(lake)
    assert bars == truth

    alerts = lake.read_table("price_alerts").to_pylist()
    assert {"critical", "warning"} <= set(expected_alerts.values())
    got = {
        (a["window_start"].replace(".000Z", ".000000Z"), a["coin_id"], a["source"]): a["severity"]
        for a in alerts
    }
    assert len(got) == len(alerts)
    assert got == expected_alerts
    on_kafka = [r["value"]["event_id"] for r in read_topic(settings, settings.topic_alerts)]
    assert set(on_kafka) == {a["event_id"] for a in alerts}  # replays may repeat, never miss

    # 5- and 15-minute bars equal their ground truth too.
    for minutes in (5, 15):
        wider = bars_ground_truth(
            [*ticks, flush], flush_watermark(flush, EXACTLY_ONCE_WATERMARK_SECONDS), minutes
        )
        assert landed_bars(lake, minutes) == wider


def test_prices_late_data_and_broker_restart(tmp_path: Path) -> None:
    broker = start_broker(tmp_path / "own-broker")
    settings = Settings(kafka_bootstrap_servers=broker.bootstrap_servers, var_dir=tmp_path / "var")
    ensure_topics(settings)
    env = job_env(settings, STREAM_PRICE_WATERMARK_SECONDS=str(WATERMARK_SECONDS))
    lake = LakeReader(settings.lake_uri)
    log = tmp_path / "prices.log"
    # Phase 1: six minutes in order, one tick a second per coin.
    phase1 = [
        price_tick(coin, "coingecko", T0 + timedelta(seconds=s), 100.0 + (s % 10) * 0.1)
        for s in range(360)
        for coin in ("bitcoin", "ethereum")
    ]
    # Out of order but within the watermark (newest seen 12:05:59, watermark 12:05:29).
    in_time = [
        price_tick("bitcoin", "coingecko", T0 + timedelta(seconds=s, milliseconds=500), 90.0)
        for s in range(331, 359)
    ]
    random.Random(3).shuffle(in_time)
    # Too late: minute 12:01 closed long ago. Land as ticks, never change the bars.
    too_late = [
        price_tick(
            "ethereum", "coingecko", T0 + timedelta(minutes=1, seconds=s, milliseconds=700), 1.0
        )
        for s in range(20)
    ]
    after_restart = [
        price_tick(coin, "coingecko", T0 + timedelta(minutes=6, seconds=s), 100.0)
        for s in range(60)
        for coin in ("bitcoin", "ethereum")
    ]
    flush = price_tick("bitcoin", "coingecko", T0 + timedelta(minutes=30), 100.0)

    job = StreamProcess("prices", env, log)
    try:
        # Phase 1 waits in Kafka, so the first micro-batch reads all of it: produced into the
        # running job, one partition could be read more than the watermark ahead of the other.
        produce(broker.bootstrap_servers, settings.topic_prices, phase1)
        job.start()
        # Bars up to 12:05 final => the watermark has passed 12:05:00.
        wait_for(
            lambda: len(lake.read_table("price_bars", "bar_minutes = 1")) >= 10,
            240,
            "bars of phase 1",
        )
        produce(broker.bootstrap_servers, settings.topic_prices, [*in_time, *too_late])
        wait_for(
            lambda: len(_ticks(lake)) >= len(phase1) + len(in_time) + len(too_late),
            120,
            "late ticks",
        )

        broker.stop()  # a clean restart of the broker under the running query
        broker.start()
        # Partitions come back one by one after a restart, so the minute after it goes in
        # steps shorter than the watermark, each landed before the next: no partition can get
        # far enough ahead of another to make its ticks late (ci on b057a63 saw exactly that).
        landed_before = len(_ticks(lake))
        step = 2 * 20  # 20 s of ticks for both coins
        for start in range(0, len(after_restart), step):
            produce(
                broker.bootstrap_servers, settings.topic_prices, after_restart[start : start + step]
            )
            wait_for(
                lambda n=landed_before + start + step: len(_ticks(lake)) >= n,
                120,
                "ticks after the broker restart",
            )
        produce(broker.bootstrap_servers, settings.topic_prices, [flush])
        everything = [*phase1, *in_time, *after_restart, flush]
        truth = bars_ground_truth(everything, flush_watermark(flush, WATERMARK_SECONDS))
        wait_for(
            lambda: len(lake.read_table("price_bars", "bar_minutes = 1")) >= len(truth),
            240,
            "bars after broker restart",
        )
        assert job.poll() is None, "the job should ride out a broker restart\n" + log_tail(log)
        assert job.stop() == 0, log_tail(log)
        _assert_gone(job)
    finally:
        job.kill()
        broker.stop()

    landed = _ticks(lake)
    assert sorted(landed) == sorted(
        t["event_id"] for t in [*phase1, *in_time, *too_late, *after_restart, flush]
    )
    assert landed_bars(lake) == truth
    minute_5 = truth[("2025-03-01T12:05:00.000000Z", "bitcoin", "coingecko")]
    assert minute_5["low"] == 90.0  # the out-of-order ticks counted
    assert truth[("2025-03-01T12:01:00.000000Z", "ethereum", "coingecko")]["low"] > 1.0
    assert (
        not psutil.pid_exists(job.pid) or psutil.Process(job.pid).status() == psutil.STATUS_ZOMBIE
    )
