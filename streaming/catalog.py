"""The streaming jobs: the topics each reads and the lake tables each writes.

Plain data, read by the Dagster code location (assets, jobs, supervisors) and the demo;
a source's events reach the lake through the stream that reads its topic.
Table and column reference: streaming/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stream:
    """One long-running streaming job (the module streaming.<name>)."""

    name: str
    topics: tuple[str, ...]  # topic roles it reads (keys of Settings.topics)
    tables: tuple[str, ...]  # lake tables it writes
    description: str


STREAMS: tuple[Stream, ...] = (
    Stream(
        "prices",
        ("prices", "klines"),
        (
            "price_ticks",
            "price_quarantine",
            "price_bars",
            "price_alerts",
            "exchange_bars_1m",
            "exchange_bars_quarantine",
        ),
        "Price ticks, 1/5/15-minute OHLC bars and price-range alerts from crypto-prices; exchange "
        "klines from crypto-klines.",
    ),
    Stream(
        "news",
        ("news",),
        ("news_articles", "news_quarantine"),
        "News articles with sentiment and coin tags from crypto-news.",
    ),
    Stream(
        "market_sentiment",
        ("market_sentiment",),
        ("market_sentiment", "market_sentiment_quarantine"),
        "Fear & Greed index from crypto-market-sentiment.",
    ),
)

TABLE_DESCRIPTIONS = {
    "price_ticks": "Every valid price tick once (deduplicated by event_id), by event date.",
    "price_quarantine": "crypto-prices records that failed validation, with the reason.",
    "price_bars": "Final event-time OHLC bars of 1, 5 and 15 minutes per coin and source.",
    "price_alerts": "price_range_spike alerts: a 1-minute range > 5% (critical > 10%).",
    "exchange_bars_1m": "Closed 1-minute exchange klines (OHLC, base and quote volume) once.",
    "exchange_bars_quarantine": "crypto-klines records that failed validation, with the reason.",
    "news_articles": "News articles once each, with VADER+crypto sentiment and coin tags.",
    "news_quarantine": "crypto-news records that failed validation, with the reason.",
    "market_sentiment": "Fear & Greed index values, one row per index date.",
    "market_sentiment_quarantine": "crypto-market-sentiment records that failed validation.",
}
