"""End to end: replay server -> collector jobs run by Dagster -> broker -> consumed events.

The collectors run unchanged against the replay server (SOURCE_MODE=replay) on a free
loopback port, as Dagster runs on a real instance configured by the project's dagster.yaml.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.definitions.schedule_definition import ScheduleExecutionData

from cryptoviz_assets.collectors.registry import SOURCES
from cryptoviz_assets.contract.events import validation_error
from cryptoviz_assets.defs.sources.schedules import collector_schedule
from cryptoviz_assets.replay.server import ReplayApp, ReplayServer
from cryptoviz_assets.settings import Settings
from tests.collector_support import FaultServer, Reply, fast_retries, read_topic

T0 = 1_800_000_000.0 + 5 * 60  # tick 5 of a cycle: bitcoin's injected spike is on


@pytest.fixture
def replay(project_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplayServer]:
    with ReplayServer(ReplayApp("market", seed=42, clock=lambda: T0)) as server:
        monkeypatch.setenv("SOURCE_MODE", "replay")
        monkeypatch.setenv("REPLAY_PORT", str(server.port))
        monkeypatch.delenv("COINMARKETCAP_API_KEY", raising=False)
        fast_retries(monkeypatch)
        yield server


def run_job(name: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    return defs.get_job_def(name).execute_in_process(instance=instance, raise_on_error=False)


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in materialization.metadata.items()}


def test_replay_to_collectors_to_broker(
    replay: ReplayServer, project_env: Settings, dagster_instance: dg.DagsterInstance
) -> None:
    jobs = {
        "collect_coingecko": "coingecko_prices",
        "collect_coinmarketcap": "coinmarketcap_prices",
        "collect_news": "crypto_news",
        "collect_fear_greed": "fear_greed_index",
        "backfill_fear_greed_history": "fear_greed_history",
    }
    meta = {}
    for job, asset in jobs.items():
        result = run_job(job, dagster_instance)
        assert result.success, job
        meta[asset] = metadata_of(result, asset)
        run = dagster_instance.get_run_by_id(result.run_id)
        assert run is not None
        assert run.tags["cryptoviz/kind"] == "collector"
    assert dagster_instance.get_run_by_id(result.run_id).tags["cryptoviz/collector"] == "fear_greed"  # type: ignore[union-attr]

    coingecko = meta["coingecko_prices"]
    assert (coingecko["fetched"], coingecko["published"], coingecko["dead_lettered"]) == (20, 20, 0)
    assert coingecko["replayed"] is True
    assert coingecko["breaker_state"] == {"coingecko": "closed"}
    assert coingecko["budget_remaining"] == {"coingecko": {"minute": 29, "month": 9999}}
    assert isinstance(coingecko["latency_ms"], float)
    assert meta["coinmarketcap_prices"]["published"] == 20  # the replay key stands in
    # generated per feed, plus the first recorded CoinDesk item (one more each market minute)
    assert meta["crypto_news"]["published"] == 20 + 1 + 20
    assert meta["fear_greed_index"]["published"] == 1
    history = meta["fear_greed_history"]
    assert history["deduplicated"] == 1  # today was published by fear_greed_index already
    assert history["published"] == history["fetched"] - 1

    # Every record on the broker is a schema-valid, replayed event.
    prices = read_topic(project_env, project_env.topic_prices)
    news = read_topic(project_env, project_env.topic_news)
    sentiment = read_topic(project_env, project_env.topic_market_sentiment)
    assert read_topic(project_env, project_env.topic_dlq) == []
    for records, record_type in ((prices, "price_tick"), (news, "news_article"),
                                 (sentiment, "market_sentiment")):  # fmt: skip
        for record in records:
            assert validation_error(record_type, record["value"]) is None
            assert record["value"]["replayed"] is True
    assert Counter(r["value"]["source"] for r in prices) == {"coingecko": 20, "coinmarketcap": 20}
    assert all(r["key"] == r["value"]["coin_id"] for r in prices)
    assert Counter(r["key"] for r in news) == {"coindesk": 21, "cointelegraph": 20}
    assert len(sentiment) == history["fetched"]
    assert len({r["value"]["index_date"] for r in sentiment}) == len(sentiment)

    # The moving market's injected events are in the data the analytics will read.
    by_source = {(r["value"]["source"], r["key"]): r["value"] for r in prices}
    btc = by_source[("coingecko", "bitcoin")]
    assert btc["change_1h_pct"] > 5  # tick 5: the +7% spike
    assert btc["event_time"].startswith("2027-01-15T08:05:")

    # A second round republishes nothing: same ticks, same news, same day.
    for job, asset in jobs.items():
        again = metadata_of(run_job(job, dagster_instance), asset)
        assert again["published"] == 0, asset
        assert again["deduplicated"] == again["fetched"], asset


def test_a_failing_source_fails_only_its_own_run(
    replay: ReplayServer,
    project_env: Settings,
    dagster_instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FaultServer() as broken:
        broken.on("/feed", Reply(500, b"upstream down", content_type="text/plain"))
        monkeypatch.setenv("NEWS_FEEDS", json.dumps({"brokenfeed": f"{broken.url}/feed"}))
        news = run_job("collect_news", dagster_instance)
    prices = run_job("collect_coingecko", dagster_instance)
    assert prices.success
    assert not news.success
    failure = next(e for e in news.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error  # type: ignore[union-attr]
    assert error is not None
    assert "brokenfeed: brokenfeed: HTTP 500" in error.message
    user_failure = failure.step_failure_data.user_failure_data  # type: ignore[union-attr]
    assert user_failure is not None
    assert user_failure.metadata["dead_lettered"].value == 1
    (dead,) = read_topic(project_env, project_env.topic_dlq)
    assert dead["value"]["source"] == "brokenfeed"
    assert dead["value"]["raw"] == "upstream down"


def schedule(name: str) -> dg.ScheduleDefinition:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    return defs.get_schedule_def(name)


def test_schedules_run_by_default_at_the_configured_intervals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    for source in ("COINGECKO", "COINMARKETCAP", "NEWS", "FEAR_GREED", "BINANCE"):
        monkeypatch.delenv(f"{source}_POLL_SECONDS", raising=False)
    quiet = Settings(_env_file=None)  # type: ignore[call-arg]
    defaults = [collector_schedule(source, quiet) for source in SOURCES]
    crons = {s.name: s.cron_schedule for s in defaults}
    assert {s.name for s in defs.schedules} >= set(crons)
    assert crons == {
        "coingecko_schedule": "* * * * *",
        "coinmarketcap_schedule": "*/2 * * * *",
        "news_schedule": "*/5 * * * *",
        "fear_greed_schedule": "*/5 * * * *",
        "binance_schedule": "* * * * *",
    }
    for s in defaults:
        assert s.default_status == dg.DefaultScheduleStatus.RUNNING
        job = defs.get_job_def(s.job_name)
        assert job.tags["cryptoviz/kind"] == "collector"
        assert job.tags["cryptoviz/collector"] == s.name.removesuffix("_schedule")


def test_coinmarketcap_schedule_skips_visibly_without_a_key(
    project_env: Settings, monkeypatch: pytest.MonkeyPatch, dagster_instance: dg.DagsterInstance
) -> None:
    monkeypatch.delenv("COINMARKETCAP_API_KEY", raising=False)
    cmc = schedule("coinmarketcap_schedule")
    monkeypatch.setenv("SOURCE_MODE", "live")
    context = dg.build_schedule_context(instance=dagster_instance)
    tick = cmc.evaluate_tick(context)
    assert tick.run_requests == []
    assert "no COINMARKETCAP_API_KEY" in (tick.skip_message or "")
    monkeypatch.setenv("SOURCE_MODE", "replay")
    assert len(cmc.evaluate_tick(context).run_requests or []) == 1


def test_schedule_skips_while_its_previous_run_is_unfinished(
    project_env: Settings, dagster_instance: dg.DagsterInstance
) -> None:
    """A collection still running (or queued: the same filter): the next tick requests
    nothing, so a slow source never piles up stale runs; another collector's runs do not
    hold it back."""
    gecko = schedule("coingecko_schedule")

    def tick() -> ScheduleExecutionData:
        return gecko.evaluate_tick(dg.build_schedule_context(instance=dagster_instance))

    running = dg.DagsterRunStatus.STARTED
    dagster_instance.add_run(dg.DagsterRun(job_name="collect_news", status=running))
    assert len(tick().run_requests or []) == 1
    previous = dagster_instance.add_run(dg.DagsterRun(job_name="collect_coingecko", status=running))
    skipped = tick()
    assert skipped.run_requests == []
    assert skipped.skip_message == "the previous coingecko collection has not finished yet"
    dagster_instance.report_run_canceled(previous)
    assert len(tick().run_requests or []) == 1


def test_schedule_skips_while_the_breaker_is_open(
    project_env: Settings, monkeypatch: pytest.MonkeyPatch, dagster_instance: dg.DagsterInstance
) -> None:
    fast_retries(monkeypatch, BREAKER_FAIL_MAX="1", HTTP_MAX_ATTEMPTS="1")
    with FaultServer() as broken:
        broken.on("/api/v3/coins/markets", Reply(503, b""))
        monkeypatch.setenv("COINGECKO_BASE_URL", f"{broken.url}/api/v3")
        assert not run_job("collect_coingecko", dagster_instance).success
        context = dg.build_schedule_context(instance=dagster_instance)
        tick = schedule("coingecko_schedule").evaluate_tick(context)
    assert tick.run_requests == []
    assert "coingecko: circuit breaker open until" in (tick.skip_message or "")
