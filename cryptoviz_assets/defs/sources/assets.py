"""Collector assets: the head of the lineage, one per source, each publishing to Kafka.

Each materialization is one collection (fetch -> typed events -> validated publish); the
metadata shows what it did. A failing source fails only its own asset's run, with the
reason and the counts as Failure metadata; its DLQ records are already published.
A source that cannot run at all (no CoinMarketCap key) is observed as skipped, not failed.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from cryptoviz_assets.collectors.base import Collector, CollectorError, RunReport, run_collector
from cryptoviz_assets.collectors.coin_ids import UNMAPPED
from cryptoviz_assets.collectors.fear_greed import FearGreedCollector
from cryptoviz_assets.collectors.registry import SOURCES, Source, source
from cryptoviz_assets.defs.resources import KafkaResource
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.settings import get_settings

GROUP = "sources"
KINDS = {"kafka", "python"}
OWNERS = ["team:data-engineering"]


def report_metadata(report: RunReport) -> dict[str, Any]:
    """A run report as asset metadata (without values that are unknown, like the latency
    of a run whose every fetch failed)."""
    latencies = [s.latency_ms for s in report.sources if s.latency_ms is not None]
    rows = "\n".join(
        f"| {s.source} | {s.fetched} | {s.published} | {s.deduplicated} | {s.dead_lettered} "
        f"| {s.latency_ms if s.latency_ms is not None else '-'} | {s.attempts} "
        f"| {s.breaker_state} | {s.budget_remaining.get('minute', '-')}"
        f"/{s.budget_remaining.get('month', '-')} | {s.error or ''} |"
        for s in report.sources
    )
    metadata: dict[str, Any] = {
        "fetched": report.total("fetched"),
        "published": report.total("published"),
        "deduplicated": report.total("deduplicated"),
        "dead_lettered": report.total("dead_lettered"),
        "latency_ms": dg.MetadataValue.float(max(latencies)) if latencies else None,
        "breaker_state": {s.source: s.breaker_state for s in report.sources},
        "budget_remaining": {s.source: s.budget_remaining for s in report.sources},
        "replayed": any(s.replayed for s in report.sources),
        "sources": dg.MetadataValue.md(
            "| source | fetched | published | deduplicated | dead-lettered | latency ms "
            "| attempts | breaker | budget left (min/month) | error |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n" + rows
        ),
    }
    unmapped = report.refused(UNMAPPED)
    if report.maps_coin_ids or unmapped:  # shown even at 0: the mapping is being watched
        metadata["unmapped_coins"] = len(unmapped)
        metadata["unmapped_coin_list"] = dg.MetadataValue.json(unmapped)
    return {key: value for key, value in metadata.items() if value is not None}


def collect(
    context: dg.AssetExecutionContext, kafka: KafkaResource, collector: Collector
) -> Iterator[dg.MaterializeResult | dg.AssetObservation]:
    """Run one collection; a skip is logged and observed, a failure raises dg.Failure."""
    if (reason := collector.skip_reason()) is not None:
        context.log.warning(reason)
        yield dg.AssetObservation(asset_key=context.asset_key, metadata={"skipped": reason})
        return
    ensure_topics(collector.settings)  # idempotent: the DLQ must exist before anything fails
    try:
        report = run_collector(collector, kafka.producer())
    except CollectorError as exc:
        metadata = report_metadata(exc.report)
        metadata["errors"] = exc.report.errors
        raise dg.Failure(description=str(exc), metadata=metadata) from exc
    metadata = report_metadata(report)
    if unmapped := report.refused(UNMAPPED):
        context.log.warning(f"{collector.name}: no CoinGecko id for {', '.join(unmapped)}")
    context.log.info(
        f"{collector.name}: fetched {metadata['fetched']}, published {metadata['published']}, "
        f"deduplicated {metadata['deduplicated']}, dead-lettered {metadata['dead_lettered']}"
    )
    yield dg.MaterializeResult(metadata=metadata)


def collector_asset(source: Source) -> dg.AssetsDefinition:
    @dg.asset(
        name=source.asset,
        group_name=GROUP,
        kinds=KINDS,
        owners=OWNERS,
        output_required=False,
        description=source.description,
    )
    def _collect(context: dg.AssetExecutionContext, kafka: KafkaResource) -> Iterator[Any]:
        yield from collect(context, kafka, source.build(get_settings()))

    return _collect


@dg.asset(
    name=source("fear_greed").backfill,
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    output_required=False,
    description="One-off backfill of the full Fear & Greed history (limit=0) -> "
    "crypto-market-sentiment; days already published are skipped.",
)
def fear_greed_history(context: dg.AssetExecutionContext, kafka: KafkaResource) -> Iterator[Any]:
    yield from collect(context, kafka, FearGreedCollector(get_settings(), history=True))


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[*(collector_asset(s) for s in SOURCES), fear_greed_history])
