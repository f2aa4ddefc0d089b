"""The marts in Dagster: the asset graph, and a real `marts_build` run on the fixed lake."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cryptoviz_assets.quality.suites import LAKE_CHECK_KEYS
from cryptoviz_assets.settings import Settings
from tests.marts_lake import make_settings, write_lake

LAKE = ["price_ticks", "price_bars", "price_alerts", "news_articles", "market_sentiment"]
MODELS = Path(__file__).parent.parent / "dbt_project" / "models"


def marts_env(monkeypatch: pytest.MonkeyPatch, root: Path) -> Settings:
    settings = make_settings(root)
    monkeypatch.setenv("CRYPTOVIZ_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("LAKE_ROOT", settings.lake_uri)
    monkeypatch.setenv("DUCKDB_PATH", str(settings.warehouse_path))
    monkeypatch.setenv("WAREHOUSE_BUILD_PATH", str(settings.warehouse_build_file))
    monkeypatch.setenv("LAKE_MAX_STALENESS_HOURS", "10000000")  # the fixed data is from 2024
    return settings


def test_every_model_is_an_asset_downstream_of_the_lake() -> None:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    graph = defs.resolve_asset_graph()
    models = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "marts"}
    sql = {p.stem for p in MODELS.rglob("*.sql")}
    assert {k.path[-1] for k in models} == sql | {"warehouse_snapshot", "market_report"}
    ticks = dg.AssetKey(["staging", "stg_price_ticks"])
    assert graph.get(ticks).parent_keys == {dg.AssetKey(["lake", "price_ticks"])}
    for table in LAKE:  # the streaming jobs' lake assets
        assert dg.AssetKey(["lake", table]) in graph.get_all_asset_keys()
    snapshot = graph.get(dg.AssetKey("warehouse_snapshot"))
    marts = {dg.AssetKey(["marts", p.stem]) for p in (MODELS / "marts").glob("*.sql")}
    assert marts <= snapshot.parent_keys
    for key in models:
        assert graph.get(key).automation_condition is not None, key


def test_dbt_tests_and_lake_gx_suites_are_asset_checks() -> None:
    """A mart's checks are its dbt tests, blocking at severity error; the lake's GX suites
    are blocking checks on the lake tables."""
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    graph = defs.resolve_asset_graph()
    checks = graph.asset_check_keys
    episodes = dg.AssetKey(["marts", "fct_anomaly_episodes"])
    unique = dg.AssetCheckKey(episodes, "unique_fct_anomaly_episodes_episode_id")
    assert unique in checks
    assert graph.get_check_spec(unique).blocking
    news = dg.AssetKey(["marts", "fct_news_articles"])
    fresh = dg.AssetCheckKey(news, "fresh_fct_news_articles_published_at")
    assert fresh in checks
    assert not graph.get_check_spec(fresh).blocking  # severity warn
    assert not [c for c in checks if c.asset_key.path[0] == "marts" and c.name.startswith("gx_")]
    assert set(LAKE_CHECK_KEYS) <= checks
    assert all(graph.get_check_spec(k).blocking for k in LAKE_CHECK_KEYS)


def test_schedule_and_writer_tags() -> None:
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    schedule = defs.resolve_schedule_def("marts_build_schedule")
    assert schedule.cron_schedule == Settings().marts_cron
    job = defs.resolve_job_def("marts_build")
    assert job.tags["cryptoviz/warehouse"] == "writer"
    sensor = defs.resolve_sensor_def("marts_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.run_tags["cryptoviz/warehouse"] == "writer"
    pools = {node.name: node.definition.pool for node in job.graph.node_dict.values()}
    assert pools["cryptoviz_dbt"] == "duckdb_warehouse"
    assert pools["warehouse_snapshot"] == "duckdb_warehouse"


def test_marts_build_job_builds_checks_and_publishes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    settings = marts_env(monkeypatch, tmp_path)
    write_lake(Path(settings.lake_uri))
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    result = defs.resolve_job_def("marts_build").execute_in_process(instance=dagster_instance)
    assert result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert dg.AssetKey(["marts", "fct_anomaly_episodes"]) in materialized
    assert dg.AssetKey("warehouse_snapshot") in materialized
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) > 100  # every dbt test and every lake GX suite ran
    failing = [(e.asset_key, e.check_name) for e in evaluations if not e.passed]
    assert failing == []
    # Readers see the published snapshot, a separate file from dbt's build file.
    assert settings.warehouse_path.exists()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        count = "select count(*) from marts.fct_anomaly_episodes"
        assert con.execute(count).fetchone() == (2,)
    snapshot = dagster_instance.get_latest_materialization_event(dg.AssetKey("warehouse_snapshot"))
    assert snapshot is not None
    assert snapshot.asset_materialization is not None
    assert snapshot.asset_materialization.metadata["mart_tables"].value == 11


def requested_keys(result: dg.EvaluateAutomationConditionsResult) -> set[dg.AssetKey]:
    """What this project's marts automation requested (other teams' assets aside)."""
    return {
        r.key
        for r in result.results
        if isinstance(r.key, dg.AssetKey)
        and r.true_subset.size
        and (
            r.key.path[0] in {"staging", "intermediate", "marts"}
            or r.key.path == ["warehouse_snapshot"]
        )
    }


def test_new_lake_data_triggers_the_rebuild(dagster_instance: dg.DagsterInstance) -> None:
    """Declarative automation: a lake materialization requests its GX gate, the staging
    model and everything below it, down to the published snapshot."""
    from cryptoviz_assets.definitions import defs as load_definitions

    defs = load_definitions()

    instance = dagster_instance
    idle = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert requested_keys(idle) == set()  # nothing has landed yet: nothing to build
    landed = dg.AssetMaterialization(dg.AssetKey(["lake", "price_ticks"]))
    instance.report_runless_asset_event(landed)
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=idle.cursor)
    requested = requested_keys(after)
    for key in (
        ["staging", "stg_price_ticks"],
        ["intermediate", "int_price_minutes"],
        ["marts", "fct_anomaly_episodes"],
        ["marts", "fct_price_bars_daily"],
        ["warehouse_snapshot"],
    ):
        assert dg.AssetKey(key) in requested, key
    assert dg.AssetKey(["staging", "stg_news_articles"]) not in requested  # no news landed
    # No klines have landed: their staging model waits, the anomaly rules do not (they read
    # the aggregators' minutes too; a missing lake table reads as empty).
    assert dg.AssetKey(["staging", "stg_exchange_bars_1m"]) not in requested
    assert dg.AssetKey(["intermediate", "int_anomaly_minutes"]) in requested
    checks = {r.key for r in after.results if r.true_subset.size}
    assert dg.AssetCheckKey(dg.AssetKey(["lake", "price_ticks"]), "gx_lake_price_ticks") in checks
