"""Run-once mode: land what Kafka holds at start, exactly once, exit 0; the next run resumes.

The first run goes through the Dagster job with op config `once: true` (the orchestrated
demo's path), the second through `python -m streaming.prices --once`; both share the
checkpoint, so the second lands only the new records and completes the bars the first
one had to leave open (the watermark had not passed them yet).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from cryptoviz_assets.defs.streams.jobs import stream_jobs
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import Settings
from streaming.process import StreamProcess
from tests.streaming_support import (
    T0,
    LakeReader,
    bars_ground_truth,
    column,
    job_env,
    landed_bars,
    log_tail,
    price_tick,
    produce,
    tick_series,
    wait_for,
)

pytestmark = pytest.mark.slow
WATERMARK_SECONDS = 30


def _newest(ticks: list[dict]) -> datetime:
    return max(datetime.fromisoformat(t["event_time"].replace("Z", "+00:00")) for t in ticks)


def test_prices_once_lands_what_is_there_and_the_next_run_resumes(
    project_env: Settings,
    dagster_instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings = project_env
    overrides = {
        "STREAM_PRICE_WATERMARK_SECONDS": str(WATERMARK_SECONDS),
        "STREAM_MAX_OFFSETS_PER_TRIGGER": "1500",  # several micro-batches per run
    }
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)
    ensure_topics(settings)
    lake = LakeReader(settings.lake_uri)
    ticks = tick_series(4000)  # 16 minutes of event time
    first, second = ticks[:2000], ticks[2000:]
    malformed: list[dict[str, Any] | bytes] = [
        b"not json",
        {**first[0], "event_id": "f" * 64, "price_usd": 0},
    ]
    produce(settings.bootstrap_servers, settings.topic_prices, [*first, *malformed])

    result = stream_jobs()["prices"].execute_in_process(
        instance=dagster_instance,
        run_config={"ops": {"run_prices_stream": {"config": {"once": True}}}},
        raise_on_error=False,
    )
    assert result.success, log_tail(settings.run_dir / "stream-prices.log")
    landed = column(lake, "price_ticks", "event_id")
    assert sorted(landed) == sorted(t["event_id"] for t in first)
    assert len(column(lake, "price_quarantine", "reason")) == len(malformed)
    # Bars the watermark has passed are final and landed; the others wait in the state.
    closed = bars_ground_truth(first, _newest(first) - timedelta(seconds=WATERMARK_SECONDS))
    assert closed
    assert landed_bars(lake) == closed

    flush = price_tick("bitcoin", "coingecko", T0 + timedelta(hours=1), 100.0)
    produce(settings.bootstrap_servers, settings.topic_prices, [*second, flush])
    log = tmp_path / "prices-once.log"
    job = StreamProcess("prices", job_env(settings, **overrides), log, args=("--once",))
    try:
        job.start()
        wait_for(lambda: job.poll() is not None, 300, "the run-once job to exit")
        assert job.poll() == 0, log_tail(log)
        assert not job.family(), "the job left processes behind"
    finally:
        job.kill()

    everything = [*ticks, flush]
    landed = column(lake, "price_ticks", "event_id")
    assert len(landed) == len(set(landed)), "a tick landed twice"
    assert set(landed) == {t["event_id"] for t in everything}
    assert len(column(lake, "price_quarantine", "reason")) == len(malformed)
    truth = bars_ground_truth(
        everything, _newest(everything) - timedelta(seconds=WATERMARK_SECONDS)
    )
    assert landed_bars(lake) == truth  # the bars left open by the first run, completed once
    for minutes in (5, 15):
        truth = bars_ground_truth(
            everything, _newest(everything) - timedelta(seconds=WATERMARK_SECONDS), minutes
        )
        assert truth
        assert landed_bars(lake, minutes) == truth
