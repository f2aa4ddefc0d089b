"""The Binance klines collector: real recorded rows parse into kline.v1 events, bad rows and
unknown pairs are refused with the reason, only closed minutes publish, each once."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from confluent_kafka import Producer

from cryptoviz_assets.collectors.base import (
    CollectorError,
    Event,
    PayloadError,
    Rejection,
    RunReport,
    run_collector,
)
from cryptoviz_assets.collectors.binance import BinanceKlinesCollector, split_pair
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.contract.events import event_id, iso_utc, validation_error
from cryptoviz_assets.defs.resources import KafkaResource
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.replay.server import ReplayApp, ReplayServer
from cryptoviz_assets.settings import DEFAULT_BINANCE_SYMBOLS, REPLAY_BINANCE_SYMBOLS, Settings
from tests.collector_support import FaultServer, Reply, fast_retries, read_topic
from tests.conftest import SHARED_FIXTURES

INGEST = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MINUTE_MS = 60_000
KLINES = "/api/v3/klines"


def recorded_daily(symbol: str) -> tuple[Path, list[list[Any]]]:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("the shared fixtures are not on this machine")
    (path,) = (SHARED_FIXTURES / "binance").glob(f"klines_{symbol}_1d_*.json")
    return path, json.loads(path.read_bytes())


def as_minutes(rows: list[list[Any]]) -> list[list[Any]]:
    """The recorded daily rows relabelled as 1-minute bars: real values, the asked length."""
    return [[row[0], *row[1:6], row[0] + MINUTE_MS - 1, *row[7:]] for row in rows]


def _iso(ms: int) -> str:
    return iso_utc(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms))


def parse(body: Any, symbol: str = "BTCUSDT", ingest: datetime = INGEST) -> list[Event | Rejection]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = Request("binance", "http://x", params={"symbol": symbol, "interval": "1m"})
    response = Response(request, 200, "application/json", raw, 1.0, 1, False)
    return list(BinanceKlinesCollector(Settings()).parse(response, ingest))


def minute_rows(start_ms: int, count: int, price: float = 20_000.0) -> list[list[Any]]:
    """Well-formed 1m rows (Binance's shapes: decimal text, integer trade counts)."""
    rows = []
    for n in range(count):
        o, c = price + n, price + n + 0.5
        rows.append(
            [start_ms + n * MINUTE_MS, f"{o:.8f}", f"{c + 2:.8f}", f"{o - 2:.8f}", f"{c:.8f}",
             "1.50000000", start_ms + (n + 1) * MINUTE_MS - 1, f"{1.5 * c:.8f}", 42 + n,
             "0.70000000", f"{0.7 * c:.8f}", "0"]
        )  # fmt: skip
    return rows


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_the_recorded_daily_klines_are_refused_whole_as_another_interval(symbol: str) -> None:
    """The shared recordings are 1d bars: an answer to another request, never 1m events."""
    path, _ = recorded_daily(symbol)
    with pytest.raises(PayloadError, match="1d klines where interval=1m was asked"):
        parse(path.read_bytes(), symbol)


@pytest.mark.parametrize(("symbol", "coin"), [("BTCUSDT", "bitcoin"), ("ETHUSDT", "ethereum")])
def test_every_recorded_row_as_a_minute_parses_into_a_valid_kline(symbol: str, coin: str) -> None:
    _, rows = recorded_daily(symbol)
    items = parse(as_minutes(rows), symbol)
    assert [type(item) for item in items] == [Event] * len(rows) == [Event] * 2471
    events = [item for item in items if isinstance(item, Event)]
    for event in events:
        assert validation_error("kline", event.value) is None, event.value
        assert event.key == symbol
    assert len({event.value["event_id"] for event in events}) == len(rows)
    first, row = events[0].value, rows[0]
    assert first["event_id"] == event_id("binance", symbol, "2019-09-01T00:00:00.000Z")
    assert first | {"event_id": "", "ingest_time": ""} == {
        "schema_version": 1, "event_id": "", "event_type": "kline", "source": "binance",
        "event_time": "2019-09-01T00:00:00.000Z", "ingest_time": "", "replayed": False,
        "symbol": symbol, "coin_id": coin, "base_asset": symbol[:3], "quote_asset": "USDT",
        "interval": "1m", "open_time": "2019-09-01T00:00:00.000Z",
        "close_time": "2019-09-01T00:01:00.000Z", "open": float(row[1]), "high": float(row[2]),
        "low": float(row[3]), "close": float(row[4]), "volume_base": float(row[5]),
        "volume_quote": float(row[7]), "trade_count": row[8],
    }  # fmt: skip
    assert first["ingest_time"] == "2026-11-21T12:00:00.000Z"
    if symbol == "BTCUSDT":
        assert (first["open"], first["close"], first["trade_count"]) == (9588.74, 9724.98, 191324)


def test_malformed_rows_are_refused_with_the_reason_and_the_rest_parse() -> None:
    rows = minute_rows(1_678_507_200_000, 9)  # 2023-03-11T04:00Z
    rows[0][4] = "NaN"  # close
    rows[1][1] = "0.00000000"  # open
    rows[2][2] = "1.00000000"  # high below open and close
    rows[3] = rows[3][:11]  # Binance's row has 12 fields
    rows[4][3] = "99999.00000000"  # low above open and close
    rows[5][5] = "Infinity"  # volume
    rows[6][8] = "many"  # trade count
    items = parse(rows)
    reasons = {n: item.reason for n, item in enumerate(items) if isinstance(item, Rejection)}
    assert sorted(reasons) == [0, 1, 2, 3, 4, 5, 6]
    assert "non-finite number in close (NaN)" in reasons[0]
    assert "open price '0.00000000' is not > 0" in reasons[1]
    assert "high 1.0 is below open" in reasons[2]
    assert "not Binance's 12-field kline array: 11 fields" in reasons[3]
    assert "low 99999.0 is above open" in reasons[4]
    assert "non-finite number in volume_base (Infinity)" in reasons[5]
    assert "trade_count is not a count" in reasons[6]
    refused = items[3]
    assert isinstance(refused, Rejection)
    assert json.loads(refused.raw) == rows[3]  # the raw row, for the DLQ
    good = [item.value for item in items if isinstance(item, Event)]
    assert [value["open_time"] for value in good] == [
        "2023-03-11T04:07:00.000Z",
        "2023-03-11T04:08:00.000Z",
    ]


def test_a_row_of_another_length_among_minutes_is_refused() -> None:
    rows = minute_rows(1_678_507_200_000, 3)
    rows[1][6] = rows[1][0] + 5 * MINUTE_MS - 1
    items = parse(rows)
    assert isinstance(items[1], Rejection)
    assert "a 5m bar, not the 1m asked for" in items[1].reason
    assert [type(item) for item in items] == [Event, Rejection, Event]


@pytest.mark.parametrize(
    ("symbol", "why"),
    [
        ("FOOBARUSDT", "no CoinGecko coin has the symbol FOOBAR"),
        ("BTCXYZ", "it ends in none of the quote assets"),
    ],
)
def test_an_unknown_pair_is_refused_once_with_the_reason(symbol: str, why: str) -> None:
    rows = minute_rows(1_678_507_200_000, 5)
    (refusal,) = parse(rows, symbol)
    assert isinstance(refusal, Rejection)
    assert (refusal.kind, refusal.subject) == ("unmapped_coin", symbol)
    assert f"unknown symbol {symbol}" in refusal.reason
    assert why in refusal.reason
    assert json.loads(refusal.raw) == {"symbol": symbol, "klines": rows}


def test_pairs_map_to_coingecko_ids_through_the_coin_catalogue() -> None:
    assert split_pair("BTCUSD") == ("BTC", "USD", "bitcoin")
    assert split_pair("BTCUSDC") == ("BTC", "USDC", "bitcoin")
    assert split_pair("BTCUSDT") == ("BTC", "USDT", "bitcoin")
    assert split_pair("ETHBTC") == ("ETH", "BTC", "ethereum")
    coins = {symbol: split_pair(symbol)[2] for symbol in DEFAULT_BINANCE_SYMBOLS}
    assert coins == {
        "BTCUSDT": "bitcoin",
        "ETHUSDT": "ethereum",
        "SOLUSDT": "solana",
        "XRPUSDT": "ripple",
        "BNBUSDT": "binancecoin",
    }


def test_only_klines_closed_when_the_response_was_read_are_kept() -> None:
    fetched = datetime(2023, 3, 11, 4, 5, 0, tzinfo=UTC)
    rows = minute_rows(1_678_507_200_000, 6)  # 04:00 to 04:05, the last one still trading
    items = parse(rows, ingest=fetched)
    assert [item.value["close_time"] for item in items if isinstance(item, Event)] == [
        f"2023-03-11T04:0{n}:00.000Z" for n in range(1, 6)
    ]
    later = parse(rows, ingest=fetched + timedelta(seconds=60))
    assert len(later) == 6


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"code": -1121, "msg": "Invalid symbol."}', "Binance error -1121: Invalid symbol."),
        (b'{"klines": []}', "expected a JSON array of klines"),
        (b"[[1678507200000, ", "invalid JSON"),
    ],
)
def test_unreadable_payloads_raise_payload_error(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        parse(body)


def test_the_defaults_follow_the_source_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live: the public API and the five largest coins; replay: the server and its pairs."""
    for name in ("BINANCE_URL", "BINANCE_SYMBOLS", "SOURCE_MODE"):
        monkeypatch.delenv(name, raising=False)
    replay = Settings(_env_file=None)  # type: ignore[call-arg]
    assert replay.binance_api_url == replay.replay_url
    assert replay.binance_pairs == REPLAY_BINANCE_SYMBOLS == ["BTCUSD", "BTCUSDC", "BTCUSDT"]
    monkeypatch.setenv("SOURCE_MODE", "live")
    live = Settings(_env_file=None)  # type: ignore[call-arg]
    assert live.binance_api_url == "https://api.binance.com"
    assert live.binance_pairs == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT"]
    monkeypatch.setenv("BINANCE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("BINANCE_SYMBOLS", " ethbtc, BTCUSDT ")
    chosen = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (chosen.binance_api_url, chosen.binance_pairs) == (
        "http://127.0.0.1:9",
        ["ETHBTC", "BTCUSDT"],
    )
    assert chosen.describe()["BINANCE_SYMBOLS"] == "ETHBTC,BTCUSDT"


# --- against a real broker ---------------------------------------------------------------


@pytest.fixture
def env(project_env: Settings, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    fast_retries(monkeypatch, SOURCE_MODE="live")
    ensure_topics(project_env)
    return monkeypatch


def run() -> RunReport:
    producer: Producer = KafkaResource.from_settings(Settings()).producer()
    return run_collector(BinanceKlinesCollector(Settings()), producer)


def body(rows: list[list[Any]]) -> Reply:
    return Reply(200, json.dumps(rows).encode())


def past_minutes(count: int) -> list[list[Any]]:
    """The last `count` closed minutes, then the minute trading now (still open when the
    collector reads it: a test starting in a minute's last seconds waits for the next)."""
    if (now := time.time()) % 60 > 50:
        time.sleep(61 - now % 60)
    now_minute = int(time.time()) // 60 * MINUTE_MS
    return minute_rows(now_minute - count * MINUTE_MS, count + 1)


def test_bad_rows_and_unknown_pairs_are_dead_lettered_and_the_rest_publishes(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    rows = past_minutes(6)
    rows[0][1] = "NaN"
    rows[1][4] = "0"
    rows[2][2] = "10.0"  # high below the close
    rows[3] = rows[3][:11]
    with FaultServer() as server:
        server.on(KLINES, body(rows), body(minute_rows(rows[0][0], 3)))  # in request order
        env.setenv("BINANCE_URL", server.url)
        env.setenv("BINANCE_SYMBOLS", "BTCUSDT,FOOBARUSDT")
        report = run()
        asked = [path for _, path, _ in server.seen]
    assert report.ok
    assert [s.source for s in report.sources] == ["binance:BTCUSDT", "binance:FOOBARUSDT"]
    assert "symbol=BTCUSDT" in asked[0]
    assert "interval=1m" in asked[0]
    assert "limit=100" in asked[0]
    assert "startTime" not in asked[0]  # no cursor yet: the latest minutes
    by_pair = {s.source: s for s in report.sources}
    btc = by_pair["binance:BTCUSDT"]
    assert (btc.fetched, btc.published, btc.dead_lettered) == (6, 2, 4)  # the open one waits
    assert by_pair["binance:FOOBARUSDT"].dead_lettered == 1
    assert report.refused("unmapped_coin") == ["FOOBARUSDT"]

    klines = read_topic(project_env, project_env.topic_klines)
    assert {r["key"] for r in klines} == {"BTCUSDT"}
    assert [r["value"]["open_time"] for r in klines] == [_iso(row[0]) for row in rows[4:6]]
    assert all(r["headers"]["event_type"] == b"kline" for r in klines)
    assert all(validation_error("kline", r["value"]) is None for r in klines)
    dlq = [r["value"] for r in read_topic(project_env, project_env.topic_dlq)]
    reasons = sorted(record["reason"] for record in dlq)
    assert all(record["stage"] == "parse" for record in dlq)
    assert all(record["intended_topic"] == project_env.topic_klines for record in dlq)
    assert all(validation_error("dead_letter", record) is None for record in dlq)
    for expected in (
        "non-finite number in open (NaN)",
        "close price '0' is not > 0",
        "high 10.0 is below open",
        "not Binance's 12-field kline array: 11 fields",
        "unmapped coin: unknown symbol FOOBARUSDT",
    ):
        assert sum(expected in reason for reason in reasons) == 1, (expected, reasons)
    assert len(dlq) == 5


def test_a_second_poll_asks_from_the_cursor_and_publishes_nothing_twice(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    rows = past_minutes(8)  # 8 closed minutes and the one trading now
    with FaultServer() as server:
        # The exchange ignores nothing we send: the second answer overlaps the first.
        server.on(KLINES, body(rows[:5]), body(rows[3:]))
        env.setenv("BINANCE_URL", server.url)
        env.setenv("BINANCE_SYMBOLS", "BTCUSDT")
        first = run()
        second = run()
        asked = [path for _, path, _ in server.seen]
    assert (first.total("published"), first.total("deduplicated")) == (5, 0)
    assert f"startTime={rows[5][0]}" in asked[1]  # the minute after the last published
    assert (second.total("published"), second.total("deduplicated")) == (3, 2)
    klines = read_topic(project_env, project_env.topic_klines)
    assert [r["value"]["open_time"] for r in klines] == [_iso(row[0]) for row in rows[:8]]


def test_a_minute_the_broker_did_not_confirm_is_asked_for_again(env: pytest.MonkeyPatch) -> None:
    """The cursor moves over what is on the broker only (Collector.remember)."""
    env.setenv("BINANCE_URL", "http://127.0.0.1:9")
    env.setenv("BINANCE_SYMBOLS", "BTCUSDT,ETHUSDT")
    collector = BinanceKlinesCollector(Settings())
    assert all("startTime" not in r.params for r in collector.requests())
    events = [item for item in parse(minute_rows(1_678_507_200_000, 4)) if isinstance(item, Event)]
    collector.remember(
        [(events[0], True), (events[1], True), (events[2], False), (events[3], True)]
    )
    eth = [item for item in parse(minute_rows(1_678_507_200_000, 2), "ETHUSDT")]
    collector.remember([(e, True) for e in eth if isinstance(e, Event)])
    starts = {
        r.subject: r.params["startTime"] for r in BinanceKlinesCollector(Settings()).requests()
    }
    assert starts == {
        "BTCUSDT": str(1_678_507_200_000 + 2 * MINUTE_MS),  # the unconfirmed 04:02
        "ETHUSDT": str(1_678_507_200_000 + 2 * MINUTE_MS),  # after the last, 04:01
    }


def test_an_exchange_refusal_fails_only_that_pair(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    rows = past_minutes(2)
    with FaultServer() as server:
        invalid = Reply(400, b'{"code":-1121,"msg":"Invalid symbol."}')
        server.on(KLINES, invalid, body(rows))
        env.setenv("BINANCE_URL", server.url)
        env.setenv("BINANCE_SYMBOLS", "BTCXUSDT,BTCUSDT")
        with pytest.raises(CollectorError, match="binance:BTCXUSDT: binance: HTTP 400") as err:
            run()
    by_pair = {s.source: s for s in err.value.report.sources}
    assert by_pair["binance:BTCUSDT"].published == 2
    (dead,) = read_topic(project_env, project_env.topic_dlq)
    assert dead["value"]["stage"] == "fetch"
    assert dead["value"]["raw"] == '{"code":-1121,"msg":"Invalid symbol."}'
    assert len(read_topic(project_env, project_env.topic_klines)) == 2


# --- against the replay server ------------------------------------------------------------

PAST = 1_767_607_200.0  # 2026-01-05T10:00:00Z: the replay clock, behind the wall clock


def test_the_collector_job_publishes_the_replayed_depeg_to_the_broker(
    project_env: Settings, monkeypatch: pytest.MonkeyPatch, dagster_instance: dg.DagsterInstance
) -> None:
    """Dagster's collect_binance against the replay server (default pairs and URL of replay
    mode), then a plain run a market minute later: each pair resumes from its cursor."""
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    clock = [PAST]
    app = ReplayApp("market", clock=lambda: clock[0])
    clock[0] = PAST + 45 * 60 + 10  # 45 recorded minutes have closed: 04:00 to 04:44
    with ReplayServer(app) as server:
        for name in ("BINANCE_URL", "BINANCE_SYMBOLS"):
            monkeypatch.delenv(name, raising=False)
        fast_retries(monkeypatch, SOURCE_MODE="replay", REPLAY_PORT=str(server.port))
        result = defs.get_job_def("collect_binance").execute_in_process(instance=dagster_instance)
        clock[0] += 60
        again = run()
    (materialization,) = result.asset_materializations_for_node("binance_klines")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert (metadata["published"], metadata["dead_lettered"]) == (3 * 45, 0)
    assert metadata["replayed"] is True
    assert metadata["unmapped_coins"] == 0
    pairs = ["binance:BTCUSD", "binance:BTCUSDC", "binance:BTCUSDT"]
    assert metadata["breaker_state"] == dict.fromkeys(pairs, "closed")
    # One budget for the exchange: each pair's call came out of it.
    assert [metadata["budget_remaining"][pair]["minute"] for pair in pairs] == [59, 58, 57]
    assert "binance:BTCUSDC" in str(metadata["sources"])
    assert [(s.source, s.published, s.deduplicated) for s in again.sources] == [
        ("binance:BTCUSD", 1, 0),
        ("binance:BTCUSDC", 1, 0),
        ("binance:BTCUSDT", 1, 0),
    ]

    klines = read_topic(project_env, project_env.topic_klines)
    assert len(klines) == 3 * 46
    assert read_topic(project_env, project_env.topic_dlq) == []
    closes: dict[tuple[str, str], float] = {}
    for record in klines:
        value = record["value"]
        assert validation_error("kline", value) is None
        assert value["replayed"] is True
        assert value["trade_count"] is None  # the recordings have none
        assert value["volume_quote"] == pytest.approx(value["volume_base"] * value["close"])
        assert (value["coin_id"], value["base_asset"]) == ("bitcoin", "BTC")
        assert record["key"] == value["symbol"] == "BTC" + value["quote_asset"]
        assert value["close_time"] <= value["ingest_time"]
        closes[(value["symbol"], value["open_time"])] = value["close"]
    minute_34 = iso_utc(datetime.fromtimestamp(PAST + 34 * 60, UTC))
    assert closes[("BTCUSDC", minute_34)] == 21634.06  # recorded at 2023-03-11T04:34Z
    assert closes[("BTCUSDC", minute_34)] / closes[("BTCUSD", minute_34)] > 1.05
    first = iso_utc(datetime.fromtimestamp(PAST, UTC))
    assert closes[("BTCUSDC", first)] / closes[("BTCUSD", first)] < 1.01
