"""Fast checks of the streaming building blocks that need no Spark session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from cryptoviz_assets.settings import Settings
from streaming.alerts import spike_alerts
from streaming.bars import BarState, BarStateStore, advance
from streaming.coins import mentioned_coins
from streaming.dedupe import SeenIds
from streaming.kafka_reader import java_kafka_options
from streaming.lake import Lake
from streaming.runner import offsets_behind


def _rows(n: int, day: str = "2025-03-01") -> pa.Table:
    return pa.table({"id": list(range(n)), "date": [day] * n})


def test_a_replayed_batch_overwrites_itself(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write_batch("t", "q-abc", 7, _rows(5))
    lake.write_batch("t", "q-abc", 7, _rows(5))  # the replay after a crash
    lake.write_batch("t", "q-abc", 8, _rows(2))
    assert lake.read_table("t").num_rows == 7
    files = sorted(p.name for p in (tmp_path / "lake" / "t").rglob("*.parquet"))
    assert files == ["part-q-abc-0000000007-0.parquet", "part-q-abc-0000000008-0.parquet"]
    assert not list((tmp_path / "lake").rglob("*.tmp"))


def test_a_replay_with_other_dates_removes_the_first_attempts_files(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write_batch(
        "t", "q", 1, pa.concat_tables([_rows(2, "2025-03-01"), _rows(3, "2025-03-02")])
    )
    lake.write_batch("t", "q", 1, _rows(4, "2025-03-02"))
    data = lake.read_table("t")
    assert data.num_rows == 4
    assert set(data["date"].to_pylist()) == {"2025-03-02"}


def test_duckdb_reads_the_lake_with_hive_partitions(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write_batch(
        "t", "q", 0, pa.concat_tables([_rows(2, "2025-03-01"), _rows(3, "2025-03-02")])
    )
    got = duckdb.sql(
        f"select date, count(*) from read_parquet('{tmp_path}/lake/t/*/*.parquet', "
        "hive_partitioning=true) group by all order by 1"
    ).fetchall()
    assert [(str(d), n) for d, n in got] == [("2025-03-01", 2), ("2025-03-02", 3)]


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


def test_spike_alerts_definition() -> None:
    assert spike_alerts([_bar(105.0, 100.0)]) == []  # exactly 5%: no alert
    warning = spike_alerts([_bar(105.01, 100.0)])[0]
    assert warning["severity"] == "warning"
    assert warning["threshold"] == 5.0
    critical = spike_alerts([_bar(110.5, 100.0)])[0]
    assert critical["severity"] == "critical"
    assert critical["observed_value"] == pytest.approx(10.5)
    assert critical["event_id"] == spike_alerts([_bar(120.0, 100.0)])[0]["event_id"]  # per window
    assert critical["window_start"] == "2025-03-01T12:01:00Z"


def test_alerts_match_the_contract() -> None:
    import json

    import jsonschema

    from cryptoviz_assets.settings import PROJECT_ROOT

    schema = json.loads((PROJECT_ROOT / "cryptoviz_assets/schemas/price_alert.v1.json").read_text())
    jsonschema.validate(spike_alerts([_bar(120.0, 100.0)])[0], schema)


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


def test_bars_are_final_once_the_watermark_passes_and_ignore_arrival_order() -> None:
    state = BarState.empty()
    state, bars, late = advance(state, _ticks(list(range(150, 0, -1))), 30)  # reversed
    assert late == 0
    assert bars["window_start"].to_pylist()[0].minute == 0  # 12:00 and 12:01 are final
    assert bars.num_rows == 2
    first = bars.to_pylist()[0]
    assert (first["open"], first["close"], first["tick_count"]) == (101.0, 103.0, 59)
    assert first["volume_24h_usd"] is None  # the value of the last tick, even null
    assert first["replayed"] is True
    state, bars, late = advance(state, _ticks([100, 215]), 30)  # 100 is behind the watermark
    assert late == 1
    assert bars.num_rows == 1  # 12:02 closes: the watermark is 12:03:35 - 30 s
    assert bars.to_pylist()[0]["tick_count"] == 31  # 120..150


def test_bar_state_versions_replay_the_same_batch(tmp_path: Path) -> None:
    store = BarStateStore(str(tmp_path / "bars"))
    state, _, _ = advance(BarState.empty(), _ticks(list(range(90))), 30)
    store.save(0, state)
    store.save(1, advance(state, _ticks([95]), 30)[0])  # a failed attempt of batch 1
    before = store.load_before(1)
    assert before.max_event_time == state.max_event_time
    assert before.partials.equals(state.partials)


def test_seen_ids_forget_after_retention_and_replays_decide_alike(tmp_path: Path) -> None:
    second = 1_000_000
    seen = SeenIds(str(tmp_path / "seen"), retention_seconds=10)
    assert seen.first_seen(0, ["a", "b", "a"], [0, 0, second]) == [True, True, False]
    assert seen.first_seen(1, ["a", "c"], [5 * second] * 2) == [False, True]
    assert seen.first_seen(2, ["b"], [20 * second]) == [False]
    assert seen.first_seen(3, ["a", "c"], [21 * second] * 2) == [True, True]  # forgotten
    replayed = SeenIds(str(tmp_path / "seen"), retention_seconds=10)
    assert replayed.first_seen(3, ["a", "c"], [21 * second] * 2) == [True, True]
    assert replayed.first_seen(4, ["a", "c", "b"], [22 * second] * 3) == [False, False, True]


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
