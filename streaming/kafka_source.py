"""A Kafka source for Spark Structured Streaming on PySpark 4's Python Data Source API.

Why it exists: the official `kafka` format needs the spark-sql-kafka jar from Maven Central,
which is out of reach here. This source reads through confluent-kafka instead and keeps the
official connector's contract, so a job does not care which one it gets (see `read_kafka`):
same columns (key, value, topic, partition, offset, timestamp, timestampType), same offset
JSON (`{"topic": {"0": next_offset}}`) kept in Spark's checkpoint, same options
(`subscribe`, `startingOffsets`, `maxOffsetsPerTrigger`, `kafka.<librdkafka setting>`).

No consumer group is used: each micro-batch assigns every partition and reads exactly
[start, end) as planned by the driver, so a batch replayed after a crash reads the same
records again. `partitions()` is a pure function of the offsets for that reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import (
    DataSource,
    DataSourceStreamReader,
    InputPartition,
)
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)
from pyspark.sql.types import StructType

from cryptoviz_assets.settings import KafkaSparkFormat, Settings

FORMAT_NAME = "cryptoviz_kafka"
SCHEMA_DDL = (
    "key binary, value binary, topic string, partition int, offset long, "
    "timestamp timestamp, timestampType int"
)
ARROW_SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("timestampType", pa.int32()),
    ]
)
ARROW_BATCH_ROWS = 20_000
FETCH_TIMEOUT_SECONDS = 0.2
READ_STALL_SECONDS = 120.0  # no progress this long while records are due: fail the task
BROKER_WAIT_SECONDS = 180.0  # planning waits this long for an unreachable broker

Offsets = dict[str, dict[str, int]]


class KafkaRange(InputPartition):
    """Records [start, end) of one topic partition: one Spark task."""

    def __init__(
        self, topic: str, partition: int, start: int, end: int, config: tuple[tuple[str, str], ...]
    ) -> None:
        super().__init__((topic, partition, start, end))
        self.topic = topic
        self.partition = partition
        self.start = start
        self.end = end
        self.config = config


class KafkaDataSource(DataSource):
    """`spark.readStream.format("cryptoviz_kafka")`: registered by `register`."""

    @classmethod
    def name(cls) -> str:
        return FORMAT_NAME

    def schema(self) -> str:
        return SCHEMA_DDL

    def streamReader(self, schema: StructType) -> KafkaStreamReader:  # noqa: N802 (Spark API)
        return KafkaStreamReader(dict(self.options))


class KafkaStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Plans offset ranges on the driver; `read` runs in Spark's Python workers.

    Supports `Trigger.AvailableNow`: the end offsets at the query's start are its target, so
    a run-once query processes what was there (in batches of `maxOffsetsPerTrigger`) and stops.
    """

    def __init__(self, options: Mapping[str, str]) -> None:
        # Spark lower-cases option keys: maxOffsetsPerTrigger arrives as maxoffsetspertrigger.
        opts = {key.lower(): value for key, value in options.items()}
        topics = opts.get("subscribe", "")
        self.topics = sorted(t.strip() for t in topics.split(",") if t.strip())
        if not self.topics:
            raise ValueError("option 'subscribe' (comma-separated topics) is required")
        self.config = tuple(
            sorted(
                (key[len("kafka.") :], value)
                for key, value in opts.items()
                if key.startswith("kafka.")
            )
        )
        if not any(key == "bootstrap.servers" for key, _ in self.config):
            raise ValueError("option 'kafka.bootstrap.servers' is required")
        self.starting = opts.get("startingoffsets", "earliest").strip()
        limit = opts.get("maxoffsetspertrigger")
        self.max_offsets = int(limit) if limit else None
        self._consumer: Any = None  # created lazily: readers are pickled
        self._target: Offsets | None = None  # set for Trigger.AvailableNow
        self._available: Offsets | None = None  # the broker's end offsets at the last trigger

    # --- driver side -------------------------------------------------------------------
    def initialOffset(self) -> dict:  # noqa: N802 (Spark API)
        if self.starting == "earliest":
            return {
                t: {str(p): low for p, (low, _) in self._watermarks(t).items()} for t in self.topics
            }
        if self.starting == "latest":
            return self._latest()
        explicit = json.loads(self.starting)
        offsets: Offsets = {}
        for topic in self.topics:
            marks = self._watermarks(topic)
            given = explicit.get(topic, {})
            offsets[topic] = {
                str(p): _resolve(given.get(str(p), -2), low, high)
                for p, (low, high) in marks.items()
            }
        return offsets

    def getDefaultReadLimit(self) -> ReadLimit:  # noqa: N802 (Spark API)
        return ReadMaxRows(self.max_offsets) if self.max_offsets else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:  # noqa: N802 (Spark API)
        self._target = self._latest()

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:  # noqa: N802 (Spark API)
        self._available = self._latest()
        latest = self._available if self._target is None else at_most(self._available, self._target)
        if isinstance(limit, ReadMaxRows):
            return cap_offsets(start, latest, limit.max_rows)
        return latest

    def reportLatestOffset(self) -> dict | None:  # noqa: N802 (Spark API)
        """For progress reports: what latestOffset just read, not a second broker round trip."""
        return self._available if self._available is not None else self._latest()

    def partitions(self, start: dict, end: dict) -> Sequence[InputPartition]:
        return plan_ranges(start, end, self.config)

    def commit(self, end: dict) -> None:
        """Offsets live in Spark's checkpoint; nothing to commit to Kafka."""

    def stop(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _latest(self) -> Offsets:
        return {
            t: {str(p): high for p, (_, high) in self._watermarks(t).items()} for t in self.topics
        }

    def _watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        """Low and high watermark per partition, retried while the broker is unreachable
        (a broker restart should pause the query, not kill it)."""
        deadline = time.monotonic() + BROKER_WAIT_SECONDS
        while True:
            try:
                return self._fetch_watermarks(topic)
            except Exception:
                if time.monotonic() > deadline:
                    raise
                self.stop()  # a fresh client after an outage
                time.sleep(1.0)

    def _fetch_watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        from confluent_kafka import Consumer, TopicPartition

        if self._consumer is None:
            self._consumer = Consumer(_consumer_config(self.config))
        metadata = self._consumer.list_topics(topic, timeout=10)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            raise RuntimeError(
                f"topic {topic!r} not available: {found.error if found else 'missing'}"
            )
        return {
            p: self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            for p in sorted(found.partitions)
        }

    # --- executor side -----------------------------------------------------------------
    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, KafkaRange)
        return read_range(partition)


