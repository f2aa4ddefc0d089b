"""What stops a bad build in Dagster: a critical Great Expectations failure on the lake blocks
the dbt build and the publish; a mart failing an error-severity dbt test is not published; a
warning (a stale lake or mart) blocks nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from cryptoviz_assets.contract.events import event_id
from tests.marts_lake import T0, tick, write_lake, write_ticks
from tests.test_marts_dagster import marts_env


def test_corrupted_lake_blocks_everything_downstream(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    settings = marts_env(monkeypatch, tmp_path)
    lake = Path(settings.lake_uri)
    write_lake(lake)
    write_ticks(lake, [tick("coingecko", "badcoin", T0.replace(month=4, day=4), -1.0)], "bad")
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    result = defs.resolve_job_def("marts_build").execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    assert not result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    gate = checks["gx_lake_price_ticks"]
    assert not gate.passed
    assert gate.severity == dg.AssetCheckSeverity.ERROR
    failed = gate.metadata["failed_expectations"].value
    assert isinstance(failed, list)
    price = next(f for f in failed if f.get("column") == "price_usd")
    assert price["partial_unexpected_list"] == [-1.0]
    # Nothing downstream ran: no model was built, nothing was published.
    assert result.get_asset_materialization_events() == []
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "lake__price_ticks_gx_lake_price_ticks" in started
    assert not {"cryptoviz_dbt", "warehouse_snapshot"} & started
    assert not settings.warehouse_path.exists()
    assert not settings.warehouse_build_file.exists()


def write_alert(lake: Path, severity: str) -> None:
    """One real-time alert in the lake (a table no GX suite gates), as the prices job lands
    it: times as ISO-8601 strings."""
    at = "2024-04-04T12:00:00Z"
    alert = {
        "event_id": event_id("price_spike", "bitcoin", "coingecko", at),
        "coin_id": "bitcoin",
        "source": "coingecko",
        "alert_type": "price_range_spike",
        "severity": severity,
        "window_start": at,
        "window_end": "2024-04-04T12:01:00Z",
        "observed_value": 7.5,
        "threshold": 5.0,
        "explanation": "bitcoin moved 7.5 % within a minute",
        "event_time": at,
        "date": date(2024, 4, 4),
    }
    write_deltalake(lake / "price_alerts", pa.Table.from_pylist([alert]), partition_by=["date"])


def test_a_mart_failing_a_dbt_test_is_not_published(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    settings = marts_env(monkeypatch, tmp_path)
    lake = Path(settings.lake_uri)
    write_lake(lake)
    write_alert(lake, "bogus")  # fct_stream_alerts accepts warning or critical
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()
    result = defs.resolve_job_def("marts_build").execute_in_process(
        instance=dagster_instance, raise_on_error=False
    )
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [(e.asset_key, e.check_name, e.severity) for e in failed] == [
        (
            dg.AssetKey(["marts", "fct_stream_alerts"]),
            "accepted_values_fct_stream_alerts_severity__warning__critical",
            dg.AssetCheckSeverity.ERROR,
        )
    ]
    # The lake gates passed and dbt built the marts, but the snapshot was not published.
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["marts", "fct_stream_alerts"]) in materialized
    assert dg.AssetKey("warehouse_snapshot") not in materialized
    assert settings.warehouse_build_file.exists()
    assert not settings.warehouse_path.exists()


def test_stale_data_only_warns_and_is_published(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    """The fixed lake is from 2024: with a one-hour freshness limit every freshness check
    warns, the lake's GX suites and the marts' dbt tests alike, and the build is published."""
    settings = marts_env(monkeypatch, tmp_path)
    monkeypatch.setenv("LAKE_MAX_STALENESS_HOURS", "1")
    write_lake(Path(settings.lake_uri))
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()
    result = defs.resolve_job_def("marts_build").execute_in_process(instance=dagster_instance)
    assert result.success
    failing = {
        (e.asset_key.path[-1], e.check_name): e.severity
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
    stale = [
        ("price_ticks", "gx_lake_price_ticks"),
        ("news_articles", "gx_lake_news_articles"),
        ("market_sentiment", "gx_lake_market_sentiment"),
        ("fct_price_bars_hourly", "fresh_fct_price_bars_hourly_bar_start__1_hour"),
        ("fct_price_bars_daily", "fresh_fct_price_bars_daily_bar_start__1_day"),
        ("fct_news_articles", "fresh_fct_news_articles_published_at"),
    ]
    assert failing == dict.fromkeys(stale, dg.AssetCheckSeverity.WARN)
    assert settings.warehouse_path.exists()
