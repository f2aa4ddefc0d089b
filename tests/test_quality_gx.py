"""Great Expectations suites on the lake: pass on good data, fail with the evidence on
corrupted data. The marts' expectations are dbt tests (test_quality_marts.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from cryptoviz_assets.analytics.dbt import ensure_manifest
from cryptoviz_assets.defs.quality.checks import run_suite
from cryptoviz_assets.quality.suites import LAKE_SUITES, Suite
from cryptoviz_assets.settings import Settings
from tests.marts_lake import (
    NEWS_SCHEMA,
    T0,
    TICK_SCHEMA,
    article,
    dbt_tests,
    make_settings,
    tick,
    write_lake,
    write_table,
    write_ticks,
)

LENIENT = 1e7  # hours: the fixed data is from 2024; freshness is tested on its own


def suite(name: str) -> Suite:
    return next(s for s in LAKE_SUITES if s.name == name)


def failed(result: dg.AssetCheckResult) -> dict[str, dict]:
    """Failed expectations by 'Expectation:column'."""
    items = result.metadata["failed_expectations"].value
    assert isinstance(items, list)
    return {f"{i['expectation']}:{i.get('column', i.get('column_list'))}": i for i in items}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The fixed lake (the suites read the lake only: nothing is built)."""
    settings = make_settings(tmp_path_factory.mktemp("lake"))
    write_lake(Path(settings.lake_uri))
    return settings


def lenient(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update={"lake_max_staleness_hours": LENIENT, **changes})


@pytest.mark.parametrize("name", [s.name for s in LAKE_SUITES])
def test_every_suite_passes_on_good_data(good: Settings, name: str) -> None:
    result = run_suite(suite(name), lenient(good))
    assert result.passed, result.metadata["summary"].value
    assert result.metadata["failed"].value == 0


def test_every_lake_table_has_a_suite_and_every_mart_its_dbt_tests() -> None:
    """The collected lake tables are checked by GX, in front of dbt; the marts by dbt tests
    only: their column types, not-null columns and key."""
    assert {s.table for s in LAKE_SUITES} == {"price_ticks", "news_articles", "market_sentiment"}
    from cryptoviz_assets.definitions import defs as load_definitions

    checks = load_definitions().resolve_asset_graph().asset_check_keys
    assert {c.asset_key.path[0] for c in checks if c.name.startswith("gx_")} == {"lake"}

    models = Path(__file__).parent.parent / "dbt_project" / "models" / "marts"
    marts = {p.stem for p in models.glob("*.sql")}
    assert len(marts) == 11
    tests = dbt_tests(ensure_manifest())
    for mart in marts:
        kinds = {t.kind for t in tests if t.on == mart and t.severity == "ERROR"}
        assert {"column_types", "not_null"} <= kinds, mart
        assert kinds & {"unique", "unique_combination"}, mart


# The dbt test that would state a GX expectation again; table-level ones have no column.
DBT_KIND = {
    "ExpectColumnValuesToBeInTypeList": "column_types",
    "ExpectColumnMaxToBeBetween": "fresh",
    "ExpectColumnValuesToNotBeNull": "not_null",
    "ExpectColumnValuesToBeBetween": "between",
    "ExpectColumnValuesToBeInSet": "accepted_values",
    "ExpectColumnValuesToBeUnique": "unique",
    "ExpectCompoundColumnsToBeUnique": "unique_combination",
    "ExpectTableRowCountToBeBetween": "not_empty",
}
TABLE_LEVEL = {"column_types", "unique_combination", "not_empty"}
# Not a repeat: the lake may hold an article twice (its GX uniqueness only warns), the
# staging model keeps the first landing, and its dbt test checks that.
STAGING_OWN = {("stg_news_articles", "unique", "event_id")}


def test_no_expectation_is_stated_twice() -> None:
    """A lake table's expectations are its GX suite's: no dbt test on its source, nor on the
    staging model that reads it, states one again (and the source has no dbt freshness)."""
    manifest = ensure_manifest()
    tests = dbt_tests(manifest)
    sources = json.loads(manifest.read_text())["sources"]
    for suite in LAKE_SUITES:
        gx = set()
        for expect in suite.all_expectations():
            kind = DBT_KIND[expect.kind]  # a new kind of expectation needs its dbt name here
            gx.add((kind, None if kind in TABLE_LEVEL else expect.kwargs["column"]))
        source = f"source.cryptoviz.lake.{suite.table}"
        readers = {source, f"model.cryptoviz.stg_{suite.table}"}
        dbt = {
            (t.kind, t.column)
            for t in tests
            if t.node in readers and (t.on, t.kind, t.column) not in STAGING_OWN
        }
        assert gx & dbt == set(), suite.table
        freshness = sources[source]["freshness"] or {}
        assert not any((freshness.get(w) or {}).get("count") for w in ("warn_after", "error_after"))


