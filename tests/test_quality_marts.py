"""The marts' expectations are dbt tests: they pass on good data, a corrupted mart fails the
very tests that state what it broke, and a stale or empty mart only warns."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from cryptoviz_assets.settings import Settings
from tests.marts_lake import Warehouse, built_warehouse, dbt_outcomes, run_dbt

MARTS = ("fct_", "dim_")  # the marts folder's naming convention
LENIENT = 1e7  # hours: the fixed data is from 2024; freshness is tested on its own
FRESH = [
    ("fct_price_bars_hourly", "fresh", "bar_start"),
    ("fct_price_bars_daily", "fresh", "bar_start"),
    ("fct_news_articles", "fresh", "published_at"),
]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return built_warehouse(tmp_path_factory)


def on_a_copy(good: Warehouse, tmp_path: Path, *statements: str, **changes: object) -> Settings:
    """Settings for a copy of the good build file, changed by `statements`."""
    copy = tmp_path / "build.duckdb"
    shutil.copyfile(good.build_file, copy)
    with duckdb.connect(str(copy)) as con:
        for statement in statements:
            con.execute(statement)
    update = {"warehouse_build_path": copy, "lake_max_staleness_hours": LENIENT, **changes}
    return good.settings.model_copy(update=update)


def dbt_test(settings: Settings, tmp_path: Path, *select: str) -> tuple[int, dict]:
    """`dbt test` of the selection on what is built (nothing is rebuilt): the exit code and
    each test's status by (model, kind, column)."""
    target = tmp_path / "target"
    done = run_dbt(settings, "test", "--select", *select, target=target)
    return done.returncode, dbt_outcomes(target)


def not_passed(outcomes: dict) -> dict:
    return {test: status for test, status in outcomes.items() if status != "pass"}


def test_every_mart_test_passes_on_good_data(good: Warehouse) -> None:
    """The fixed build (LAKE_MAX_STALENESS_HOURS at its default, 6): only the freshness of
    the data from 2024 warns."""
    outcomes = dbt_outcomes(good.target)
    marts = {test: status for test, status in outcomes.items() if test[0].startswith(MARTS)}
    assert len(marts) > 80
    assert not_passed(marts) == dict.fromkeys(FRESH, "warn")


