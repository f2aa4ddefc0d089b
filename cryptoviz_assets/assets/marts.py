"""The dbt models as Dagster assets, and the published warehouse snapshot after them.

Every dbt model is an asset (group "marts") downstream of the lake tables (dbt source
`lake` -> keys ["lake", <table>], the streaming jobs' assets); every dbt test is an asset
check. dbt writes the private build file; `warehouse_snapshot` then publishes it for
readers, so it runs only after the models and their blocking checks succeeded. Both write
the warehouse, so both take the "duckdb_warehouse" pool (one such step at a time).

Rebuilds: when new lake data lands (declarative automation, sensor `marts_automation`)
and on the `marts_build_schedule` (MARTS_CRON); both kinds of run carry the writer tag.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from cryptoviz_assets import warehouse
from cryptoviz_assets.dbt import dbt_project, ensure_manifest
from cryptoviz_assets.quality.suites import LAKE_CHECK_KEYS
from cryptoviz_assets.settings import get_settings
from cryptoviz_assets.warehouse import WAREHOUSE_POOL, WRITER_TAGS

MARTS_GROUP = "marts"
# New data upstream -> rebuild. Models that read the lake also wait for the lake's blocking
# GX gates (requested in the same tick, so they run first in the same run); further down,
# dbt's own tests and the blocking checks stop a bad build within the run.
REBUILD = dg.AutomationCondition.eager()
REBUILD_FROM_LAKE = REBUILD & dg.AutomationCondition.all_deps_blocking_checks_passed()
# Publish after any mart was rebuilt, even while other marts still wait for their first
# input (eager would wait for all of them).
PUBLISH = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)


class MartsTranslator(DagsterDbtTranslator):
    """All models in group "marts", rebuilt when what they read has changed."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        return MARTS_GROUP

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        parents = dbt_resource_props.get("depends_on", {}).get("nodes", [])
        reads_lake = any(parent.startswith("source.") for parent in parents)
        return REBUILD_FROM_LAKE if reads_lake else REBUILD


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=MartsTranslator(),
    name="cryptoviz_dbt",
    pool=WAREHOUSE_POOL,
    op_tags=WRITER_TAGS,
)
def cryptoviz_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """`dbt build` of the selected models (and their tests) into the private build file."""
    with warehouse.dbt_environment(get_settings()):
        yield from dbt.cli(["build"], context=context).stream()


MART_KEYS = [
    key
    for key in cryptoviz_dbt.keys
    if key.path[-1].startswith(("fct_", "dim_"))  # the marts folder's naming convention
]


@dg.asset(
    group_name=MARTS_GROUP,
    deps=MART_KEYS,
    pool=WAREHOUSE_POOL,
    op_tags=WRITER_TAGS,
    kinds={"duckdb"},
    automation_condition=PUBLISH,
    description="The read-only warehouse snapshot readers query (DUCKDB_PATH), published "
    "atomically from the dbt build file once the marts and their blocking checks passed.",
)
def warehouse_snapshot() -> dg.MaterializeResult:
    settings = get_settings()
    published = warehouse.publish(settings.warehouse_build_file, settings.warehouse_path)
    return dg.MaterializeResult(
        metadata={
            "path": str(published.path),
            "size_bytes": published.bytes,
            "mart_tables": published.tables,
        }
    )


marts_build_job = dg.define_asset_job(
    "marts_build",
    selection=dg.AssetSelection.groups(MARTS_GROUP) | dg.AssetSelection.checks(*LAKE_CHECK_KEYS),
    tags=WRITER_TAGS,
    description="Rebuild every model, run the dbt tests and GX checks, publish the snapshot.",
)

marts_schedule = dg.ScheduleDefinition(
    name="marts_build_schedule",
    job=marts_build_job,
    cron_schedule=get_settings().marts_cron,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

# Evaluates REBUILD for the marts (and the lake gates that run with them) every 30 s; its
# runs carry the writer tag like the scheduled ones. On by default, unlike Dagster's own.
marts_automation = dg.AutomationConditionSensorDefinition(
    "marts_automation",
    target=dg.AssetSelection.groups(MARTS_GROUP) | dg.AssetSelection.checks(*LAKE_CHECK_KEYS),
    run_tags=WRITER_TAGS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the marts when new lake data lands and the lake quality gates pass.",
)

jobs = [marts_build_job]
schedules = [marts_schedule]
sensors = [marts_automation]