def test_stale_lake_only_warns(good: Settings) -> None:
    result = run_suite(
        suite("lake_price_ticks"), good.model_copy(update={"lake_max_staleness_hours": 1})
    )
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    freshness = failed(result)["ExpectColumnMaxToBeBetween:event_time"]
    assert freshness["critical"] is False
    assert freshness["observed_value"].startswith("2024-04-04 23:50:35")


@pytest.mark.parametrize("table", ["price_ticks", "news_articles", "market_sentiment"])
def test_a_lake_table_nothing_has_landed_in_only_warns(tmp_path: Path, table: str) -> None:
    """A fresh deployment, or a source not running yet: no Delta table at all. The row count
    and freshness warn; nothing blocks the marts of the tables that did land."""
    result = run_suite(suite(f"lake_{table}"), make_settings(tmp_path))
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["rows_validated"].value == 0
    assert {name.split(":")[0] for name in failed(result)} == {
        "ExpectColumnMaxToBeBetween",
        "ExpectTableRowCountToBeBetween",
    }


def test_freshness_allows_for_a_daily_rows_period(good: Settings) -> None:
    """A daily row is stamped with its midnight: it is not stale until a day past the limit."""
    newest = datetime(2024, 4, 4, 23, 50, 35)  # the fixed lake's newest tick
    age_hours = (datetime.now(UTC).replace(tzinfo=None) - newest).total_seconds() / 3600
    settings = good.model_copy(update={"lake_max_staleness_hours": age_hours - 12})
    as_intraday = suite("lake_price_ticks")
    as_daily = dataclasses.replace(as_intraday, time_grain=timedelta(days=1))

    stale = failed(run_suite(as_intraday, settings))
    assert "ExpectColumnMaxToBeBetween:event_time" in stale
    assert run_suite(as_daily, settings).passed


@pytest.fixture
def corrupted_lake(tmp_path: Path) -> Settings:
    """The fixed lake plus a negative price, a duplicate tick and an out-of-range score."""
    settings = make_settings(tmp_path)
    lake = Path(settings.lake_uri)
    write_lake(lake)
    last_day = T0.replace(day=4, month=4, hour=12)
    bad = tick("coingecko", "badcoin", last_day, -5.0)
    write_ticks(lake, [bad, dict(bad)], "part-corrupt")  # the same event_id twice
    write_table(
        lake,
        "news_articles",
        [article(9999, last_day, 1.7, ["bitcoin"])],
        NEWS_SCHEMA,
        "part-corrupt",
    )
    return lenient(settings)


def test_corrupted_lake_fails_critically_with_observed_values(corrupted_lake: Settings) -> None:
    ticks = run_suite(suite("lake_price_ticks"), corrupted_lake)
    assert not ticks.passed
    assert ticks.severity == dg.AssetCheckSeverity.ERROR
    problems = failed(ticks)
    price = problems["ExpectColumnValuesToBeBetween:price_usd"]
    assert price["critical"] is True
    assert price["unexpected_count"] == 2
    assert price["partial_unexpected_list"] == [-5.0, -5.0]
    assert problems["ExpectColumnValuesToBeUnique:event_id"]["unexpected_count"] == 2
    # market cap = price x supply is negative too
    assert set(problems) == {
        "ExpectColumnValuesToBeBetween:price_usd",
        "ExpectColumnValuesToBeBetween:market_cap_usd",
        "ExpectColumnValuesToBeUnique:event_id",
    }
    assert ticks.metadata["failed_critical"].value == 3
    assert "price_usd" in ticks.metadata["summary"].value

    news = run_suite(suite("lake_news_articles"), corrupted_lake)
    assert news.severity == dg.AssetCheckSeverity.ERROR
    score = failed(news)["ExpectColumnValuesToBeBetween:sentiment_score"]
    assert score["partial_unexpected_list"] == [1.7]


def test_unreadable_lake_is_a_critical_failure(tmp_path: Path) -> None:
    """A committed data file of the newest partition is garbage: reading it fails."""
    settings = lenient(make_settings(tmp_path))
    table = write_table(
        Path(settings.lake_uri),
        "price_ticks",
        [tick("coingecko", "bitcoin", T0.replace(month=4, day=4), 100.0)],
        TICK_SCHEMA,
        "part-0",
    )
    (data_file,) = (table / "date=2024-04-04").glob("*.parquet")
    data_file.write_bytes(b"not parquet")
    result = run_suite(suite("lake_price_ticks"), settings)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert "error" in result.metadata
