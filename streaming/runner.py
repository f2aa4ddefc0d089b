"""Running a streaming job: queries, graceful stop, progress reports, no orphan processes.

Every job (`python -m streaming.<job> [--once]`) goes through `run_job`. It works the same
standalone and under Dagster: when launched by Dagster Pipes, progress goes back to the
Dagster run as Pipes logs and custom messages (which the supervising op turns into asset
observations); otherwise it is printed as JSON lines.

SIGTERM/SIGINT stop the queries (Spark replays an interrupted batch on restart, and the
sink is idempotent, so stopping mid-batch loses and duplicates nothing), stop Spark, and
kill whatever child processes remain (Python workers outlive a dead JVM).

`--once` runs each query with `Trigger.AvailableNow`: everything in Kafka when the job starts
is landed (exactly once, in the same checkpoint a continuous run resumes from), then the job
exits 0. Stateful results held back by a watermark (open price bars) stay in the state for
the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery, StreamingQueryListener

from cryptoviz_assets.settings import Settings, get_settings
from streaming.session import build_spark

# The observation each sink's input carries (streaming.lake.counted): the Delta sink reports
# no row count in the query progress, so the rows a batch wrote are counted on the way in.
LANDED = "landed"

log = logging.getLogger("streaming")


# Keyword arguments of DataStreamWriter.trigger: {"processingTime": ...} or {"availableNow": True}.
Trigger = dict[str, Any]
# A job's queries in stages: each stage reads what the stages before it land (a lake table
# read as a stream). A continuous run starts them all; a run `--once` lets each stage catch
# up before starting the next, so a stage sees everything the one before it landed.
StartQueries = Callable[[SparkSession, Settings, Trigger], Iterator[list[StreamingQuery]]]


@dataclass
class Progress:
    """The latest progress of each query plus counters since the last report."""

    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, progress: Any) -> None:
        with self.lock:
            state = self.queries.setdefault(progress.name, {"batches": 0})
            state["batches"] += 1
            state["last_batch_id"] = progress.batchId
            state["last_batch_time"] = progress.timestamp
            state["input_rows"] = state.get("input_rows", 0) + progress.numInputRows
            state["input_rows_per_second"] = round(progress.inputRowsPerSecond or 0.0, 1)
            state["processed_rows_per_second"] = round(progress.processedRowsPerSecond or 0.0, 1)
            state["batch_duration_ms"] = progress.batchDuration
            state["duration_ms"] = dict(progress.durationMs)
            # Rows the query wrote (its LANDED observation: see streaming.lake.counted).
            landed = (progress.observedMetrics or {}).get(LANDED)
            state["output_rows"] = state.get("output_rows", 0) + (landed["rows"] if landed else 0)
            state["offsets_behind"] = sum(
                offsets_behind(s.endOffset, s.latestOffset) for s in progress.sources
            )
            if progress.eventTime.get("watermark"):
                state["watermark"] = progress.eventTime["watermark"]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return json.loads(json.dumps(self.queries))


def offsets_behind(end: str | None, latest: str | None) -> int:
    """Records between what a batch read up to and the broker's end, over all partitions."""
    if not end or not latest:
        return 0
    try:
        done, tail = json.loads(end), json.loads(latest)
    except ValueError:
        return 0
    return sum(
        max(0, int(last) - int(done.get(topic, {}).get(part, 0)))
        for topic, parts in tail.items()
        for part, last in parts.items()
    )


class _Listener(StreamingQueryListener):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def onQueryStarted(self, event: Any) -> None:  # noqa: N802
        pass

    def onQueryProgress(self, event: Any) -> None:  # noqa: N802
        self.progress.update(event.progress)

    def onQueryIdle(self, event: Any) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event: Any) -> None:  # noqa: N802
        pass


