"""Readers query the published snapshot while dbt writes the build file: nobody waits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cryptoviz_assets.analytics.dbt import DBT_PROJECT_DIR, dbt_executable, project_flags
from cryptoviz_assets.analytics.warehouse import ReaderRefusedError, dbt_environment, publish, query
from cryptoviz_assets.cli.commands import main
from tests.marts_lake import Warehouse, built_warehouse

CLI = Path(sys.executable).with_name("cryptoviz")


@pytest.fixture
def published(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    warehouse = built_warehouse(tmp_path_factory)
    publish(warehouse.build_file, warehouse.settings.warehouse_path)
    return warehouse


def sql_env(warehouse: Warehouse) -> dict[str, str]:
    return {**os.environ, "DUCKDB_PATH": str(warehouse.settings.warehouse_path)}


def test_sql_prints_a_table(published: Warehouse) -> None:
    statement = (
        "select coin_id, alert_type, severity, round(peak_value, 2) as peak "
        "from marts.fct_anomaly_episodes order by coin_id limit 2"
    )
    result = CliRunner(env=sql_env(published)).invoke(main, ["sql", statement])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "coin_id  | alert_type        | severity | peak",
        "---------+-------------------+----------+-----",
        "divcoin  | source_divergence | high     | 4.88",
        "pumpcoin | price_spike       | critical |   12",
        "(2 rows)",
    ]


def test_sql_reports_errors_without_a_traceback(published: Warehouse, tmp_path: Path) -> None:
    result = CliRunner(env=sql_env(published)).invoke(main, ["sql", "select * from nowhere"])
    assert result.exit_code == 1
    assert "Catalog Error" in result.output
    missing = CliRunner(env={"DUCKDB_PATH": str(tmp_path / "none.duckdb")}).invoke(
        main, ["sql", "select 1"]
    )
    assert "build the marts first" in missing.output


REFUSED = [
    "select * from read_csv('/etc/passwd')",  # read a file
    "select * from read_text('/etc/hostname')",
    "copy (select 42) to 'x.csv'",  # write a file
    "select 1; copy (select 42) to 'x.csv'",
    "copy marts.fct_anomaly_episodes to 'episodes.parquet' (format parquet)",
    "export database 'dump'",
    "attach 'other.duckdb' as other",  # another database
    "load 'evil.duckdb_extension'",  # an extension from a file
    "load httpfs",  # an extension from the extension directory
    "install httpfs",
    "set enable_external_access = true",  # lift the sandbox
    "reset enable_external_access",
    "set lock_configuration = false",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_sql_refuses_to_touch_anything_but_the_snapshot(
    published: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, statement: str
) -> None:
    """`cryptoviz sql` reads the snapshot, and nothing else: files, databases, extensions."""
    monkeypatch.chdir(tmp_path)
    with duckdb.connect(str(tmp_path / "other.duckdb")) as other:
        other.execute("create table secret as select 'not yours' as value")
    (tmp_path / "evil.duckdb_extension").write_bytes(b"\x7fELF not an extension")
    before = sorted(tmp_path.iterdir())

    result = CliRunner(env=sql_env(published)).invoke(main, ["sql", statement])

    assert result.exit_code == 1, result.output
    assert "refused: a warehouse reader may only read the published snapshot" in result.output
    assert "disabled" in result.output or "locked" in result.output  # DuckDB's own reason
    assert "root:" not in result.output
    assert "not yours" not in result.output
    assert sorted(tmp_path.iterdir()) == before  # nothing written (x.csv, dump/, ...)


def test_the_sandbox_keeps_the_marts_readable(published: Warehouse) -> None:
    """After a refused statement, the same reader API still answers from the marts."""
    path = published.settings.warehouse_path
    with pytest.raises(ReaderRefusedError, match="enable_external_access"):
        query("set enable_external_access = true", path)
    result = query(
        "select count(*) as episodes, current_setting('TimeZone') from marts.fct_anomaly_episodes",
        path,
    )
    assert result.rows == [(2, "UTC")]


def test_query_succeeds_while_a_dbt_build_is_running(published: Warehouse) -> None:
    """`cryptoviz sql` in its own process, while `dbt build` writes the build file."""
    settings = published.settings
    with dbt_environment(settings):
        build = subprocess.Popen(
            [
                dbt_executable(),
                "build",
                "--full-refresh",
                *project_flags(),
                "--target-path",
                str(published.target),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=DBT_PROJECT_DIR,
        )
    try:
        assert build.stdout is not None
        for line in build.stdout:  # wait until dbt is writing models
            if "START sql" in line:
                break
        started = time.monotonic()
        reader = subprocess.run(
            [str(CLI), "sql", "select count(*) as episodes from marts.fct_anomaly_episodes"],
            env=sql_env(published),
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
        still_building = build.poll() is None
    finally:
        rest = build.communicate(timeout=300)[0]
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.splitlines()[-2:] == ["       2", "(1 row)"]
    assert still_building, "the build finished before the query: the test proved nothing"
    assert elapsed < 30
    assert build.returncode == 0, rest[-3000:]


def test_publish_is_atomic_for_open_readers(published: Warehouse) -> None:
    path = published.settings.warehouse_path
    with duckdb.connect(str(path), read_only=True) as old_reader:
        before = old_reader.execute("select count(*) from marts.fct_price_bars_daily").fetchone()
        with duckdb.connect(str(published.build_file)) as writer:
            writer.execute("create or replace table marts.publish_probe as select 42 as answer")
        publish(published.build_file, path)  # replaces the file under the open reader
        # The open reader keeps its consistent snapshot; a new reader sees the new one.
        count = "select count(*) from marts.fct_price_bars_daily"
        assert old_reader.execute(count).fetchone() == before
    assert query("select answer from marts.publish_probe", path).rows == [(42,)]
    assert not list(path.parent.glob(".*.tmp"))
    with duckdb.connect(str(published.build_file)) as writer:
        writer.execute("drop table marts.publish_probe")
