"""Where the streaming jobs keep files: a local path or any URI pyarrow understands.

The lake, the saved dedupe ids and the saved open bars all live under such a root, so they
work the same on a laptop and on object storage (s3://...).
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs


def resolve(root: str) -> tuple[fs.FileSystem, str]:
    """The filesystem behind `root` and the path within it (no trailing slash)."""
    if "://" in root:
        filesystem, path = fs.FileSystem.from_uri(root)
        return filesystem, path.rstrip("/")
    return fs.LocalFileSystem(), root.rstrip("/")


def version_path(root: str, version: int) -> str:
    """The file of one saved version (a batch id) under `root`."""
    return f"{root}/{version:010d}.parquet"


def temporary_name(path: str) -> str:
    """A unique sibling of `path` for writing before the move; the leading dot keeps it out
    of `*.parquet` globs and of saved_versions."""
    directory, name = path.rsplit("/", 1)
    return f"{directory}/.{name}.{time.time_ns()}.tmp"


def write_parquet_atomic(
    filesystem: fs.FileSystem, path: str, table: pa.Table, **options: Any
) -> None:
    """Write `table` under a temporary name, then move it to `path`: a reader (or a replay
    after a crash) sees the whole file or none of it."""
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    tmp = temporary_name(path)
    pq.write_table(table, tmp, filesystem=filesystem, **options)
    filesystem.move(tmp, path)


def saved_versions(filesystem: fs.FileSystem, root: str) -> list[int]:
    """Batch ids of the `<root>/<batch id>.parquet` files, oldest first (temporaries skipped)."""
    try:
        infos = filesystem.get_file_info(fs.FileSelector(root))
    except FileNotFoundError:
        return []
    return sorted(
        int(i.base_name.removesuffix(".parquet"))
        for i in infos
        if i.is_file and i.base_name.endswith(".parquet") and not i.base_name.startswith(".")
    )
