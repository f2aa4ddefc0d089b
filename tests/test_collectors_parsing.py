"""Every recorded real payload parses into schema-valid events; bad records are rejected."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cryptoviz_assets.collectors import coin_ids
from cryptoviz_assets.collectors.base import Collector, Event, PayloadError, Rejection
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.coinmarketcap import CoinMarketCapCollector
from cryptoviz_assets.collectors.fear_greed import FearGreedCollector
from cryptoviz_assets.collectors.http import Request, Response
from cryptoviz_assets.collectors.news import NewsCollector, strip_html
from cryptoviz_assets.contract.events import event_id, validation_error
from cryptoviz_assets.replay.market import baseline
from cryptoviz_assets.replay.recordings import data_bytes
from cryptoviz_assets.settings import DEFAULT_COIN_IDS, Settings
from tests.conftest import SHARED_FIXTURES

INGEST = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DATA = Path(__file__).resolve().parent.parent / "cryptoviz_assets" / "replay" / "data"

# Recorded payload (in the project's replay data) -> collector and source that parse it.
PAYLOADS = {
    "coins_markets_usd_2023-01-02_top5.json": (CoinGeckoCollector, "coingecko", 5),
    "coins_markets_usd_2020-05-07_8coins.json": (CoinGeckoCollector, "coingecko", 8),
    "listings_latest_2020-05-07_top20.json": (CoinMarketCapCollector, "coinmarketcap", 20),
    "fng_limit30_2026-08-04_to_2026-09-02.json": (FearGreedCollector, "alternative_me", 30),
    "fng_limit365_2024-04-22_to_2025-04-22.json": (FearGreedCollector, "alternative_me", 365),
    "coindesk_rss_2026-09-30.xml": (NewsCollector, "coindesk", 25),
}


def parse(
    collector: Collector, source: str, body: bytes, replayed: bool = False
) -> list[Event | Rejection]:
    content_type = "application/rss+xml" if body.lstrip().startswith(b"<") else "application/json"
    response = Response(Request(source, "http://x"), 200, content_type, body, 1.0, 1, replayed)
    return list(collector.parse(response, INGEST))


def events_of(name: str, settings: Settings | None = None) -> list[Event]:
    collector_type, source, _ = PAYLOADS[name]
    items = parse(collector_type(settings or Settings()), source, data_bytes(name))
    assert all(isinstance(item, Event) for item in items), items
    return [item for item in items if isinstance(item, Event)]


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_every_recorded_payload_parses_into_valid_events(name: str) -> None:
    collector_type, _, count = PAYLOADS[name]
    events = events_of(name)
    assert len(events) == count
    for event in events:
        assert validation_error(collector_type.record_type, event.value) is None, event.value
        assert event.value["ingest_time"] == "2026-11-21T12:00:00.000Z"
        assert event.value["replayed"] is False
    assert len({e.value["event_id"] for e in events}) == count  # ids are unique per record


def test_the_project_copies_are_the_shared_recordings() -> None:
    """data/ holds byte-identical copies of /work/shared/fixtures (provenance in its README)."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("the shared fixtures are not on this machine")
    shared = {p.name: p.read_bytes() for p in SHARED_FIXTURES.rglob("*") if p.is_file()}
    for name in PAYLOADS:
        assert (DATA / name).read_bytes() == shared[name]
    assert "coins_markets_usd_2023-01-02_top5.json" in (DATA / "README.md").read_text()


def test_coingecko_fields_nulls_and_a_stale_coin() -> None:
    events = {e.key: e.value for e in events_of("coins_markets_usd_2020-05-07_8coins.json")}
    btc = events["bitcoin"]
    assert btc["symbol"] == "BTC"
    assert btc["price_usd"] == 9696.96
    assert btc["market_cap_rank"] == 1
    assert btc["ath_date"] == "2017-12-16T00:00:00.000Z"
    assert btc["event_time"] == "2020-05-07T17:12:34.220Z"
    assert btc["event_id"] == event_id("coingecko", "bitcoin", "2020-05-07T17:12:34.220Z")
    assert btc["max_supply"] is None  # absent in this recording
    assert btc["change_1h_pct"] is None  # requested via price_change_percentage, not recorded
    stale = events["02-token"]  # not updated since 2019, 24h fields null
    assert stale["event_time"] == "2019-12-26T04:00:21.046Z"
    assert stale["high_24h_usd"] is None
    assert stale["change_24h_pct"] is None
    assert stale["market_cap_usd"] == 0.0
    tiny = events["lovehearts"]
    assert tiny["price_usd"] == 8.08e-06