def test_corrupted_marts_fail_the_tests_that_state_what_broke(
    good: Warehouse, tmp_path: Path
) -> None:
    settings = on_a_copy(
        good,
        tmp_path,
        "update marts.fct_fear_greed_daily set value = 140 where value = 70",
        # Episodes (pumpcoin's spike, divcoin's divergence): more minutes flagged than it
        # lasts; none at all, with no explanation; the same start twice; a mistyped column.
        "update marts.fct_anomaly_episodes set flagged_minutes = duration_minutes + 1"
        " where coin_id = 'pumpcoin'",
        "update marts.fct_anomaly_episodes"
        " set duration_minutes = 0, flagged_minutes = 0, explanation = null"
        " where coin_id = 'divcoin'",
        "insert into marts.fct_anomaly_episodes select * replace (md5(episode_id) as episode_id)"
        " from marts.fct_anomaly_episodes where coin_id = 'pumpcoin'",
        "alter table marts.fct_anomaly_episodes alter peak_value type varchar",
        "update marts.fct_sentiment_daily_coin set articles = null where coin_id = 'ethereum'",
        "update marts.fct_sentiment_daily_coin set articles = 0, mean_score = null"
        " where coin_id = 'bitcoin' and day = '2024-03-02'",
        "update marts.fct_sentiment_return_correlation set mean_score = 1.5"
        " where coin_id = 'bitcoin' and day = '2024-03-02'",
        "update marts.fct_price_minutes set sources = 0 where coin_id = 'volcoin'",
        "insert into marts.fct_stream_alerts (event_id, coin_id, severity, observed_value)"
        " values (null, null, 'bogus', 7.5)",
        # One bad price per bar, the others unknown; a bar of no tick.
        "insert into marts.fct_stream_price_bars"
        " (bar_minutes, coin_id, source, window_start, open, high, low, close, tick_count)"
        " values (1, 'a', 'coingecko', '2024-04-04 12:00', -1, null, null, null, 0),"
        " (1, 'b', 'coingecko', '2024-04-04 12:00', null, -1, null, 5, 1),"
        " (1, 'c', 'coingecko', '2024-04-04 12:00', null, null, -1, 5, 1),"
        " (1, 'd', 'coingecko', '2024-04-04 12:00', null, null, null, -1, 1)",
        "alter table marts.fct_news_articles drop column coins",
        "alter table marts.dim_coins alter last_seen type varchar",
    )
    code, outcomes = dbt_test(settings, tmp_path, "marts")
    assert code != 0  # error severity: `dbt build` fails, and nothing is published
    assert not_passed(outcomes) == {
        ("fct_fear_greed_daily", "between", "value"): "fail",
        ("fct_anomaly_episodes", "expression_is_true", None): "fail",
        ("fct_anomaly_episodes", "between", "duration_minutes"): "fail",
        ("fct_anomaly_episodes", "between", "flagged_minutes"): "fail",
        ("fct_anomaly_episodes", "not_null", "explanation"): "fail",
        ("fct_anomaly_episodes", "unique_combination", None): "fail",
        ("fct_anomaly_episodes", "column_types", None): "fail",
        ("fct_sentiment_daily_coin", "not_null", "articles"): "fail",
        ("fct_sentiment_daily_coin", "between", "articles"): "fail",
        ("fct_sentiment_daily_coin", "not_null", "mean_score"): "fail",
        ("fct_sentiment_return_correlation", "between", "mean_score"): "fail",
        ("fct_price_minutes", "between", "sources"): "fail",
        ("fct_stream_alerts", "not_null", "event_id"): "fail",
        ("fct_stream_alerts", "not_null", "coin_id"): "fail",
        ("fct_stream_alerts", "accepted_values", "severity"): "fail",
        ("fct_stream_price_bars", "between", "open"): "fail",
        ("fct_stream_price_bars", "between", "high"): "fail",
        ("fct_stream_price_bars", "between", "low"): "fail",
        ("fct_stream_price_bars", "between", "close"): "fail",
        ("fct_stream_price_bars", "not_null", "close"): "fail",
        ("fct_stream_price_bars", "between", "tick_count"): "fail",
        ("fct_stream_price_bars", "ohlc_consistent", None): "fail",  # b and c
        ("fct_news_articles", "column_types", None): "fail",
        ("dim_coins", "column_types", None): "fail",
    }


def newest_daily_bar_age_hours() -> float:
    newest = datetime(2024, 4, 4)  # the fixed lake's last day (its last hourly bar: 23:00)
    return (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds() / 3600


def test_stale_marts_only_warn_allowing_for_a_rows_period(good: Warehouse, tmp_path: Path) -> None:
    """Twelve hours short of the newest daily bar's age: a daily bar covers its whole day and
    the newest hourly bar is 23 hours younger, so only the news (2024-04-03 15:00) is stale."""
    changes = {"lake_max_staleness_hours": newest_daily_bar_age_hours() - 12}
    code, outcomes = dbt_test(on_a_copy(good, tmp_path, **changes), tmp_path, "test_name:fresh")
    assert code == 0
    assert outcomes == {
        ("fct_price_bars_hourly", "fresh", "bar_start"): "pass",
        ("fct_price_bars_daily", "fresh", "bar_start"): "pass",
        ("fct_news_articles", "fresh", "published_at"): "warn",
    }


def test_an_empty_mart_only_warns(good: Warehouse, tmp_path: Path) -> None:
    """A fresh deployment, or a source not running yet: the row count and freshness warn."""
    settings = on_a_copy(good, tmp_path, "delete from marts.fct_news_articles")
    code, outcomes = dbt_test(settings, tmp_path, "fct_news_articles")
    assert code == 0
    assert not_passed(outcomes) == {
        ("fct_news_articles", "not_empty", None): "warn",
        ("fct_news_articles", "fresh", "published_at"): "warn",
    }
