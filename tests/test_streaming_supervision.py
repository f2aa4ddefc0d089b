"""Supervision for real: `dagster dev` (webserver + daemon) on a temporary instance.

The other streaming tests call the sensor function and run the job in-process; these go
through the daemon's sensor ticks, the QueuedRunCoordinator, the DefaultRunLauncher and
Dagster's termination path (the GraphQL `terminateRun` mutation), as in production.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster_graphql import DagsterGraphQLClient

from cryptoviz_assets.defs.runs import STREAM_TAG
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.runtime.processes import Daemon, free_port
from cryptoviz_assets.runtime.services import DAGSTER_DAEMON_NAME, start_dagster_dev
from cryptoviz_assets.settings import Settings
from tests.streaming_support import LakeReader, column, fear_greed_event, produce, wait_for

pytestmark = pytest.mark.slow
STREAM = "market_sentiment"


@dataclass
class DagsterDev:
    settings: Settings
    instance: DagsterInstance
    client: DagsterGraphQLClient

    def runs(self) -> list[DagsterRun]:
        """This stream's runs, newest first."""
        return list(self.instance.get_runs(filters=RunsFilter(tags={STREAM_TAG: STREAM})))

    def run(self, run_id: str) -> DagsterRun:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None
        return run


def stream_processes(var_dir: Path) -> list[psutil.Process]:
    """Every process of a streaming job of this test: driver, JVM, Python workers."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("CRYPTOVIZ_VAR_DIR") != str(var_dir):
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            ours = proc.info["name"] == "java" or "streaming." in cmdline or "pyspark" in cmdline
            if ours and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


@pytest.fixture
def dagster_dev(
    project_env: Settings, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[DagsterDev]:
    """`dagster dev` with only the supervisors named by the test's param on (none by default)
    and a short backoff; stopped, with every process of the test's streams, even on failure."""
    supervised = getattr(request, "param", "")
    env = {
        "DAGSTER_PORT": str(free_port()),
        "STREAM_SUPERVISED": supervised,
        "STREAM_SUPERVISOR_INTERVAL_SECONDS": "3",
        "STREAM_RESTART_BACKOFF_SECONDS": "5",
        "STREAM_TRIGGER_SECONDS": "0.5",
        "STREAM_REPORT_SECONDS": "2",
        "MARTS_CRON": "0 0 1 1 *",  # nothing else competes for the two cores
        **{f"{s}_POLL_SECONDS": "3600" for s in ("COINGECKO", "COINMARKETCAP", "NEWS")},
        "FEAR_GREED_POLL_SECONDS": "3600",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    ensure_topics(settings)
    try:
        start_dagster_dev(settings)
        monkeypatch.setenv("DAGSTER_HOME", str(settings.dagster_home))
        with DagsterInstance.get() as instance:
            yield DagsterDev(
                settings,
                instance,
                DagsterGraphQLClient("127.0.0.1", port_number=settings.dagster_port),
            )
    finally:
        Daemon(DAGSTER_DAEMON_NAME, settings.run_dir).stop(timeout=60)
        for proc in stream_processes(settings.var_dir):
            with contextlib.suppress(psutil.Error):
                proc.kill()


def _status(dev: DagsterDev, run_id: str) -> DagsterRunStatus:
    return dev.run(run_id).status


@pytest.mark.parametrize("dagster_dev", [STREAM], indirect=True)
def test_sensor_restarts_a_killed_stream_job(dagster_dev: DagsterDev) -> None:
    dev = dagster_dev
    lake = LakeReader(dev.settings.lake_uri)
    first_events = [fear_greed_event(d, 10 + d % 80) for d in range(5)]
    produce(dev.settings.bootstrap_servers, dev.settings.topic_market_sentiment, first_events)

    # The daemon ticks the sensor, which starts the stream: rows land.
    wait_for(lambda: len(dev.runs()) == 1, 120, "the supervisor to start the stream")
    first = dev.runs()[0]
    assert first.tags["cryptoviz/attempt"] == "1"
    wait_for(lambda: len(column(lake, STREAM, "event_id")) == 5, 300, "rows from the first run")

    # kill -9 the JVM, as the OOM killer would: the job dies, the run fails.
    javas = [p for p in stream_processes(dev.settings.var_dir) if p.name() == "java"]
    assert len(javas) == 1
    javas[0].kill()
    wait_for(lambda: _status(dev, first.run_id) == DagsterRunStatus.FAILURE, 120, "the run to fail")

    # After the backoff, the sensor starts a new run naming the one it replaces.
    wait_for(lambda: len(dev.runs()) == 2, 120, "the supervisor to restart the stream")
    second = dev.runs()[0]
    assert second.tags["cryptoviz/attempt"] == "2"
    assert second.tags["cryptoviz/replaces_run"] == first.run_id
    wait_for(lambda: _status(dev, second.run_id) == DagsterRunStatus.STARTED, 120, "the new run")
    more_events = [fear_greed_event(d, 10 + d % 80) for d in range(5, 8)]
    produce(dev.settings.bootstrap_servers, dev.settings.topic_market_sentiment, more_events)
    wait_for(lambda: len(column(lake, STREAM, "event_id")) == 8, 300, "rows after the restart")
    assert sorted(column(lake, STREAM, "event_id")) == sorted(
        e["event_id"] for e in [*first_events, *more_events]
    )
    assert _status(dev, second.run_id) == DagsterRunStatus.STARTED
    assert len(dev.runs()) == 2


def test_terminating_a_stream_run_leaves_no_process(dagster_dev: DagsterDev) -> None:
    dev = dagster_dev
    lake = LakeReader(dev.settings.lake_uri)
    produce(
        dev.settings.bootstrap_servers,
        dev.settings.topic_market_sentiment,
        [fear_greed_event(d, 10 + d % 80) for d in range(3)],
    )
    run_id = dev.client.submit_job_execution(f"stream_{STREAM}")
    wait_for(lambda: len(column(lake, STREAM, "event_id")) == 3, 300, "rows from the run")
    family = stream_processes(dev.settings.var_dir)
    names = sorted(p.name() for p in family)
    assert "java" in names, names
    assert any("pyspark" in " ".join(p.cmdline()) for p in family), "Python workers expected"

    dev.client.terminate_run(run_id)
    wait_for(
        lambda: _status(dev, run_id) == DagsterRunStatus.CANCELED, 180, "the run to be canceled"
    )
    wait_for(lambda: not stream_processes(dev.settings.var_dir), 30, "every process to exit")
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