def test_coinmarketcap_coin_ids_are_coingecko_ids() -> None:
    events = {e.key: e.value for e in events_of("listings_latest_2020-05-07_top20.json")}
    assert {"ripple", "binancecoin", "bitcoin-cash-sv", "crypto-com-chain", "leo-token"} <= set(
        events
    )
    assert "xrp" not in events
    xrp = events["ripple"]
    assert xrp["symbol"] == "XRP"
    assert xrp["event_time"] == "2020-05-07T22:29:05.000Z"  # the record's own last_updated
    assert xrp["market_cap_rank"] == 3
    assert xrp["high_24h_usd"] is None
    assert events["bitcoin"]["change_7d_pct"] == 12.7368


def test_coingecko_and_coinmarketcap_share_the_coin_key() -> None:
    coingecko = {e.key for e in events_of("coins_markets_usd_2020-05-07_8coins.json")}
    cmc = {e.key for e in events_of("listings_latest_2020-05-07_top20.json")}
    assert {"bitcoin", "ethereum", "binancecoin", "tron"} <= coingecko & cmc
    assert set(Settings().coingecko_coin_ids) == cmc  # the default coins are that top 20


def test_fear_greed_days() -> None:
    events = events_of("fng_limit30_2026-08-04_to_2026-09-02.json")
    latest = events[0].value
    assert latest["index_date"] == "2026-09-02"
    assert latest["value"] == 63
    assert latest["classification"] == "Greed"
    assert latest["event_time"] == "2026-09-02T00:00:00.000Z"
    assert latest["event_id"] == event_id("alternative_me", "fear_greed", "2026-09-02")
    assert {e.key for e in events} == {"fear_greed"}


def test_rss_cdata_odd_characters_and_html_are_handled() -> None:
    events = [e.value for e in events_of("coindesk_rss_2026-09-30.xml")]
    first = events[0]
    assert first["title"] == (
        "Crypto industry gave $8 million to Clarity Act lobbyists who didn't close the deal"
    )
    assert first["guid"] == "aae5dfb1-54bc-455f-a89a-5ec5d919c3b0"
    assert first["event_time"] == "2026-09-30T17:16:31.000Z"
    assert first["authors"] == ["Jesse Hamilton"]
    assert first["categories"][:2] == ["News Analysis", "Regulation"]
    assert first["event_id"] == event_id("coindesk", "aae5dfb1-54bc-455f-a89a-5ec5d919c3b0")
    assert first["summary"].startswith("In the first half of this year")
    # The RSS <description> survives CoinDesk's empty <dc:description/> (feedparser quirk).
    assert sum(1 for e in events if e["summary"]) == 24  # one item really has none
    assert "“overwhelming majority”" in events[1]["summary"]  # typographic quotes intact
    assert all("<" not in e["summary"] and "&amp;" not in e["summary"] for e in events)


