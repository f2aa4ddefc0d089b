"""The Great Expectations suites as Dagster asset checks, one per lake table.

Every check is blocking: a failed critical expectation gives severity ERROR, and Dagster
then skips the dbt models downstream in the run, so bad lake data never reaches a mart.
Non-critical failures (freshness, row counts) give WARN and block nothing. The metadata
lists each failed expectation with its arguments and the observed values. The marts are
gated by their own dbt tests: a failing one fails `dbt build`, so nothing is published.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from cryptoviz_assets.quality.frames import lake_frame
from cryptoviz_assets.quality.suites import LAKE_SUITES, Suite
from cryptoviz_assets.quality.validation import Outcome, validate
from cryptoviz_assets.settings import Settings, get_settings


def run_suite(suite: Suite, settings: Settings) -> dg.AssetCheckResult:
    """Load the data, validate it, and report the result as an asset check result."""
    staleness = timedelta(hours=settings.lake_max_staleness_hours) + suite.time_grain
    floor = datetime.now(UTC).replace(tzinfo=None) - staleness
    try:
        frame = lake_frame(settings, suite)
    except Exception as error:  # unreadable data is a critical failure, not a crash
        return dg.AssetCheckResult(
            check_name=suite.check_name,
            asset_key=suite.asset_key,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"error": f"{type(error).__name__}: {error}"[:2000]},
        )
    outcomes = validate(frame, suite, floor)
    return to_check_result(suite, outcomes, len(frame))


def to_check_result(suite: Suite, outcomes: list[Outcome], rows: int) -> dg.AssetCheckResult:
    failed = [o for o in outcomes if not o.success]
    critical = [o for o in failed if o.critical]
    table = "\n".join(
        f"| {o.expectation} | {o.kwargs.get('column', o.kwargs.get('column_list', ''))} "
        f"| {'critical' if o.critical else 'warning'} | {o.describe().get('observed_value', '')} "
        f"| {o.observed.get('unexpected_count', '')} |"
        for o in failed
    )
    return dg.AssetCheckResult(
        check_name=suite.check_name,
        asset_key=suite.asset_key,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR if critical else dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_validated": rows,
            "expectations": len(outcomes),
            "failed": len(failed),
            "failed_critical": len(critical),
            "failed_expectations": dg.MetadataValue.json([o.describe() for o in failed]),
            "summary": dg.MetadataValue.md(
                "| expectation | column | level | observed | unexpected |\n|---|---|---|---|---|\n"
                + table
                if failed
                else "all expectations met"
            ),
        },
    )


def build_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=suite.asset_key,
        name=suite.check_name,
        blocking=True,
        description=f"Great Expectations suite on lake table {suite.table}: types, ranges, "
        "keys (critical, blocking), freshness and row counts (warnings).",
        automation_condition=dg.AutomationCondition.eager(),
    )
    def _check() -> dg.AssetCheckResult:
        return run_suite(suite, get_settings())

    return _check


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=[build_check(suite) for suite in LAKE_SUITES])
