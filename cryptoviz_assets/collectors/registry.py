"""Every source, once: the list the collector assets, jobs, schedules and streams derive from.

A source is one collector with the Dagster asset that runs it and the setting that says how
often. Its events go to the collector's topic, and from there to the stream that reads it
(streaming.catalog). Adding a source means one line here and a Collector class.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptoviz_assets.collectors.base import Collector
from cryptoviz_assets.collectors.binance import BinanceKlinesCollector
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.coinmarketcap import CoinMarketCapCollector
from cryptoviz_assets.collectors.fear_greed import FearGreedCollector
from cryptoviz_assets.collectors.http import SourceClient
from cryptoviz_assets.collectors.news import NewsCollector
from cryptoviz_assets.settings import Settings


@dataclass(frozen=True)
class Source:
    """One collector, the asset that runs it, and how often its schedule does."""

    collector: type[Collector]
    asset: str  # the Dagster asset (and lineage node) of one collection
    description: str
    backfill: str | None = None  # the asset of a one-off backfill of its history, if any

    @property
    def assets(self) -> list[str]:
        return [self.asset] if self.backfill is None else [self.asset, self.backfill]

    @property
    def name(self) -> str:
        """The collector's name: in run tags, job `collect_<name>`, `<name>_schedule`."""
        return self.collector.name

    @property
    def topic(self) -> str:
        """The topic role its events go to (a key of Settings.topics)."""
        return self.collector.topic_role

    def poll_seconds(self, settings: Settings) -> int:
        """Its schedule's interval: the setting <NAME>_POLL_SECONDS."""
        seconds: int = getattr(settings, f"{self.name}_poll_seconds")
        return seconds

    def build(self, settings: Settings) -> Collector:
        return self.collector(settings)


SOURCES: tuple[Source, ...] = (
    Source(
        CoinGeckoCollector,
        "coingecko_prices",
        "CoinGecko coins/markets price ticks for the configured coins -> crypto-prices.",
    ),
    Source(
        CoinMarketCapCollector,
        "coinmarketcap_prices",
        "CoinMarketCap listings/latest (top N) price ticks, coin_id mapped to CoinGecko ids "
        "-> crypto-prices; coins without one are dead-lettered and listed (unmapped_coins). "
        "Skipped (observed, not failed) without COINMARKETCAP_API_KEY.",
    ),
    Source(
        NewsCollector,
        "crypto_news",
        "News articles from the configured RSS feeds (CoinDesk, Cointelegraph) -> crypto-news; "
        "articles already published are skipped.",
    ),
    Source(
        FearGreedCollector,
        "fear_greed_index",
        "Today's alternative.me Fear & Greed index -> crypto-market-sentiment.",
        backfill="fear_greed_history",
    ),
    Source(
        BinanceKlinesCollector,
        "binance_klines",
        "Binance closed 1-minute klines (OHLCV) of the configured pairs -> crypto-klines, keyed "
        "by pair; a pair whose base asset has no CoinGecko id is dead-lettered and listed "
        "(unmapped_coins). Each pair resumes after its last minute.",
    ),
)


def source(name: str) -> Source:
    return next(s for s in SOURCES if s.name == name)


def sources_of(topics: tuple[str, ...]) -> list[Source]:
    """The sources whose events go to these topic roles (what a stream reads)."""
    return [s for s in SOURCES if s.topic in topics]


def blocked_reason(collector: Collector) -> str | None:
    """Why a run now would be pointless: skipped source, every breaker open, budget spent."""
    if (reason := collector.skip_reason()) is not None:
        return reason
    problems = []
    requests = collector.requests()
    with SourceClient(collector.settings) as client:  # the breakers and budget a run would use
        for request in requests:
            status = client.breaker_status(request)
            remaining = client.remaining(request)
            if status.blocks_calls():
                problems.append(f"{request.source}: circuit breaker {status.describe()}")
            elif remaining.month <= 0:
                problems.append(f"{request.source}: monthly call budget spent")
            elif remaining.minute <= 0:
                problems.append(f"{request.source}: per-minute call budget spent")
    if requests and len(problems) == len(requests):
        return f"{collector.name} collector skipped - " + "; ".join(problems)
    return None