def _resolve(offset: int, low: int, high: int) -> int:
    """Kafka's conventions for explicit starting offsets: -2 earliest, -1 latest."""
    if offset == -2:
        return low
    if offset == -1:
        return high
    return max(low, min(offset, high))


def at_most(latest: Offsets, target: Offsets) -> Offsets:
    """`latest` held back to `target`; a partition created after the target was taken is held
    at its beginning (a later query reads it)."""
    return {
        t: {p: min(end, target.get(t, {}).get(p, 0)) for p, end in parts.items()}
        for t, parts in latest.items()
    }


def cap_offsets(start: Mapping[str, Mapping[str, int]], latest: Offsets, max_rows: int) -> Offsets:
    """Admission control: advance at most `max_rows` records, shared by lag like Kafka's."""
    lags = {
        (t, p): max(0, end - start.get(t, {}).get(p, 0))
        for t, parts in latest.items()
        for p, end in parts.items()
    }
    total = sum(lags.values())
    if total <= max_rows:
        return latest
    capped: Offsets = {t: dict(parts) for t, parts in latest.items()}
    granted = 0
    for (t, p), lag in sorted(lags.items()):
        share = lag * max_rows // total
        capped[t][p] = start.get(t, {}).get(p, 0) + share
        granted += share
    # Hand the rounding remainder to the most lagging partitions, so a batch always advances.
    for (t, p), _lag in sorted(lags.items(), key=lambda item: (-item[1], item[0])):
        if granted >= max_rows:
            break
        if capped[t][p] < latest[t][p]:
            capped[t][p] += 1
            granted += 1
    return capped


def plan_ranges(
    start: Mapping[str, Mapping[str, int]], end: Offsets, config: Any
) -> list[KafkaRange]:
    """One task per partition with records in [start, end): deterministic for replays."""
    ranges = []
    for topic in sorted(end):
        for part in sorted(end[topic], key=int):
            first = start.get(topic, {}).get(part, 0)  # a new partition starts at its beginning
            last = end[topic][part]
            if last > first:
                ranges.append(KafkaRange(topic, int(part), first, last, config))
    return ranges


