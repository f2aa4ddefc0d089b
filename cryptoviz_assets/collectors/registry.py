"""Every collector by name, and whether one can run now (for schedules to skip visibly)."""

from __future__ import annotations

from cryptoviz_assets.collectors.base import Collector
from cryptoviz_assets.collectors.binance import BinanceKlinesCollector
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.coinmarketcap import CoinMarketCapCollector
from cryptoviz_assets.collectors.fear_greed import FearGreedCollector
from cryptoviz_assets.collectors.http import SourceClient
from cryptoviz_assets.collectors.news import NewsCollector
from cryptoviz_assets.settings import Settings

COLLECTORS: dict[str, type[Collector]] = {
    "coingecko": CoinGeckoCollector,
    "coinmarketcap": CoinMarketCapCollector,
    "news": NewsCollector,
    "fear_greed": FearGreedCollector,
    "binance": BinanceKlinesCollector,
}


def build(name: str, settings: Settings) -> Collector:
    return COLLECTORS[name](settings)


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
