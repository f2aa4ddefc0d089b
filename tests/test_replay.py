"""The replay server answers like the real services, and its market moves as documented."""

from __future__ import annotations

import calendar
import gzip
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cryptoviz_assets.cli.demo import HISTORY_TICKS
from cryptoviz_assets.collectors.news import parse_feed
from cryptoviz_assets.replay import recordings
from cryptoviz_assets.replay.clock import CatchUpClock
from cryptoviz_assets.replay.market import CYCLE_TICKS, Market
from cryptoviz_assets.replay.recordings import (
    BINANCE_KLINES,
    COINDESK_RSS,
    binance_minutes,
    data_bytes,
)
from cryptoviz_assets.replay.server import ReplayApp, ReplayServer
from cryptoviz_assets.settings import REPLAY_BINANCE_SYMBOLS, REPLAY_KLINES_START, Settings
from tests.conftest import SHARED_FIXTURES

SHARED_MARKET_DATA = SHARED_FIXTURES.parent / "market_data"

T0 = 1_800_000_000.0  # a fixed clock: 2027-01-15T08:00:00Z, tick 30,000,000 (cycle start)


@pytest.fixture
def clock() -> list[float]:
    return [T0]


@pytest.fixture
def market_server(clock: list[float]) -> Iterator[ReplayServer]:
    with ReplayServer(ReplayApp("market", seed=7, clock=lambda: clock[0])) as server:
        yield server


@pytest.fixture
def recorded_server() -> Iterator[ReplayServer]:
    with ReplayServer(ReplayApp("recorded")) as server:
        yield server


