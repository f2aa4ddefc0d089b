"""Incremental builds: new lake data gives the same marts as a full build; a re-run with no
new data changes nothing; an empty lake builds empty marts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from tests.marts_lake import (
    ANOMALY_START,
    Warehouse,
    anomaly_ticks,
    bitcoin_ticks,
    build,
    built_warehouse,
    make_settings,
    table,
    write_lake,
    write_ticks,
)

# Every model a build materializes as a table, with the columns that identify a row.
TABLES = {
    "intermediate.int_price_minutes": ["coin_id", "source", "minute_start"],
    "intermediate.int_price_bars_hourly": ["coin_id", "source", "bar_start"],
    "intermediate.int_price_bars_daily": ["coin_id", "source", "bar_start"],
    "marts.fct_price_bars_hourly": ["coin_id", "source", "bar_start"],
    "marts.fct_price_bars_daily": ["coin_id", "source", "bar_start"],
    "marts.fct_price_minutes": ["coin_id", "minute_start"],
    "intermediate.int_anomaly_minutes": ["coin_id", "alert_type", "series", "minute_start"],
    "marts.fct_anomaly_episodes": ["episode_id"],
    "marts.fct_news_articles": ["event_id"],
    "marts.fct_sentiment_daily_coin": ["coin_id", "day"],
    "marts.fct_fear_greed_daily": ["index_date"],
    "marts.fct_sentiment_return_correlation": ["coin_id", "day"],
    "marts.dim_coins": ["coin_id"],
}
CUT = ANOMALY_START + timedelta(minutes=25)  # mid-way through the anomaly series
# price_alerts as the prices job lands it (price_alert.v1, its times as ISO-8601 strings).
ALERT_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int64()),
        *((name, pa.string()) for name in ("event_id", "event_type", "source")),
        ("event_time", pa.string()),
        ("ingest_time", pa.string()),
        ("replayed", pa.bool_()),
        *((name, pa.string()) for name in ("coin_id", "alert_type", "severity")),
        ("window_start", pa.string()),
        ("window_end", pa.string()),
        ("observed_value", pa.float64()),
        ("threshold", pa.float64()),
        ("explanation", pa.string()),
        ("landed_at", pa.timestamp("us", tz="UTC")),
        ("date", pa.date32()),
    ]
)


def contents(build_file: Path) -> dict[str, pd.DataFrame]:
    return {
        name: table(build_file, f"select * from {name}").sort_values(keys).reset_index(drop=True)
        for name, keys in TABLES.items()
    }


def assert_same(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame], exact: bool) -> None:
    for name in TABLES:
        a, b = left[name], right[name]
        assert list(a.columns) == list(b.columns), name
        assert len(a) == len(b), f"{name}: {len(a)} vs {len(b)} rows"
        for column in a.columns:
            if exact or not pd.api.types.is_float_dtype(a[column]):
                pd.testing.assert_series_equal(a[column], b[column], obj=f"{name}.{column}")
            else:  # window sums may add in another order: equal to the last few bits
                np.testing.assert_allclose(
                    a[column], b[column], rtol=1e-12, equal_nan=True, err_msg=f"{name}.{column}"
                )


@pytest.fixture(scope="module")
def incremental(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, pd.DataFrame]]:
    """Build on the lake up to CUT, land the rest as new Delta versions, build again, then
    again."""
    root = tmp_path_factory.mktemp("marts-incremental")
    settings = make_settings(root)
    lake = Path(settings.lake_uri)
    write_lake(lake, until=CUT)
    build(settings, root / "target")
    first = contents(settings.warehouse_build_file)
    late = [r for r in bitcoin_ticks() + anomaly_ticks() if r["event_time"] >= CUT]
    write_ticks(lake, late, "part-1")
    build(settings, root / "target")
    second = contents(settings.warehouse_build_file)
    build(settings, root / "target")
    third = contents(settings.warehouse_build_file)
    return {"first": first, "second": second, "third": third}


def test_incremental_build_equals_full_build(
    incremental: dict[str, dict[str, pd.DataFrame]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    full: Warehouse = built_warehouse(tmp_path_factory)
    # The late versions matter: before them the minutes stopped short of the cut.
    cut = pd.Timestamp(CUT.replace(tzinfo=None))
    assert incremental["first"]["intermediate.int_price_minutes"]["minute_start"].max() < cut
    assert incremental["second"]["intermediate.int_price_minutes"]["minute_start"].max() > cut
    assert_same(incremental["second"], contents(full.build_file), exact=False)


def test_rerun_without_new_data_changes_nothing(
    incremental: dict[str, dict[str, pd.DataFrame]],
) -> None:
    assert_same(incremental["second"], incremental["third"], exact=True)


def test_missing_tables_build_empty_marts_and_stream_alerts_parse(tmp_path: Path) -> None:
    """A lake with only the streaming job's alerts (price_alert.v1 as the job lands them: ISO
    strings for its times): the tables that do not exist yet give empty marts; ISO-string
    windows parse as UTC."""
    settings = make_settings(tmp_path)
    alert = {
        "schema_version": 1, "event_id": "e" * 64, "event_type": "price_alert",
        "source": "coingecko", "event_time": "2024-04-04T10:20:05Z",
        "ingest_time": "2024-04-04T10:20:07Z", "replayed": False, "coin_id": "pumpcoin",
        "alert_type": "price_range_spike", "severity": "critical",
        "window_start": "2024-04-04T10:20:00Z", "window_end": "2024-04-04T10:21:00Z",
        "observed_value": 12.0, "threshold": 10.0, "explanation": "up 12%",
        "landed_at": datetime(2024, 4, 4, 10, 22, tzinfo=UTC), "date": date(2024, 4, 4),
    }  # fmt: skip
    write_deltalake(
        Path(settings.lake_uri) / "price_alerts",
        pa.Table.from_pylist([alert], schema=ALERT_SCHEMA),
        mode="append",
        partition_by=["date"],
    )
    build(settings, tmp_path / "target", "run")
    built = contents(settings.warehouse_build_file)
    assert all(len(frame) == 0 for frame in built.values())
    alerts = table(settings.warehouse_build_file, "select * from marts.fct_stream_alerts")
    assert len(alerts) == 1
    assert alerts["window_start"].iloc[0] == pd.Timestamp("2024-04-04 10:20:00")
    assert alerts["event_time"].iloc[0] == pd.Timestamp("2024-04-04 10:20:05")
