"""Supervision by Dagster: the sensor's decisions on real run records, and a real stream run.

The sensor only reads run records from the instance: these tests create real runs in a
real (temporary) instance rather than mocking it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
import psutil
import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from cryptoviz_assets.defs.runs import STREAM_TAG
from cryptoviz_assets.defs.streams.jobs import stream_jobs
from cryptoviz_assets.defs.streams.sensors import backoff_seconds, build_supervisor, supervise
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import Settings
from streaming.catalog import STREAMS
from tests.streaming_support import LakeReader, column, fear_greed_event, produce, wait_for

PRICES = next(s for s in STREAMS if s.name == "prices")
SENTIMENT = next(s for s in STREAMS if s.name == "market_sentiment")


def _run(instance: DagsterInstance, status: DagsterRunStatus) -> dg.DagsterRun:
    job = stream_jobs()["prices"]
    run = instance.create_run_for_job(job, status=DagsterRunStatus.STARTED, tags=job.tags)
    if status == DagsterRunStatus.FAILURE:
        instance.report_run_failed(run, "streaming.prices exited with status 1")
    elif status == DagsterRunStatus.CANCELED:
        instance.report_run_canceled(run)
    return run


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_seconds(n, 15) for n in range(5)] == [0, 15, 30, 60, 120]
    assert backoff_seconds(50, 15) == 600


def test_supervisor_starts_skips_and_backs_off(dagster_instance: DagsterInstance) -> None:
    instance = dagster_instance
    first = supervise(instance, PRICES)
    assert isinstance(first, dg.RunRequest)
    assert first.run_key == "prices:after:none"
    assert first.job_name == "stream_prices"

    running = _run(instance, DagsterRunStatus.STARTED)
    skip = supervise(instance, PRICES)
    assert isinstance(skip, dg.SkipReason)
    assert running.run_id in (skip.skip_message or "")
    assert isinstance(supervise(instance, SENTIMENT), dg.RunRequest)  # streams are independent

    instance.report_run_failed(running, "killed")
    now = time.time()
    waiting = supervise(instance, PRICES, now=now)
    assert isinstance(waiting, dg.SkipReason)
    assert "failed 1 time(s)" in (waiting.skip_message or "")
    restart = supervise(instance, PRICES, now=now + 16)
    assert isinstance(restart, dg.RunRequest)
    assert restart.run_key == f"prices:after:{running.run_id}"
    assert restart.tags["cryptoviz/attempt"] == "2"

    second = _run(instance, DagsterRunStatus.FAILURE)
    assert isinstance(supervise(instance, PRICES, now=time.time() + 16), dg.SkipReason)  # 30 s now
    again = supervise(instance, PRICES, now=time.time() + 31)
    assert isinstance(again, dg.RunRequest)
    assert again.run_key == f"prices:after:{second.run_id}"
    assert again.tags["cryptoviz/attempt"] == "3"


def test_sensor_evaluates_against_the_instance(dagster_instance: DagsterInstance) -> None:
    sensor = build_supervisor(PRICES, Settings())
    assert sensor.name == "supervise_prices_stream"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    result = sensor(dg.build_sensor_context(instance=dagster_instance))
    assert isinstance(result, dg.SensorResult)
    assert result.run_requests is not None
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags["cryptoviz/attempt"] == "1"


@pytest.mark.slow
def test_stream_run_reports_progress_and_sensor_restarts_after_a_kill(
    project_env: Settings,
    dagster_instance: DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    settings = project_env
    monkeypatch.setenv("STREAM_REPORT_SECONDS", "2")
    monkeypatch.setenv("STREAM_TRIGGER_SECONDS", "0.5")
    ensure_topics(settings)
    lake = LakeReader(settings.lake_uri)
    events = [fear_greed_event(d, 20 + d) for d in range(10)]
    produce(
        settings.bootstrap_servers,
        settings.topic_market_sentiment,
        [*events, *events[:5], b"{oops"],
        key="index_name",
    )

    job = stream_jobs()["market_sentiment"]
    results: list[dg.ExecuteInProcessResult] = []
    thread = threading.Thread(
        target=lambda: results.append(
            job.execute_in_process(instance=dagster_instance, raise_on_error=False)
        )
    )
    thread.start()
    try:
        wait_for(
            lambda: len(column(lake, "market_sentiment", "event_id")) >= 10, 240, "sentiment rows"
        )
        key = dg.AssetKey(["lake", "market_sentiment"])
        wait_for(
            lambda: dagster_instance.get_latest_materialization_event(key) is not None,
            60,
            "a materialization",
        )
        # Kill -9 the JVM, as the OOM killer would: the job dies, the run fails.
        javas = [
            p
            for p in psutil.process_iter(["name", "environ"])
            if p.info["name"] == "java" and _ours(p, settings)
        ]
        assert javas, "the stream's JVM should be running"
        for proc in javas:
            proc.kill()
        thread.join(120)
        assert not thread.is_alive()
    finally:
        thread.join(1)

    result = results[0]
    assert not result.success
    run = dagster_instance.get_run_by_id(result.run_id)
    assert run is not None
    assert run.status == DagsterRunStatus.FAILURE
    assert run.tags[STREAM_TAG] == "market_sentiment"
    assert run.tags["cryptoviz/kind"] == "streaming"
    assert not [
        p for p in psutil.process_iter(["name"]) if p.info["name"] == "java" and _ours(p, settings)
    ]

    logs = dagster_instance.all_logs(result.run_id)
    assert any("opened dagster pipes" in (e.message or "") for e in logs)
    observed = [
        e
        for e in logs
        if e.dagster_event_type
        in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION)
    ]
    assert observed, "progress should reach Dagster while the job runs"

    # The supervisor sees the failure: back off first, then restart, naming the failed run.
    decision = supervise(dagster_instance, SENTIMENT)
    assert isinstance(decision, dg.SkipReason)
    later = supervise(dagster_instance, SENTIMENT, now=time.time() + 20)
    assert isinstance(later, dg.RunRequest)
    assert later.tags["cryptoviz/replaces_run"] == result.run_id

    ids = column(lake, "market_sentiment", "event_id")
    assert sorted(ids) == sorted(e["event_id"] for e in events)
    assert column(lake, "market_sentiment_quarantine", "raw") == ["{oops"]
    assert sorted(column(lake, "market_sentiment", "value")) == sorted(e["value"] for e in events)


def _ours(proc: Any, settings: Settings) -> bool:
    try:
        return proc.environ().get("CRYPTOVIZ_VAR_DIR") == str(settings.var_dir)
    except Exception:
        return False
