"""Collector assets: the head of the lineage, one per source, each publishing to Kafka.

Each materialization is one collection (fetch -> typed events -> validated publish); the
metadata shows what it did. A failing source fails only its own asset's run, with the
reason and the counts as Failure metadata; its DLQ records are already published.
"""

from typing import Any

import dagster as dg

from cryptoviz_assets.collectors.base import Collector, CollectorError, RunReport, run_collector
from cryptoviz_assets.collectors.binance import BinanceKlinesCollector
from cryptoviz_assets.collectors.coin_ids import UNMAPPED
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.coinmarketcap import CoinMarketCapCollector
from cryptoviz_assets.collectors.fear_greed import FearGreedCollector
from cryptoviz_assets.collectors.news import NewsCollector
from cryptoviz_assets.resources import KafkaResource
from cryptoviz_assets.topics import ensure_topics

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
) -> dg.MaterializeResult:
    """Run one collection; a skip is logged and observed, a failure raises dg.Failure."""
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
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    description="CoinGecko coins/markets price ticks for the configured coins -> crypto-prices.",
)
def coingecko_prices(
    context: dg.AssetExecutionContext, kafka: KafkaResource
) -> dg.MaterializeResult:
    return collect(context, kafka, CoinGeckoCollector(kafka.settings()))


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    output_required=False,
    description=(
        "CoinMarketCap listings/latest (top N) price ticks, coin_id mapped to CoinGecko ids "
        "-> crypto-prices; coins without one are dead-lettered and listed (unmapped_coins). "
        "Skipped (observed, not failed) without COINMARKETCAP_API_KEY."
    ),
)
def coinmarketcap_prices(context: dg.AssetExecutionContext, kafka: KafkaResource) -> Any:
    collector = CoinMarketCapCollector(kafka.settings())
    if (reason := collector.skip_reason()) is not None:
        context.log.warning(reason)
        yield dg.AssetObservation(asset_key=context.asset_key, metadata={"skipped": reason})
        return
    yield collect(context, kafka, collector)


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    description="News articles from the configured RSS feeds (CoinDesk, Cointelegraph) "
    "-> crypto-news; articles already published are skipped.",
)
def crypto_news(context: dg.AssetExecutionContext, kafka: KafkaResource) -> dg.MaterializeResult:
    return collect(context, kafka, NewsCollector(kafka.settings()))


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    description="Today's alternative.me Fear & Greed index -> crypto-market-sentiment.",
)
def fear_greed_index(
    context: dg.AssetExecutionContext, kafka: KafkaResource
) -> dg.MaterializeResult:
    return collect(context, kafka, FearGreedCollector(kafka.settings()))


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    description="One-off backfill of the full Fear & Greed history (limit=0) -> "
    "crypto-market-sentiment; days already published are skipped.",
)
def fear_greed_history(
    context: dg.AssetExecutionContext, kafka: KafkaResource
) -> dg.MaterializeResult:
    return collect(context, kafka, FearGreedCollector(kafka.settings(), history=True))


@dg.asset(
    group_name=GROUP,
    kinds=KINDS,
    owners=OWNERS,
    description="Binance closed 1-minute klines (OHLCV) of the configured pairs -> "
    "crypto-klines, keyed by pair; a pair whose base asset has no CoinGecko id is "
    "dead-lettered and listed (unmapped_coins). Each pair resumes after its last minute.",
)
def binance_klines(context: dg.AssetExecutionContext, kafka: KafkaResource) -> dg.MaterializeResult:
    return collect(context, kafka, BinanceKlinesCollector(kafka.settings()))


COLLECTOR_ASSETS = {
    "coingecko": coingecko_prices,
    "coinmarketcap": coinmarketcap_prices,
    "news": crypto_news,
    "fear_greed": fear_greed_index,
    "binance": binance_klines,
}
