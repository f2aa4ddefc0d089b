"""Checks of the streaming building blocks: rules and definitions on small batch DataFrames."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from cryptoviz_assets.settings import Settings
from streaming.alerts import spike_alerts
from streaming.coins import mentioned_coins
from streaming.kafka_reader import java_kafka_options
from streaming.prices import bars
from streaming.runner import offsets_behind
from streaming.session import build_spark


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    """A local Spark session with the jobs' configuration (batch DataFrames only)."""
    session = build_spark("cryptoviz-units", Settings())
    yield session
    session.stop()


def test_offsets_behind_sums_over_partitions() -> None:
    assert offsets_behind('{"t": {"0": 5, "1": 7}}', '{"t": {"0": 9, "1": 7}}') == 4
    assert offsets_behind(None, '{"t": {"0": 1}}') == 0


def _bar(high: float, low: float) -> dict:
    at = datetime(2025, 3, 1, 12, 1, tzinfo=UTC)
    return {
        "coin_id": "bitcoin",
        "source": "coingecko",
        "open": low,
        "close": high,
        "high": high,
        "low": low,
        "window_start": at,
        "window_end": at,
        "last_event_time": at,
        "last_ingest_time": at,
        "replayed": False,
    }


def _alerts(spark: SparkSession, *bars: dict) -> list[dict]:
    return [row.asDict() for row in spike_alerts(spark.createDataFrame(list(bars))).collect()]


@pytest.mark.slow
def test_spike_alerts_definition(spark: SparkSession) -> None:
    assert _alerts(spark, _bar(105.0, 100.0)) == []  # exactly 5%: no alert
    (warning,) = _alerts(spark, _bar(105.01, 100.0))
    assert warning["severity"] == "warning"
    assert warning["threshold"] == 5.0
    (critical,) = _alerts(spark, _bar(110.5, 100.0))
    assert critical["severity"] == "critical"
    assert critical["observed_value"] == pytest.approx(10.5)
    assert critical["event_id"] == _alerts(spark, _bar(120.0, 100.0))[0]["event_id"]  # per window
    assert critical["window_start"] == "2025-03-01T12:01:00.000Z"
    assert str(critical["date"]) == "2025-03-01"


@pytest.mark.slow
def test_alerts_match_the_contract(spark: SparkSession) -> None:
    import json

    import jsonschema

    from cryptoviz_assets.settings import PROJECT_ROOT

    schema = json.loads(
        (PROJECT_ROOT / "cryptoviz_assets/contract/schemas/price_alert.v1.json").read_text()
    )
    (alert,) = _alerts(spark, _bar(120.0, 100.0))
    event = {k: v for k, v in alert.items() if k not in ("landed_at", "date")}
    jsonschema.validate(event, schema)


def test_coin_tags_by_name_and_ticker_whole_words() -> None:
    assert mentioned_coins("Bitcoin and $ETH rally; SOL flat") == ["bitcoin", "ethereum", "solana"]
    assert mentioned_coins("Ethernet cables, solar panels, a dotted line") == []
    assert mentioned_coins("ether is up") == ["ethereum"]
    assert mentioned_coins("sol is lowercase so not a ticker") == []


def _ticks(seconds: list[int], prices: list[float] | None = None) -> pa.Table:
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    prices = prices or [100.0 + s % 7 for s in seconds]
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "event_time": pa.array([t0 + timedelta(seconds=s) for s in seconds], ts),
            "event_id": [f"{s:064x}" for s in seconds],
            "coin_id": ["bitcoin"] * len(seconds),
            "source": ["coingecko"] * len(seconds),
            "symbol": ["BTC"] * len(seconds),
            "price_usd": prices,
            "volume_24h_usd": [None if s % 5 == 4 else float(s) for s in seconds],
            "ingest_time": pa.array([t0] * len(seconds), ts),
            "replayed": [s == 3 for s in seconds],
        }
    )


@pytest.mark.slow
def test_bars_ohlc_follow_event_time_not_arrival_order(spark: SparkSession) -> None:
    rows = _ticks(list(range(150, 0, -1))).to_pylist()  # reversed arrival
    got = {
        (r["bar_minutes"], r["window_start"].minute): r
        for r in bars(spark.createDataFrame(rows), watermark_seconds=30).collect()
    }
    assert sorted(got) == [(1, 0), (1, 1), (1, 2), (5, 0), (15, 0)]
    first = got[(1, 0)]
    assert (first["open"], first["close"], first["tick_count"]) == (101.0, 103.0, 59)
    assert first["volume_24h_usd"] is None  # the value of the last tick, even null
    assert first["replayed"] is True
    five = got[(5, 0)]
    assert (five["open"], five["high"], five["low"], five["tick_count"]) == (
        101.0,
        106.0,
        100.0,
        150,
    )
    assert five["close"] == 100.0 + 150 % 7
    assert str(five["date"]) == "2025-03-01"


def test_java_connector_options_carry_sasl_and_mutual_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "client.pem").write_text("-----BEGIN CERTIFICATE-----\nAAA\n")
    (tmp_path / "client.key").write_text("-----BEGIN PRIVATE KEY-----\nBBB\n")
    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "scram-sha-512",
        "KAFKA_SASL_USERNAME": "spark",
        "KAFKA_SASL_PASSWORD": 'pa"ss',
        "KAFKA_SSL_CA_LOCATION": "/etc/kafka/ca.pem",
        "KAFKA_SSL_CERTIFICATE_LOCATION": str(tmp_path / "client.pem"),
        "KAFKA_SSL_KEY_LOCATION": str(tmp_path / "client.key"),
        "KAFKA_SSL_KEY_PASSWORD": "keypass",
    }.items():
        monkeypatch.setenv(name, value)
    options = java_kafka_options(Settings(_env_file=None))  # type: ignore[call-arg]
    assert options["kafka.bootstrap.servers"] == "kafka-1:9093"
    assert options["kafka.security.protocol"] == "SASL_SSL"
    assert options["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    assert options["kafka.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="spark" password="pa\\"ss";'
    )
    assert options["kafka.ssl.truststore.location"] == "/etc/kafka/ca.pem"
    assert options["kafka.ssl.keystore.type"] == "PEM"
    assert options["kafka.ssl.keystore.certificate.chain"].startswith("-----BEGIN CERTIFICATE")
    assert options["kafka.ssl.keystore.key"].startswith("-----BEGIN PRIVATE KEY")
    assert options["kafka.ssl.key.password"] == "keypass"

    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "GSSAPI")
    with pytest.raises(ValueError, match="KAFKA_SASL_MECHANISM=GSSAPI cannot be passed"):
        java_kafka_options(Settings(_env_file=None))  # type: ignore[call-arg]