def get(server: ReplayServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(server.url + path, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_recorded_scenario_serves_the_recordings(recorded_server: ReplayServer) -> None:
    markets = get(recorded_server, "/api/v3/coins/markets", params={"vs_currency": "usd"})
    assert markets.headers["content-type"].startswith("application/json")
    assert markets.headers["x-cryptoviz-replay"] == "true"
    assert [c["id"] for c in markets.json()][:2] == ["bitcoin", "ethereum"]
    # The real API's query parameters are honoured: ids filter, paging.
    second = get(
        recorded_server,
        "/api/v3/coins/markets",
        params={"vs_currency": "usd", "ids": "tron,02-token,nope", "per_page": "1", "page": "2"},
    )
    assert [c["id"] for c in second.json()] == ["02-token"]  # the second recording's order
    feed = get(recorded_server, "/arc/outboundfeeds/rss/")
    assert feed.content == data_bytes(COINDESK_RSS)
    assert feed.headers["content-type"].startswith("application/rss+xml")
    empty = parse_feed(get(recorded_server, "/rss").content)
    assert empty.entries == []  # no Cointelegraph recording exists
    fng = get(recorded_server, "/fng/", params={"limit": "0"}).json()
    assert len(fng["data"]) == 395  # both recordings, one entry per day
    assert get(recorded_server, "/fng/").json()["data"][0]["timestamp"] == "1788307200"
    cmc = get(
        recorded_server,
        "/v1/cryptocurrency/listings/latest",
        params={"limit": "3"},
        headers={"X-CMC_PRO_API_KEY": "anything"},
    ).json()
    assert [c["slug"] for c in cmc["data"]] == ["bitcoin", "ethereum", "xrp"]


def test_coinmarketcap_needs_a_key_and_unknown_paths_404(recorded_server: ReplayServer) -> None:
    response = get(recorded_server, "/v1/cryptocurrency/listings/latest")
    assert response.status_code == 401
    assert response.json()["status"]["error_code"] == 1002
    assert get(recorded_server, "/api/v3/ping").status_code == 404


def test_the_market_is_deterministic_and_moves(
    market_server: ReplayServer, clock: list[float]
) -> None:
    params = {"vs_currency": "usd", "ids": "bitcoin,ethereum"}
    first = get(market_server, "/api/v3/coins/markets", params=params).json()
    assert get(market_server, "/api/v3/coins/markets", params=params).json() == first
    assert first == Market(seed=7, clock=lambda: T0).coingecko_markets(["bitcoin", "ethereum"])
    clock[0] += 60
    later = get(market_server, "/api/v3/coins/markets", params=params).json()
    assert later[0]["current_price"] != first[0]["current_price"]
    assert later[0]["last_updated"] > first[0]["last_updated"]
    assert Market(seed=8, clock=lambda: T0).coingecko_markets(["bitcoin"]) != first[:1]


def test_news_changes_over_time(market_server: ReplayServer, clock: list[float]) -> None:
    before = {e.id for e in parse_feed(get(market_server, "/rss").content).entries}
    clock[0] += 60 * 10  # two news intervals: one new article per feed
    after_feed = parse_feed(get(market_server, "/rss").content)
    after = {e.id for e in after_feed.entries}
    assert len(after - before) == 1
    assert len(after) == 20
    coindesk = parse_feed(get(market_server, "/arc/outboundfeeds/rss/").content)
    # generated first, then the recorded items replayed so far: one a tick from the start
    assert len(coindesk.entries) == 20 + 11
    assert coindesk.entries[0].id.startswith("replay-coindesk-7-")


def test_recorded_news_replays_on_the_market_clock(
    market_server: ReplayServer, clock: list[float]
) -> None:
    """Real headlines share the prices' time axis: one recorded item a tick, in recorded order."""

    def recorded() -> list[Any]:
        feed = parse_feed(get(market_server, "/arc/outboundfeeds/rss/").content)
        return [entry for entry in feed.entries if not entry.id.startswith("replay-")]

    assert len(recorded()) == 1  # the oldest recorded item, at the market's first tick
    clock[0] += 60 * 30
    served = list(reversed(recorded()))  # feeds list the newest first
    as_recorded = sorted(
        parse_feed(data_bytes(COINDESK_RSS)).entries, key=lambda entry: entry.published_parsed
    )
    assert [entry.id for entry in served] == [entry.id for entry in as_recorded]
    assert [entry.title for entry in served] == [entry.title for entry in as_recorded]
    published = [calendar.timegm(entry.published_parsed) for entry in served]
    assert published == [T0 + 60 * k + 30 for k in range(25)]


def one_minute_moves(market: Market, coin: str, ticks: range) -> list[float]:
    c = market.by_id[coin]
    return [market.price(c, t) / market.price(c, t - 1) - 1 for t in ticks]


def test_injected_spike_and_divergence_are_there_and_only_there() -> None:
    market = Market(seed=7, tick_seconds=60, clock=lambda: T0)
    start = market.tick()
    cycles = range(start, start + 5 * CYCLE_TICKS)
    spikes, divergences = set(), set()
    for tick in cycles:
        for coin in market.coins:
            if abs(market.price(coin, tick) / market.price(coin, tick - 1) - 1) > 0.05:
                spikes.add((coin.coingecko_id, tick % CYCLE_TICKS))
            if abs(market.cmc_price(coin, tick) / market.price(coin, tick) - 1) > 0.01:
                divergences.add((coin.coingecko_id, tick % CYCLE_TICKS))
    assert spikes == {("bitcoin", 5), ("bitcoin", 8)}  # the +7% jump and its reversal
    assert divergences == {("ripple", phase) for phase in range(15, 19)}
    # The injections are announced where the docs say.
    assert [i.kind for i in market.injections(start + 5)] == ["price_spike"]
    assert [i.kind for i in market.injections(start + 15)] == ["divergence"]
    assert market.injections(start + 12) == []
    # Ordinary one-minute moves stay under 1%, volume stays within its drift and noise.
    assert max(abs(move) for move in one_minute_moves(market, "ethereum", cycles)) < 0.01
    for coin in market.coins:
        ratios = [market.volume(coin, t) / coin.volume for t in cycles]
        assert all(0.86 < r < 1.16 for r in ratios), coin.coingecko_id  # e^(+-0.14) at most


def test_market_payloads_feed_the_collectors(market_server: ReplayServer) -> None:
    cmc = get(
        market_server,
        "/v1/cryptocurrency/listings/latest",
        params={"limit": "20"},
        headers={"X-CMC_PRO_API_KEY": "k"},
    ).json()
    assert len(cmc["data"]) == 20
    assert cmc["data"][0]["quote"]["USD"]["last_updated"].startswith("2027-01-15T08:00:")
    fng = get(market_server, "/fng/", params={"limit": "2"}).json()["data"]
    assert fng[0]["timestamp"] == str(int(T0 // 86400 * 86400))  # today, generated
    assert int(fng[1]["timestamp"]) == int(fng[0]["timestamp"]) - 86400
    assert 0 <= int(fng[0]["value"]) <= 100


def snapshot_without_times(client: httpx.Client, server: ReplayServer) -> dict[str, object]:
    """Everything one snapshot serves except what follows the clock (times, news ids)."""
    cmc = client.get(
        server.url + "/v1/cryptocurrency/listings/latest",
        params={"limit": "20"},
        headers={"X-CMC_PRO_API_KEY": "k"},
    ).json()
    markets = client.get(server.url + "/api/v3/coins/markets", params={"vs_currency": "usd"})
    rows = markets.json()
    for row in rows:
        del row["last_updated"]
    del cmc["status"]["timestamp"]
    for row in cmc["data"]:
        del row["last_updated"], row["quote"]["USD"]["last_updated"]
    clocked = r"<(pubDate|lastBuildDate|guid|link)\b.*?</\1>"
    news = [
        re.sub(clocked, "", client.get(server.url + path).text)
        for path in ("/rss", "/arc/outboundfeeds/rss/")
    ]
    return {"coinmarketcap": cmc["data"], "coingecko": rows, "news": news}


def test_a_market_replayed_from_the_past_is_the_same_whenever_it_starts() -> None:
    """The demo's market: snapshot n serves the same values on every run, at any hour."""
    walls = (T0 + 7 * 60 + 13, T0 + 3 * 86400 + 11 * 60 + 59)  # different cycle phases, days
    clocks = [CatchUpClock(60, HISTORY_TICKS, wall=lambda w=w: w) for w in walls]
    apps = [ReplayApp("market", seed=42, clock=clock) for clock in clocks]
    for wall, app in zip(walls, apps, strict=True):
        start = app.market.tick_time(app.market.tick())
        assert start % 3600 == 0  # the top of an hour: the same hourly and daily bars
        assert wall - 100 * 60 < start <= wall - HISTORY_TICKS * 60  # never in the future
    with ReplayServer(apps[0]) as first, ReplayServer(apps[1]) as second, httpx.Client() as client:
        for snapshot in range(HISTORY_TICKS + 1):
            expected = snapshot_without_times(client, first)
            assert snapshot_without_times(client, second) == expected, f"snapshot {snapshot}"
            for clock in clocks:
                clock.advance()
    assert apps[0].market.tick() != apps[1].market.tick()  # only the times differ


def test_the_demo_market_injects_exactly_the_demo_episodes() -> None:
    """The demo's 41 snapshots, by the marts' rules: the aggregator episodes test_demo_e2e expects.

    Price spike above 5 % between consecutive minutes of a source, divergence above 1 %
    between the sources (high above 3 %); flagged minutes at most 30 apart are one episode.
    """
    clock = CatchUpClock(60, HISTORY_TICKS, wall=lambda: T0 + 7 * 60)
    market = ReplayApp("market", seed=Settings().replay_seed, clock=clock).market
    ticks = [clock.origin + n for n in range(HISTORY_TICKS + 1)]
    found: dict[tuple[str, str, int], float] = {}
    for coin in market.coins:
        for n, tick in enumerate(ticks):
            for price in (market.price, market.cmc_price):
                move = price(coin, tick) / price(coin, tick - 1) - 1
                if n > 0 and abs(move) > 0.05:
                    found[("price_spike", coin.coingecko_id, n)] = move * 100
            gecko, cmc = market.price(coin, tick), market.cmc_price(coin, tick)
            gap = abs(gecko - cmc) / ((gecko + cmc) / 2)
            if gap > 0.01:
                found[("source_divergence", coin.coingecko_id, n)] = gap * 100
    # The spike's jump and reversal on both sources, each divergent minute, in two cycles.
    assert set(found) == {
        *(("price_spike", "bitcoin", n) for n in (5, 8, 25, 28)),
        *(("source_divergence", "ripple", n) for n in (15, 16, 17, 18, 35, 36, 37, 38)),
    }
    assert all(5 < abs(v) < 10 for (kind, *_), v in found.items() if kind == "price_spike")
    assert all(1 < v < 3 for (kind, *_), v in found.items() if kind == "source_divergence")
    # Cycles are 20 minutes apart, within the 30-minute gap: one warning episode per coin,
    # from the first flagged minute to the end of the last, 24 minutes each.
    minutes: dict[tuple[str, str], list[int]] = {}
    for kind, coin, n in sorted(found):
        minutes.setdefault((kind, coin), []).append(n)
    for flagged in minutes.values():
        assert max(b - a for a, b in itertools.pairwise(flagged)) <= 30
    assert {key: flagged[-1] + 1 - flagged[0] for key, flagged in minutes.items()} == {
        ("price_spike", "bitcoin"): 24,
        ("source_divergence", "ripple"): 24,
    }


# --- Binance klines: recorded Binance.US minutes, re-timed to the market's clock ----------

PAST = 1_767_607_200.0  # 2026-01-05T10:00:00Z: a market clock behind the wall clock
PAST_MS = int(PAST * 1000)
DEPEG = [("BTCUSDC", "21634.06"), ("BTCUSD", "20431.13")]  # closes recorded at 04:34


def klines(server: ReplayServer, **params: object) -> httpx.Response:
    return get(server, "/api/v3/klines", params={"interval": "1m", **params})


@pytest.fixture
def klines_server(clock: list[float]) -> Iterator[ReplayServer]:
    clock[0] = PAST + 30  # the replay's first minute is trading
    with ReplayServer(ReplayApp("market", clock=lambda: clock[0])) as server:
        yield server


def test_klines_replay_the_depeg_minutes_re_timed_and_closed_only(
    klines_server: ReplayServer, clock: list[float]
) -> None:
    assert klines(klines_server, symbol="BTCUSDC").json() == []  # nothing has closed yet
    clock[0] = PAST + 40 * 60 + 30  # minute 40 is trading: 0 to 39 have closed
    response = klines(klines_server, symbol="BTCUSDC", limit="1000")
    assert response.headers["x-cryptoviz-replay"] == "true"
    rows = response.json()
    assert [row[0] for row in rows] == [PAST_MS + 60_000 * n for n in range(40)]
    assert all(row[6] == row[0] + 59_999 for row in rows)
    recorded = binance_minutes("BTCUSDC")
    four_am = int(REPLAY_KLINES_START.timestamp()) // 60
    assert REPLAY_KLINES_START.isoformat() == "2023-03-11T04:00:00+00:00"
    assert [tuple(row[1:6]) for row in rows] == [recorded[four_am + n] for n in range(40)]
    assert rows[34][4] == DEPEG[0][1]  # the recorded text, served as is
    cent_millionth = Decimal("1e-8")  # quote volume: volume x close, as Binance's 8 decimals
    assert all(
        Decimal(row[7]) == (Decimal(row[5]) * Decimal(row[4])).quantize(cent_millionth)
        for row in rows
    )
    assert rows[34][8:] == [None, None, None, "0"]  # no trade count or taker volumes recorded
    usd = klines(klines_server, symbol="BTCUSD", limit="1000").json()
    premium = [float(c[4]) / float(u[4]) - 1 for c, u in zip(rows, usd, strict=True)]
    assert usd[34][4] == DEPEG[1][1]
    assert max(premium[:10]) < 0.01  # before the depeg
    assert min(premium[26:40]) > 0.02  # BTCUSDC far above BTCUSD: USDC is worth less
    assert 0.058 < premium[34] < 0.059


def test_klines_honour_binance_query_parameters(
    klines_server: ReplayServer, clock: list[float]
) -> None:
    clock[0] = PAST + 40 * 60 + 30

    def opens(**params: str) -> list[int]:
        return [row[0] for row in klines(klines_server, **params).json()]

    def minute(n: int) -> int:
        return PAST_MS + 60_000 * n

    assert opens(symbol="BTCUSDT", limit="3") == [minute(37), minute(38), minute(39)]
    assert opens(symbol="BTCUSDT", startTime=str(minute(35))) == [minute(n) for n in range(35, 40)]
    assert opens(symbol="BTCUSDT", startTime=str(minute(35) - 1), limit="2") == [
        minute(35),
        minute(36),
    ]
    assert opens(symbol="BTCUSDT", endTime=str(minute(5)), limit="2") == [minute(4), minute(5)]
    assert opens(symbol="BTCUSDT", startTime=str(minute(40))) == []  # still trading
    assert len(opens(symbol="BTCUSDT")) == 40  # default limit 500
    invalid = klines(klines_server, symbol="ETHUSDT")
    assert (invalid.status_code, invalid.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})
    wrong = get(klines_server, "/api/v3/klines", params={"symbol": "BTCUSD", "interval": "5m"})
    assert (wrong.status_code, wrong.json()["code"]) == (400, -1120)


def test_klines_start_is_configurable_and_must_be_recorded(clock: list[float]) -> None:
    peak = datetime(2023, 3, 11, 7, 50, tzinfo=UTC)  # BTCUSDC 14.3% above BTCUSD
    clock[0] = PAST
    app = ReplayApp("market", clock=lambda: clock[0], klines_start=peak)
    clock[0] += 90
    status, _, body = app.handle("/api/v3/klines", {"symbol": "BTCUSDC", "interval": "1m"}, {})
    (row,) = json.loads(body)
    assert status == 200
    assert (row[0], tuple(row[1:6])) == (
        PAST_MS,
        binance_minutes("BTCUSDC")[int(peak.timestamp()) // 60],
    )
    with pytest.raises(ValueError, match="is not a recorded minute"):
        ReplayApp("market", clock=lambda: PAST, klines_start=datetime(2024, 1, 1, tzinfo=UTC))


def test_a_market_replayed_from_the_past_starts_its_klines_at_its_first_snapshot() -> None:
    """The demo's market: its first snapshot replays REPLAY_KLINES_START, one minute a tick."""
    clock = CatchUpClock(60, HISTORY_TICKS, wall=lambda: PAST + 7 * 60)
    app = ReplayApp("market", seed=42, clock=clock)
    first = app.market.tick_time(clock.origin) * 1000
    query = {"symbol": "BTCUSD", "interval": "1m"}
    assert json.loads(app.handle("/api/v3/klines", query, {})[2]) == []
    clock.advance(5)
    rows = json.loads(app.handle("/api/v3/klines", query, {})[2])
    assert [row[0] for row in rows] == [first + 60_000 * n for n in range(5)]
    four_am = int(REPLAY_KLINES_START.timestamp()) // 60
    assert tuple(rows[0][1:6]) == binance_minutes("BTCUSD")[four_am]


def test_the_klines_recordings_are_the_shared_csvs() -> None:
    """data/ holds gzipped byte-identical copies of ../shared/market_data (provenance there)."""
    readme = " ".join((Path(recordings.__file__).parent / "data" / "README.md").read_text().split())
    for symbol, name in BINANCE_KLINES.items():
        assert name in readme or name.removesuffix(".csv.gz") in readme
        text = gzip.decompress(data_bytes(name))
        assert text.startswith(b"open_time,open,high,low,close,volume\n")
        assert len(binance_minutes(symbol)) == 30_240
        shared = SHARED_MARKET_DATA / name.removesuffix(".gz")
        if SHARED_MARKET_DATA.is_dir():
            assert text == shared.read_bytes()
    assert set(BINANCE_KLINES) == set(REPLAY_BINANCE_SYMBOLS)  # the replay's default pairs
    assert "none found" in readme
    assert "volume × close" in readme


def test_a_released_market_follows_the_wall_clock() -> None:
    """After its snapshots the demo releases the market: `dagster dev`'s collectors then see
    new minutes, not the last replayed one served again and again."""
    now = [PAST + 7 * 60]
    clock = CatchUpClock(60, HISTORY_TICKS, wall=lambda: now[0])
    app = ReplayApp("market", seed=42, clock=clock)
    with ReplayServer(app) as server, httpx.Client() as client:
        frozen = app.market.tick()
        now[0] += 120
        assert app.market.tick() == frozen  # replaying the past: it moves only when advanced
        reply = client.post(f"{server.url}/_replay/release")
        assert reply.status_code == 200
        assert reply.json()["caught_up"] is True
        assert app.market.tick() == int(now[0] // 60) > frozen
        now[0] += 60
        assert app.market.tick() == int(now[0] // 60)  # and goes on with the wall clock
