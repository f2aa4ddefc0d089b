"""The exactly-once Parquet sink of the lake, called from `foreachBatch`.

Spark replays a micro-batch after a crash with the same batch id and the same input, so a
batch's files are named from (query, checkpoint id, batch id): a replay rewrites the same
names instead of adding a second copy. Each file is written under a temporary name and
renamed, so readers (DuckDB, dbt) never see a half-written file and need no lock.

A small manifest per batch (`<table>/_batches/<query>-<batch>.json`) records the files a
batch may have written; it is widened before writing and narrowed after, so a replay that
produces fewer files (it should not, but a code change could) removes the extra ones.

Layout: `<root>/<table>/date=YYYY-MM-DD/part-<query>-<checkpoint id>-<batch id>-<n>.parquet`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyarrow import fs

from streaming.storage import resolve, temporary_name, write_parquet_atomic

PARTITION_COLUMN = "date"


@dataclass(frozen=True)
class Lake:
    """The lake under `root` (a local path or any URI pyarrow understands, e.g. s3://...)."""

    root: str

    def _fs(self) -> tuple[fs.FileSystem, str]:
        return resolve(self.root)

    def write_batch(self, table: str, query: str, batch_id: int, data: pa.Table) -> list[str]:
        """Land `data` as batch `batch_id` of `query`, replacing any earlier attempt.

        `data` must hold a string column `date` (YYYY-MM-DD): it becomes the partition
        directory and is not stored in the files. Returns the paths written.
        """
        filesystem, root = self._fs()
        base = f"{root}/{table}"
        stem = f"{query}-{batch_id:010d}"
        planned = [
            (day, f"{base}/{PARTITION_COLUMN}={day}/part-{stem}-0.parquet") for day in _days(data)
        ]
        manifest = f"{base}/_batches/{stem}.json"
        previous = _read_manifest(filesystem, manifest)
        new_paths = [path for _, path in planned]
        if not new_paths and not previous:
            return []
        _write_atomic(filesystem, manifest, json.dumps(sorted({*previous, *new_paths})).encode())
        body = data.drop_columns([PARTITION_COLUMN])
        for day, path in planned:
            part = body.filter(pc.equal(data[PARTITION_COLUMN], day))
            write_parquet_atomic(filesystem, path, part, compression="zstd")
        for stale in set(previous) - set(new_paths):
            _delete(filesystem, stale)
        _write_atomic(filesystem, manifest, json.dumps(sorted(new_paths)).encode())
        return new_paths

    def count_rows(self, table: str) -> int:
        """Rows in the table, from the Parquet footers only (cheap enough to poll)."""
        filesystem, root = self._fs()
        try:
            infos = filesystem.get_file_info(fs.FileSelector(f"{root}/{table}", recursive=True))
        except FileNotFoundError:
            return 0
        return sum(
            pq.ParquetFile(i.path, filesystem=filesystem).metadata.num_rows
            for i in infos
            if i.is_file and i.path.endswith(".parquet") and "/_batches/" not in i.path
        )

    def read_table(self, table: str) -> pa.Table:
        """The whole table (for tests and small tools; DuckDB is the real reader)."""
        filesystem, root = self._fs()
        base = f"{root}/{table}"
        try:
            infos = filesystem.get_file_info(fs.FileSelector(base, recursive=True))
        except FileNotFoundError:
            return pa.table({})
        files = sorted(
            i.path
            for i in infos
            if i.is_file and i.path.endswith(".parquet") and "/_batches/" not in i.path
        )
        parts = []
        for path in files:
            part = pq.read_table(path, filesystem=filesystem)
            day = path.split(f"{PARTITION_COLUMN}=", 1)[1].split("/", 1)[0]
            parts.append(part.append_column(PARTITION_COLUMN, pa.array([day] * part.num_rows)))
        return pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})


def _days(data: pa.Table) -> list[str]:
    if data.num_rows == 0:
        return []
    days: Iterable[str | None] = pc.unique(data[PARTITION_COLUMN]).to_pylist()
    if any(day is None for day in days):
        raise ValueError("lake rows need a partition date; got nulls")
    return sorted(str(day) for day in days)


def _read_manifest(filesystem: fs.FileSystem, path: str) -> list[str]:
    try:
        with filesystem.open_input_stream(path) as stream:
            return [str(p) for p in json.loads(stream.read())]
    except FileNotFoundError:
        return []


def _write_atomic(filesystem: fs.FileSystem, path: str, payload: bytes) -> None:
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    tmp = temporary_name(path)
    with filesystem.open_output_stream(tmp) as stream:
        stream.write(payload)
    filesystem.move(tmp, path)


def _delete(filesystem: fs.FileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        filesystem.delete_file(path)