def test_html_is_stripped_from_escaped_and_cdata_summaries() -> None:
    assert strip_html("<p>Price &amp; <b>volume</b></p><script>x()</script>") == "Price & volume"
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>Caf\xc3\xa9 &amp; crypto &#8217;26</title><guid>g-1</guid><link>https://e/1</link>
    <pubDate>Tue, 03 Mar 2026 10:00:00 +0100</pubDate>
    <description>&lt;p&gt;One &amp;amp; two&lt;br/&gt;three&lt;/p&gt;</description></item>
    </channel></rss>"""
    (item,) = parse(NewsCollector(Settings()), "cointelegraph", feed, replayed=True)
    assert isinstance(item, Event)
    assert item.value["title"] == "Café & crypto ’26"
    assert item.value["summary"] == "One & two three"
    assert item.value["event_time"] == "2026-03-03T09:00:00.000Z"  # converted to UTC
    assert item.value["replayed"] is True
    assert validation_error("news_article", item.value) is None


def test_bad_records_are_rejected_and_the_rest_parse() -> None:
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    coins[1]["last_updated"] = None  # no source timestamp: cannot be an event
    coins[2]["current_price"] = "1.00"  # a string where a number belongs
    items = parse(CoinGeckoCollector(Settings()), "coingecko", json.dumps(coins).encode())
    assert [type(i).__name__ for i in items] == [
        "Event",
        "Rejection",
        "Rejection",
        "Event",
        "Event",
    ]
    rejected = items[2]
    assert isinstance(rejected, Rejection)
    assert "expected a number" in rejected.reason
    assert json.loads(rejected.raw)["id"] == "tether"
    # A null price parses, but the contract refuses it (price_usd > 0 is required).
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    coins[0]["current_price"] = None
    (first, *_) = parse(CoinGeckoCollector(Settings()), "coingecko", json.dumps(coins).encode())
    assert isinstance(first, Event)
    assert "price_usd" in (validation_error("price_tick", first.value) or "")


def test_rss_item_without_date_or_title_is_rejected() -> None:
    feed = b"""<rss version="2.0"><channel><title>t</title>
    <item><title>no date</title><guid>a</guid></item>
    <item><guid>b</guid><pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate></item>
    <item><title>fine</title><guid>c</guid><pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate></item>
    </channel></rss>"""
    items = parse(NewsCollector(Settings()), "coindesk", feed)
    assert [type(i).__name__ for i in items] == ["Rejection", "Rejection", "Event"]


@pytest.mark.parametrize(
    ("collector_type", "body", "message"),
    [
        (CoinGeckoCollector, b'[{"id": "bitcoin", "symbol": "btc", "current_pr', "invalid JSON"),
        (CoinGeckoCollector, b'{"status": {"error_code": 429}}', "expected a JSON array"),
        (CoinMarketCapCollector, b'{"status": {"error_code": 1002}, "data": []}', "error 1002"),
        (FearGreedCollector, b'{"data": [], "metadata": {"error": "oops"}}', "oops"),
        (NewsCollector, b"<rss><channel><item><title>cut", "malformed XML"),
        (NewsCollector, b"<html><body>not a feed</body></html>", "not a readable feed"),
    ],
)
def test_unreadable_payloads_raise_payload_error(
    collector_type: type[Collector], body: bytes, message: str
) -> None:
    with pytest.raises(PayloadError, match=message):
        parse(collector_type(Settings()), "x", body)


def rejections(items: list[Event | Rejection]) -> dict[int, Rejection]:
    return {n: item for n, item in enumerate(items) if isinstance(item, Rejection)}


def reasons(refused: dict[int, Rejection]) -> dict[int, str]:
    return {n: rejection.reason for n, rejection in sorted(refused.items())}


def mentions(reason: str, *words: str) -> bool:
    return all(word in reason for word in words)


def test_non_finite_numbers_and_null_ids_are_rejected_and_the_rest_parse() -> None:
    """Python's json.loads accepts NaN and Infinity, and a null id must not become "None"."""
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    coins[0]["current_price"] = float("nan")
    coins[1]["total_volume"] = float("inf")
    coins[2]["id"] = None
    coins[3]["symbol"] = None
    body = json.dumps(coins).encode()  # NaN and Infinity, as a lax JSON writer sends them
    assert b"NaN" in body
    assert b"Infinity" in body
    items = parse(CoinGeckoCollector(Settings()), "coingecko", body)
    refused = rejections(items)
    why = reasons(refused)
    assert sorted(why) == [0, 1, 2, 3]
    assert mentions(why[0], "non-finite number", "price_usd")
    assert mentions(why[1], "non-finite number", "volume_24h_usd")
    assert mentions(why[2], "id", "null")
    assert mentions(why[3], "symbol", "null")
    assert json.loads(refused[0].raw)["id"] == "bitcoin"  # the raw record, for the DLQ
    (good,) = (item for item in items if isinstance(item, Event))
    assert good.key == "binancecoin"
    assert json.dumps(good.value, allow_nan=False)


