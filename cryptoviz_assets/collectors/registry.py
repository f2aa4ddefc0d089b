"""Every collector by name, and whether one can run now (for schedules to skip visibly)."""

from __future__ import annotations

from cryptoviz_assets.collectors.base import Collector
from cryptoviz_assets.collectors.breaker import breaker_for, breaker_status
from cryptoviz_assets.collectors.budget import CallBudget
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.coinmarketcap import CoinMarketCapCollector
from cryptoviz_assets.collectors.fear_greed import FearGreedCollector
from cryptoviz_assets.collectors.news import NewsCollector
from cryptoviz_assets.settings import Settings

COLLECTORS: dict[str, type[Collector]] = {
    "coingecko": CoinGeckoCollector,
    "coinmarketcap": CoinMarketCapCollector,
    "news": NewsCollector,
    "fear_greed": FearGreedCollector,
}


def build(name: str, settings: Settings) -> Collector:
    return COLLECTORS[name](settings)


def blocked_reason(collector: Collector) -> str | None:
    """Why a run now would be pointless: skipped source, every breaker open, budget spent."""
    if (reason := collector.skip_reason()) is not None:
        return reason
    settings = collector.settings
    budget = CallBudget(settings.state_dir / "budget.sqlite")
    problems = []
    requests = collector.requests()
    for request in requests:
        breaker = breaker_for(
            settings.state_dir / "breakers.sqlite", request.key, settings.breaker_fail_max,
            settings.breaker_reset_seconds, exclude=[],
        )  # fmt: skip
        status = breaker_status(breaker)
        remaining = budget.remaining(request.key, request.limits)
        if status.blocks_calls():
            problems.append(f"{request.source}: circuit breaker {status.describe()}")
        elif remaining.month <= 0:
            problems.append(f"{request.source}: monthly call budget spent")
        elif remaining.minute <= 0:
            problems.append(f"{request.source}: per-minute call budget spent")
    if requests and len(problems) == len(requests):
        return f"{collector.name} collector skipped - " + "; ".join(problems)
    return None
