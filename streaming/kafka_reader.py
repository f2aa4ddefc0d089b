"""Spark's own Kafka source (`format("kafka")`), configured from the project settings.

The connector jar (spark-sql-kafka-0-10, at the PySpark version) is on `spark.jars`
(streaming.session). Offsets live in the query's checkpoint: the source commits nothing to
Kafka, so consumer-group lag tools do not see the jobs; the jobs report their own lag.
"""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from cryptoviz_assets.settings import Settings


def read_kafka(
    spark: SparkSession,
    settings: Settings,
    topic: str,
    *,
    starting_offsets: str | None = None,
    max_offsets_per_trigger: int | None = None,
) -> DataFrame:
    """A streaming DataFrame of `topic`: key, value, topic, partition, offset, timestamp,
    timestampType (and headers), as the official connector gives them."""
    options = {
        "subscribe": topic,
        "startingOffsets": starting_offsets or settings.stream_starting_offsets,
        "maxOffsetsPerTrigger": str(
            max_offsets_per_trigger or settings.stream_max_offsets_per_trigger
        ),
        "failOnDataLoss": str(settings.stream_fail_on_data_loss).lower(),
        **java_kafka_options(settings),
    }
    return spark.readStream.format("kafka").options(**options).load()


JAAS_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def java_kafka_options(settings: Settings) -> dict[str, str]:
    """The project's librdkafka settings translated for the connector's Java client.

    Username/password SASL (PLAIN, SCRAM) and TLS with PEM files (a CA, and a client
    certificate and key for mutual TLS) translate; other SASL mechanisms (GSSAPI,
    OAUTHBEARER) need Java-side configuration and are refused by name.
    """
    cfg = settings.kafka_client_config()
    options = {
        "kafka.bootstrap.servers": cfg["bootstrap.servers"],
        "kafka.security.protocol": cfg["security.protocol"],
    }
    if mechanism := cfg.get("sasl.mechanism"):
        module = JAAS_LOGIN_MODULES.get(mechanism.upper())
        if module is None:
            raise ValueError(
                f"KAFKA_SASL_MECHANISM={mechanism} cannot be passed to Spark's Kafka source "
                f"(supported: {', '.join(JAAS_LOGIN_MODULES)})"
            )
        user = json.dumps(cfg.get("sasl.username", ""))
        password = json.dumps(cfg.get("sasl.password", ""))
        options["kafka.sasl.mechanism"] = mechanism.upper()
        options["kafka.sasl.jaas.config"] = (
            f"{module} required username={user} password={password};"
        )
    if ca := cfg.get("ssl.ca.location"):
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.location"] = ca
    certificate, key = cfg.get("ssl.certificate.location"), cfg.get("ssl.key.location")
    if certificate or key:
        if not (certificate and key):
            raise ValueError(
                "mutual TLS needs both KAFKA_SSL_CERTIFICATE_LOCATION and _KEY_LOCATION"
            )
        # The Java client takes PEM client credentials inline, not as two file paths.
        options["kafka.ssl.keystore.type"] = "PEM"
        options["kafka.ssl.keystore.certificate.chain"] = Path(certificate).read_text()
        options["kafka.ssl.keystore.key"] = Path(key).read_text()
        if key_password := cfg.get("ssl.key.password"):
            options["kafka.ssl.key.password"] = key_password
    return options
