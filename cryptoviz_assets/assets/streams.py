"""The lake tables the streaming jobs write, as assets Dagster can see and track.

The Spark jobs (streaming/) write these tables continuously; Dagster does not compute them
on demand, so they are asset specs, kept up to date by the supervised streaming runs
(cryptoviz_assets.stream_runs), which record a materialization whenever rows land and an
observation of the job's progress (rates, offsets behind, last batch).
Table and column reference: streaming/README.md.
"""

from dataclasses import dataclass

import dagster as dg


@dataclass(frozen=True)
class Stream:
    """One long-running streaming job and the lake tables it writes."""

    name: str  # streaming.<name> is the job module
    tables: tuple[str, ...]
    description: str


STREAMS: tuple[Stream, ...] = (
    Stream(
        "prices",
        (
            "price_ticks",
            "price_quarantine",
            "price_bars",
            "price_alerts",
            "exchange_bars_1m",
            "exchange_bars_quarantine",
        ),
        "Price ticks, 1/5/15-minute OHLC bars and price-spike alerts from crypto-prices; exchange "
        "klines from crypto-klines.",
    ),
    Stream(
        "news",
        ("news_articles", "news_quarantine"),
        "News articles with sentiment and coin tags from crypto-news.",
    ),
    Stream(
        "market_sentiment",
        ("market_sentiment", "market_sentiment_quarantine"),
        "Fear & Greed index from crypto-market-sentiment.",
    ),
)

# The collector assets whose events each stream reads: the lineage runs from API to lake.
COLLECTORS_OF = {
    "prices": ["coingecko_prices", "coinmarketcap_prices", "binance_klines"],
    "news": ["crypto_news"],
    "market_sentiment": ["fear_greed_index", "fear_greed_history"],
}

TABLE_DESCRIPTIONS = {
    "price_ticks": "Every valid price tick once (deduplicated by event_id), by event date.",
    "price_quarantine": "crypto-prices records that failed validation, with the reason.",
    "price_bars": "Final event-time OHLC bars of 1, 5 and 15 minutes per coin and source.",
    "price_alerts": "Price-spike alerts (range > 5% within a minute; critical > 10%).",
    "exchange_bars_1m": "Closed 1-minute exchange klines (OHLC, base and quote volume) once.",
    "exchange_bars_quarantine": "crypto-klines records that failed validation, with the reason.",
    "news_articles": "News articles once each, with VADER+crypto sentiment and coin tags.",
    "news_quarantine": "crypto-news records that failed validation, with the reason.",
    "market_sentiment": "Fear & Greed index values, one row per index date.",
    "market_sentiment_quarantine": "crypto-market-sentiment records that failed validation.",
}

_lake_table_specs = [
    dg.AssetSpec(
        key=dg.AssetKey(["lake", table]),
        description=TABLE_DESCRIPTIONS[table],
        group_name="lake",
        kinds={"spark", "delta"},
        owners=["team:streaming"],
        deps=["kafka_topics", *COLLECTORS_OF[stream.name]],
        tags={"cryptoviz/stream": stream.name},
        metadata={
            "stream_job": f"streaming.{stream.name}",
            "layout": f"<lake>/{table}: a Delta table partitioned by date",
        },
    )
    for stream in STREAMS
    for table in stream.tables
]


# Not executable by Dagster (Spark writes them); loaded with the other assets of the package.
lake_tables = dg.AssetsDefinition(specs=_lake_table_specs)
