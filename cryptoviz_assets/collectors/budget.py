"""Call budgets per source, per minute and per calendar month, kept across runs.

Free tiers count calls per month, and every Dagster run is a new process, so the count
lives in a small SQLite file under var/state. Every HTTP attempt (retries included) takes
one call from the budget first; a refused call is an error, never a reason to wait.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptoviz_assets.collectors.state_db import autocommit


class BudgetExceededError(Exception):
    """A call the budget refuses: the source's free-tier limit would be passed."""


@dataclass(frozen=True)
class Limits:
    per_minute: int
    per_month: int


@dataclass(frozen=True)
class Remaining:
    minute: int
    month: int

    def as_dict(self) -> dict[str, int]:
        return {"minute": self.minute, "month": self.month}


class CallBudget:
    """Counts calls per budget name in SQLite; safe across processes (one write lock)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with autocommit(self.path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS calls (name TEXT NOT NULL, at REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS calls_name_at ON calls (name, at)")

    def _counts(self, db: sqlite3.Connection, name: str, now: float) -> tuple[int, int]:
        month_start = datetime.fromtimestamp(now, UTC).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        minute, month = db.execute(
            "SELECT COALESCE(SUM(at > ?), 0), COUNT(*) FROM calls WHERE name = ? AND at >= ?",
            (now - 60, name, month_start.timestamp()),
        ).fetchone()
        return int(minute), int(month)

    def acquire(self, name: str, limits: Limits) -> Remaining:
        """Take one call, or raise BudgetExceededError naming the limit that refused it."""
        now = self.clock()
        with autocommit(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                minute, month = self._counts(db, name, now)
                if minute >= limits.per_minute:
                    raise BudgetExceededError(
                        f"call budget for {name!r} refused the call: {minute}/{limits.per_minute}"
                        " calls in the last minute"
                    )
                if month >= limits.per_month:
                    raise BudgetExceededError(
                        f"call budget for {name!r} refused the call: {month}/{limits.per_month}"
                        " calls this month (UTC); it resets on the 1st"
                    )
                db.execute("INSERT INTO calls (name, at) VALUES (?, ?)", (name, now))
                # Keep the file small: nothing before last month is ever counted again.
                db.execute("DELETE FROM calls WHERE name = ? AND at < ?", (name, now - 62 * 86400))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return Remaining(limits.per_minute - minute - 1, limits.per_month - month - 1)

    def remaining(self, name: str, limits: Limits) -> Remaining:
        with autocommit(self.path) as db:
            minute, month = self._counts(db, name, self.clock())
        return Remaining(limits.per_minute - minute, limits.per_month - month)
