"""Where a collector that asks its source "since when" resumes: one cursor per subject.

Binance returns klines from a `startTime`: the collector keeps, per pair, the first open
time it has not got on the broker yet, and asks from there on its next run. A cursor moves
only over what the broker confirmed (see Collector.remember), so a failed publish is asked
for again; the seen store still drops anything that comes twice.
"""

from __future__ import annotations

import time
from pathlib import Path

from cryptoviz_assets.collectors.state_db import autocommit


class CursorStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with autocommit(path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS cursors (source TEXT NOT NULL, subject TEXT NOT NULL,"
                " position INTEGER NOT NULL, at REAL NOT NULL, PRIMARY KEY (source, subject))"
            )

    def get(self, source: str, subject: str) -> int | None:
        """The position to resume from, or None when this subject was never collected."""
        with autocommit(self.path) as db:
            row = db.execute(
                "SELECT position FROM cursors WHERE source = ? AND subject = ?", (source, subject)
            ).fetchone()
        return None if row is None else int(row[0])

    def set(self, source: str, subject: str, position: int) -> None:
        with autocommit(self.path) as db:
            db.execute(
                "INSERT OR REPLACE INTO cursors (source, subject, position, at)"
                " VALUES (?, ?, ?, ?)",
                (source, subject, position, time.time()),
            )
