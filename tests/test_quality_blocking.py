"""A critical Great Expectations failure on the lake blocks the dbt build and the publish."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

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
