"""The prices job on a Spark standalone cluster that loses a worker mid-stream.

A master and two workers (1 core, 1 GB each) from the PySpark wheel on 127.0.0.1; the job is
an ordinary driver pointed at `spark://127.0.0.1:<port>`. One worker's whole tree (Worker
JVM, its executor JVM and any Python workers) is killed with SIGKILL while ticks are
landing: Spark reruns the lost tasks on the other executor, the state stores reload from
the checkpoint, and every event still lands exactly once. The ground truths are computed
without Spark from the produced events (tests.streaming_support).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.runtime.processes import wait_until
from cryptoviz_assets.settings import Settings
from streaming.process import StreamProcess
from tests.spark_cluster import SparkStandalone
from tests.streaming_support import (
    EXACTLY_ONCE_WATERMARK_SECONDS,
    T0,
    LakeReader,
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


def test_prices_exactly_once_when_a_worker_dies(project_env: Settings, tmp_path: Path) -> None:
    settings = project_env
    ensure_topics(settings)
    cluster = SparkStandalone(tmp_path / "spark")
    env = job_env(
        settings,
        SPARK_MASTER=cluster.url,
        SPARK_LOCAL_IP="127.0.0.1",  # the driver's address, as the executors reach it
        # See streaming_support: a watermark longer than a produced chunk's span, so no
        # partition read ahead of another makes the other's ticks late (delivery, not lateness).
        STREAM_PRICE_WATERMARK_SECONDS=str(EXACTLY_ONCE_WATERMARK_SECONDS),
        STREAM_MAX_OFFSETS_PER_TRIGGER="1000",  # a chunk takes a few batches
    )
    lake = LakeReader(settings.lake_uri)
    log = tmp_path / "prices.log"
    ticks = tick_series(4000)  # 1000 s of event time, 4 coins x 2 sources
    chunks = [ticks[:2000], ticks[2000:]]  # each spans 500 s, under the watermark
    repeats = chunks[0][:200]  # re-fetched ticks: same event_id, must not land twice
    malformed = malformed_ticks()
    # Produced last, after every tick has landed: it closes every bar (see test_streaming_prices).
    flush = price_tick("bitcoin", "coingecko", T0 + timedelta(hours=2), 100.0)
    bootstrap = settings.bootstrap_servers

    job = StreamProcess("prices", env, log)
    try:
        cluster.start()
        job.start()
        produce(bootstrap, settings.topic_prices, [*chunks[0], *malformed])
        wait_for(lambda: len(_ticks(lake)) >= 400, 240, "first ticks to land on the cluster")
        before = cluster.state()
        assert [w["coresused"] for w in before["workers"]] == [1, 1], (
            f"the job should run an executor on each worker: {before}"
        )
        assert len(before["activeapps"]) == 1

        # Kill while its executor is inside a task (seen running on two looks 0.05 s apart).
        wait_until(lambda: _busy(cluster, 0), 120, 0.01, "a task on worker 0's executor")
        killed = cluster.kill_worker(0)
        assert any("CoarseGrainedExecutorBackend" in cmd for cmd in killed.values()), killed
        died_in = cluster.tasks_running(0)  # its log ends there: the tasks it died in
        assert died_in, "the executor should have died inside a task\n" + cluster.logs()
        produce(bootstrap, settings.topic_prices, [*chunks[1], *repeats])
        wait_for(lambda: len(_ticks(lake)) >= len(ticks), 300, "every tick after the kill")
        produce(bootstrap, settings.topic_prices, [flush])
        watermark = flush_watermark(flush, EXACTLY_ONCE_WATERMARK_SECONDS)
        truths = {m: bars_ground_truth([*ticks, flush], watermark, m) for m in (1, 5, 15)}
        wait_for(
            lambda: (
                len(_ticks(lake)) >= len(ticks) + 1
                and len(lake.read_table("price_bars")) >= sum(map(len, truths.values()))
            ),
            240,
            "every final bar",
        )
        assert job.poll() is None, "the job should ride out a lost worker\n" + log_tail(log)
        after = cluster.state()
        assert job.stop() == 0, log_tail(log)
    finally:
        job.kill()
        cluster.stop()
    assert cluster.processes() == [], "cluster processes left behind"

    # The master had two workers and lost the one killed; the driver lost its executor.
    states = {w["port"]: w["state"] for w in after["workers"]}
    assert states == {cluster.worker_ports[0]: "DEAD", cluster.worker_ports[1]: "ALIVE"}, after
    assert "Removing worker" in cluster.master.log_file.read_text()
    assert "Lost executor" in log.read_text(), log_tail(log)

    landed = _ticks(lake)
    assert len(landed) == len(set(landed)), "a tick landed twice"
    assert set(landed) == {t["event_id"] for t in [*ticks, flush]}

    reasons = column(lake, "price_quarantine", "reason")
    assert len(reasons) == len(malformed)
    assert reasons.count("malformed JSON or a field of the wrong type") == 3

    for minutes, truth in truths.items():
        assert landed_bars(lake, minutes) == truth, f"{minutes}-minute bars"


def _busy(cluster: SparkStandalone, worker: int) -> bool:
    running = cluster.tasks_running(worker)
    time.sleep(0.05)
    return bool(running & cluster.tasks_running(worker))


def _ticks(lake: LakeReader) -> list[str]:
    return column(lake, "price_ticks", "event_id")