def test_coinmarketcap_non_finite_and_null_fields_are_rejected() -> None:
    body = json.loads(data_bytes("listings_latest_2020-05-07_top20.json"))
    body["data"][0]["quote"]["USD"]["price"] = float("-inf")
    body["data"][1]["symbol"] = None
    body["data"][2]["slug"] = None
    body["data"][3]["circulating_supply"] = float("nan")
    items = parse(CoinMarketCapCollector(Settings()), "coinmarketcap", json.dumps(body).encode())
    why = reasons(rejections(items))
    assert sorted(why) == [0, 1, 2, 3]
    assert [
        mentions(why[n], field)
        for n, field in enumerate(("price_usd", "symbol", "slug", "circulating_supply"))
    ] == [True] * 4
    assert sum(isinstance(item, Event) for item in items) == 16
    assert all(item.value["coin_id"] != "None" for item in items if isinstance(item, Event))


def test_fear_greed_bare_data_array_parses() -> None:
    """A history kept as its bare `data` array (no name/metadata envelope) is still read."""
    days = json.loads(data_bytes("fng_limit30_2026-08-04_to_2026-09-02.json"))["data"]
    items = parse(FearGreedCollector(Settings()), "alternative_me", json.dumps(days).encode())
    assert all(isinstance(item, Event) for item in items)
    assert [item.value for item in items if isinstance(item, Event)] == [
        e.value for e in events_of("fng_limit30_2026-08-04_to_2026-09-02.json")
    ]


def quoted_in(rate: float, coins: list[dict[str, object]]) -> bytes:
    """The same coins/markets body as if asked for another vs_currency at this rate."""
    fields = ("current_price", "market_cap", "total_volume", "high_24h", "low_24h", "ath", "atl")
    for coin in coins:
        for name in fields:
            if isinstance(coin.get(name), int | float):
                coin[name] = coin[name] * rate  # type: ignore[operator]
    return json.dumps(coins).encode()


def test_a_coingecko_body_in_another_currency_is_refused() -> None:
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    with pytest.raises(PayloadError, match=r"wrong currency.*USDT 0\.94.*USDC 0\.94"):
        parse(CoinGeckoCollector(Settings()), "coingecko", quoted_in(0.94, coins))


def test_the_eur_recording_is_refused_as_wrong_currency() -> None:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("the shared fixtures are not on this machine")
    body = (SHARED_FIXTURES / "coingecko" / "coins_markets_EUR_2025-03-04_top30.json").read_bytes()
    with pytest.raises(PayloadError, match=r"wrong currency.*USDT 0\.949"):
        parse(CoinGeckoCollector(Settings()), "coingecko", body)


def test_a_coinmarketcap_body_in_another_currency_is_refused() -> None:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("the shared fixtures are not on this machine")
    path = SHARED_FIXTURES / "coinmarketcap" / "listings_latest_2024-09-17T1600Z_top20.json"
    body = json.loads(path.read_bytes())
    for listing in body["data"]:
        listing["quote"]["USD"]["price"] *= 0.79  # GBP, mislabelled as USD
    with pytest.raises(PayloadError, match="wrong currency"):
        parse(CoinMarketCapCollector(Settings()), "coinmarketcap", json.dumps(body).encode())
    assert len(parse(CoinMarketCapCollector(Settings()), "coinmarketcap", path.read_bytes())) == 20


def test_one_depegged_stablecoin_is_not_a_wrong_currency() -> None:
    """USDC at 0.87 (March 2023) while USDT holds 1.00: the body is still in USD."""
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    (usdc,) = (coin for coin in coins if coin["symbol"] == "usdc")
    usdc["current_price"] = 0.87
    items = parse(CoinGeckoCollector(Settings()), "coingecko", json.dumps(coins).encode())
    assert [item.value["price_usd"] for item in items if isinstance(item, Event)][3] == 0.87
    assert len([item for item in items if isinstance(item, Event)]) == 5


