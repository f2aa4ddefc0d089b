"""Readers while the stream writes: the marts build, `cryptoviz sql` and the market report.

The prices job keeps committing to the Delta lake the whole time. A `marts_build` run reads
the lake through dbt's `delta_scan` sources, checks and publishes; `cryptoviz sql` and the
market report read the published snapshot. Every figure a reader sees must be that of one
committed Delta version: never a half-written batch, never a file the log does not name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from confluent_kafka import Producer
from deltalake import DeltaTable

from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import Settings
from streaming.process import StreamProcess
from tests.streaming_support import (
    LakeReader,
    job_env,
    log_tail,
    produce,
    tick_series,
    wait_for,
)

pytestmark = pytest.mark.slow
CLI = Path(sys.executable).parent / "cryptoviz"
FIRST = 2000  # ticks landed before the readers start
SLICE = 100  # then ticks produced every half second while they run: 200 a second


def delta_version(table: Path) -> int:
    return DeltaTable(str(table)).version()


def committed_counts(table: Path) -> dict[int, int]:
    """Rows of every committed version of a Delta table, read independently with delta-rs."""
    return {
        version: DeltaTable(str(table), version=version).to_pyarrow_dataset().count_rows()
        for version in range(delta_version(table) + 1)
    }


def metadata(instance: dg.DagsterInstance, key: str) -> dict[str, dg.MetadataValue]:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None, key
    assert event.asset_materialization is not None, key
    return dict(event.asset_materialization.metadata)


def sql(statement: str) -> str:
    result = subprocess.run(
        [str(CLI), "sql", statement], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_marts_sql_and_report_read_committed_versions_while_the_stream_writes(
    project_env: Settings, dagster_instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    settings = project_env
    ensure_topics(settings)
    lake = LakeReader(settings.lake_uri)
    ticks_table = Path(settings.lake_uri) / "price_ticks"
    # Recent event time (fresh for the lake's staleness gate), 4 coins x 2 sources; the
    # producer keeps going until the readers are done: at most 75 minutes of event time.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=80)
    ticks = tick_series(45_000, start=start, step_ms=100)
    log = tmp_path / "prices.log"
    job = StreamProcess("prices", job_env(settings), log)
    stop_producing = threading.Event()
    produced = [0]

    def keep_producing() -> None:
        producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
        sent = FIRST
        for i in range(FIRST, len(ticks), SLICE):
            if stop_producing.wait(0.5):
                break
            for tick in ticks[i : i + SLICE]:
                producer.produce(settings.topic_prices, key=tick["coin_id"], value=json.dumps(tick))
            producer.poll(0)
            sent = min(i + SLICE, len(ticks))
        assert producer.flush(30) == 0
        produced[0] = sent

    producer = threading.Thread(target=keep_producing, name="keep-producing")
    try:
        job.start()
        produce(settings.bootstrap_servers, settings.topic_prices, ticks[:FIRST])
        wait_for(lambda: lake.count_rows("price_ticks") >= FIRST, 240, "the first ticks to land")
        producer.start()

        before = delta_version(ticks_table)
        from cryptoviz_assets.definitions import defs as load_definitions

        defs = load_definitions()

        run = defs.resolve_job_def("marts_build").execute_in_process(instance=dagster_instance)
        assert run.success
        # Only what no news or Fear & Greed landing leaves empty warns; nothing is an error.
        checks = run.get_asset_check_evaluations()
        failed = {c.asset_key.path[-1]: c.severity for c in checks if not c.passed}
        empty = ("news_articles", "market_sentiment", "fct_news_articles")
        assert failed == dict.fromkeys(empty, dg.AssetCheckSeverity.WARN)
        during = delta_version(ticks_table)
        assert during > before, "the stream committed nothing while the marts built"

        # `cryptoviz sql` reads the snapshot the run published, while the stream still writes.
        seen = sql("select count(*) as ticks from staging.stg_price_ticks")
        snapshot_ticks = int(seen.splitlines()[2])
        bars = int(sql("select count(*) as bars from marts.fct_price_bars_hourly").splitlines()[2])
        assert bars > 0
        # The report read the same snapshot: its row count is the published one.
        snapshot, report = (
            metadata(dagster_instance, key) for key in ("warehouse_snapshot", "market_report")
        )
        assert snapshot["rows/fct_price_bars_hourly"].value == bars
        assert report["dagster/row_count"].value == snapshot["dagster/row_count"].value
        assert any(name.startswith("chart_") for name in report)
        # Nothing a reader did held the writer up: the stream commits on.
        read = delta_version(ticks_table)
        wait_for(lambda: delta_version(ticks_table) > read, 120, "the stream's next commit")
    finally:
        stop_producing.set()
        if producer.is_alive():
            producer.join(60)
    try:
        wait_for(
            lambda: lake.count_rows("price_ticks") >= produced[0],
            240,
            "every produced tick to land",
        )
        assert job.stop() == 0, log_tail(log)
    finally:
        job.kill()

    counts = committed_counts(ticks_table)
    final = counts[max(counts)]
    assert final == produced[0]  # exactly once, and the producer kept going past the build
    assert snapshot_ticks in counts.values(), (snapshot_ticks, sorted(set(counts.values())))
    assert FIRST <= snapshot_ticks < final
