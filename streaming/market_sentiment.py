"""Market sentiment: crypto-market-sentiment -> market_sentiment (+ quarantine).

The Fear & Greed index is published once a day and polled every few minutes, so the same
event_id arrives many times: deduplicated, one row per index_date lands. Partitioned by
index_date.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming import lake
from streaming.events import MARKET_SENTIMENT, sentiment_rules
from streaming.landing import start_landing
from streaming.runner import Trigger, job_main

JOB = "market_sentiment"


def enrich(rows: DataFrame) -> DataFrame:
    return lake.landed(rows, "index_date")


def start_queries(
    spark: SparkSession, settings: Settings, trigger: Trigger
) -> Iterator[list[StreamingQuery]]:
    yield start_landing(
        spark,
        settings,
        trigger,
        job=JOB,
        topic=settings.topic_market_sentiment,
        schema=MARKET_SENTIMENT,
        rules=sentiment_rules(),
        dedup_seconds=settings.stream_news_dedup_seconds,
        table="market_sentiment",
        quarantine_table="market_sentiment_quarantine",
        finish=enrich,
    )


def main() -> int:
    return job_main(JOB, start_queries)


if __name__ == "__main__":
    sys.exit(main())
