"""Each source's job (`collect_<name>`) and schedule (`<name>_schedule`), on by default.

Runs are tagged `cryptoviz/collector: <name>` (dagster.yaml runs one per value at a time)
and `cryptoviz/kind: collector`. A schedule skips with a reason shown in the UI instead of
requesting a run:
- while the collector's previous run is still queued or running: on a busy laptop a
  collection can take longer than its interval, and queued collections would pile up and
  run late, each fetching what the next one fetches anyway;
- when the collector cannot run: no CoinMarketCap key in live mode, every circuit breaker
  open, or the budget spent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from cryptoviz_assets.collectors.registry import SOURCES, Source, blocked_reason
from cryptoviz_assets.defs.runs import COLLECTOR_TAG, KIND_TAG, UNFINISHED
from cryptoviz_assets.settings import Settings, get_settings

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


def collector_tags(name: str) -> dict[str, str]:
    return {COLLECTOR_TAG: name, KIND_TAG: "collector"}


def cron_for(seconds: int) -> str:
    """A poll interval as cron (Settings checks it is whole minutes dividing an hour)."""
    minutes = seconds // 60
    return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"


def job_name(source: Source) -> str:
    return f"collect_{source.name}"


def collector_job(source: Source) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        job_name(source), selection=[source.asset], tags=collector_tags(source.name),
        description=f"One collection of the {source.name} collector.",
    )  # fmt: skip


def collector_schedule(source: Source, settings: Settings) -> dg.ScheduleDefinition:
    seconds = source.poll_seconds(settings)
    job = job_name(source)

    @dg.schedule(
        name=f"{source.name}_schedule",
        job_name=job,
        cron_schedule=cron_for(seconds),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Runs the {source.name} collector every {seconds} s.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        unfinished = dg.RunsFilter(job_name=job, statuses=list(UNFINISHED))
        if context.instance.get_run_records(unfinished, limit=1):
            return dg.SkipReason(f"the previous {source.name} collection has not finished yet")
        reason = blocked_reason(source.build(get_settings()))
        if reason is not None:
            return dg.SkipReason(reason)
        return dg.RunRequest()

    return _schedule


def backfill_job(source: Source, backfill: str) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        f"backfill_{backfill}", selection=[backfill], tags=collector_tags(source.name),
        description=f"One-off {backfill} backfill.",
    )  # fmt: skip


@dg.definitions
def defs() -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        jobs=[
            *(collector_job(s) for s in SOURCES),
            *(backfill_job(s, s.backfill) for s in SOURCES if s.backfill),
        ],
        schedules=[collector_schedule(s, settings) for s in SOURCES],
    )