class Reporter:
    """Sends progress to Dagster Pipes when launched by it, else prints JSON lines.

    If the Pipes channel goes away (the Dagster run was torn down first), reporting falls
    back to printing: losing the audience is no reason for the job to fail its shutdown.
    """

    def __init__(self, job: str, every_seconds: float) -> None:
        self.job = job
        self.every = every_seconds
        self.last = 0.0
        self.pipes: Any = None

    @contextlib.contextmanager
    def opened(self) -> Iterator[Reporter]:
        from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

        if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
            yield self
            return
        self.pipes = open_dagster_pipes()
        try:
            yield self
        except BaseException as exc:
            self._close(exc)
            raise
        self._close(None)

    def _close(self, exc: BaseException | None) -> None:
        """Close Pipes, reporting `exc` to Dagster as the job's error."""
        opened, self.pipes = self.pipes, None
        if opened is not None:
            info = (type(exc), exc, exc.__traceback__) if exc else (None, None, None)
            self._to_dagster(lambda: opened.__exit__(*info))

    def _to_dagster(self, send: Callable[[], object]) -> None:
        try:
            send()
        except OSError as exc:
            self.pipes = None
            print(f"[{self.job}] Dagster Pipes gone ({exc}); printing only", file=sys.stderr)

    def info(self, message: str) -> None:
        if (pipes := self.pipes) is not None:
            self._to_dagster(lambda: pipes.log.info(message))
        print(f"[{self.job}] {message}", file=sys.stderr, flush=True)

    def maybe_report(self, progress: Progress, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        queries = progress.snapshot()
        payload = {
            "kind": "progress",
            "job": self.job,
            "queries": queries,
            # Each query writes the lake table it is named after.
            "landed_rows": {name: q.get("output_rows", 0) for name, q in queries.items()},
        }
        self.send(payload)

    def send(self, payload: dict[str, Any]) -> None:
        """A custom message to Dagster (when launched by Pipes), and a JSON line on stdout."""
        if (pipes := self.pipes) is not None:
            self._to_dagster(lambda: pipes.report_custom_message(payload))
        print(json.dumps(payload), flush=True)


def trigger_for(settings: Settings, once: bool) -> Trigger:
    if once:
        return {"availableNow": True}
    return {"processingTime": f"{settings.stream_trigger_seconds} seconds"}


def job_main(job: str, start_queries: StartQueries, argv: list[str] | None = None) -> int:
    """The command line of `python -m streaming.<job>`."""
    parser = argparse.ArgumentParser(prog=f"python -m streaming.{job}")
    parser.add_argument(
        "--once",
        action="store_true",
        help="land everything in Kafka at start (Trigger.AvailableNow), then exit",
    )
    args = parser.parse_args(argv)
    return run_job(job, start_queries, once=args.once)


def run_job(
    job: str,
    start_queries: StartQueries,
    settings: Settings | None = None,
    *,
    once: bool = False,
) -> int:
    """Start the job's queries and keep them running until a signal or a failure (or, with
    `once`, until every query has processed what was available at start)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    settings = settings or get_settings()
    stop = threading.Event()

    def _request_stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    reporter = Reporter(job, settings.stream_report_seconds)
    status = 0
    try:
        with reporter.opened():
            spark = build_spark(f"cryptoviz-{job}", settings)
            progress = Progress()
            spark.streams.addListener(_Listener(progress))
            queries: list[StreamingQuery] = []
            mode = " (once)" if once else ""
            for stage in start_queries(spark, settings, trigger_for(settings, once)):
                queries += stage
                reporter.info(f"started {', '.join(q.name for q in stage)}{mode}")
                if once:
                    watch(stage, once, stop, lambda: reporter.maybe_report(progress))
            if once and not stop.is_set():
                reporter.info("every query caught up with the offsets at start")
            else:
                watch(queries, once, stop, lambda: reporter.maybe_report(progress))
            if stop.is_set():
                reporter.info("stop requested: stopping queries")
            reporter.maybe_report(progress, force=True)
            # The JVM may already be gone (a signal sent to the whole process group reaches
            # it too): the checkpoint is consistent either way, so that is still a clean stop.
            for query in queries:
                with contextlib.suppress(Exception):
                    query.stop()
            with contextlib.suppress(Exception):
                spark.stop()
            reporter.info("stopped")
    except Exception as exc:
        log.exception("streaming job %s failed", job)
        print(f"[{job}] failed: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        reap_children()
    return status


def watch(
    queries: list[StreamingQuery], once: bool, stop: threading.Event, report: Callable[[], None]
) -> None:
    """Until a stop is requested, or (`once`) every query has caught up; a query that
    stops on its own (or with an error) fails the job."""
    while not stop.is_set():
        finished = [q for q in queries if not q.isActive]
        for query in finished:
            if (error := query.exception()) is not None or not once:
                raise RuntimeError(f"query {query.name} stopped: {error}")
        if once and len(finished) == len(queries):
            return
        report()
        stop.wait(0.5)


def reap_children(timeout: float = 10.0) -> None:
    """Terminate, then kill, every process this one started (the JVM and Python workers)."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
