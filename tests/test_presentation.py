"""What the marts show in the Dagster UI: row counts, previews, charts, freshness.

The report is computed from the fixed lake's warehouse (tests/marts_lake.py), whose contents
are known, so the counts and preview rows are checked against real values; the charts are
decoded and checked as PNG images. Freshness is evaluated by Dagster's own evaluator (what
the freshness daemon of `dagster dev` runs) on a real instance, with the clock moved on.
"""

from __future__ import annotations

import asyncio
import base64
import io
import re
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from PIL import Image

from cryptoviz_assets.analytics import presentation, warehouse
from cryptoviz_assets.defs.marts.assets import MARTS_FRESHNESS, market_report, publication
from cryptoviz_assets.defs.resources import WarehouseResource
from cryptoviz_assets.settings import Settings
from tests.marts_lake import built_warehouse

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixed lake's marts, published as readers see them."""
    built = built_warehouse(tmp_path_factory)
    target = tmp_path_factory.mktemp("presentation") / "cryptoviz.duckdb"
    return warehouse.publish(built.build_file, target).path


@pytest.fixture(scope="module")
def report(published: Path) -> presentation.Report:
    return presentation.build_report(published)


def png_of(markdown: str) -> bytes:
    match = IMAGE.search(markdown)
    assert match, markdown[:200]
    return base64.b64decode(match.group(1))


def assert_sane_png(data: bytes) -> None:
    assert data.startswith(PNG_SIGNATURE)
    assert 5_000 < len(data) < 150_000, len(data)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    assert 600 <= width <= 800
    assert 200 <= height <= 900


def test_row_counts_are_the_real_counts(published: Path, report: presentation.Report) -> None:
    with duckdb.connect(str(published), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
        expected = {
            name: con.execute(f"select count(*) from marts.{name}").fetchone()[0]  # type: ignore[index]
            for (name,) in tables
        }
    assert report.row_counts == expected
    assert len(expected) == 11
    assert report.row_counts["fct_anomaly_episodes"] == 2  # divcoin's and pumpcoin's
    assert report.row_counts["fct_fear_greed_daily"] == 3
    assert report.row_counts["fct_stream_alerts"] == 0
    assert report.row_counts["fct_stream_price_bars"] == 0  # the fixed lake has no bars
    table = presentation.row_counts_markdown(report.row_counts)
    assert "| fct_anomaly_episodes | 2 |" in table
    assert "| fct_stream_alerts | 0 |" in table


def test_previews_show_the_expected_rows(report: presentation.Report) -> None:
    previews = report.previews
    anomalies = previews["fct_anomaly_episodes"]
    assert anomalies.startswith("**Latest anomaly episodes**")
    assert "| coin_id | alert_type | severity | started_at | ended_at | duration_minutes |" in (
        anomalies
    )
    # Both may still grow (no end yet); the newest first.
    assert "| pumpcoin | price_spike | critical | 2024-04-04 10:10 |  | 11 |" in anomalies
    assert "| divcoin | source_divergence | high | 2024-04-04 10:01 |  | 2 |" in anomalies
    assert anomalies.index("pumpcoin") < anomalies.index("divcoin")
    # The later poll of the first day wins (25, not 20); the newest day comes first.
    fear_greed = previews["fct_fear_greed_daily"]
    assert "| 2024-03-03 | 70 | Greed | 30 |  |" in fear_greed
    assert "| 2024-03-01 | 25 | Extreme Fear |  |  |" in fear_greed
    assert fear_greed.index("2024-03-03") < fear_greed.index("2024-03-01")
    bars = previews["fct_price_bars_hourly"]
    assert "| bitcoin | 2024-04-04 23:00 |" in bars  # the latest bar, rank 1 first
    assert bars.index("bitcoin") < bars.index("calmcoin")
    assert "| coindesk | Headline 67 | negative | bitcoin |" in previews["fct_news_articles"]


def test_charts_are_small_valid_pngs(published: Path, report: presentation.Report) -> None:
    charts = report.charts
    assert set(charts) == {"price", "sentiment", "fear_greed"}
    for chart in charts.values():
        assert chart.png is not None, chart.note
        assert_sane_png(chart.png)
        assert png_of(chart.markdown()) == chart.png
    # Bitcoin has 35 days of hourly bars: its panel uses them, with the mart's MAs.
    with warehouse.connect_read_only(published) as con:
        data, unit = presentation.price_series(con, "bitcoin")
    assert unit == "hour"
    assert len(data) == 14 * 24 + 1
    assert data["ma_30"].notna().all()


def test_a_young_warehouse_plots_minutes(published: Path) -> None:
    """The demo's first minutes: too few hourly bars, so minutes with minute MAs."""
    with warehouse.connect_read_only(published) as con:
        data, unit = presentation.price_series(con, "calmcoin")  # 2 hours of minutes
    assert unit == "minute"
    assert len(data) == 120
    assert data["ma_7"].isna().sum() == 6  # defined from the 7th minute on
    assert data["ma_30"].isna().sum() == 29
    assert data["ma_7"].iloc[6] == pytest.approx(data["price"].iloc[:7].mean())


def empty_copy(published: Path, target: Path) -> Path:
    """The same schemas and tables as `published`, without a row."""
    with duckdb.connect(str(target)) as con:
        con.execute(f"attach '{published}' as src (read_only)")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = 'src' and table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, name in tables:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f'create table {schema}."{name}" as select * from src.{schema}."{name}" '
                        "limit 0")  # fmt: skip
    return target


