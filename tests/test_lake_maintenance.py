"""Lake maintenance through its Dagster job: small files compacted, rows unchanged, and the
files no version needs deleted (retention 0, the safety check off: test settings only).

The table is written with delta-rs (no second JVM in the test process): one file per
append per date partition, as the streaming sink leaves them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from cryptoviz_assets.defs.lake.maintenance import lake_maintenance
from cryptoviz_assets.settings import get_settings
from tests.streaming_support import log_tail

pytestmark = pytest.mark.slow
APPENDS = 12


def _rows(path: Path) -> list[tuple[object, ...]]:
    table = DeltaTable(str(path)).to_pyarrow_table()
    return sorted(tuple(row.values()) for row in table.to_pylist())


def test_maintenance_compacts_and_vacuums_without_changing_rows(
    dagster_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CRYPTOVIZ_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LAKE_VACUUM_RETENTION_HOURS", "0")
    monkeypatch.setenv("LAKE_VACUUM_RETENTION_CHECK", "false")
    settings = get_settings()
    path = Path(settings.lake_uri) / "price_ticks"
    for i in range(APPENDS):
        day = date(2026, 11, 26 + i % 2)  # two date partitions
        batch = pa.table(
            {"event_id": [f"{i}-{j}" for j in range(3)], "price": [i + 0.5] * 3, "date": [day] * 3}
        )
        write_deltalake(path, batch, mode="append", partition_by=["date"])
    (Path(settings.lake_uri) / "not_a_table").mkdir()  # skipped, not an error
    rows = _rows(path)
    assert len(DeltaTable(str(path)).file_uris()) == APPENDS

    result = lake_maintenance.execute_in_process(instance=dagster_instance, raise_on_error=False)
    assert result.success, log_tail(settings.run_dir / "lake-maintenance.log")

    table = DeltaTable(str(path))
    assert len(table.file_uris()) == 2  # one file per date partition
    assert _rows(path) == rows
    operations = [commit["operation"] for commit in table.history()]
    assert "OPTIMIZE" in operations
    assert "VACUUM END" in operations
    # VACUUM deleted the compacted files: on disk, only the files the table references.
    on_disk = {str(p) for p in path.rglob("*.parquet")}
    assert on_disk == {uri.removeprefix("file://") for uri in table.file_uris()}

    # Each table's result reached Dagster as an observation of its lake asset.
    event = dagster_instance.fetch_observations(dg.AssetKey(["lake", "price_ticks"]), limit=1)
    observation = event.records[0].asset_observation
    assert observation is not None
    metadata = {key: value.value for key, value in observation.metadata.items()}
    assert metadata["files_before"] == APPENDS
    assert metadata["files_after"] == 2
    assert metadata["files_compacted"] == APPENDS
    assert metadata["files_deleted"] == APPENDS
    assert metadata["version_after"] > metadata["version_before"]
