"""Schedules: each collector runs on its own schedule, on by default under `dagster dev`.

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

from cryptoviz_assets.assets.sources import COLLECTOR_ASSETS, fear_greed_history
from cryptoviz_assets.collectors.registry import blocked_reason, build
from cryptoviz_assets.sensors import UNFINISHED
from cryptoviz_assets.settings import Settings, get_settings

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )


def collector_tags(name: str) -> dict[str, str]:
    return {"cryptoviz/collector": name, "cryptoviz/kind": "collector"}


def cron_for(seconds: int) -> str:
    """A poll interval as cron (Settings checks it is whole minutes dividing an hour)."""
    minutes = seconds // 60
    return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"


def intervals(settings: Settings) -> dict[str, int]:
    return {
        "coingecko": settings.coingecko_poll_seconds,
        "coinmarketcap": settings.coinmarketcap_poll_seconds,
        "news": settings.news_poll_seconds,
        "fear_greed": settings.fear_greed_poll_seconds,
        "binance": settings.binance_poll_seconds,
    }


def collector_job(name: str, asset: dg.AssetsDefinition) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        f"collect_{name}", selection=[asset], tags=collector_tags(name),
        description=f"One collection of the {name} collector.",
    )  # fmt: skip


def collector_schedule(
    name: str, job: UnresolvedAssetJobDefinition, seconds: int
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{name}_schedule",
        job=job,
        cron_schedule=cron_for(seconds),
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Runs the {name} collector every {seconds} s.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        unfinished = dg.RunsFilter(job_name=job.name, statuses=list(UNFINISHED))
        if context.instance.get_run_records(unfinished, limit=1):
            return dg.SkipReason(f"the previous {name} collection has not finished yet")
        reason = blocked_reason(build(name, get_settings()))
        if reason is not None:
            return dg.SkipReason(reason)
        return dg.RunRequest()

    return _schedule


_jobs = {name: collector_job(name, asset) for name, asset in COLLECTOR_ASSETS.items()}
fear_greed_history_job = dg.define_asset_job(
    "backfill_fear_greed_history",
    selection=[fear_greed_history],
    tags=collector_tags("fear_greed"),
    description="One-off backfill of the full Fear & Greed history.",
)


def collector_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    """One schedule per collector, at the poll intervals `settings` gives."""
    return [
        collector_schedule(name, _jobs[name], seconds)
        for name, seconds in intervals(settings).items()
    ]


jobs: list[UnresolvedAssetJobDefinition] = [*_jobs.values(), fear_greed_history_job]
schedules = collector_schedules(get_settings())