@pytest.mark.parametrize("state", ["empty marts", "no tables", "not published"])
def test_no_data_yet_never_raises(published: Path, tmp_path: Path, state: str) -> None:
    path = tmp_path / "cryptoviz.duckdb"
    if state == "empty marts":
        empty_copy(published, path)
    elif state == "no tables":
        duckdb.connect(str(path)).close()
    report = presentation.build_report(path)
    if state == "empty marts":
        assert report.row_counts["fct_anomaly_episodes"] == 0
        assert set(report.row_counts.values()) == {0}
    else:
        assert report.row_counts == {}
        assert presentation.row_counts_markdown({}).startswith("_No data yet")
    for chart in report.charts.values():
        assert chart.png is None
        assert "_No data yet:" in chart.markdown()
        assert "data:image" not in chart.markdown()
    for text in report.previews.values():
        assert "_No data yet:" in text


def test_the_assets_attach_counts_previews_and_charts(
    published: Path,
    report: presentation.Report,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dagster_instance: dg.DagsterInstance,
) -> None:
    """warehouse_snapshot publishes and counts; market_report reads what it published."""
    build_file = tmp_path / "build.duckdb"
    shutil.copyfile(published, build_file)
    monkeypatch.setenv("WAREHOUSE_BUILD_PATH", str(build_file))
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "published" / "cryptoviz.duckdb"))
    result = dg.materialize(
        [publication([]), market_report],
        instance=dagster_instance,
        resources={"warehouse": WarehouseResource.from_settings(Settings())},
    )
    assert result.success
    snapshot = result.asset_materializations_for_node("warehouse_snapshot")[0].metadata
    assert snapshot["rows/fct_anomaly_episodes"] == dg.IntMetadataValue(2)
    assert snapshot["dagster/row_count"].value == sum(report.row_counts.values())
    assert "| fct_fear_greed_daily | 3 |" in str(snapshot["row_counts"].value)
    shown = result.asset_materializations_for_node("market_report")[0].metadata
    for name in ("chart_price", "chart_sentiment", "chart_fear_greed"):
        assert isinstance(shown[name], dg.MarkdownMetadataValue)
        assert_sane_png(png_of(str(shown[name].value)))
    assert "pumpcoin" in str(shown["preview_fct_anomaly_episodes"].value)
    assert "| fct_anomaly_episodes | 2 |" in str(shown["row_counts"].value)


# --- freshness ---------------------------------------------------------------------------
def test_every_mart_has_the_freshness_policy() -> None:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    graph = defs.resolve_asset_graph()
    marts = [k for k in graph.get_all_asset_keys() if k.path[0] == "marts"]
    assert len(marts) == 11
    for key in [*marts, dg.AssetKey("warehouse_snapshot"), dg.AssetKey("market_report")]:
        assert graph.get(key).freshness_policy == MARTS_FRESHNESS, key
    assert graph.get(dg.AssetKey(["staging", "stg_price_ticks"])).freshness_policy is None
    assert MARTS_FRESHNESS.fail_window.to_timedelta().total_seconds() == 2 * 3600


def freshness(
    instance: dg.DagsterInstance, key: dg.AssetKey, monkeypatch: pytest.MonkeyPatch, at: float
) -> str:
    """The freshness state Dagster's evaluator gives `key` at time `at`."""
    from dagster._core.definitions import freshness_evaluator
    from dagster._core.loader import LoadingContextForTest

    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    monkeypatch.setattr(freshness_evaluator, "get_current_timestamp", lambda: at)
    node = defs.resolve_asset_graph().get(key)
    evaluator = freshness_evaluator.TimeWindowFreshnessPolicyEvaluator()
    state = asyncio.run(evaluator.evaluate_freshness(LoadingContextForTest(instance), node))
    return str(state.value)


def test_freshness_passes_when_fresh_and_fails_when_stale(
    dagster_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = dg.AssetKey(["marts", "fct_anomaly_episodes"])
    now = time.time()
    assert freshness(dagster_instance, key, monkeypatch, now) == "UNKNOWN"  # never built
    dagster_instance.report_runless_asset_event(dg.AssetMaterialization(key))
    assert freshness(dagster_instance, key, monkeypatch, now + 60) == "PASS"
    assert freshness(dagster_instance, key, monkeypatch, now + 110 * 60) == "PASS"
    assert freshness(dagster_instance, key, monkeypatch, now + 3 * 3600) == "FAIL"
