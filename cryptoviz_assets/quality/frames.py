"""The data a suite validates, as a pandas DataFrame read with DuckDB.

GX 1.x cannot validate DuckDB through SQL (its SQL datasource fails on DuckDB), so the
checks validate a DataFrame: the newest `date` partitions of the lake table (Delta, read with
delta_scan), the data a build is about to consume (a full 10 M-row scan per check would be
slow and say nothing new).
"""

from __future__ import annotations

from typing import Any

from cryptoviz_assets.analytics import delta_reader
from cryptoviz_assets.quality.suites import PANDAS_TYPES, Suite
from cryptoviz_assets.settings import Settings

LAKE_PARTITIONS = 2


def select_list(suite: Suite) -> str:
    """Timestamps as naive UTC (as in the staging models); every other column as stored."""
    parts = []
    for column, kind in suite.columns.items():
        quoted = f'"{column}"'
        if kind == "timestamp":
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
            column: pd.Series([], dtype=PANDAS_TYPES[kind][0])
            for column, kind in suite.columns.items()
        }
    )
