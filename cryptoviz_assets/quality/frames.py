"""The data a suite validates, as a pandas DataFrame read with DuckDB.

GX 1.x cannot validate DuckDB through SQL (its SQL datasource fails on DuckDB), so the
checks validate a DataFrame. Lake tables (Delta, read with delta_scan): the newest `date`
partitions only (the data a build is about to consume; a full 10 M-row scan per check would
be slow and say nothing new).
Marts: the whole table, from the dbt build file opened read-only, before it is published.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from cryptoviz_assets.analytics import delta_reader
from cryptoviz_assets.quality.suites import PANDAS_TYPES, Suite
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


def lake_frame(settings: Settings, suite: Suite, partitions: int = LAKE_PARTITIONS) -> Any:
    """The newest `partitions` days (`date` partitions) of a lake table, from its latest
    committed Delta version; an empty frame if nothing has landed yet."""

    table_root = f"{settings.lake_uri.rstrip('/')}/{suite.table}"
    with delta_reader.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        if not delta_reader.table_exists(con, table_root):
            return empty_frame(suite)
        days = con.execute(
            'select distinct "date" from delta_scan(?) order by 1 desc limit ?',
            [table_root, partitions],
        ).fetchall()
        if not days:
            return empty_frame(suite)
        return con.execute(
            f'select {select_list(suite)} from delta_scan(?) where "date" >= ?',
            [table_root, min(day for (day,) in days)],
        ).df()


def empty_frame(suite: Suite) -> Any:
    """No rows, each column typed as the suite expects: a table nothing has landed in yet (a
    fresh deployment, a source not running) warns about its row count and blocks nothing."""
    import pandas as pd

    return pd.DataFrame(
        {
            column: pd.Series([], dtype=PANDAS_TYPES[kind][0] if kind in PANDAS_TYPES else object)
            for column, kind in suite.columns.items()
        }
    )


def warehouse_frame(build_file: Path, suite: Suite) -> Any:
    """A mart from the dbt build file, read-only (no dbt process writes it meanwhile)."""
    with duckdb.connect(str(build_file), read_only=True) as con:
        return con.execute(f"select {select_list(suite)} from {suite.table}").df()


def load_frame(settings: Settings, suite: Suite) -> Any:
    if suite.origin == "lake":
        return lake_frame(settings, suite)
    return warehouse_frame(settings.warehouse_build_file, suite)
