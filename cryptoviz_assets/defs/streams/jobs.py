"""Each streaming job as one long-running Dagster run (`stream_<name>`), through Pipes.

The run's single op runs `streaming.<name>` (defs/streams/pipes.py) until it ends; each
progress message becomes an observation of the stream's lake assets, and a
materialization of the tables that received rows. The supervisor sensors
(defs/streams/sensors.py) start a new run when one fails.

Op config `once: true` runs the job with `--once` (land what Kafka holds, then succeed):
for an orchestrated demo that runs each stream to completion.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from cryptoviz_assets.defs.runs import KIND_TAG, STREAM_TAG
from cryptoviz_assets.defs.streams.pipes import run_job_process
from streaming.catalog import STREAMS, Stream


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


def stream_jobs() -> dict[str, dg.JobDefinition]:
    return {stream.name: build_stream_job(stream) for stream in STREAMS}


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=list(stream_jobs().values()))
