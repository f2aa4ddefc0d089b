"""Event ids already published, per source, so a record seen before is not republished.

Prices carry deterministic ids (a coin that has not updated gives the same id again) and
news feeds repeat their items on every poll: both are skipped here. Ids are recorded only
after the broker confirmed delivery, so a failed publish is retried on the next run.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class SeenStore:
    def __init__(self, path: Path, retention_days: int = 30) -> None:
        self.path = path
        self.retention_seconds = retention_days * 86400
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS seen (source TEXT NOT NULL, event_id TEXT NOT NULL,"
                " at REAL NOT NULL, PRIMARY KEY (source, event_id))"
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def seen(self, source: str, event_ids: Iterable[str]) -> set[str]:
        """The subset of `event_ids` already published for `source` (within retention)."""
        ids = list(event_ids)
        if not ids:
            return set()
        cutoff = time.time() - self.retention_seconds
        found: set[str] = set()
        with self._db() as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    "SELECT event_id FROM seen WHERE source = ? AND at >= ?"
                    f" AND event_id IN ({marks})",
                    (source, cutoff, *chunk),
                )
                found.update(row[0] for row in rows)
        return found

    def mark(self, source: str, event_ids: Iterable[str]) -> None:
        now = time.time()
        with self._db() as db:
            db.executemany(
                "INSERT OR REPLACE INTO seen (source, event_id, at) VALUES (?, ?, ?)",
                [(source, event_id, now) for event_id in event_ids],
            )
            db.execute("DELETE FROM seen WHERE at < ?", (now - self.retention_seconds,))
