"""News: crypto-news -> news_articles (scored, coin-tagged) and news_quarantine.

Articles are deduplicated by event_id (feeds repeat items on every poll), scored by the
trained headline classifier (streaming.sentiment) on the title alone (scored better than
title + summary: see benchmarks/sentiment_eval.py), and tagged with the coins their title or
summary mention (streaming.coins). Both run on the executors as vectorized (Arrow) UDFs.
Partitioned by the article's published date (event_time).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming import lake
from streaming.events import NEWS_ARTICLE, news_rules
from streaming.landing import start_landing
from streaming.runner import Trigger, job_main

JOB = "news"
SENTIMENT = T.StructType(
    [
        T.StructField("score", T.DoubleType()),
        T.StructField("label", T.StringType()),
        T.StructField("pos", T.DoubleType()),
        T.StructField("neg", T.DoubleType()),
        T.StructField("neu", T.DoubleType()),
    ]
)


@F.pandas_udf(SENTIMENT)  # type: ignore[call-overload]
def headline_sentiment(titles: pd.Series) -> pd.DataFrame:
    from streaming.sentiment import score_many

    scored = score_many([title or "" for title in titles])
    return pd.DataFrame(
        {
            "score": [s.score for s in scored],
            "label": [s.label for s in scored],
            "pos": [s.positive for s in scored],
            "neg": [s.negative for s in scored],
            "neu": [s.neutral for s in scored],
        }
    )


@F.pandas_udf(T.ArrayType(T.StringType()))  # type: ignore[call-overload]
def coins_in(titles: pd.Series, summaries: pd.Series) -> pd.Series:
    from streaming.coins import mentioned_coins

    return pd.Series(
        [
            mentioned_coins(f"{title or ''}. {summary or ''}")
            for title, summary in zip(titles, summaries, strict=True)
        ]
    )


def enrich(articles: DataFrame) -> DataFrame:
    """Add sentiment_score, sentiment_label, sentiment_pos/neg/neu, coins, landed_at, date."""
    scored = articles.withColumn("_s", headline_sentiment("title"))
    return lake.landed(
        scored.select(
            *articles.columns,
            F.col("_s.score").alias("sentiment_score"),
            F.col("_s.label").alias("sentiment_label"),
            F.col("_s.pos").alias("sentiment_pos"),
            F.col("_s.neg").alias("sentiment_neg"),
            F.col("_s.neu").alias("sentiment_neu"),
            coins_in("title", "summary").alias("coins"),
        ),
        "event_time",
    )


def start_queries(
    spark: SparkSession, settings: Settings, trigger: Trigger
) -> Iterator[list[StreamingQuery]]:
    yield start_landing(
        spark,
        settings,
        trigger,
        job=JOB,
        topic=settings.topic_news,
        schema=NEWS_ARTICLE,
        rules=news_rules(),
        dedup_seconds=settings.stream_news_dedup_seconds,
        table="news_articles",
        quarantine_table="news_quarantine",
        finish=enrich,
    )


def main() -> int:
    return job_main(JOB, start_queries)


if __name__ == "__main__":
    sys.exit(main())
