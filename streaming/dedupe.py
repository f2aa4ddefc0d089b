"""Event ids seen recently, to drop repeats inside the prices query's `foreachBatch`.

Why not Spark's `dropDuplicatesWithinWatermark`: its state store costs a shuffle and a
RocksDB commit per micro-batch, and evicting expired ids scans the whole state every batch
(at 10,000 ticks/s with ids kept 10 minutes that scan alone outgrew the trigger). Here the
ids are kept in memory, grouped by the micro-batch that first saw them, and a group is
dropped whole once the newest Kafka time has moved `retention_seconds` past it. Memory is
about 150 bytes per remembered id: nothing at the collectors' rate (a few thousand ids per
10 minutes), about 1 GB if 10,000 ticks/s were sustained for the default 10 minutes.

Exactly once: each batch N writes the ids it saw first as version N (next to the
checkpoint) before anything lands. A batch replayed after a crash rebuilds the state from
the versions before N, so it keeps and drops exactly the same records. Eviction happens at
the start of a batch, from the newest Kafka time of the batches before it, for the same
reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs

from streaming.storage import resolve, saved_versions, version_path, write_parquet_atomic

NEWEST = b"newest_kafka_time_us"  # newest Kafka time seen up to and including this batch
GROUP_TIME = b"batch_kafka_time_us"  # newest Kafka time among this batch's new ids


@dataclass
class _Group:
    ids: list[str]
    kafka_time_us: int | None


@dataclass
class SeenIds:
    """Ids first seen within `retention_seconds` of the newest Kafka time, versioned by batch
    under `root` (`<batch id>.parquet`)."""

    root: str
    retention_seconds: int
    _where: dict[str, int] = field(default_factory=dict)  # id -> batch that first saw it
    _groups: dict[int, _Group] = field(default_factory=dict)  # batch id -> its new ids
    _newest_us: int | None = None
    _version: int | None = None  # the last batch applied

    def first_seen(
        self, batch_id: int, ids: Sequence[str], kafka_times_us: Sequence[int | None]
    ) -> list[bool]:
        """For each id of batch `batch_id`, whether it is its first occurrence (not seen in
        earlier batches within retention, nor earlier in this batch)."""
        if self._version is None or self._version >= batch_id:
            self._load_before(batch_id)
        self._evict()
        keep: list[bool] = []
        new: list[str] = []
        where = self._where
        for event_id in ids:
            first = event_id not in where
            if first:
                where[event_id] = batch_id
                new.append(event_id)
            keep.append(first)
        times = [t for t, k in zip(kafka_times_us, keep, strict=True) if k and t is not None]
        group = _Group(new, max(times) if times else None)
        every_time = [t for t in kafka_times_us if t is not None]
        if every_time:
            newest = max(every_time)
            self._newest_us = newest if self._newest_us is None else max(self._newest_us, newest)
        self._groups[batch_id] = group
        self._version = batch_id
        self._save(batch_id, group)
        return keep

    def __len__(self) -> int:
        return len(self._where)

    def _evict(self) -> None:
        if self._newest_us is None:
            return
        horizon = self._newest_us - self.retention_seconds * 1_000_000
        expired = [
            batch
            for batch, group in self._groups.items()
            if group.kafka_time_us is None or group.kafka_time_us < horizon
        ]
        for batch in expired:
            for event_id in self._groups.pop(batch).ids:
                if self._where.get(event_id) == batch:
                    del self._where[event_id]

    def _load_before(self, batch_id: int) -> None:
        self._where, self._groups, self._newest_us, self._version = {}, {}, None, None
        filesystem, root = self._fs()
        for version in saved_versions(filesystem, root):
            if version >= batch_id:
                break
            table = pq.read_table(version_path(root, version), filesystem=filesystem)
            meta = table.schema.metadata or {}
            ids = [str(i) for i in table.column("event_id").to_pylist()]
            kafka_time = int(meta[GROUP_TIME]) if meta.get(GROUP_TIME) else None
            self._groups[version] = _Group(ids, kafka_time)
            for event_id in ids:
                self._where[event_id] = version  # the newest group that saw it
            if meta.get(NEWEST):
                self._newest_us = int(meta[NEWEST])
            self._version = version

    def _save(self, batch_id: int, group: _Group) -> None:
        filesystem, root = self._fs()
        meta = {}
        if group.kafka_time_us is not None:
            meta[GROUP_TIME] = str(group.kafka_time_us).encode()
        if self._newest_us is not None:
            meta[NEWEST] = str(self._newest_us).encode()
        table = pa.table({"event_id": pa.array(group.ids, pa.string())}).replace_schema_metadata(
            meta
        )
        write_parquet_atomic(filesystem, version_path(root, batch_id), table, compression="zstd")
        # Expired groups' files go only now: version `batch_id` carries the newest time.
        for version in saved_versions(filesystem, root):
            if version < batch_id and version not in self._groups:
                with contextlib.suppress(FileNotFoundError):
                    filesystem.delete_file(version_path(root, version))

    def _fs(self) -> tuple[fs.FileSystem, str]:
        return resolve(self.root)
