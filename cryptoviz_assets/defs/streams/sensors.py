"""The streaming jobs' supervisor: one sensor per stream, `supervise_<name>_stream`.

One sensor per streaming job keeps it alive. It asks only the Dagster instance (never
Kafka, so a tick cannot hang on a broker): is a run of this stream queued or in progress?
If not, it requests one. After failures it backs off exponentially
(`STREAM_RESTART_BACKOFF_SECONDS`, doubled per consecutive failure), counted from the end of
the last failed run, and says so in the tick's skip reason, so the failure (a failed run)
and the restart (a run tagged with the attempt and the run it replaces) both show in the UI.

The run key names the run being replaced, so two ticks can never start two runs for the
same failure. To stop a stream for good, turn its sensor off, then terminate the run.
"""

import time

import dagster as dg
from dagster import DagsterRunStatus, RunsFilter

from cryptoviz_assets.defs.runs import STREAM_TAG, UNFINISHED
from cryptoviz_assets.defs.streams.jobs import job_name
from cryptoviz_assets.settings import Settings, get_settings
from streaming.catalog import STREAMS, Stream

BACKOFF_MAX_SECONDS = 600.0
HISTORY = 20


def backoff_seconds(consecutive_failures: int, base: float) -> float:
    """0 for the first start, then base (STREAM_RESTART_BACKOFF_SECONDS), 2x, 4x ...
    capped at 10 minutes."""
    if consecutive_failures <= 0:
        return 0.0
    return min(base * 2 ** (consecutive_failures - 1), BACKOFF_MAX_SECONDS)


def supervise(
    instance: dg.DagsterInstance,
    stream: Stream,
    now: float | None = None,
    backoff_base: float | None = None,
) -> dg.RunRequest | dg.SkipReason:
    """What the sensor should do for `stream` right now."""
    now = time.time() if now is None else now
    if backoff_base is None:
        backoff_base = get_settings().stream_restart_backoff_seconds
    records = instance.get_run_records(
        filters=RunsFilter(tags={STREAM_TAG: stream.name}), limit=HISTORY
    )
    active = [r for r in records if r.dagster_run.status in UNFINISHED]
    if active:
        run = active[0].dagster_run
        return dg.SkipReason(f"{stream.name} is {run.status.value.lower()} as run {run.run_id}")
    failures = 0
    for record in records:  # newest first
        if record.dagster_run.status != DagsterRunStatus.FAILURE:
            break
        failures += 1
    last = records[0] if records else None
    wait = backoff_seconds(failures, backoff_base)
    if last is not None and failures:
        ended = last.end_time or last.update_timestamp.timestamp()
        remaining = ended + wait - now
        if remaining > 0:
            return dg.SkipReason(
                f"{stream.name} failed {failures} time(s) in a row (last run "
                f"{last.dagster_run.run_id}); restarting in {remaining:.0f}s (backoff {wait:.0f}s)"
            )
    replaces = last.dagster_run.run_id if last is not None else "none"
    tags = {"cryptoviz/attempt": str(failures + 1), "cryptoviz/replaces_run": replaces}
    return dg.RunRequest(
        run_key=f"{stream.name}:after:{replaces}", job_name=job_name(stream), tags=tags
    )


def supervised_streams(settings: Settings) -> set[str]:
    """The streams whose supervisor is on by default (STREAM_SUPERVISED)."""
    return {name.strip() for name in settings.stream_supervised.split(",") if name.strip()}


def build_supervisor(stream: Stream, settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"supervise_{stream.name}_stream",
        job_name=job_name(stream),
        minimum_interval_seconds=settings.stream_supervisor_interval_seconds,
        default_status=(
            dg.DefaultSensorStatus.RUNNING
            if stream.name in supervised_streams(settings)
            else dg.DefaultSensorStatus.STOPPED
        ),
        description=f"Keeps streaming.{stream.name} running; restarts it with backoff.",
    )
    def _supervise(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        decision = supervise(context.instance, stream)
        if isinstance(decision, dg.RunRequest):
            attempt = decision.tags.get("cryptoviz/attempt")
            replaces = decision.tags.get("cryptoviz/replaces_run")
            context.log.info(f"starting {stream.name} (attempt {attempt}, replaces run {replaces})")
            return dg.SensorResult(run_requests=[decision])
        return dg.SensorResult(skip_reason=decision)

    return _supervise


@dg.definitions
def defs() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(sensors=[build_supervisor(stream, settings) for stream in STREAMS])
