"""The data a suite validates, as a pandas DataFrame read with DuckDB.

GX 1.x cannot validate DuckDB through SQL (its SQL datasource fails on DuckDB), so the
checks validate a DataFrame. Lake tables: the newest partitions only (the data a build is
about to consume; a full 10 M-row scan per check would be slow and say nothing new).
Marts: the whole table, from the dbt build file opened read-only, before it is published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from cryptoviz_assets.quality.suites import Suite
from cryptoviz_assets.settings import Settings

LAKE_PARTITIONS = 2


def select_list(suite: Suite) -> str:
    """Timestamps as naive UTC (as in the staging models); every other column as stored."""
    parts = []
    for column, kind in suite.columns.items():
        quoted = f'"{column}"'
        if kind == "timestamp" and suite.origin == "lake":
            parts.append(f"make_timestamp(epoch_us(cast({quoted} as timestamptz))) as {quoted}")
        else:
            parts.append(quoted)
    return ", ".join(parts)


def newest_partition_files(con: duckdb.DuckDBPyConnection, table_root: str, n: int) -> list[str]:
    """The Parquet files of the newest `n` partitions (`<key>=<YYYY-MM-DD>` directories)."""
    files = [
        row[0]
        for row in con.execute(
            "select file from glob(?)", [f"{table_root}/*=*/*.parquet"]
        ).fetchall()
    ]
    partitions = sorted({f.rsplit("/", 2)[-2] for f in files})[-n:]
    return sorted(f for f in files if f.rsplit("/", 2)[-2] in partitions)


def lake_frame(settings: Settings, suite: Suite, partitions: int = LAKE_PARTITIONS) -> Any:
    """The newest partitions of a lake table (empty frame with the columns if none)."""
    import pandas as pd

    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        files = newest_partition_files(
            con, f"{settings.lake_uri.rstrip('/')}/{suite.table}", partitions
        )
        if not files:
            return pd.DataFrame({column: [] for column in suite.columns})
        source = "read_parquet(?, hive_partitioning = true, union_by_name = true)"
        return con.execute(f"select {select_list(suite)} from {source}", [files]).df()


def warehouse_frame(build_file: Path, suite: Suite) -> Any:
    """A mart from the dbt build file, read-only (no dbt process writes it meanwhile)."""
    with duckdb.connect(str(build_file), read_only=True) as con:
        return con.execute(f"select {select_list(suite)} from {suite.table}").df()


def load_frame(settings: Settings, suite: Suite) -> Any:
    if suite.origin == "lake":
        return lake_frame(settings, suite)
    return warehouse_frame(settings.warehouse_build_file, suite)
