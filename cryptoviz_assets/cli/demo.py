"""The offline demo: the whole pipeline, replayed APIs to marts, as runs on the project's
Dagster instance, so everything it did is there to inspect in the UI afterwards.

1. Kafka topics, then the Fear & Greed history backfill.
2. The collectors, once per market tick, over HISTORY_TICKS one-minute snapshots that the
   replay server plays from the past (replay/clock.py): two cycles of the injected
   aggregator price spike and divergence. The market counts them from its first snapshot,
   so every run replays the same ones (replay/market.py) and finds the same episodes.
   Binance klines come along: in replay mode BINANCE_URL is the replay server and
   BINANCE_SYMBOLS its recorded pairs (BTCUSD, BTCUSDC, BTCUSDT), one recorded minute of
   March 2023 a snapshot from REPLAY_KLINES_START, so the demo sees BTCUSDC trade ~5% above
   BTCUSD as USDC lost its peg: real exchange data behind real episodes.
3. Each streaming job once (Trigger.AvailableNow): what Kafka holds lands in the lake.
4. The marts: dbt build, dbt tests and Great Expectations checks, then the snapshot.
A run that fails does not stop the others; the summary says what failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any

from cryptoviz_assets.analytics import delta_reader
from cryptoviz_assets.runtime import services
from cryptoviz_assets.settings import Settings, environment
from streaming.catalog import STREAMS

HISTORY_TICKS = 40
NEWS_EVERY_TICKS = 5
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class DemoReport:
    """What the demo did and what it left in the lake and the warehouse."""

    runs: dict[str, list[bool]] = field(default_factory=dict)  # job -> success per run
    checks_passed: int = 0
    failed_checks: list[str] = field(default_factory=list)  # ERROR severity: blocking
    check_warnings: list[str] = field(default_factory=list)  # WARN severity
    lake_rows: dict[str, int] = field(default_factory=dict)
    mart_rows: dict[str, int] = field(default_factory=dict)
    # coin, type, severity, sources, duration in minutes: from marts.fct_anomaly_episodes
    episodes: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    stream_alerts: int = 0
    seconds: float = 0.0

    @property
    def failed_runs(self) -> dict[str, int]:
        return {job: ok.count(False) for job, ok in self.runs.items() if not all(ok)}

    @property
    def ok(self) -> bool:
        return not self.failed_runs and not self.failed_checks


class _Runner:
    """Executes the code location's jobs on the instance and tallies runs and checks."""

    def __init__(self, report: DemoReport, say: Callable[[str], None]) -> None:
        import dagster as dg

        from cryptoviz_assets.definitions import defs

        self.defs = defs()
        self.instance = dg.DagsterInstance.get()
        self.report = report
        self.say = say

    def run(self, job_name: str, run_config: dict[str, Any] | None = None, **kwargs: Any) -> bool:
        import dagster as dg

        if job_name == "__ASSET_JOB":
            job = self.defs.resolve_implicit_global_asset_job_def()
        else:
            job = self.defs.resolve_job_def(job_name)
        config = {**QUIET_LOGS, **(run_config or {})}
        result = job.execute_in_process(
            instance=self.instance, run_config=config, raise_on_error=False, **kwargs
        )
        self.report.runs.setdefault(job_name, []).append(result.success)
        for evaluation in result.get_asset_check_evaluations():
            key = evaluation.asset_check_key
            name = f"{key.asset_key.to_user_string()}:{key.name}"
            if evaluation.passed:
                self.report.checks_passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                self.report.check_warnings.append(name)
            else:
                self.report.failed_checks.append(name)
        if not result.success:
            self.say(f"  ! run {result.run_id} of {job_name} failed (see the Dagster UI)")
        return result.success


def run_demo_pipeline(settings: Settings) -> DemoReport:
    """Run the demo on the project's instance (DAGSTER_HOME under var/) and report.

    What the runs print (dbt's output, library warnings) goes to var/run/demo.log; the
    terminal shows the demo's own progress lines only.
    """
    terminal = sys.stdout

    def say(line: str) -> None:
        print(line, file=terminal, flush=True)

    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with (
        open(settings.run_dir / "demo.log", "a") as log,
        redirect_stdout(log),
        redirect_stderr(log),
    ):
        return _run(settings, say)


