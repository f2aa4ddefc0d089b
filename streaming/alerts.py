"""Real-time `price_range_spike` alerts: one per 1-minute bar whose range within the minute
is too wide.

The threshold is the marts' (dbt var `price_spike_pct`, critical above
`price_spike_critical_pct`, in dbt_project.yml): read from there, so it is stated once.
Bars of ticks (streaming.prices) and exchange klines (streaming.klines) share it. A minute is
judged at once from itself, so the alert has its own name: the marts' `price_spike`
(int_anomaly_minutes) is this range rule or a move from the previous minute's close,
whichever is larger, and sees every minute in order.

One query reads the final 1-minute bars of both from the lake and, per micro-batch, sends
the alerts to crypto-alerts with Spark's Kafka sink as price_alert.v1 events, then appends
them to price_alerts (idempotent: the batch id is the Delta transaction version). Kafka gets
them at least once (a replayed batch re-sends the same event_ids; consumers dedupe by
event_id); an alert in price_alerts has been published.
"""

from __future__ import annotations

import json
from functools import cache

import yaml  # type: ignore[import-untyped]
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql.streaming import StreamingQuery

from cryptoviz_assets.settings import PROJECT_ROOT, Settings
from streaming import lake
from streaming.kafka_reader import java_kafka_options
from streaming.runner import Trigger

TABLE = "price_alerts"
ALERT_TYPE = "price_range_spike"  # the price_alert.v1 schema's alert_type
# What an alert needs of a bar: price_bars (bar_minutes = 1) and exchange klines alike.
BAR_FIELDS = [
    "coin_id",
    "source",
    "window_start",
    "window_end",
    "open",
    "high",
    "low",
    "close",
    "last_event_time",
    "last_ingest_time",
    "replayed",
]


@cache
def thresholds() -> tuple[float, float]:
    """(warning, critical) percent, from the dbt project's vars."""
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())
    rules = project["vars"]
    return float(rules["price_spike_pct"]), float(rules["price_spike_critical_pct"])


def iso_utc(column: Column) -> Column:
    """The event contract's timestamp text: ISO-8601 UTC with milliseconds and a Z."""
    return F.date_format(column, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")


def spike_alerts(bars: DataFrame) -> DataFrame:
    """price_alert.v1 rows (+ landed_at, date) for bars whose range (high - low) / low
    exceeds the threshold; critical above the critical one."""
    warning_pct, critical_pct = thresholds()
    pct = (F.col("high") - F.col("low")) / F.col("low") * 100.0
    critical = F.col("observed_value") > critical_pct
    start = iso_utc(F.col("window_start"))
    alerts = (
        bars.withColumn("observed_value", F.round(pct, 6))
        .where(F.col("observed_value") > warning_pct)
        .select(
            F.lit(1).cast("long").alias("schema_version"),
            F.sha2(F.concat_ws("|", F.lit(ALERT_TYPE), "coin_id", "source", start), 256).alias(
                "event_id"
            ),
            F.lit("price_alert").alias("event_type"),
            "source",
            iso_utc(F.col("last_event_time")).alias("event_time"),
            iso_utc(F.col("last_ingest_time")).alias("ingest_time"),
            "replayed",
            "coin_id",
            F.lit(ALERT_TYPE).alias("alert_type"),
            F.when(critical, "critical").otherwise("warning").alias("severity"),
            start.alias("window_start"),
            iso_utc(F.col("window_end")).alias("window_end"),
            "observed_value",
            F.when(critical, critical_pct).otherwise(warning_pct).alias("threshold"),
            F.format_string(
                "%s (%s) moved %.2f%% within one minute (low %s, high %s, open %s, close %s, %s)",
                "coin_id",
                "source",
                "observed_value",
                "low",
                "high",
                "open",
                "close",
                F.when(F.col("close") >= F.col("open"), "up").otherwise("down"),
            ).alias("explanation"),
            F.col("window_start").alias("_minute"),
        )
    )
    return lake.landed(alerts, "_minute").drop("_minute")


class AlertSink:
    """foreachBatch of the alerts query: Kafka at least once, then the lake exactly once."""

    def __init__(self, settings: Settings, checkpoint: str) -> None:
        self.path = lake.table_path(settings, TABLE)
        self.checkpoint = checkpoint
        self.topic = settings.topic_alerts
        self.kafka = java_kafka_options(settings)
        self._app_id: str | None = None

    def app_id(self, spark: SparkSession) -> str:
        """The query's id from its checkpoint: batch ids restart at 0 in a new checkpoint,
        and a new id keeps Delta from skipping them as already committed."""
        if self._app_id is None:
            first = spark.read.text(f"{self.checkpoint}/metadata").first()
            self._app_id = f"{TABLE}-{json.loads(first[0])['id']}"  # type: ignore[index]
        return self._app_id

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        batch = batch.persist()
        event = [c for c in batch.columns if c not in ("landed_at", lake.PARTITION_COLUMN)]
        (
            batch.select(F.col("coin_id").alias("key"), F.to_json(F.struct(*event)).alias("value"))
            .write.format("kafka")
            .options(**self.kafka)
            .option("topic", self.topic)
            .save()
        )
        # Then the lake: an alert in price_alerts has been published.
        (
            batch.write.format("delta")
            .mode("append")
            .option("txnAppId", self.app_id(batch.sparkSession))
            .option("txnVersion", batch_id)
            .save(self.path)
        )
        batch.unpersist()


def start_query(
    spark: SparkSession, settings: Settings, trigger: Trigger, *, job: str, bars: DataFrame
) -> StreamingQuery:
    """Alerts from a stream of final 1-minute bars (BAR_FIELDS)."""
    alerts = spike_alerts(bars.select(*BAR_FIELDS))
    lake.create_table(spark, lake.table_path(settings, TABLE), alerts)
    checkpoint = settings.checkpoint_dir(f"{job}/{TABLE}")
    return (
        lake.counted(alerts)
        .writeStream.queryName(TABLE)
        .option("checkpointLocation", checkpoint)
        .trigger(**trigger)
        .foreachBatch(AlertSink(settings, checkpoint))
        .start()
    )
