"""The DuckDB warehouse: a private build file for dbt, a published read-only snapshot for readers.

DuckDB lets one process write a file and, while it does, no other process may open it.
So dbt writes `build.duckdb` (WAREHOUSE_BUILD_PATH) and, after every successful build,
`publish()` copies it next to the published file and renames it over the published path
(`os.replace`, atomic on POSIX). Readers (`cryptoviz sql`, dashboards, the report) open the
published file read-only: a reader that opened the previous snapshot keeps reading that
inode, a new reader gets the new one, and neither ever waits for the writer.

A reader runs whatever SQL it is given, so it is sandboxed to the snapshot: DuckDB's
external access is off and the configuration locked, so no statement reads or writes a
file (read_csv, COPY, EXPORT), attaches another database, installs or loads an extension,
or changes a setting to lift any of that.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cryptoviz_assets.analytics import delta_reader
from cryptoviz_assets.settings import Settings, environment

# Every step that opens the build file (dbt, publishing) takes this pool, limited to one
# step at a time in dagster.yaml; runs that write carry WRITER_TAGS.
WAREHOUSE_POOL = "duckdb_warehouse"
WRITER_TAGS = {"cryptoviz/warehouse": "writer"}
MARTS_SCHEMA = "marts"


def duckdb_extensions(settings: Settings) -> Path:
    """DuckDB's extension directory for dbt, laid out (again) from the delta wheel: the
    sources read the Delta lake with delta_scan, which autoloads from here, offline."""
    return delta_reader.extension_directory(settings.var_dir / "duckdb_extensions")


def dbt_env(settings: Settings) -> dict[str, str]:
    """What dbt's profiles.yml, sources and tests read: the build file, the lake root, the
    extension directory (prepared here, before dbt starts) and the marts' freshness limit."""
    return {
        "CRYPTOVIZ_DBT_DUCKDB_PATH": str(settings.warehouse_build_file),
        "CRYPTOVIZ_LAKE_ROOT": settings.lake_uri,
        "CRYPTOVIZ_DUCKDB_EXTENSIONS": str(duckdb_extensions(settings)),
        "CRYPTOVIZ_LAKE_MAX_STALENESS_HOURS": str(settings.lake_max_staleness_hours),
        "DO_NOT_TRACK": "1",
    }


@contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """Set dbt's variables for the duration of a dbt invocation (dbt reads os.environ)."""
    settings.warehouse_build_file.parent.mkdir(parents=True, exist_ok=True)
    with environment(dbt_env(settings)):
        yield


@dataclass(frozen=True)
class Published:
    path: Path
    bytes: int


def publish(build_file: Path, published: Path) -> Published:
    """Atomically replace `published` with a consistent copy of `build_file`.

    The build file is checkpointed first (its write-ahead log folded in), so the copy is a
    complete database. Call only when no dbt process is writing the build file.
    """
    with duckdb.connect(str(build_file)) as con:
        con.execute("checkpoint")
    published.parent.mkdir(parents=True, exist_ok=True)
    tmp = published.with_name(f".{published.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(build_file, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, published)
    finally:
        tmp.unlink(missing_ok=True)
    return Published(published, published.stat().st_size)


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


# Set at connect time: the database file named there is still opened, nothing else is.
READER_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
READER_RULE = (
    "a warehouse reader may only read the published snapshot: reading or writing files, "
    "attaching databases, installing or loading extensions and changing settings are disabled"
)


class ReaderRefusedError(Exception):
    """A statement tried to step outside the snapshot; the message says which rule and why."""


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a published snapshot, sandboxed, timestamps shown in UTC."""
    if not path.exists():
        raise FileNotFoundError(f"no published warehouse at {path}: build the marts first")
    con = duckdb.connect(str(path), read_only=True, config=READER_CONFIG)
    con.execute("set TimeZone = 'UTC'")
    con.execute("set lock_configuration = true")  # last: no SET can undo the sandbox
    return con


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows in every table of the marts schema, by table name."""
    tables = con.execute(
        "select table_name from information_schema.tables where table_schema = ? "
        "order by table_name",
        [MARTS_SCHEMA],
    ).fetchall()
    counts = {}
    for (name,) in tables:
        result = con.execute(f'select count(*) from {MARTS_SCHEMA}."{name}"').fetchone()
        counts[str(name)] = int(result[0]) if result else 0
    return counts


def query(sql: str, path: Path) -> QueryResult:
    """Run one SQL statement against the published snapshot at `path`.

    Raises ReaderRefusedError, naming the rule, when the statement tries to leave the sandbox.
    """
    with connect_read_only(path) as con:
        try:
            cursor = con.execute(sql)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            return QueryResult(columns, cursor.fetchall() if columns else [])
        except duckdb.PermissionException as error:
            raise ReaderRefusedError(f"refused: {READER_RULE} ({error})") from error
        except duckdb.InvalidInputException as error:
            if "configuration has been locked" not in str(error):
                raise
            raise ReaderRefusedError(f"refused: {READER_RULE} ({error})") from error
