"""When the marts rebuild: `marts_build` on a schedule (MARTS_CRON), and the
`marts_automation` sensor as soon as new lake data lands and the lake's quality gates pass.
Both kinds of run carry the writer tag (one warehouse writer at a time, dagster.yaml).
"""

import dagster as dg

from cryptoviz_assets.analytics.warehouse import WRITER_TAGS
from cryptoviz_assets.defs.marts.assets import MARTS_GROUP
from cryptoviz_assets.quality.suites import LAKE_CHECK_KEYS
from cryptoviz_assets.settings import get_settings

# The marts and the lake quality gates that must pass before they build.
MARTS_SELECTION = dg.AssetSelection.groups(MARTS_GROUP) | dg.AssetSelection.checks(*LAKE_CHECK_KEYS)

marts_build_job = dg.define_asset_job(
    "marts_build",
    selection=MARTS_SELECTION,
    tags=WRITER_TAGS,
    description="Rebuild every model, run the dbt tests and GX checks, publish the snapshot.",
)

# Evaluates the marts' automation conditions (and the lake gates that run with them) every
# 30 s. On by default, unlike Dagster's own.
marts_automation = dg.AutomationConditionSensorDefinition(
    "marts_automation",
    target=MARTS_SELECTION,
    run_tags=WRITER_TAGS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Rebuilds the marts when new lake data lands and the lake quality gates pass.",
)


@dg.definitions
def defs() -> dg.Definitions:
    schedule = dg.ScheduleDefinition(
        name="marts_build_schedule",
        job=marts_build_job,
        cron_schedule=get_settings().marts_cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(jobs=[marts_build_job], schedules=[schedule], sensors=[marts_automation])
