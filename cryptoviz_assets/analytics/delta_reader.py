"""DuckDB reading the Delta lake offline: the `delta` extension from its PyPI wheel.

`duckdb-extension-delta` (pinned to the exact DuckDB version) ships the signed extension
file but DuckDB does not look for it there: a bare `LOAD delta` or `delta_scan` tries to
download it. Two offline ways that work (checked with DuckDB 1.5.5):

* `LOAD '<path of the file>'` on a connection (`connect()` below);
* an extension directory laid out as DuckDB's own (`<dir>/v<version>/<platform>/`), set
  as the `extension_directory` setting: then `delta_scan` autoloads it and `INSTALL delta`
  is a no-op. dbt-duckdb takes it under `settings:` in profiles.yml (its `extensions:` list
  installs before applying settings, so leave delta out of that list).
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def extension_file() -> Path:
    import duckdb_extension_delta

    root = Path(duckdb_extension_delta.__file__).parent / "extensions"
    found = sorted(root.glob(f"v{duckdb.__version__}/delta.duckdb_extension"))
    if not found:
        raise FileNotFoundError(
            f"no delta extension for DuckDB {duckdb.__version__} under {root}: "
            "pin duckdb-extension-delta to the DuckDB version"
        )
    return found[0]


def extension_directory(directory: Path) -> Path:
    """`directory` laid out for DuckDB's `extension_directory` setting (a symlink)."""
    con = duckdb.connect()
    platform = con.sql("pragma platform").fetchone()[0]  # type: ignore[index]
    con.close()
    target = directory / f"v{duckdb.__version__}" / platform / "delta.duckdb_extension"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(extension_file())
    return directory


def connect(database: str = ":memory:", **kwargs: object) -> duckdb.DuckDBPyConnection:
    """A connection with the delta extension loaded; `delta_scan('<table path>')` reads
    the latest committed version of a Delta table."""
    config = {"autoinstall_known_extensions": "false", **kwargs.pop("config", {})}  # type: ignore[dict-item]
    con = duckdb.connect(database, config=config, **kwargs)  # type: ignore[arg-type]
    con.sql(f"LOAD '{extension_file()}'")
    return con


def table_exists(con: duckdb.DuckDBPyConnection, table_root: str) -> bool:
    """A Delta table exists once its first commit is in `<table_root>/_delta_log/` (the
    same test as dbt's `lake_table` macro): before that, readers treat it as empty."""
    row = con.execute(
        "select count(*) from glob(?)", [f"{table_root}/_delta_log/*.json"]
    ).fetchone()
    return bool(row and row[0])
