"""Market sentiment: crypto-market-sentiment -> market_sentiment (+ quarantine).

The Fear & Greed index is published once a day and polled every few minutes, so the same
event_id arrives many times: deduplicated, one row per index_date lands. Partitioned by
index_date.
"""

from __future__ import annotations

import sys

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming.events import MARKET_SENTIMENT, sentiment_rules
from streaming.landing import start_landing_query, with_column
from streaming.runner import BatchWriter, Trigger, job_main

JOB = "market_sentiment"


def enrich(rows: pa.Table) -> pa.Table:
    return with_column(rows, "date", rows["index_date"])


def start_queries(
    spark: SparkSession, settings: Settings, trigger: Trigger
) -> tuple[list[StreamingQuery], list[BatchWriter]]:
    query, writer = start_landing_query(
        spark,
        settings,
        trigger,
        query="market_sentiment",
        topic=settings.topic_market_sentiment,
        schema=MARKET_SENTIMENT,
        rules=sentiment_rules(),
        dedup_seconds=settings.stream_news_dedup_seconds,
        table="market_sentiment",
        quarantine_table="market_sentiment_quarantine",
        finish=enrich,
    )
    return [query], [writer]


def main() -> int:
    return job_main(JOB, start_queries)


if __name__ == "__main__":
    sys.exit(main())