def test_a_single_stablecoin_gives_no_currency_verdict() -> None:
    """One stablecoin alone cannot tell a depeg from another currency: no verdict."""
    body = json.loads(data_bytes("listings_latest_2020-05-07_top20.json"))
    (usdt,) = (item for item in body["data"] if item["symbol"] == "USDT")
    usdt["quote"]["USD"]["price"] = 0.95
    items = parse(CoinMarketCapCollector(Settings()), "coinmarketcap", json.dumps(body).encode())
    assert len([item for item in items if isinstance(item, Event)]) == 20


# The hand-written map the derived one replaces: every entry is still what it derives.
HAND_MAP = {
    "xrp": "ripple", "bnb": "binancecoin", "binance-coin": "binancecoin",
    "bitcoin-sv": "bitcoin-cash-sv", "crypto-com-coin": "crypto-com-chain",
    "unus-sed-leo": "leo-token", "avalanche": "avalanche-2", "polkadot-new": "polkadot",
    "multi-collateral-dai": "dai", "usd-coin": "usd-coin", "toncoin": "the-open-network",
    "shiba-inu": "shiba-inu", "huobi-token": "huobi-token",
}  # fmt: skip


def test_every_shared_coinmarketcap_coin_gets_its_coingecko_id() -> None:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("the shared fixtures are not on this machine")
    for path in sorted((SHARED_FIXTURES / "coinmarketcap").glob("*.json")):
        listings = json.loads(path.read_bytes())["data"]
        items = parse(CoinMarketCapCollector(Settings()), "coinmarketcap", path.read_bytes())
        assert rejections(items) == {}, path.name
        for listing, item in zip(listings, items, strict=True):
            assert isinstance(item, Event)
            slug = listing["slug"]
            assert item.key == HAND_MAP.get(slug, item.key), slug
            if slug == "near-protocol":
                assert item.key == "near"  # CoinGecko's id, not CoinMarketCap's slug
            elif slug not in HAND_MAP:
                assert item.key == slug  # same id on both sources (bitcoin, tether, ...)


def test_a_coin_without_a_coingecko_id_is_refused_not_kept_under_its_slug() -> None:
    body = json.loads(data_bytes("listings_latest_2020-05-07_top20.json"))
    body["data"][5] |= {"slug": "made-up-coin", "symbol": "MUPC", "name": "Made Up Coin"}
    body["data"][6] |= {"slug": "wrapped-foo", "symbol": "BTC", "name": "Wrapped Foo"}
    items = parse(CoinMarketCapCollector(Settings()), "coinmarketcap", json.dumps(body).encode())
    refused = rejections(items)
    assert sorted(refused) == [5, 6]
    assert refused[5].kind == refused[6].kind == "unmapped_coin"
    assert refused[5].subject == "made-up-coin"
    assert "no CoinGecko coin has the symbol MUPC" in refused[5].reason
    assert "bitcoin" in refused[6].reason  # the candidate the names did not confirm
    assert {item.key for item in items if isinstance(item, Event)}.isdisjoint(
        {"made-up-coin", "wrapped-foo"}
    )


def test_the_coin_catalogue_is_what_the_shared_recordings_regenerate() -> None:
    """coingecko_coins.csv is generated from recorded CoinGecko bodies, not edited by hand."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("the shared fixtures are not on this machine")
    shipped = Path(coin_ids.__file__).parent / "data" / coin_ids.CATALOGUE
    assert coin_ids.regenerate(SHARED_FIXTURES) == shipped.read_text()
    assert set(coin_ids.catalogue()["near"]) == {"near"}  # CoinMarketCap's near-protocol


def test_the_replayed_market_keys_coins_as_the_collectors_do() -> None:
    """The replay market derives its CoinGecko ids with the same map: the default coin list."""
    assert [coin.coingecko_id for coin in baseline()] == DEFAULT_COIN_IDS
