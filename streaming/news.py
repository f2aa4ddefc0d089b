"""News: crypto-news -> news_articles (scored, coin-tagged) and news_quarantine.

Articles are deduplicated by event_id (feeds repeat items on every poll), scored by the
trained headline classifier (streaming.sentiment) on the title alone (scored better than
title + summary: see benchmarks/sentiment_eval.py), and tagged with the coins their title or
summary mention (streaming.coins). Partitioned by the article's published date (event_time).
"""

from __future__ import annotations

import sys

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import Settings
from streaming.coins import mentioned_coins
from streaming.events import NEWS_ARTICLE, news_rules
from streaming.landing import day_of, start_landing_query, with_column
from streaming.runner import BatchWriter, Trigger, job_main
from streaming.sentiment import score_many

JOB = "news"


def enrich(articles: pa.Table) -> pa.Table:
    """Add sentiment_score, sentiment_label, sentiment_pos/neg/neu, coins and date."""
    titles = [title or "" for title in articles["title"].to_pylist()]
    summaries = articles["summary"].to_pylist()
    texts = [f"{t}. {s or ''}" for t, s in zip(titles, summaries, strict=True)]
    scored = score_many(titles)
    articles = with_column(
        articles, "sentiment_score", pa.array([s.score for s in scored], pa.float64())
    )
    articles = with_column(
        articles, "sentiment_label", pa.array([s.label for s in scored], pa.string())
    )
    articles = with_column(
        articles, "sentiment_pos", pa.array([s.positive for s in scored], pa.float64())
    )
    articles = with_column(
        articles, "sentiment_neg", pa.array([s.negative for s in scored], pa.float64())
    )
    articles = with_column(
        articles, "sentiment_neu", pa.array([s.neutral for s in scored], pa.float64())
    )
    coins = pa.array([mentioned_coins(text) for text in texts], pa.list_(pa.string()))
    articles = with_column(articles, "coins", coins)
    return with_column(articles, "date", day_of(articles["event_time"]))


def start_queries(
    spark: SparkSession, settings: Settings, trigger: Trigger
) -> tuple[list[StreamingQuery], list[BatchWriter]]:
    query, writer = start_landing_query(
        spark,
        settings,
        trigger,
        query="news",
        topic=settings.topic_news,
        schema=NEWS_ARTICLE,
        rules=news_rules(),
        dedup_seconds=settings.stream_news_dedup_seconds,
        table="news_articles",
        quarantine_table="news_quarantine",
        finish=enrich,
    )
    return [query], [writer]


def main() -> int:
    return job_main(JOB, start_queries)


if __name__ == "__main__":
    sys.exit(main())
