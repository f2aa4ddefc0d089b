"""Group "marts": the dbt models as assets, the published warehouse snapshot, the report.

Every dbt model is an asset (group "marts") downstream of the lake tables (dbt source
`lake` -> keys ["lake", <table>], the streaming jobs' assets); every dbt test is an asset
check. dbt writes the private build file; `warehouse_snapshot` then publishes it for
readers, so it runs only after the models and their blocking checks succeeded. Both write
the warehouse, so both take the "duckdb_warehouse" pool (one such step at a time).

Rebuilds: when new lake data lands (declarative automation) and on a schedule
(defs/marts/automation.py); both kinds of run carry the writer tag.

What a person sees: `warehouse_snapshot` records every mart's row count; `market_report`
then reads the published snapshot (read-only, so it needs no writer slot) and attaches
previews and charts (cryptoviz_assets.analytics.presentation). The marts carry a freshness policy:
the schedule rebuilds them hourly, so one older than MARTS_FRESHNESS is overdue.
"""

from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from cryptoviz_assets.analytics.dbt import dbt_project, ensure_manifest
from cryptoviz_assets.analytics.warehouse import (
    WAREHOUSE_POOL,
    WRITER_TAGS,
    connect_read_only,
    dbt_environment,
    publish,
    row_counts,
)
from cryptoviz_assets.defs.resources import WarehouseResource
from cryptoviz_assets.settings import get_settings

BUILD_TARGET = Path("target") / "dagster-build"  # relative to dbt_project/

MARTS_GROUP = "marts"
OWNERS = ["team:analytics"]
# The schedule rebuilds hourly (new lake data sooner): a mart not rebuilt for two hours is
# overdue. Lenient enough for a demo paused for a coffee; no warn window, which would flicker
# between hourly rebuilds.
MARTS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2))
# New data upstream -> rebuild. Like eager(), except that a model waits only while all of its
# inputs are missing: a source that never delivered (no Binance klines yet) must not hold back
# what the others feed (a missing lake table reads as empty). Models that read the lake also
# wait for the lake's blocking GX gates (requested in the same tick, so they run first in the
# same run); further down, dbt's own tests and the blocking checks stop a bad build in the run.
ALL_DEPS_MISSING = dg.AutomationCondition.all_deps_match(
    dg.AutomationCondition.missing() & ~dg.AutomationCondition.will_be_requested()
).with_label("all_deps_missing")
REBUILD = dg.AutomationCondition.eager().replace("any_deps_missing", ALL_DEPS_MISSING)
REBUILD_FROM_LAKE = REBUILD & dg.AutomationCondition.all_deps_blocking_checks_passed()
# Publish after any mart was rebuilt, even while other marts still wait for their first
# input (eager would wait for all of them).
PUBLISH = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)


def is_mart(name: str) -> bool:
    """The marts folder's naming convention: facts and dimensions readers query."""
    return name.startswith(("fct_", "dim_"))


class MartsTranslator(DagsterDbtTranslator):
    """All models in group "marts", owned by analytics, rebuilt when what they read changed;
    the marts themselves (not staging/intermediate) are expected fresh."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model" and is_mart(props["name"]):
            return spec.replace_attributes(freshness_policy=MARTS_FRESHNESS)
        return spec

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str] | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        return OWNERS

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


def dbt_models() -> dg.AssetsDefinition:
    """Every dbt model an asset, every dbt test a check (reads the manifest, parsing the
    project first if it is stale)."""

    @dbt_assets(
        manifest=ensure_manifest(),
        project=dbt_project(),
        dagster_dbt_translator=MartsTranslator(),
        name="cryptoviz_dbt",
        pool=WAREHOUSE_POOL,
        op_tags=WRITER_TAGS,
    )
    def cryptoviz_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        """`dbt build` of the selected models (and their tests) into the private build file."""
        with dbt_environment(get_settings()):
            # One fixed target folder: builds never overlap (the warehouse pool allows one),
            # and a folder per build would pile up ~6 MB every time the lake grows.
            yield from dbt.cli(["build"], context=context, target_path=BUILD_TARGET).stream()

    return cryptoviz_dbt


def publication(marts: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """The snapshot readers query, published after the `marts`."""

    @dg.asset(
        name="warehouse_snapshot",
        group_name=MARTS_GROUP,
        deps=marts,
        pool=WAREHOUSE_POOL,
        op_tags=WRITER_TAGS,
        kinds={"duckdb"},
        owners=OWNERS,
        automation_condition=PUBLISH,
        freshness_policy=MARTS_FRESHNESS,
        description="The read-only warehouse snapshot readers query (DUCKDB_PATH), published "
        "atomically from the dbt build file once the marts and their blocking checks passed.",
    )
    def warehouse_snapshot(warehouse: WarehouseResource) -> dg.MaterializeResult:
        from cryptoviz_assets.analytics import presentation  # pandas: loaded when a run needs it

        published = publish(Path(warehouse.build_path), Path(warehouse.path))
        with connect_read_only(published.path) as con:
            counts = row_counts(con)
        return dg.MaterializeResult(
            metadata={
                "path": str(published.path),
                "size_bytes": published.bytes,
                "mart_tables": len(counts),
                "dagster/row_count": sum(counts.values()),
                "row_counts": dg.MetadataValue.md(presentation.row_counts_markdown(counts)),
                **{f"rows/{name}": dg.MetadataValue.int(n) for name, n in counts.items()},
            }
        )

    return warehouse_snapshot


@dg.asset(
    group_name=MARTS_GROUP,
    deps=["warehouse_snapshot"],
    kinds={"duckdb", "matplotlib"},
    owners=OWNERS,
    automation_condition=REBUILD,
    freshness_policy=MARTS_FRESHNESS,
    description="The market at a glance, from the published snapshot: row counts, the "
    "latest anomalies, bars, sentiment, Fear & Greed and news, and charts (price with 7- "
    "and 30-period moving averages and anomaly markers, news sentiment against price, the "
    "Fear & Greed index over the last year).",
)
def market_report(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    from cryptoviz_assets.analytics import presentation  # pandas and matplotlib: loaded when run

    report = presentation.build_report(Path(warehouse.path))
    context.log.info(f"market report over {len(report.row_counts)} marts")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(report.row_counts.values()),
            "row_counts": dg.MetadataValue.md(presentation.row_counts_markdown(report.row_counts)),
            **{
                f"chart_{name}": dg.MetadataValue.md(chart.markdown())
                for name, chart in report.charts.items()
            },
            **{
                f"preview_{name}": dg.MetadataValue.md(text)
                for name, text in report.previews.items()
            },
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    models = dbt_models()
    marts = [key for key in models.keys if is_mart(key.path[-1])]
    return dg.Definitions(assets=[models, publication(marts), market_report])
