"""The shared run loop against a real broker: publish, dedup, dead-letter, isolate faults."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from confluent_kafka import Producer

from cryptoviz_assets.collectors.base import CollectorError, Event, RunReport, run_collector
from cryptoviz_assets.collectors.coingecko import CoinGeckoCollector
from cryptoviz_assets.collectors.coinmarketcap import CoinMarketCapCollector
from cryptoviz_assets.collectors.news import NewsCollector
from cryptoviz_assets.collectors.publisher import Publisher
from cryptoviz_assets.contract.events import validation_error
from cryptoviz_assets.defs.resources import KafkaResource
from cryptoviz_assets.kafka.topics import ensure_topics
from cryptoviz_assets.replay.recordings import data_bytes
from cryptoviz_assets.settings import Settings
from tests.collector_support import FaultServer, Reply, fast_retries, read_topic
from tests.test_collectors_parsing import parse, quoted_in

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>
<guid>x</guid><pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate></item></channel></rss>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&x;</title></channel></rss>"""
RSS = "application/rss+xml"


@pytest.fixture
def env(project_env: Settings, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    fast_retries(monkeypatch, SOURCE_MODE="live")
    ensure_topics(project_env)
    return monkeypatch


def producer() -> Producer:
    return KafkaResource.from_settings(Settings()).producer()


def run(collector_type: type, **kwargs: object) -> RunReport:
    return run_collector(collector_type(Settings(), **kwargs), producer())


def test_news_faults_never_stop_the_other_feeds(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    with FaultServer() as server:
        server.on("/good", Reply(200, data_bytes("coindesk_rss_2026-09-30.xml"), RSS))
        server.on("/bomb", Reply(200, BILLION_LAUGHS, RSS))
        server.on("/xxe", Reply(200, XXE, RSS))
        server.on("/down", Reply(500, b"down"))
        feeds = {name: f"{server.url}/{name}" for name in ("bomb", "good", "xxe", "down")}
        env.setenv("NEWS_FEEDS", json.dumps(feeds))
        with pytest.raises(CollectorError) as err:
            run(NewsCollector)
    report = err.value.report
    by_source = {s.source: s for s in report.sources}
    assert by_source["good"].published == 25
    assert by_source["good"].error is None
    assert "unsafe XML refused (EntitiesForbidden" in (by_source["bomb"].error or "")
    assert "unsafe XML refused" in (by_source["xxe"].error or "")
    assert "HTTP 500" in (by_source["down"].error or "")
    assert set(report.errors) == {"bomb", "xxe", "down"}

    news = read_topic(project_env, project_env.topic_news)
    assert len(news) == 25
    assert {r["key"] for r in news} == {"good"}
    assert all(validation_error("news_article", r["value"]) is None for r in news)
    dlq = {r["value"]["source"]: r["value"] for r in read_topic(project_env, project_env.topic_dlq)}
    assert set(dlq) == {"bomb", "xxe", "down"}
    assert dlq["bomb"]["stage"] == "parse"
    assert dlq["bomb"]["raw"].startswith('<?xml version="1.0"?>\n<!DOCTYPE lolz')
    assert dlq["bomb"]["intended_topic"] == project_env.topic_news
    assert dlq["down"]["stage"] == "fetch"
    assert all(validation_error("dead_letter", record) is None for record in dlq.values())


def test_news_already_seen_is_not_republished(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    with FaultServer() as server:
        server.on("/feed", Reply(200, data_bytes("coindesk_rss_2026-09-30.xml"), RSS))
        env.setenv("NEWS_FEEDS", json.dumps({"coindesk": f"{server.url}/feed"}))
        first = run(NewsCollector)
        second = run(NewsCollector)
    assert (first.total("published"), first.total("deduplicated")) == (25, 0)
    assert (second.total("fetched"), second.total("published")) == (25, 0)
    assert second.total("deduplicated") == 25
    assert len(read_topic(project_env, project_env.topic_news)) == 25


def test_truncated_json_is_dead_lettered_with_its_raw_body(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    body = data_bytes("coins_markets_usd_2023-01-02_top5.json")[:700]
    with FaultServer() as server:
        server.on("/api/v3/coins/markets", Reply(200, body))
        env.setenv("COINGECKO_BASE_URL", f"{server.url}/api/v3")
        with pytest.raises(CollectorError, match="coingecko: unreadable payload: invalid JSON"):
            run(CoinGeckoCollector)
    (dead,) = read_topic(project_env, project_env.topic_dlq)
    assert dead["key"] == "coingecko"
    assert dead["value"]["stage"] == "parse"
    assert dead["value"]["raw"] == body.decode()
    assert read_topic(project_env, project_env.topic_prices) == []


def test_bad_records_go_to_the_dlq_and_the_rest_publishes(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    coins[1]["current_price"] = None  # parses, but the contract refuses it
    coins[2]["last_updated"] = "yesterday"  # does not parse
    coins.append(dict(coins[0]))  # the same record twice in one payload
    with FaultServer() as server:
        server.on("/api/v3/coins/markets", Reply(200, json.dumps(coins).encode()))
        env.setenv("COINGECKO_BASE_URL", f"{server.url}/api/v3")
        report = run(CoinGeckoCollector)
        again = run(CoinGeckoCollector)
    assert report.ok
    assert report.total("fetched") == 6
    assert report.total("published") == 3
    assert report.total("dead_lettered") == 2
    assert report.total("deduplicated") == 1
    assert (again.total("published"), again.total("deduplicated")) == (0, 4)  # prices too
    prices = read_topic(project_env, project_env.topic_prices)
    assert sorted(r["key"] for r in prices) == ["binancecoin", "bitcoin", "usd-coin"]
    assert all(r["headers"]["event_type"] == b"price_tick" for r in prices)
    dlq = sorted((r["value"]["stage"], r["value"]["reason"][:40]) for r in read_topic(
        project_env, project_env.topic_dlq
    ))  # fmt: skip
    assert [stage for stage, _ in dlq] == ["parse", "parse", "validate", "validate"]
    assert any("price_usd" in reason for _, reason in dlq)


def test_one_coins_events_keep_one_partition(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    with FaultServer() as server:
        for name in (
            "coins_markets_usd_2023-01-02_top5.json",
            "coins_markets_usd_2020-05-07_8coins.json",
        ):
            server.on(f"/{name}/coins/markets", Reply(200, data_bytes(name)))
            env.setenv("COINGECKO_BASE_URL", f"{server.url}/{name}")
            run(CoinGeckoCollector)
    partitions: dict[str, set[int]] = {}
    for record in read_topic(project_env, project_env.topic_prices):
        partitions.setdefault(record["value"]["coin_id"], set()).add(record["partition"])
    assert len([coin for coin in partitions if coin in ("bitcoin", "ethereum")]) == 2
    assert all(len(found) == 1 for found in partitions.values())


def test_coinmarketcap_without_a_key_in_live_mode_is_skipped(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.delenv("COINMARKETCAP_API_KEY", raising=False)
    report = run(CoinMarketCapCollector)
    assert report.skipped is not None
    assert "no COINMARKETCAP_API_KEY" in report.skipped
    assert report.sources == []


def test_coinmarketcap_sends_its_key_in_the_header(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    env.setenv("COINMARKETCAP_API_KEY", "cmc-test-key")
    with FaultServer() as server:
        server.on(
            "/v1/cryptocurrency/listings/latest",
            Reply(200, data_bytes("listings_latest_2020-05-07_top20.json")),
        )
        env.setenv("COINMARKETCAP_BASE_URL", server.url)
        report = run(CoinMarketCapCollector)
        (_, path, headers) = server.seen[0]
    assert report.total("published") == 20
    assert headers["X-CMC_PRO_API_KEY"] == "cmc-test-key"
    assert "limit=20" in path


def test_non_finite_numbers_and_null_ids_are_dead_lettered_and_the_rest_publishes(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    coins[0]["current_price"] = float("nan")
    coins[1]["id"] = None
    with FaultServer() as server:
        server.on("/api/v3/coins/markets", Reply(200, json.dumps(coins).encode()))
        env.setenv("COINGECKO_BASE_URL", f"{server.url}/api/v3")
        report = run(CoinGeckoCollector)
    assert (report.total("published"), report.total("dead_lettered")) == (3, 2)
    prices = read_topic(project_env, project_env.topic_prices)  # strict JSON, or it raises
    assert sorted(r["key"] for r in prices) == ["binancecoin", "tether", "usd-coin"]
    dlq = [r["value"] for r in read_topic(project_env, project_env.topic_dlq)]
    reasons = [record["reason"] for record in dlq]
    assert any("non-finite number" in reason for reason in reasons)
    assert any("id is null" in reason for reason in reasons)
    assert all(record["stage"] == "parse" for record in dlq)


def test_the_publisher_never_emits_non_standard_json(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    """The last guard: whatever a collector builds, NaN never reaches the broker."""
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    (event,) = parse(CoinGeckoCollector(Settings()), "coingecko", json.dumps(coins[:1]).encode())
    assert isinstance(event, Event)
    publisher = Publisher(producer(), project_env.topic_dlq)
    value = event.value | {"change_1h_pct": float("nan")}
    problem = publisher.publish("price_tick", project_env.topic_prices, event.key, value)
    assert problem is not None
    assert "NaN" in problem
    assert publisher.publish("price_tick", project_env.topic_prices, event.key, event.value) is None
    publisher.flush()
    (published,) = read_topic(project_env, project_env.topic_prices)
    assert published["value"] == event.value


def test_a_body_in_another_currency_fails_the_run_and_is_dead_lettered(
    env: pytest.MonkeyPatch, project_env: Settings
) -> None:
    coins = json.loads(data_bytes("coins_markets_usd_2023-01-02_top5.json"))
    with FaultServer() as server:
        server.on("/api/v3/coins/markets", Reply(200, quoted_in(0.92, coins)))
        env.setenv("COINGECKO_BASE_URL", f"{server.url}/api/v3")
        with pytest.raises(CollectorError, match=r"coingecko: .*wrong currency"):
            run(CoinGeckoCollector)
    assert read_topic(project_env, project_env.topic_prices) == []
    (dead,) = read_topic(project_env, project_env.topic_dlq)
    assert dead["value"]["stage"] == "parse"
    assert "wrong currency" in dead["value"]["reason"]


def test_unmapped_coins_are_counted_in_the_assets_metadata(
    env: pytest.MonkeyPatch, project_env: Settings, dagster_instance: dg.DagsterInstance
) -> None:
    """What the Dagster UI shows on coinmarketcap_prices: how many coins, and which."""
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    body = json.loads(data_bytes("listings_latest_2020-05-07_top20.json"))
    body["data"][5] |= {"slug": "made-up-coin", "symbol": "MUPC", "name": "Made Up Coin"}
    env.setenv("COINMARKETCAP_API_KEY", "cmc-test-key")
    with FaultServer() as server:
        server.on("/v1/cryptocurrency/listings/latest", Reply(200, json.dumps(body).encode()))
        env.setenv("COINMARKETCAP_BASE_URL", server.url)
        job = defs.get_job_def("collect_coinmarketcap")
        result = job.execute_in_process(instance=dagster_instance)
    (materialization,) = result.asset_materializations_for_node("coinmarketcap_prices")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["published"] == 19
    assert metadata["unmapped_coins"] == 1
    assert metadata["unmapped_coin_list"] == ["made-up-coin"]
    dlq = [r["value"] for r in read_topic(project_env, project_env.topic_dlq)]
    assert [record["reason"][:13] for record in dlq] == ["unmapped coin"]
    prices = read_topic(project_env, project_env.topic_prices)
    assert "made-up-coin" not in {r["key"] for r in prices}
