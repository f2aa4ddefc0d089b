"""Parsing and validating the event contract (cryptoviz_assets/contract/schemas) in Spark.

Every Kafka record becomes one row: the event's fields, its Kafka coordinates, the raw
text, and `reason`: null for a valid event, else why it was rejected (the first failed
rule). Rejected rows go to a quarantine table instead of failing the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812

CORRUPT = "_corrupt_record"
EVENT_ID_PATTERN = "^[0-9a-f]{64}$"
UTC_PATTERN = "Z$"

_COMMON = [
    T.StructField("schema_version", T.LongType()),
    T.StructField("event_id", T.StringType()),
    T.StructField("event_type", T.StringType()),
    T.StructField("source", T.StringType()),
    T.StructField("event_time", T.StringType()),
    T.StructField("ingest_time", T.StringType()),
    T.StructField("replayed", T.BooleanType()),
]

PRICE_TICK = T.StructType(
    [
        *_COMMON,
        T.StructField("coin_id", T.StringType()),
        T.StructField("symbol", T.StringType()),
        T.StructField("name", T.StringType()),
        T.StructField("price_usd", T.DoubleType()),
        T.StructField("market_cap_usd", T.DoubleType()),
        T.StructField("market_cap_rank", T.LongType()),
        T.StructField("volume_24h_usd", T.DoubleType()),
        T.StructField("high_24h_usd", T.DoubleType()),
        T.StructField("low_24h_usd", T.DoubleType()),
        T.StructField("change_1h_pct", T.DoubleType()),
        T.StructField("change_24h_pct", T.DoubleType()),
        T.StructField("change_7d_pct", T.DoubleType()),
        T.StructField("ath_usd", T.DoubleType()),
        T.StructField("ath_change_pct", T.DoubleType()),
        T.StructField("ath_date", T.StringType()),
        T.StructField("atl_usd", T.DoubleType()),
        T.StructField("atl_change_pct", T.DoubleType()),
        T.StructField("atl_date", T.StringType()),
        T.StructField("circulating_supply", T.DoubleType()),
        T.StructField("total_supply", T.DoubleType()),
        T.StructField("max_supply", T.DoubleType()),
    ]
)

NEWS_ARTICLE = T.StructType(
    [
        *_COMMON,
        T.StructField("guid", T.StringType()),
        T.StructField("url", T.StringType()),
        T.StructField("title", T.StringType()),
        T.StructField("summary", T.StringType()),
        T.StructField("authors", T.ArrayType(T.StringType())),
        T.StructField("categories", T.ArrayType(T.StringType())),
    ]
)

MARKET_SENTIMENT = T.StructType(
    [
        *_COMMON,
        T.StructField("index_name", T.StringType()),
        T.StructField("index_date", T.StringType()),
        T.StructField("value", T.LongType()),
        T.StructField("classification", T.StringType()),
    ]
)


KLINE = T.StructType(
    [
        *_COMMON,
        T.StructField("symbol", T.StringType()),
        T.StructField("coin_id", T.StringType()),
        T.StructField("base_asset", T.StringType()),
        T.StructField("quote_asset", T.StringType()),
        T.StructField("interval", T.StringType()),
        T.StructField("open_time", T.StringType()),
        T.StructField("close_time", T.StringType()),
        T.StructField("open", T.DoubleType()),
        T.StructField("high", T.DoubleType()),
        T.StructField("low", T.DoubleType()),
        T.StructField("close", T.DoubleType()),
        T.StructField("volume_base", T.DoubleType()),
        T.StructField("volume_quote", T.DoubleType()),
        T.StructField("trade_count", T.LongType()),
    ]
)


@dataclass(frozen=True)
class Rule:
    """An event is rejected with `reason` when `invalid` is true (or null)."""

    reason: str
    invalid: Column


def _blank(name: str) -> Column:
    return F.col(name).isNull() | (F.length(F.trim(F.col(name))) == 0)


def _bad_time(name: str) -> Column:
    return (
        F.col(name).isNull()
        | ~F.col(name).rlike(UTC_PATTERN)
        | F.col(name).try_cast(T.TimestampType()).isNull()
    )


def common_rules(event_type: str) -> list[Rule]:
    return [
        Rule(
            "schema_version must be 1",
            F.col("schema_version").isNull() | (F.col("schema_version") != 1),
        ),
        Rule(
            f"event_type must be {event_type}",
            F.col("event_type").isNull() | (F.col("event_type") != event_type),
        ),
        Rule(
            "event_id must be 64 hex chars",
            F.col("event_id").isNull() | ~F.col("event_id").rlike(EVENT_ID_PATTERN),
        ),
        Rule("source is required", _blank("source")),
        Rule("event_time must be an ISO-8601 UTC time ending in Z", _bad_time("event_time")),
        Rule("ingest_time must be an ISO-8601 UTC time ending in Z", _bad_time("ingest_time")),
        Rule("replayed is required", F.col("replayed").isNull()),
    ]


def price_rules() -> list[Rule]:
    return [
        *common_rules("price_tick"),
        Rule(
            "source must be coingecko or coinmarketcap",
            ~F.col("source").isin("coingecko", "coinmarketcap"),
        ),
        Rule("coin_id is required", _blank("coin_id")),
        Rule("symbol is required", _blank("symbol")),
        Rule("name is required", F.col("name").isNull()),
        Rule(
            "price_usd must be a number > 0",
            F.col("price_usd").isNull() | (F.col("price_usd") <= 0),
        ),
    ]


def news_rules() -> list[Rule]:
    return [
        *common_rules("news_article"),
        Rule("guid is required", _blank("guid")),
        Rule("title is required", _blank("title")),
        Rule("url is required", F.col("url").isNull()),
        Rule("summary is required", F.col("summary").isNull()),
    ]


def sentiment_rules() -> list[Rule]:
    return [
        *common_rules("market_sentiment"),
        Rule(
            "index_name must be fear_greed",
            F.col("index_name").isNull() | (F.col("index_name") != "fear_greed"),
        ),
        Rule("index_date must be a date", F.col("index_date").try_cast(T.DateType()).isNull()),
        Rule(
            "value must be an integer 0..100",
            F.col("value").isNull() | ~F.col("value").between(0, 100),
        ),
        Rule("classification is required", _blank("classification")),
    ]


def kline_rules() -> list[Rule]:
    prices = ("open", "high", "low", "close")
    return [
        *common_rules("kline"),
        Rule("symbol is required", _blank("symbol")),
        Rule("coin_id is required", _blank("coin_id")),
        Rule("interval must be 1m", F.col("interval").isNull() | (F.col("interval") != "1m")),
        Rule(
            "open_time must equal event_time",
            F.col("open_time").try_cast(T.TimestampType())
            != F.col("event_time").try_cast(T.TimestampType()),
        ),
        *[
            Rule(f"{name} must be a number > 0", F.isnan(name) | ~(F.col(name) > 0))
            for name in prices
        ],
        Rule(
            "low must be the lowest and high the highest price",
            (F.col("low") > F.least("open", "close"))
            | (F.col("high") < F.greatest("open", "close")),
        ),
        *[
            Rule(f"{name} must be a number >= 0", F.isnan(name) | ~(F.col(name) >= 0))
            for name in ("volume_base", "volume_quote")
        ],
    ]


def parse(kafka: DataFrame, schema: T.StructType, rules: Sequence[Rule]) -> DataFrame:
    """Kafka rows -> event fields + kafka_* coordinates + raw + reason (null when valid)."""
    with_corrupt = T.StructType([*schema.fields, T.StructField(CORRUPT, T.StringType())])
    raw = F.col("value").cast("string")
    parsed = kafka.select(
        raw.alias("raw"),
        F.from_json(
            raw, with_corrupt, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
        ).alias("e"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )
    # Not JSON, not an object, or a field of the wrong type: nothing else is worth checking.
    reason: Column = F.when(
        F.col("raw").isNull() | F.col("e").isNull() | F.col(f"e.{CORRUPT}").isNotNull(),
        F.lit("malformed JSON or a field of the wrong type"),
    )
    flat = parsed.select(
        "raw",
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        "e",
        *[F.col(f"e.{field.name}").alias(field.name) for field in schema.fields],
    )
    for rule in rules:
        reason = reason.when(F.coalesce(rule.invalid, F.lit(True)), F.lit(rule.reason))
    return (
        flat.withColumn("reason", reason)
        .drop("e")
        .withColumn("event_time", F.col("event_time").try_cast(T.TimestampType()))
        .withColumn("ingest_time", F.col("ingest_time").try_cast(T.TimestampType()))
    )


def dedup_key() -> Column:
    """Valid events dedupe by event_id; each rejected record is unique by its coordinates."""
    return F.when(F.col("reason").isNull(), F.col("event_id")).otherwise(
        F.concat_ws("|", F.lit("rejected"), "kafka_topic", "kafka_partition", "kafka_offset")
    )
