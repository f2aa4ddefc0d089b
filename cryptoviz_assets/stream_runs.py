"""A streaming job as one long-running Dagster run, through Dagster Pipes.

The run's single op starts `python -m streaming.<name>` (its own process group) with the
Pipes bootstrap environment, and stays with it: Pipes logs appear in the run live, and
each progress message becomes an observation of the stream's lake assets (and a
materialization of the tables that received rows). Nothing here imports Spark.

Op config `once: true` runs the job with `--once` (land what Kafka holds, then succeed):
for an orchestrated demo that runs each stream to completion.

When the run is terminated, Dagster interrupts the op; the `finally` stops the job
(SIGTERM to the driver, then SIGKILL to the whole process group: JVM and Python workers
included). When the job dies on its own, the op fails with the log tail, and the
supervisor sensor (cryptoviz_assets.sensors) starts a new run with backoff.
"""

import os
import time
from collections.abc import Callable
from typing import Any

import dagster as dg
from pydantic import Field

from cryptoviz_assets.assets.streams import STREAMS, Stream
from cryptoviz_assets.settings import PROJECT_ROOT, get_settings

STREAM_TAG = "cryptoviz/stream"
KIND_TAG = "cryptoviz/kind"
POLL_SECONDS = 1.0


def job_name(stream: Stream) -> str:
    return f"stream_{stream.name}"


def progress_events(stream: Stream, message: Any, landed_before: dict[str, int]) -> list[Any]:
    """Dagster events for one progress message of the job (see streaming.runner.Reporter)."""
    if not isinstance(message, dict) or message.get("kind") != "progress":
        return []
    queries: dict[str, dict[str, Any]] = message.get("queries", {})
    landed: dict[str, int] = message.get("landed_rows", {})
    summary: dict[str, Any] = {
        "batches": sum(q.get("batches", 0) for q in queries.values()),
        "input_rows_per_second": sum(q.get("input_rows_per_second", 0.0) for q in queries.values()),
        "processed_rows_per_second": sum(
            q.get("processed_rows_per_second", 0.0) for q in queries.values()
        ),
        "offsets_behind": max((q.get("offsets_behind", 0) for q in queries.values()), default=0),
        "last_batch_time": max(
            (q.get("last_batch_time", "") for q in queries.values()), default=""
        ),
    }
    events: list[Any] = []
    for table in stream.tables:
        key = dg.AssetKey(["lake", table])
        rows = landed.get(table, 0)
        metadata = {**summary, "rows_landed_by_this_run": rows}
        if rows > landed_before.get(table, 0):
            metadata["rows_landed_since_last_report"] = rows - landed_before.get(table, 0)
            events.append(dg.AssetMaterialization(asset_key=key, metadata=metadata))
        else:
            events.append(dg.AssetObservation(asset_key=key, metadata=metadata))
    landed_before.update(landed)
    return events


class StreamRunConfig(dg.Config):
    """Run config of a stream job's op."""

    once: bool = Field(
        default=False,
        description="Land what Kafka holds at start (Trigger.AvailableNow), then succeed.",
    )


def run_stream(context: dg.OpExecutionContext, stream: Stream, once: bool = False) -> None:
    landed: dict[str, int] = {}
    run_job_process(
        context,
        stream.name,
        args=("--once",) if once else (),
        log_name=f"stream-{stream.name}.log",
        events=lambda message: progress_events(stream, message, landed),
    )


def run_job_process(
    context: dg.OpExecutionContext,
    job: str,
    *,
    args: tuple[str, ...] = (),
    log_name: str,
    events: Callable[[Any], list[Any]],
) -> None:
    """`python -m streaming.<job> [args]` under Dagster Pipes, until it exits: each custom
    message it reports becomes the Dagster `events` given; a non-zero exit fails the op."""
    from streaming.process import StreamProcess

    settings = get_settings()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.run_dir / log_name
    with dg.open_pipes_session(
        context=context,
        context_injector=dg.PipesEnvContextInjector(),
        message_reader=dg.PipesTempFileMessageReader(),
    ) as session:
        env = {**os.environ, **session.get_bootstrap_env_vars()}
        env.setdefault("PYTHONPATH", str(PROJECT_ROOT))
        process = StreamProcess(job, env=env, log_path=log_path, args=args)
        pid = process.start()
        command = " ".join([f"streaming.{job}", *args])
        context.log.info(f"started {command} (PID {pid}, log {log_path})")
        seen = 0
        status: int | None = None
        try:
            while (status := process.poll()) is None:
                seen = _log_events(context, session, seen, events)
                time.sleep(POLL_SECONDS)
        finally:
            # Reached on exit, failure and run termination alike: leave no process behind.
            status = process.stop()
            context.log.info(f"streaming.{job} ended with status {status}")
    # The session is closed, so it has read every message: the last ones count too.
    _log_events(context, session, seen, events)
    if status != 0:
        tail = _tail(log_path)
        raise dg.Failure(
            description=f"streaming.{job} exited with status {status}",
            metadata={"log_tail": dg.MetadataValue.text(tail), "log": str(log_path)},
        )


def _log_events(
    context: dg.OpExecutionContext,
    session: dg.PipesSession,
    seen: int,
    events: Callable[[Any], list[Any]],
) -> int:
    """Log the events of the messages after the first `seen`; returns how many were seen."""
    messages = session.get_custom_messages()
    for message in messages[seen:]:
        for event in events(message):
            context.log_event(event)
    return len(messages)


def _tail(path: os.PathLike[str], lines: int = 40) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except FileNotFoundError:
        return ""


def build_stream_job(stream: Stream) -> dg.JobDefinition:
    @dg.op(name=f"run_{stream.name}_stream", description=stream.description)
    def _run(context: dg.OpExecutionContext, config: StreamRunConfig) -> None:
        run_stream(context, stream, once=config.once)

    @dg.job(
        name=job_name(stream),
        description=f"Long-running Spark job streaming.{stream.name}. {stream.description}",
        tags={KIND_TAG: "streaming", STREAM_TAG: stream.name},
    )
    def _job() -> None:
        _run()

    return _job


stream_jobs = {stream.name: build_stream_job(stream) for stream in STREAMS}