def read_range(rng: KafkaRange) -> Iterator[pa.RecordBatch]:
    """Records [start, end) of one partition as Arrow batches (per-row tuples are ~20x slower).

    Each fetch asks for at most the records still due: librdkafka's batch consume otherwise
    waits its whole timeout for records past the end, on every task of every micro-batch.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer(_consumer_config(rng.config, reading=True))
    try:
        low, _ = consumer.get_watermark_offsets(
            TopicPartition(rng.topic, rng.partition), timeout=10
        )
        first = max(rng.start, low)  # records deleted by retention cannot be read
        consumer.assign(
            [TopicPartition(rng.topic, rng.partition, first if first > 0 else OFFSET_BEGINNING)]
        )
        next_offset = first
        last_progress = time.monotonic()
        while next_offset < rng.end:
            due = min(ARROW_BATCH_ROWS, rng.end - next_offset)
            messages = consumer.consume(num_messages=due, timeout=FETCH_TIMEOUT_SECONDS)
            if not messages:
                if time.monotonic() - last_progress > READ_STALL_SECONDS:
                    raise TimeoutError(
                        f"{rng.topic}[{rng.partition}] stalled at {next_offset}; "
                        f"batch ends at {rng.end} (records lost by the broker?)"
                    )
                continue
            last_progress = time.monotonic()
            records = []
            for msg in messages:
                error = msg.error()
                if error is None:
                    records.append(msg)
                elif error.code() == KafkaError._PARTITION_EOF:
                    # Offsets up to the end can be transaction markers: nothing more to read.
                    next_offset = max(next_offset, cast(int, msg.offset()))
                    if next_offset >= rng.end or _high(consumer, rng) >= rng.end:
                        next_offset = rng.end
                else:
                    raise RuntimeError(f"Kafka error reading {rng.topic}[{rng.partition}]: {error}")
            offsets = [cast(int, m.offset()) for m in records]
            if offsets and offsets[-1] >= rng.end:
                keep = [i for i, offset in enumerate(offsets) if offset < rng.end]
                records = [records[i] for i in keep]
                offsets = [offsets[i] for i in keep]
                next_offset = rng.end
            elif offsets:
                next_offset = max(next_offset, offsets[-1] + 1)
            if records:
                yield _to_batch(rng, records, offsets)
    finally:
        consumer.close()


def _high(consumer: Any, rng: KafkaRange) -> int:
    from confluent_kafka import TopicPartition

    return int(
        consumer.get_watermark_offsets(TopicPartition(rng.topic, rng.partition), timeout=10)[1]
    )


def _to_batch(rng: KafkaRange, records: list[Any], offsets: list[int]) -> pa.RecordBatch:
    stamps = [m.timestamp() for m in records]
    n = len(records)
    arrays = [
        pa.array([m.key() for m in records], pa.binary()),
        pa.array([m.value() for m in records], pa.binary()),
        pa.array([rng.topic] * n, pa.string()),
        pa.array([rng.partition] * n, pa.int32()),
        pa.array(offsets, pa.int64()),
        pa.array([ts * 1000 if ts >= 0 else None for _, ts in stamps], pa.timestamp("us", "UTC")),
        pa.array([max(kind - 1, 0) for kind, _ in stamps], pa.int32()),  # Java: 0 create, 1 log
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=ARROW_SCHEMA)


def _consumer_config(config: Any, reading: bool = False) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "group.id": "cryptoviz-spark-source",  # required by librdkafka, never joined or committed
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": reading,
        "isolation.level": "read_committed",
    }
    if reading:
        settings["fetch.min.bytes"] = 1
        settings["fetch.wait.max.ms"] = 50
        settings["queued.min.messages"] = 50_000
    settings.update(dict(config))
    return settings


def register(spark: SparkSession) -> None:
    """Make `format("cryptoviz_kafka")` available in this session."""
    spark.dataSource.register(KafkaDataSource)


def read_kafka(
    spark: SparkSession,
    settings: Settings,
    topic: str,
    *,
    starting_offsets: str | None = None,
    max_offsets_per_trigger: int | None = None,
) -> DataFrame:
    """A streaming DataFrame of `topic` with the official Kafka source's columns.

    `settings.kafka_spark_format` picks the implementation; the job code does not change.
    """
    options = {
        "subscribe": topic,
        "startingOffsets": starting_offsets or settings.stream_starting_offsets,
        "maxOffsetsPerTrigger": str(
            max_offsets_per_trigger or settings.stream_max_offsets_per_trigger
        ),
    }
    if settings.kafka_spark_format is KafkaSparkFormat.KAFKA:
        options.update(java_kafka_options(settings))
        options["failOnDataLoss"] = "false"
        fmt = "kafka"
    else:
        register(spark)
        options.update({f"kafka.{k}": str(v) for k, v in settings.kafka_client_config().items()})
        fmt = FORMAT_NAME
    return spark.readStream.format(fmt).options(**options).load()


JAAS_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def java_kafka_options(settings: Settings) -> dict[str, str]:
    """The librdkafka settings translated for the Java client of the official connector.

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
                f"KAFKA_SASL_MECHANISM={mechanism} cannot be translated for "
                f"KAFKA_SPARK_FORMAT=kafka (supported: {', '.join(JAAS_LOGIN_MODULES)})"
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