def _run(settings: Settings, say: Callable[[str], None]) -> DemoReport:
    import dagster as dg

    started = time.monotonic()
    os.environ["DAGSTER_HOME"] = str(services.prepare_dagster_home(settings))
    report = DemoReport()
    runner = _Runner(report, say)

    say("1/4 Kafka topics and the Fear & Greed history")
    runner.run("__ASSET_JOB", asset_selection=[dg.AssetKey("kafka_topics")])
    runner.run("backfill_fear_greed_history")
    runner.run("collect_fear_greed")

    say(f"2/4 Collectors over up to {HISTORY_TICKS} one-minute market snapshots")
    with _replayed_minutes_are_seconds():
        for tick in range(HISTORY_TICKS + 1):
            runner.run("collect_coingecko")
            runner.run("collect_coinmarketcap")
            runner.run("collect_binance")
            if tick % NEWS_EVERY_TICKS == 0:
                runner.run("collect_news")
            if _advance_market(settings):
                break
    say(f"    {len(report.runs['collect_coingecko'])} snapshots collected")

    say("3/4 Streaming jobs, once each: Kafka -> Spark -> lake")
    for stream in STREAMS:
        op_config = {"ops": {f"run_{stream.name}_stream": {"config": {"once": True}}}}
        runner.run(f"stream_{stream.name}", run_config=op_config)

    say("4/4 Marts: dbt build, dbt tests, Great Expectations, publish")
    runner.run("marts_build")

    _count_rows(settings, report)
    report.seconds = time.monotonic() - started
    return report


@contextlib.contextmanager
def _replayed_minutes_are_seconds() -> Iterator[None]:
    """Lift the per-minute call budgets while the demo replays its snapshots.

    The budgets are sized for the live free tiers (30 calls a minute); the demo replays a
    market minute every second or two, so on a fast machine they refused some snapshots and
    the demo's results depended on its speed. Only this process, only during collection:
    `dagster dev` afterwards polls under the normal budgets.
    """
    sources = ("COINGECKO", "COINMARKETCAP", "NEWS", "BINANCE")
    names = [f"{source}_CALLS_PER_MINUTE" for source in sources]
    with environment(dict.fromkeys(names, str(10 * (HISTORY_TICKS + 1)))):
        yield


def _advance_market(settings: Settings) -> bool:
    """One tick on for the replayed market; True once it has caught up with the clock."""
    request = urllib.request.Request(f"{settings.replay_url}/_replay/advance", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return bool(json.load(response)["caught_up"])


def release_market(settings: Settings) -> None:
    """The replayed market follows the wall clock from now on: after the demo's snapshots,
    `dagster dev`'s collectors see new minutes, and the streams and marts move with them."""
    request = urllib.request.Request(f"{settings.replay_url}/_replay/release", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _count_rows(settings: Settings, report: DemoReport) -> None:
    from cryptoviz_assets.analytics.warehouse import MARTS_SCHEMA, connect_read_only, row_counts

    lake = settings.lake_uri.rstrip("/")
    with delta_reader.connect() as con:
        for stream in STREAMS:
            for table in stream.tables:
                count = 0
                if delta_reader.table_exists(con, f"{lake}/{table}"):
                    row = con.execute(
                        "select count(*) from delta_scan(?)", [f"{lake}/{table}"]
                    ).fetchone()
                    count = int(row[0]) if row else 0
                report.lake_rows[table] = count
    if not settings.warehouse_path.exists():
        return
    with connect_read_only(settings.warehouse_path) as con:
        report.mart_rows = {f"{MARTS_SCHEMA}.{name}": n for name, n in row_counts(con).items()}
        report.episodes = [
            (str(coin), str(kind), str(severity), ",".join(sources), int(minutes))
            for coin, kind, severity, sources, minutes in con.execute(
                "select coin_id, alert_type, severity, sources, duration_minutes "
                "from marts.fct_anomaly_episodes order by all"
            ).fetchall()
        ]
        row = con.execute("select count(*) from marts.fct_stream_alerts").fetchone()
        report.stream_alerts = int(row[0]) if row else 0


def format_summary(report: DemoReport, settings: Settings) -> str:
    """The demo's closing summary: rows per table, anomaly episodes, checks, failures."""
    lines = [f"CryptoViz demo finished in {report.seconds:.0f} s", ""]
    lines.append(f"Lake ({settings.lake_uri})")
    lines += [f"  {table:<30} {rows:>8} rows" for table, rows in report.lake_rows.items()]
    lines += ["", f"Marts ({settings.warehouse_path})"]
    lines += [f"  {table:<36} {rows:>8} rows" for table, rows in report.mart_rows.items()]
    lines += ["", "Anomaly episodes (marts.fct_anomaly_episodes)"]
    lines += [
        f"  {coin:<10} {kind:<18} {sev:<9} {minutes:>4} min  {sources}"
        for coin, kind, sev, sources, minutes in report.episodes
    ] or ["  none"]
    lines.append(f"  real-time price alerts from the stream: {report.stream_alerts}")
    failed, warned = len(report.failed_checks), len(report.check_warnings)
    lines += ["", f"Checks: {report.checks_passed} passed, {failed} failed, {warned} warnings"]
    lines += [f"  failed: {name}" for name in report.failed_checks]
    lines += [f"  warning: {name}" for name in report.check_warnings]
    runs = sum(len(ok) for ok in report.runs.values())
    failed_runs = sum(report.failed_runs.values())
    lines.append(f"Runs: {runs - failed_runs} succeeded, {failed_runs} failed")
    lines += [f"  failed: {job} x{count}" for job, count in report.failed_runs.items()]
    return "\n".join(lines)
