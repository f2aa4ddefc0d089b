"""Lake maintenance as a scheduled Dagster job: `lake_maintenance`, daily (LAKE_MAINTENANCE_CRON).

Its op runs `python -m streaming.maintenance` (OPTIMIZE, then VACUUM, every lake table; why
that is safe while the streams write: see that module) through Dagster Pipes, as the
streaming jobs run, and records each table's result as an observation of its lake asset.
Nothing here imports Spark.

Runs are tagged `cryptoviz/kind: maintenance`, limited to one at a time in dagster.yaml: two
compactions of the same table would conflict, and a slow run never piles up behind itself.
"""

from typing import Any

import dagster as dg

from cryptoviz_assets.defs.runs import KIND_TAG
from cryptoviz_assets.defs.streams.pipes import run_job_process
from cryptoviz_assets.settings import get_settings

MAINTENANCE_TAGS = {KIND_TAG: "maintenance"}


def table_events(message: Any) -> list[dg.AssetObservation]:
    """An observation of the lake table one message of streaming.maintenance is about."""
    if not isinstance(message, dict) or message.get("kind") != "maintenance":
        return []
    metadata = {k: v for k, v in message.items() if k not in ("kind", "table")}
    return [
        dg.AssetObservation(asset_key=dg.AssetKey(["lake", message["table"]]), metadata=metadata)
    ]


@dg.op(description="OPTIMIZE (compaction) then VACUUM every lake table, with Spark.")
def compact_and_vacuum_lake(context: dg.OpExecutionContext) -> None:
    run_job_process(context, "maintenance", log_name="lake-maintenance.log", events=table_events)


@dg.job(
    tags=MAINTENANCE_TAGS,
    description="Compacts the lake's small files (OPTIMIZE) and deletes files older versions "
    "no longer need after LAKE_VACUUM_RETENTION_HOURS (VACUUM), table by table.",
)
def lake_maintenance() -> None:
    compact_and_vacuum_lake()


@dg.definitions
def defs() -> dg.Definitions:
    schedule = dg.ScheduleDefinition(
        name="lake_maintenance_schedule",
        job=lake_maintenance,
        cron_schedule=get_settings().lake_maintenance_cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Compacts and vacuums the lake daily, while the streams keep writing.",
    )
    return dg.Definitions(jobs=[lake_maintenance], schedules=[schedule])
